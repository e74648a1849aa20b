"""The registry_swarm role's requirements preflight, and the swarm backend on what Debian 12 ships (issue 16, item 4).

A manager whose Python lacks what the settings need fails before anything is created, with one message naming the
host, every missing library, what needs it and the Debian packages (the registry role's check, shared). The role then
runs a TLS service with users and a shared http.secret under Debian's python3 with Debian 12's own libraries
(python3-docker 5.0.3, requests 2.28, cryptography, passlib, bcrypt, unpacked from the Debian archive): the minimum
that registry_swarm_service documents.
"""
import os
import subprocess
import sys

import pytest

from tests.helpers.ansible import run_playbook
from tests.helpers.debian_python import DEBIAN_PYTHON, DOCKER_SDK, TLS_AND_USERS, module_version, unpack_debian_packages
from tests.helpers.registries import free_port, wait_http
from tests.helpers.swarm import ensure_swarm, remove_service

pytestmark = [pytest.mark.docker, pytest.mark.swarm]


def role_play(role_vars):
    return [{"name": "registry_swarm", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry_swarm", "vars": role_vars}]}]


@pytest.fixture
def swarm_vars(docker_client, tmp_path):
    """registry_* settings of a TLS registry with a user on a free port; its service and secrets are removed at teardown."""
    ensure_swarm(docker_client)
    port = free_port()
    name = f"req-swarm-{port}"
    yield {"registry_name": name, "registry_port": port, "registry_tls": True,
           "registry_tls_subject_alt_names": ["127.0.0.1"], "registry_htpasswd_users": [{"name": "u", "password": "p"}],
           "registry_config_dir": str(tmp_path / "etc"), "registry_storage_dir": str(tmp_path / "storage"),
           "registry_swarm_publish_mode": "host", "registry_health_timeout": 90}
    remove_service(docker_client, name)


def test_missing_libraries_are_listed_in_one_message_before_anything_is_made(swarm_vars, docker_client, tmp_path):
    bare = tmp_path / "bare-venv"  # a Python with nothing but the standard library, like a minimal manager
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    for check in (True, False):
        res = run_playbook(role_play(swarm_vars), check=check, env={"ANSIBLE_PYTHON_INTERPRETER": str(bare / "bin" / "python")})
        assert res.failed
        msgs = res.failures()
        assert list(msgs) == ["localhost"], msgs
        msg = msgs["localhost"]
        assert msg.startswith("localhost lacks Python libraries that its registry settings need"), msg
        for lib in ("docker SDK >= 5.0.3 (for the swarm service)", "cryptography (for registry_swarm_tls: true",
                    "passlib (for registry_swarm_htpasswd_users)", "bcrypt (for registry_swarm_htpasswd_users)"):
            assert lib in msg, msg
        assert "apt-get install python3-cryptography python3-passlib python3-bcrypt python3-docker" in msg, msg
        assert not os.path.exists(swarm_vars["registry_config_dir"])
        assert not [s for s in docker_client.services.list() if s.name == swarm_vars["registry_name"]]


def test_the_check_can_be_turned_off(swarm_vars, tmp_path):
    bare = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    res = run_playbook(role_play({**swarm_vars, "registry_requirements_check": False}), check=True,
                       env={"ANSIBLE_PYTHON_INTERPRETER": str(bare / "bin" / "python")})
    assert res.failed
    assert "lacks Python libraries" not in str(res.failures()), res.failures()


@pytest.fixture(scope="module")
def debian_libraries(tmp_path_factory):
    """PYTHONPATH holding Debian 12's docker SDK, cryptography, passlib and bcrypt, and the SDK's version."""
    path = unpack_debian_packages(str(tmp_path_factory.mktemp("debian-libs")), DOCKER_SDK + TLS_AND_USERS)
    return path, module_version(path, "docker")


def test_swarm_role_with_debian_12_libraries(swarm_vars, debian_libraries, docker_client):
    path, version = debian_libraries
    assert version == "5.0.3"
    env = {"ANSIBLE_PYTHON_INTERPRETER": DEBIAN_PYTHON, "PYTHONPATH": path}
    settings = {**swarm_vars, "registry_http_secret": "a-shared-upload-secret"}
    name, port = settings["registry_name"], settings["registry_port"]

    plan = run_playbook(role_play(settings), check=True, diff=True, env=env)
    assert not plan.failed, plan.stdout[-4000:]
    assert not [s for s in docker_client.services.list() if s.name == name], "check mode created the service"

    first = run_playbook(role_play(settings), env=env)
    assert not first.failed, first.stdout[-4000:] + first.stderr[-2000:]
    ca = os.path.join(settings["registry_config_dir"], "tls", "ca.crt")
    assert wait_http(f"https://127.0.0.1:{port}/v2/", timeout=10, cafile=ca, ok=(401,)) == 401
    spec = docker_client.services.get(name).attrs["Spec"]
    assert spec["EndpointSpec"]["Ports"][0]["PublishMode"] == "host", spec["EndpointSpec"]
    assert spec["UpdateConfig"]["FailureAction"] == "rollback", spec["UpdateConfig"]

    again = run_playbook(role_play(settings), env=env)
    assert not again.failed and again.changed == 0, [n for n, r in again.tasks() if r.get("changed")]

    gone = run_playbook(role_play({**settings, "registry_state": "absent"}), env=env)
    assert not gone.failed, gone.stdout[-3000:]
    assert not [s for s in docker_client.services.list() if s.name == name]
    assert not docker_client.secrets.list(filters={"label": f"airgap.registry.service={name}"})
