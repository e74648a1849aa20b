"""registry_client with registry_client_upstreams (issue 14): upstream image names resolve to the site registry on
containerd (ctr --hosts-dir), podman/skopeo (registries.conf.d drop-ins, read from $HOME/.config/containers here so
the machine's /etc/containers is not touched), k3s (registries.yaml against its documented schema); NO_PROXY
drop-ins; runtime detection; the fleet report (run summary and JSON). A real pyregistry over TLS with htpasswd on
127.0.0.1, real clients; no upstream is reachable. Docker's engine is never restarted (restart commands are echoes,
daemon.json is a tmp file)."""
import json
import os
import re
import shutil
import subprocess
import tomllib
from urllib.parse import urlparse

import pytest
import yaml

from tests.helpers.ansible import run_playbook
from tests.integration.test_role_client import sh, tls_registry  # noqa: F401 - the fixture

pytestmark = [pytest.mark.docker]

CONTAINERD = "/run/docker/containerd/containerd.sock"
UPSTREAMS = ["docker.io", "ghcr.io", "quay.io", "registry.k8s.io"]
NAMESPACE = "airgap-test-mirrors"


def why(run):
    """The failures of a run, for assertion messages."""
    failed = [(name, {k: res[k] for k in ("msg", "results", "stderr") if k in res}) for name, res in run.tasks()
              if res.get("failed") or res.get("unreachable")]
    return f"{failed} {run.stderr[-2000:]}"[-5000:]


def by_runtime(report_path):
    """{runtime: entry} of localhost in the JSON fleet report (the notes left out)."""
    entries = json.loads(report_path.read_text())["hosts"]["localhost"]
    return {e["runtime"]: e for e in entries if e["status"] != "note"}


def play(role_vars, hosts="localhost", environment=None):
    p = {"name": "client", "hosts": hosts, "gather_facts": False,
         "roles": [{"role": "airgap.registry.registry_client", **role_vars}]}
    if environment:
        p["environment"] = environment
    return [p]


@pytest.fixture
def seeded(tls_registry, sample_tarballs):  # noqa: F811
    """The TLS registry also holding abox under the paths the upstream names resolve to (hub_library true:
    docker.io/library/abox -> library/abox; ghcr.io/acme/abox -> acme/abox)."""
    certs = tls_registry.ca.parent / "certs"
    for path in ("library/abox:1.0.1", "acme/abox:1.0.1"):
        sh("skopeo", "copy", "-q", "--dest-cert-dir", str(certs), "--dest-creds", "puller:pull-pw",
           f"docker-archive:{sample_tarballs / 'abox_1.0.1.tar'}", f"docker://{tls_registry.host}/{path}")
    yield tls_registry
    if os.path.exists(CONTAINERD):
        names = subprocess.run(["ctr", "--address", CONTAINERD, "-n", NAMESPACE, "images", "ls", "-q"],
                               capture_output=True, text=True, check=False).stdout.split()
        for name in names:
            subprocess.run(["ctr", "--address", CONTAINERD, "-n", NAMESPACE, "images", "rm", name], capture_output=True, check=False)
        subprocess.run(["ctr", "--address", CONTAINERD, "namespaces", "rm", NAMESPACE], capture_output=True, check=False)


@pytest.fixture
def paths(tmp_path):
    home = tmp_path / "home"
    return {"home": home, "hosts": tmp_path / "containerd-certs.d", "conf": home / ".config/containers/registries.conf.d",
            "k3s": tmp_path / "rancher/k3s/registries.yaml", "report": tmp_path / "report.json",
            "restarts": tmp_path / "restarts", "docker_config": home / ".docker/config.json", "systemd": tmp_path / "systemd"}


def role_vars(reg, p, **extra):
    base = {"registry_client_registry": reg.host, "registry_client_ca_cert_src": str(reg.ca),
            "registry_client_username": "puller", "registry_client_password": "pull-pw",
            "registry_client_docker_config": str(p["docker_config"]),
            "registry_client_upstreams": UPSTREAMS, "registry_client_hub_library": True,
            "registry_client_runtimes": ["containerd", "containers", "k3s"],
            "registry_client_containerd_hosts_dir": str(p["hosts"]),
            "registry_client_containers_conf_dir": str(p["conf"]),
            "registry_client_k3s_registries": str(p["k3s"]),
            "registry_client_k3s_restart_command": f"sh -c 'echo k3s >> {p['restarts']}'",
            "registry_client_containerd_restart_command": f"sh -c 'echo containerd >> {p['restarts']}'",
            "registry_client_engine_restart_command": f"sh -c 'echo docker >> {p['restarts']}'",
            "registry_client_daemon_json": str(p["home"] / "daemon.json"),
            "registry_client_systemd_dir": str(p["systemd"]),
            "registry_client_containerd_address": CONTAINERD, "registry_client_proof_namespace": NAMESPACE,
            "registry_client_proof_image": "docker.io/library/abox:1.0.1",
            "registry_client_proof_environment": {"HOME": str(p["home"])},
            "registry_client_report_path": str(p["report"])}
    base.update(extra)
    return base


def check_k3s_registries(doc):
    """The documented schema of k3s's registries.yaml (docs.k3s.io/installation/private-registry): `mirrors` maps a
    registry name to {endpoint: [URL, ...], rewrite: {regex: replacement}}; `configs` maps a registry host to
    {auth: {username, password, auth, identitytoken}, tls: {ca_file, cert_file, key_file, insecure_skip_verify}}."""
    assert isinstance(doc, dict) and set(doc) <= {"mirrors", "configs"}, doc
    for name, mirror in doc.get("mirrors", {}).items():
        assert isinstance(name, str) and name
        assert set(mirror) <= {"endpoint", "rewrite"}, mirror
        assert isinstance(mirror["endpoint"], list) and mirror["endpoint"]
        for url in mirror["endpoint"]:
            parsed = urlparse(url)
            assert parsed.scheme in ("http", "https") and parsed.netloc, url
        for pattern, repl in mirror.get("rewrite", {}).items():
            re.compile(pattern)
            assert isinstance(repl, str)
    for host, config in doc.get("configs", {}).items():
        assert isinstance(host, str) and "/" not in host
        assert set(config) <= {"auth", "tls"}, config
        assert set(config.get("auth", {})) <= {"username", "password", "auth", "identitytoken"}
        tls = config.get("tls", {})
        assert set(tls) <= {"ca_file", "cert_file", "key_file", "insecure_skip_verify"}
        for key in ("ca_file", "cert_file", "key_file"):
            if key in tls:
                assert os.path.isfile(tls[key]), tls[key]


def test_upstream_names_resolve_through_the_site_registry(seeded, paths):
    reg = seeded
    role = role_vars(reg, paths)
    check = run_playbook(play(role), check=True, diff=True, timeout=300)
    assert check.rc == 0, why(check)
    assert not paths["hosts"].exists() and not paths["conf"].exists() and not paths["k3s"].exists()

    first = run_playbook(play(role), diff=True, timeout=300)
    assert first.rc == 0, why(first)
    assert "pull-pw" not in first.stdout + first.stderr

    # containerd: one hosts.toml per upstream, the site registry as server and host, pull/resolve only, the CA.
    for upstream in UPSTREAMS:
        conf = tomllib.loads((paths["hosts"] / upstream / "hosts.toml").read_text())
        assert conf["server"] == f"https://{reg.host}"
        assert conf["host"][f"https://{reg.host}"] == {"capabilities": ["pull", "resolve"],
                                                      "ca": str(paths["hosts"] / reg.host / "ca.crt")}
    assert (paths["hosts"] / reg.host / "ca.crt").read_text() == reg.ca.read_text()

    # k3s: the documented schema, the CA next to it, the password only in the 0600 file.
    doc = yaml.safe_load(paths["k3s"].read_text())
    check_k3s_registries(doc)
    assert doc["mirrors"]["docker.io"] == {"endpoint": [f"https://{reg.host}"]}
    assert doc["configs"][reg.host]["auth"] == {"username": "puller", "password": "pull-pw"}
    assert oct(paths["k3s"].stat().st_mode & 0o777) == "0o600"
    assert paths["restarts"].read_text() == "k3s\n"

    # The proof and the report: containerd and skopeo pulled by upstream name and by digest through the site.
    report = json.loads(paths["report"].read_text())
    lines = by_runtime(paths["report"])
    for runtime in ("containerd", "containers"):
        assert lines[runtime]["status"] == "ok", json.dumps(lines[runtime])
        assert lines[runtime]["mirrored"] and lines[runtime]["by_digest"] and lines[runtime]["digest"].startswith("sha256:")
        assert "trusted, mirrored, pulled by digest sha256:" in lines[runtime]["line"]
    assert lines["docker"]["status"] == "absent" and "skipped" in lines["docker"]["line"]
    assert lines["k3s"]["status"] in ("unproven", "failed")
    assert any(line in first.stdout for line in report["lines"])

    # The test's own clients: ghcr.io and docker.io names, no upstream reachable, only the role's files.
    env = dict(os.environ, HOME=str(paths["home"]))
    digest = subprocess.run(["skopeo", "inspect", "--no-tags", "--authfile", str(paths["docker_config"]), "--format",
                             "{{.Digest}}", "docker://ghcr.io/acme/abox:1.0.1"],
                            env=env, capture_output=True, text=True, check=True, timeout=120).stdout.strip()
    assert digest == lines["containers"]["digest"]
    pulled = subprocess.run(["ctr", "--address", CONTAINERD, "-n", NAMESPACE, "images", "pull", "--hosts-dir",
                             str(paths["hosts"]), "--user", "puller:pull-pw", "ghcr.io/acme/abox:1.0.1"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert pulled.returncode == 0, pulled.stderr
    listing = sh("ctr", "--address", CONTAINERD, "-n", NAMESPACE, "images", "ls", "name==ghcr.io/acme/abox:1.0.1")
    assert digest in listing

    second = run_playbook(play(role), diff=True, timeout=300)
    assert second.rc == 0 and second.changed == 0, why(second)
    assert paths["restarts"].read_text() == "k3s\n"

    gone = run_playbook(play({**role, "registry_client_state": "absent"}), timeout=300)
    assert gone.rc == 0, why(gone)
    assert not any((paths["hosts"] / u / "hosts.toml").exists() for u in UPSTREAMS)
    assert not (paths["conf"] / "50-airgap-registry.conf").exists() and not paths["k3s"].exists()
    again = run_playbook(play({**role, "registry_client_state": "absent"}), timeout=300)
    assert again.rc == 0 and again.changed == 0, why(again)


def test_proxy_host_gets_no_proxy_drop_ins_restarted_once(seeded, paths):
    """HTTPS_PROXY in the host's environment: docker and containerd get NO_PROXY with the registry (their NO_PROXY
    kept), restarted (here: echoed) once; the proof still reaches the registry directly."""
    reg = seeded
    env = {"HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "localhost,.corp"}
    role = role_vars(reg, paths, registry_client_runtimes=["docker", "containerd"], registry_client_upstreams=["ghcr.io"],
                     registry_client_proof_image="ghcr.io/acme/abox:1.0.1", registry_client_trust_docker=True)
    first = run_playbook(play(role, environment=env), diff=True, timeout=300)
    assert first.rc == 0, why(first)
    for unit in ("docker", "containerd"):
        text = (paths["systemd"] / f"{unit}.service.d/50-airgap-registry-no-proxy.conf").read_text()
        want = f"localhost,.corp,127.0.0.1,{reg.host}"
        assert f'Environment="NO_PROXY={want}" "no_proxy={want}"' in text, text
    assert sorted(paths["restarts"].read_text().split()) == ["containerd", "docker"]
    lines = by_runtime(paths["report"])
    assert lines["containerd"]["status"] == "ok", json.dumps(lines["containerd"])
    # Docker: ghcr.io is not mirrored (Docker mirrors Docker Hub only): pulled by its site name, with the note.
    assert lines["docker"]["status"] == "ok" and not lines["docker"]["mirrored"] and lines["docker"]["by_digest"]
    assert f"must be referenced as {reg.host}/acme/abox:1.0.1" in lines["docker"]["line"]
    assert "registry-mirrors covers Docker Hub only" in first.stdout
    second = run_playbook(play(role, environment=env), timeout=300)
    assert second.rc == 0 and second.changed == 0, why(second)
    assert sorted(paths["restarts"].read_text().split()) == ["containerd", "docker"]
    gone = run_playbook(play({**role, "registry_client_state": "absent"}, environment=env), timeout=300)
    assert gone.rc == 0, why(gone)
    assert not list(paths["systemd"].glob("*/50-airgap-registry-no-proxy.conf"))
    subprocess.run(["docker", "rmi", f"{reg.host}/acme/abox:1.0.1"], capture_output=True, check=False)


def test_missing_runtime_is_skipped_and_a_broken_one_is_reported(seeded, paths, tmp_path):
    """PATH with skopeo only: detection finds containers alone, the others are reported absent and nothing is
    written for them. A containerd that cannot be reached is a report line with the host and the fix, not a failure."""
    reg = seeded
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("skopeo", "tr", "sed", "head", "timeout", "sh", "bash"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    role = role_vars(reg, paths, registry_client_runtimes="auto")
    run = run_playbook(play(role, environment={"PATH": str(bin_dir)}), timeout=300)
    assert run.rc == 0, why(run)
    lines = by_runtime(paths["report"])
    assert lines["containers"]["status"] == "ok", json.dumps(lines["containers"])
    for runtime in ("docker", "containerd", "k3s", "rke2"):
        assert lines[runtime]["status"] == "absent" and "skipped" in lines[runtime]["line"]
    assert not paths["hosts"].exists() and not paths["k3s"].exists()

    broken = role_vars(reg, paths, registry_client_runtimes=["containerd"], registry_client_containerd_address=str(tmp_path / "none.sock"))
    run = run_playbook(play(broken), timeout=300)
    assert run.rc == 0, why(run)
    line = by_runtime(paths["report"])["containerd"]
    assert line["status"] == "failed" and line["line"].startswith("localhost containerd: FAILED: ") and " -- fix: " in line["line"]


def test_wrong_ca_is_reported_with_the_host_and_the_fix(seeded, paths, tmp_path):
    other = tmp_path / "other-ca"
    other.mkdir()
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
       "-subj", "/CN=another CA", "-keyout", str(other / "ca.key"), "-out", str(other / "ca.crt"))
    role = role_vars(seeded, paths, registry_client_ca_cert_src=str(other / "ca.crt"))
    run = run_playbook(play(role), timeout=300)
    assert run.rc != 0
    report = json.loads(paths["report"].read_text())
    (entry,) = report["hosts"]["localhost"]
    assert entry["status"] == "failed"
    assert entry["line"].startswith(f"localhost all runtimes: FAILED: cannot use registry {seeded.host}")
    assert "Give the CA that signed the registry's certificate" in entry["fix"]
    assert not paths["hosts"].exists()


def test_prefix_upstream_and_docker_hub_mirror(seeded, paths):
    """An upstream kept under a path prefix (quay.io -> REG/mirror/quay/...): containerd's override_path and the
    drop-in's location carry it; Docker gets registry-mirrors for docker.io (a tmp daemon.json; the engine restart
    is an echo) and pulls quay.io's image by its site name."""
    reg = seeded
    sh("skopeo", "copy", "-q", "--src-cert-dir", str(reg.ca.parent / "certs"), "--src-creds", "puller:pull-pw",
       "--dest-cert-dir", str(reg.ca.parent / "certs"), "--dest-creds", "puller:pull-pw",
       f"docker://{reg.host}/acme/abox:1.0.1", f"docker://{reg.host}/mirror/quay/acme/abox:1.0.1")
    daemon = paths["home"] / "daemon.json"
    role = role_vars(reg, paths, registry_client_runtimes=["docker", "containerd", "containers"],
                     registry_client_upstreams=["docker.io", {"name": "quay.io", "prefix": "mirror/quay"}],
                     registry_client_proof_image="quay.io/acme/abox:1.0.1")
    first = run_playbook(play(role), diff=True, timeout=300)
    assert first.rc == 0, why(first)
    conf = tomllib.loads((paths["hosts"] / "quay.io" / "hosts.toml").read_text())
    assert conf["host"][f"https://{reg.host}/v2/mirror/quay"]["override_path"] is True
    assert json.loads(daemon.read_text())["registry-mirrors"] == [f"https://{reg.host}"]
    assert paths["restarts"].read_text() == "docker\n"
    lines = by_runtime(paths["report"])
    for runtime in ("containerd", "containers"):
        assert lines[runtime]["status"] == "ok" and lines[runtime]["mirrored"], json.dumps(lines[runtime])
    assert lines["docker"]["status"] == "ok" and not lines["docker"]["mirrored"], json.dumps(lines["docker"])
    assert f"{reg.host}/mirror/quay/acme/abox:1.0.1" in lines["docker"]["line"]
    second = run_playbook(play(role), timeout=300)
    assert second.rc == 0 and second.changed == 0, why(second)
    gone = run_playbook(play({**role, "registry_client_state": "absent"}), timeout=300)
    assert gone.rc == 0, why(gone)
    assert "registry-mirrors" not in json.loads(daemon.read_text())
    subprocess.run(["docker", "rmi", f"{reg.host}/mirror/quay/acme/abox:1.0.1"], capture_output=True, check=False)
