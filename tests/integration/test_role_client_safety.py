"""Role registry_client validates before it writes (a wrong CA, key, missing file or broken daemon.json never replaces
a good file), and registry_client_state: absent removes what it wrote (CA files, hosts.toml, system CA, daemon.json
entries, login): idempotent, with check mode and diff. Real registries (pyregistry over TLS + htpasswd) and files."""
import json
import os
import shutil
import subprocess

import pytest

from tests.helpers.ansible import run_playbook
from tests.helpers.certs import make_tls

pytestmark = [pytest.mark.docker]

CERTS_DIRS = ("/etc/docker/certs.d", "/etc/containers/certs.d", "/etc/containerd/certs.d")


def client_play(**role_vars):
    return [{"name": "client", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry_client", "vars": role_vars}]}]


@pytest.fixture
def tls_registry(start_registry, tmp_path):
    """pyregistry over https (CA from tests/helpers/certs.py) with htpasswd user puller; certs.d entries go at teardown."""
    ca, cert, key = make_tls(tmp_path / "pki")
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(subprocess.run(["htpasswd", "-Bbn", "puller", "pull-pw"], capture_output=True, text=True, check=True).stdout)
    reg = start_registry("pyregistry", config={"http": {"tls": {"certificate": cert, "key": key}},
                                               "auth": {"htpasswd": {"realm": "fleet", "path": str(htpasswd)}}}, cafile=ca)
    reg.ca, reg.cert, reg.key = ca, cert, key
    yield reg
    for base in CERTS_DIRS:
        shutil.rmtree(f"{base}/{reg.host}", ignore_errors=True)


def read(path):
    with open(path) as fh:
        return fh.read()


def test_a_wrong_ca_never_replaces_the_good_one(tls_registry, tmp_path):
    host = tls_registry.host
    good = read(tls_registry.ca)
    login = {"registry_client_username": "puller", "registry_client_password": "pull-pw",
             "registry_client_docker_config": str(tmp_path / "dockercfg" / "config.json")}
    first = run_playbook(client_play(registry_client_registry=host, registry_client_ca_cert_src=tls_registry.ca, **login))
    assert not first.failed, (first.failures(), first.stderr[-2000:])
    for base in CERTS_DIRS[:2]:
        assert read(f"{base}/{host}/ca.crt") == good

    other_ca, _other_cert, _other_key = make_tls(tmp_path / "other", name="other")
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("this is not a certificate\n")
    wrong = {
        tls_registry.cert: "which is not a CA certificate",          # the registry's own certificate
        other_ca: "does not verify the certificate registry",        # a CA, but not the one that signed the registry's
        tls_registry.key: "is not a certificate but a PEM private key",
        str(garbage): "is not a PEM certificate",
        str(tmp_path / "missing.crt"): "cannot read the registry CA registry_client_ca_cert_host_path",  # check mode: a note
    }
    missing = str(tmp_path / "missing.crt")
    for path, expected in wrong.items():
        for check in (True, False):
            res = run_playbook(client_play(registry_client_registry=host, registry_client_ca_cert_host="localhost",
                                           registry_client_ca_cert_host_path=path, **login), check=check)
            if check and path == missing:
                # check mode on a fresh fleet plans: a CA the registry role has not written yet is a note
                assert not res.failed, res.stdout[-2000:]
                assert "is not on localhost yet" in res.result("Say that the CA is not written yet")["msg"]
                continue
            assert res.failed, (path, res.stdout[-2000:])
            msg = res.failures()["localhost"]
            assert expected in msg and path in msg, (path, msg)
            for base in CERTS_DIRS[:2]:
                assert read(f"{base}/{host}/ca.crt") == good, f"{path} replaced the good CA in {base}"


def test_a_daemon_json_that_is_not_json_is_not_replaced(pyregistry_server, tmp_path):
    daemon = tmp_path / "daemon.json"
    daemon.write_text('{"log-driver": "json-file",\n')
    res = run_playbook(client_play(registry_client_registry=pyregistry_server.host, registry_client_tls=False,
                                   registry_client_daemon_json=str(daemon), registry_client_engine_restart=False))
    assert res.failed
    msg = res.failures()["localhost"]
    assert f"{daemon} (registry_client_daemon_json) is not a JSON object" in msg and "nothing was written" in msg, msg
    assert daemon.read_text() == '{"log-driver": "json-file",\n'


def test_state_absent_removes_what_the_role_wrote(tls_registry, pyregistry_server, tmp_path):
    host = tls_registry.host
    system_dir = tmp_path / "local-ca"
    cfg = tmp_path / "dockercfg" / "config.json"
    tls_role = {"registry_client_registry": host, "registry_client_ca_cert_src": tls_registry.ca, "registry_client_containerd": True,
                "registry_client_trust_system": True, "registry_client_system_ca_dir": str(system_dir),
                "registry_client_username": "puller", "registry_client_password": "pull-pw", "registry_client_docker_config": str(cfg)}
    cfg.parent.mkdir()
    cfg.write_text(json.dumps({"auths": {"other.example:5000": {"auth": "eDp5"}}}))
    daemon = tmp_path / "daemon.json"
    daemon.write_text(json.dumps({"debug": True, "insecure-registries": ["other.local:5000"]}))
    restarts = tmp_path / "restarts"
    plain_role = {"registry_client_registry": pyregistry_server.host, "registry_client_tls": False, "registry_client_mirror": True,
                  "registry_client_daemon_json": str(daemon), "registry_client_engine_restart_command": f"sh -c 'echo r >> {restarts}'"}
    for role in (tls_role, plain_role):
        res = run_playbook(client_play(**role))
        assert not res.failed, res.stdout[-3000:]
    system_ca = system_dir / f"airgap-registry-{host.replace(':', '_')}.crt"
    written = [f"{base}/{host}/ca.crt" for base in CERTS_DIRS] + [f"/etc/containerd/certs.d/{host}/hosts.toml", str(system_ca)]
    for path in written:
        assert read(path), path
    assert host in json.loads(cfg.read_text())["auths"]
    assert json.loads(daemon.read_text())["registry-mirrors"] == [f"http://{pyregistry_server.host}"]
    assert read(restarts) == "r\n"

    check = run_playbook(client_play(**tls_role, registry_client_state="absent"), check=True, diff=True)
    assert not check.failed and check.changed > 0, check.stdout[-3000:]
    removed = check.result("Remove the CA from the docker, podman/skopeo and containerd certs.d")
    assert sorted(removed["removed"]) == sorted(written[:3]) and removed["diff"]["after"], removed
    for path in written:
        assert read(path), f"check mode removed {path}"

    for role in (tls_role, plain_role):
        gone = run_playbook(client_play(**role, registry_client_state="absent"), diff=True)
        assert not gone.failed and gone.changed > 0, gone.stdout[-3000:]
    for path in written:
        assert not os.path.exists(path), path
    for base in CERTS_DIRS:
        assert not os.path.exists(f"{base}/{host}"), f"{base}/{host} left behind"
    assert json.loads(cfg.read_text())["auths"] == {"other.example:5000": {"auth": "eDp5"}}
    assert json.loads(daemon.read_text()) == {"debug": True, "insecure-registries": ["other.local:5000"]}
    assert read(restarts) == "r\nr\n"

    for role in (tls_role, plain_role):
        again = run_playbook(client_play(**role, registry_client_state="absent"))
        assert not again.failed and again.changed == 0, [(t, r.get("changed")) for t, r in again.tasks()]
    assert read(restarts) == "r\nr\n"
