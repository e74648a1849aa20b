"""Role registry_client on localhost: daemon.json merge + restart handler, CA trust, login, docker and skopeo pulls,
against real registries (the bundled pyregistry with TLS + htpasswd) and the real engine."""
import json
import shutil
import subprocess

import pytest

from tests.helpers.ansible import run_playbook

pytestmark = [pytest.mark.docker]


def client_play(**role_vars):
    return [{"name": "client", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry_client", **role_vars}]}]


def sh(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def tls_registry(start_registry, tmp_path, sample_tarballs):
    """pyregistry over https (a CA made with openssl, SAN IP:127.0.0.1) with htpasswd user puller, holding abox:1.0.1;
    the certs.d directories the role writes for it are removed at teardown."""
    d = tmp_path / "tls"
    d.mkdir()
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
       "-subj", "/CN=fleet test CA", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"))
    sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
       "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    sh("openssl", "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.crt"), "-CAkey", str(d / "ca.key"),
       "-CAcreateserial", "-days", "2", "-extfile", str(d / "ext.cnf"), "-out", str(d / "server.crt"))
    (d / "htpasswd").write_text(sh("htpasswd", "-Bbn", "puller", "pull-pw"))
    reg = start_registry("pyregistry", config={
        "http": {"tls": {"certificate": str(d / "server.crt"), "key": str(d / "server.key")}},
        "auth": {"htpasswd": {"realm": "fleet", "path": str(d / "htpasswd")}}}, cafile=str(d / "ca.crt"))
    (d / "certs").mkdir()
    shutil.copy(d / "ca.crt", d / "certs" / "ca.crt")
    sh("skopeo", "copy", "-q", "--dest-cert-dir", str(d / "certs"), "--dest-creds", "puller:pull-pw",
       f"docker-archive:{sample_tarballs / 'abox_1.0.1.tar'}", f"docker://{reg.host}/abox:1.0.1")
    reg.ca = d / "ca.crt"
    yield reg
    for base in ("/etc/docker/certs.d", "/etc/containers/certs.d"):
        shutil.rmtree(f"{base}/{reg.host}", ignore_errors=True)
    subprocess.run(["docker", "rmi", f"{reg.host}/abox:1.0.1"], capture_output=True, check=False)


def test_daemon_json_merged_keeping_other_keys_and_restart_only_on_change(pyregistry_server, tmp_path):
    daemon = tmp_path / "docker" / "daemon.json"
    daemon.parent.mkdir()
    daemon.write_text(json.dumps({"log-driver": "json-file", "insecure-registries": ["other.local:5000"], "debug": False}))
    restarts = tmp_path / "restarts"
    role = {"registry_client_registry": pyregistry_server.host, "registry_client_tls": False, "registry_client_mirror": True,
            "registry_client_daemon_json": str(daemon), "registry_client_engine_restart_command": f"sh -c 'echo restarted >> {restarts}'"}
    check = run_playbook(client_play(**role), check=True)
    assert check.rc == 0, check.stdout[-4000:]
    assert json.loads(daemon.read_text())["insecure-registries"] == ["other.local:5000"]
    assert not restarts.exists()
    first = run_playbook(client_play(**role))
    assert first.rc == 0, first.stdout[-4000:]
    assert json.loads(daemon.read_text()) == {
        "log-driver": "json-file", "debug": False,
        "insecure-registries": ["other.local:5000", pyregistry_server.host],
        "registry-mirrors": [f"http://{pyregistry_server.host}"]}
    assert restarts.read_text() == "restarted\n"
    second = run_playbook(client_play(**role))
    assert second.rc == 0 and second.changed == 0, second.stdout[-4000:]
    assert restarts.read_text() == "restarted\n"


def test_missing_daemon_json_is_created(pyregistry_server, tmp_path):
    daemon = tmp_path / "etc-docker" / "daemon.json"
    role = {"registry_client_registry": pyregistry_server.host, "registry_client_tls": False,
            "registry_client_daemon_json": str(daemon), "registry_client_engine_restart": False}
    run = run_playbook(client_play(**role))
    assert run.rc == 0, run.stdout[-4000:]
    assert json.loads(daemon.read_text()) == {"insecure-registries": [pyregistry_server.host]}


def test_tls_trust_login_and_pull_with_docker_then_skopeo(tls_registry, tmp_path, docker_client):
    host = tls_registry.host
    cfg = tmp_path / "dockercfg" / "config.json"
    role = {"registry_client_registry": host, "registry_client_ca_cert_src": str(tls_registry.ca),
            "registry_client_username": "puller", "registry_client_password": "pull-pw",
            "registry_client_docker_config": str(cfg), "registry_client_pull": ["abox:1.0.1"]}
    first = run_playbook(client_play(**role))
    assert first.rc == 0, first.stdout[-4000:]
    ca = tls_registry.ca.read_text().strip()
    for base in ("/etc/docker/certs.d", "/etc/containers/certs.d"):
        with open(f"{base}/{host}/ca.crt") as fh:
            assert fh.read().strip() == ca
    assert host in json.loads(cfg.read_text())["auths"]
    assert "pull-pw" not in first.stdout
    assert docker_client.images.get(f"{host}/abox:1.0.1").id == docker_client.images.get("abox:1.0.1").id
    listed = first.result("List the pulled images", "localhost")["msg"]
    assert listed == [f"{host}/abox:1.0.1 {docker_client.images.get('abox:1.0.1').id}"]
    second = run_playbook(client_play(**role))
    assert second.rc == 0 and second.changed == 0, second.stdout[-4000:]

    images = tmp_path / "images"
    role.update(registry_client_pull_with="skopeo", registry_client_skopeo_dir=str(images))
    third = run_playbook(client_play(**role))
    assert third.rc == 0, third.stdout[-4000:]
    assert third.result("Pull the images with skopeo", "localhost")["changed"] is True
    config = json.loads(sh("skopeo", "inspect", "--config", f"oci:{images}/abox_1.0.1"))
    assert config["rootfs"]["diff_ids"] == docker_client.images.get("abox:1.0.1").attrs["RootFS"]["Layers"]
    fourth = run_playbook(client_play(**role))
    assert fourth.rc == 0 and fourth.changed == 0, fourth.stdout[-4000:]


def test_tls_registry_without_ca_or_with_wrong_password_fails_clearly(tls_registry):
    no_ca = run_playbook(client_play(registry_client_registry=tls_registry.host))
    assert no_ca.rc != 0
    assert no_ca.failures()["localhost"].startswith(f"localhost: registry {tls_registry.host} uses TLS (registry_client_tls) but no CA was given")
    wrong = run_playbook(client_play(registry_client_registry=tls_registry.host, registry_client_ca_cert=tls_registry.ca.read_text(),
                                     registry_client_username="puller", registry_client_password="nope-pw"))
    assert wrong.rc != 0
    msg = wrong.failures()["localhost"]
    assert msg.startswith(f"localhost: cannot use registry {tls_registry.host}:")
    assert "registry_client_username / registry_client_password" in msg
    assert "nope-pw" not in wrong.stdout
