"""The registry role, container backend, on the real engine: TLS + htpasswd, docker login right/wrong, push/pull, teardown."""
import os
import shutil
import socket
import subprocess
import uuid

import pytest

from tests.helpers.ansible import run_playbook
from tests.helpers.registries import free_port

pytestmark = pytest.mark.docker
CERTS_D = "/etc/docker/certs.d"


def play(role_vars):
    return [{"name": "registry", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry", "vars": role_vars}]}]


def task(res, name):
    return res.result(f"airgap.registry.registry : {name}")


@pytest.fixture
def container_vars(tmp_path, docker_client):
    """Role variables for a registry container named tls-role-*; removed (container, certs.d entry) at teardown."""
    role_vars = {
        "registry_backend": "container",
        "registry_name": f"tls-role-{uuid.uuid4().hex[:8]}",
        "registry_port": free_port(),
        "registry_bind_address": "127.0.0.1",
        "registry_config_dir": str(tmp_path / "etc"),
        "registry_storage_dir": str(tmp_path / "storage"),
    }
    yield role_vars
    run_playbook(play({**role_vars, "registry_state": "absent"}))
    for container in docker_client.containers.list(all=True, filters={"name": role_vars["registry_name"]}):
        container.remove(force=True)
    shutil.rmtree(os.path.join(CERTS_D, f"127.0.0.1:{role_vars['registry_port']}"), ignore_errors=True)


def docker(*args, env=None, stdin=None):
    return subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, env=env, check=False)


def test_tls_htpasswd_login_push_pull_and_teardown(container_vars, docker_client, sample_images, tmp_path):
    role_vars = {**container_vars, "registry_tls": True,
                 "registry_htpasswd_users": [{"name": "fleet", "password": "Fl33t-pass"}, {"name": "ci", "password": "c1-pass"}]}
    res = run_playbook(play(role_vars))
    assert not res.failed, res.stdout[-4000:]
    assert "Fl33t-pass" not in res.stdout
    container = docker_client.containers.get(role_vars["registry_name"])
    assert container.status == "running"
    host = f"127.0.0.1:{role_vars['registry_port']}"
    ca = os.path.join(role_vars["registry_config_dir"], "tls", "ca.crt")

    curl = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca]
    assert subprocess.run([*curl, "-u", "fleet:Fl33t-pass", f"https://{host}/v2/"], capture_output=True, text=True, check=False).stdout == "200"
    assert subprocess.run([*curl, "-u", "fleet:nope", f"https://{host}/v2/"], capture_output=True, text=True, check=False).stdout == "401"

    again = run_playbook(play(role_vars))
    assert not again.failed and again.changed == 0, [t for t, r in again.tasks() if r.get("changed")]
    assert docker_client.containers.get(role_vars["registry_name"]).id == container.id

    os.makedirs(os.path.join(CERTS_D, host), exist_ok=True)
    shutil.copy(ca, os.path.join(CERTS_D, host, "ca.crt"))
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    bad = docker("login", host, "-u", "fleet", "--password-stdin", env=env, stdin="wrong")
    assert bad.returncode != 0 and "unauthorized" in bad.stderr.lower()
    good = docker("login", host, "-u", "fleet", "--password-stdin", env=env, stdin="Fl33t-pass")
    assert good.returncode == 0 and "Login Succeeded" in good.stdout, good.stderr

    source = next(name for name in sample_images if name.startswith("abox"))
    target = f"{host}/tls-role/abox:1.0.1"
    docker_client.images.get(source).tag(target)
    try:
        pushed = docker("push", target, env=env)
        assert pushed.returncode == 0, pushed.stderr
        docker_client.images.remove(target)
        pulled = docker("pull", target, env=env)
        assert pulled.returncode == 0, pulled.stderr
        assert docker_client.images.get(target).id == docker_client.images.get(source).id
    finally:
        if docker_client.images.list(name=target):
            docker_client.images.remove(target)

    headers = {**role_vars, "registry_config": {"http": {"headers": {"X-Airgap-Test": ["tls-role"]}}}}
    check = run_playbook(play(headers), check=True)
    assert not check.failed and check.changed > 0
    assert docker_client.containers.get(role_vars["registry_name"]).id == container.id
    changed = run_playbook(play(headers))
    assert not changed.failed, changed.stdout[-4000:]
    assert docker_client.containers.get(role_vars["registry_name"]).id != container.id
    shown = subprocess.run(["curl", "-sS", "-D", "-", "-o", "/dev/null", "--cacert", ca, f"https://{host}/v2/"], capture_output=True, text=True, check=False)
    assert "x-airgap-test: tls-role" in shown.stdout.lower()
    assert docker("pull", target, env=env).returncode == 0, "storage survives the recreation"
    docker_client.images.remove(target)

    gone = run_playbook(play({**role_vars, "registry_state": "absent"}))
    assert not gone.failed and gone.changed > 0
    assert docker_client.containers.list(all=True, filters={"name": role_vars["registry_name"]}) == []
    assert os.listdir(os.path.join(role_vars["registry_storage_dir"], "docker")), "storage is kept"


def test_missing_image_fails_clearly(container_vars, docker_client):
    res = run_playbook(play({**container_vars, "registry_image": "tls-missing/registry:0.0"}))
    assert res.failed
    assert "tls-missing/registry:0.0" in task(res, "Run the registry container")["msg"]
    assert docker_client.containers.list(all=True, filters={"name": container_vars["registry_name"]}) == []


def test_port_in_use_fails_clearly(container_vars, docker_client):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", container_vars["registry_port"]))
        busy.listen()
        res = run_playbook(play(container_vars))
    assert res.failed
    msg = task(res, "Run the registry container")["msg"]
    assert str(container_vars["registry_port"]) in msg and ("in use" in msg or "already allocated" in msg), msg
    assert docker_client.containers.list(all=True, filters={"name": container_vars["registry_name"]}) == []
