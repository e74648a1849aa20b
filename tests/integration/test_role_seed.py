"""Role registry_seed on localhost against real registries (Distribution and pyregistry), from real sample tarballs."""
import json
import shutil
import subprocess

import pytest

from tests.helpers.ansible import run_playbook

pytestmark = [pytest.mark.distribution]

SAMPLES = {"abox": ["1.0.1"], "nginx": ["1.25"], "tools/busyish": ["2.0"]}


def seed_play(**role_vars):
    return [{"name": "seed", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry_seed", **role_vars}]}]


def catalog(reg, creds=None):
    """{repo: tags} of a registry: the catalog with curl, the tags with skopeo."""
    auth = ["-u", creds] if creds else []
    listed = subprocess.run(["curl", "-sf", *auth, f"{reg.url}/v2/_catalog"], capture_output=True, text=True, check=True)
    out = {}
    for repo in json.loads(listed.stdout)["repositories"]:
        tags = subprocess.run(["skopeo", "list-tags", "--tls-verify=false", *([f"--creds={creds}"] if creds else []),
                               f"docker://{reg.host}/{repo}"], capture_output=True, text=True, check=True)
        out[repo] = json.loads(tags.stdout)["Tags"]
    return out


def test_seeds_verifies_summarises_and_is_idempotent(start_registry, sample_tarballs):
    reg = start_registry("distribution")
    role = {"registry_seed_registry": reg.host, "registry_seed_tarballs_dir": str(sample_tarballs)}
    first = run_playbook(seed_play(**role))
    assert first.rc == 0, first.stdout[-4000:]
    assert first.result("Seed the registry from the tarballs", "localhost")["changed"] is True
    assert catalog(reg) == SAMPLES
    pushed_line = first.result("Report what the seed pushed", "localhost")["msg"]
    assert pushed_line.startswith(f"{reg.host}: 3 images: 3 pushed, 0 present; ") and " sent (" in pushed_line, pushed_line
    summary = first.result("Print the catalog and tags", "localhost")["msg"]
    assert summary == [f"registry {reg.host}: 3 repositories", "  abox: 1.0.1", "  nginx: 1.25", "  tools/busyish: 2.0"]
    second = run_playbook(seed_play(**role))
    assert second.rc == 0 and second.changed == 0, second.stdout[-4000:]
    pushed = second.result("Seed the registry from the tarballs", "localhost")["images"]
    assert pushed and all(i["bytes_sent"] == 0 and not i["changed"] for i in pushed)
    assert second.result("Report what the seed pushed", "localhost")["msg"].startswith(f"{reg.host}: 3 images: 0 pushed, 3 present; 0 B sent")


def test_check_mode_pushes_nothing(start_registry, sample_tarballs):
    reg = start_registry("distribution")
    run = run_playbook(seed_play(registry_seed_registry=reg.host, registry_seed_tarballs_dir=str(sample_tarballs)), check=True)
    assert run.rc == 0, run.stdout[-4000:]
    would = run.result("Seed the registry from the tarballs", "localhost")
    assert would["changed"] is True and len(would["images"]) == 3
    assert catalog(reg) == {}


def test_copies_from_controller_and_pulls_through_the_engine(start_registry, sample_tarballs, tmp_path, docker_client):
    reg = start_registry("pyregistry")
    dest = tmp_path / "on-host"
    role = {"registry_seed_registry": reg.host, "registry_seed_controller_dir": str(sample_tarballs),
            "registry_seed_tarballs_dir": str(dest), "registry_seed_test_pull": "tools/busyish:2.0",
            "registry_seed_patterns": ["abox_*.tar", "tools_*.tar"]}
    try:
        run = run_playbook(seed_play(**role))
        assert run.rc == 0, run.stdout[-4000:]
        assert sorted(p.name for p in dest.iterdir()) == ["abox_1.0.1.tar", "tools_busyish_2.0.tar"]
        assert catalog(reg) == {"abox": ["1.0.1"], "tools/busyish": ["2.0"]}
        pulled = docker_client.images.get(f"{reg.host}/tools/busyish:2.0")
        assert pulled.id == docker_client.images.get("tools/busyish:2.0").id
        again = run_playbook(seed_play(**role))
        assert again.rc == 0 and again.changed == 0, again.stdout[-4000:]
    finally:
        subprocess.run(["docker", "rmi", f"{reg.host}/tools/busyish:2.0"], capture_output=True, check=False)


def test_htpasswd_registry_wrong_password_names_host_and_fix(start_registry, sample_tarballs, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(subprocess.run(["htpasswd", "-Bbn", "seeder", "right-pw"], capture_output=True, text=True, check=True).stdout)
    reg = start_registry("distribution", config={"auth": {"htpasswd": {"realm": "r", "path": str(htpasswd)}}})
    base = {"registry_seed_registry": reg.host, "registry_seed_tarballs_dir": str(sample_tarballs), "registry_seed_username": "seeder"}
    bad = run_playbook(seed_play(**base, registry_seed_password="wrong-pw"))
    assert bad.rc != 0
    msg = bad.failures()["localhost"]
    assert msg.startswith(f"localhost: cannot use registry {reg.host}:")
    assert "registry_seed_username / registry_seed_password" in msg
    assert "wrong-pw" not in bad.stdout
    good = run_playbook(seed_play(**base, registry_seed_password="right-pw"))
    assert good.rc == 0, good.stdout[-4000:]
    assert catalog(reg, "seeder:right-pw") == SAMPLES


def test_unreachable_registry_and_empty_directory(port, tmp_path, start_registry):
    empty = tmp_path / "empty"
    empty.mkdir()
    down = run_playbook(seed_play(registry_seed_registry=f"127.0.0.1:{port}", registry_seed_tarballs_dir=str(empty)))
    assert down.rc != 0
    msg = down.failures()["localhost"]
    assert msg.startswith(f"localhost: cannot use registry 127.0.0.1:{port}:")
    assert "registry_seed_registry (HOST:PORT) is reachable" in msg
    reg = start_registry("distribution")
    nothing = run_playbook(seed_play(registry_seed_registry=reg.host, registry_seed_tarballs_dir=str(empty)))
    assert nothing.rc != 0
    assert nothing.failures()["localhost"].startswith(f"localhost: no tarballs (*.tar, *.tar.gz, *.tgz, *.tar.zst) in '{empty}'")
    shutil.rmtree(empty)
