"""The registry_swarm role on a real single-node swarm: TLS via registry_tls, htpasswd users, idempotent, login and push over TLS."""
import os
import shutil
import subprocess

import pytest

from tests.helpers.ansible import run_playbook
from tests.helpers.certs import file_fingerprint, served_fingerprint
from tests.helpers.registries import free_port, wait_http
from tests.helpers.swarm import ensure_swarm, remove_service

pytestmark = [pytest.mark.docker, pytest.mark.swarm]


def role_play(**role_vars):
    return [{"name": "registry_swarm", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry_swarm", "vars": role_vars}]}]


@pytest.fixture
def role_service(docker_client):
    """(name, port) of a role-made service; the service, its secrets and certs.d entry are removed at teardown."""
    ensure_swarm(docker_client)
    port = free_port()
    name = f"dep-role-{port}"
    yield name, port
    remove_service(docker_client, name)
    shutil.rmtree(f"/etc/docker/certs.d/127.0.0.1:{port}", ignore_errors=True)
    subprocess.run(["docker", "rmi", f"127.0.0.1:{port}/abox:1.0.1"], capture_output=True, check=False)


def test_role_runs_tls_service_idempotently_and_removes_it(docker_client, sample_images, role_service, tmp_path):
    name, port = role_service
    config_dir = tmp_path / "etc"
    role_vars = {
        "registry_swarm_name": name, "registry_swarm_port": port, "registry_swarm_publish_mode": "host",
        "registry_swarm_init": True, "registry_swarm_advertise_addr": "127.0.0.1",
        "registry_swarm_config_dir": str(config_dir), "registry_swarm_storage_dir": str(tmp_path / "storage"),
        "registry_swarm_tls": True, "registry_swarm_tls_subject_alt_names": ["localhost", "127.0.0.1"],
        "registry_swarm_trust_hosts": [f"127.0.0.1:{port}"], "registry_swarm_health_timeout": 90,
        "registry_swarm_htpasswd_users": [{"name": "depuser", "password": "role-pass"}],
    }

    check = run_playbook(role_play(**role_vars), check=True)
    assert not check.failed, check.stdout[-3000:] + check.stderr[-2000:]
    assert not [s for s in docker_client.services.list() if s.name == name], "check mode created the service"

    first = run_playbook(role_play(**role_vars))
    assert not first.failed, first.stdout[-3000:] + first.stderr[-2000:]
    service = first.result("Run the registry as a swarm service")
    assert service["changed"] and "service created" in service["actions"], service
    ca = config_dir / "tls" / "ca.crt"
    cert = config_dir / "tls" / "registry.crt"
    assert wait_http(f"https://127.0.0.1:{port}/v2/", cafile=str(ca), ok=(401,)) == 401
    assert served_fingerprint(port) == file_fingerprint(cert)
    assert os.path.isfile(f"/etc/docker/certs.d/127.0.0.1:{port}/ca.crt")

    second = run_playbook(role_play(**role_vars))
    assert not second.failed and second.changed == 0, [(t, r.get("changed")) for t, r in second.tasks()]

    tag = f"127.0.0.1:{port}/abox:1.0.1"
    cli_env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "dockercfg")}
    login = subprocess.run(["docker", "login", "-u", "depuser", "--password-stdin", f"127.0.0.1:{port}"], input="role-pass",
                           capture_output=True, text=True, env=cli_env, check=False)
    assert login.returncode == 0, login.stderr
    subprocess.run(["docker", "tag", "abox:1.0.1", tag], check=True)
    push = subprocess.run(["docker", "push", tag], capture_output=True, text=True, env=cli_env, check=False)
    assert push.returncode == 0, push.stderr
    assert (tmp_path / "storage" / "docker" / "registry" / "v2" / "repositories" / "abox").is_dir()

    gone = run_playbook(role_play(**role_vars, registry_swarm_state="absent"))
    assert not gone.failed, gone.stdout[-3000:]
    assert not [s for s in docker_client.services.list() if s.name == name]
    assert not docker_client.secrets.list(filters={"label": f"airgap.registry.service={name}"})
    assert not os.path.exists(f"/etc/docker/certs.d/127.0.0.1:{port}")


def test_role_rejects_bad_settings_before_touching_the_engine(docker_client, role_service, tmp_path):
    name, _port = role_service
    res = run_playbook(role_play(registry_swarm_name=name, registry_swarm_port=70000, registry_swarm_config_dir=str(tmp_path)))
    assert res.failed and "registry_swarm_port must be 1-65535" in res.stdout, res.stdout[-2000:]
    assert not [s for s in docker_client.services.list() if s.name == name]
