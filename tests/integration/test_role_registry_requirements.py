"""The registry role's requirements preflight, and the container backend on what Debian 12 ships (issue 16, item 4).

A host whose Python lacks what the settings need fails before anything is created, with one message that names the
host, every missing library, what needs it and the Debian packages. The container backend runs with Debian 12's own
docker SDK (python3-docker 5.0.3 and its dependencies, unpacked from the Debian archive) under Debian's python3.
"""
import os
import subprocess
import sys
import uuid

import pytest

from tests.helpers.ansible import run_playbook
from tests.helpers.debian_python import DEBIAN_PYTHON, DOCKER_SDK, module_version, unpack_debian_packages
from tests.helpers.registries import free_port, wait_http

def play(role_vars):
    return [{"name": "registry", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry", "vars": role_vars}]}]


@pytest.fixture
def role_vars(tmp_path):
    return {"registry_name": f"req-{uuid.uuid4().hex[:8]}", "registry_port": free_port(),
            "registry_config_dir": str(tmp_path / "etc"), "registry_storage_dir": str(tmp_path / "storage")}


def test_missing_libraries_are_listed_in_one_message_before_anything_is_made(role_vars, tmp_path):
    bare = tmp_path / "bare-venv"  # a Python with nothing but the standard library, like a minimal host
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    settings = {**role_vars, "registry_backend": "container", "registry_tls": True,
                "registry_htpasswd_users": [{"name": "admin", "password": "pw"}]}
    for check in (True, False):
        res = run_playbook(play(settings), check=check, env={"ANSIBLE_PYTHON_INTERPRETER": str(bare / "bin" / "python")})
        assert res.failed
        msgs = res.failures()
        assert list(msgs) == ["localhost"], msgs
        msg = msgs["localhost"]
        assert msg.startswith("localhost lacks Python libraries that its registry settings need"), msg
        for lib in ("cryptography (for registry_tls: true", "passlib (for registry_htpasswd_users)",
                    "bcrypt (for registry_htpasswd_users)", "docker SDK >= 5.0.3 (for registry_backend: container)"):
            assert lib in msg, msg
        assert "apt-get install python3-cryptography python3-passlib python3-bcrypt python3-docker" in msg, msg
        assert not os.path.exists(role_vars["registry_config_dir"])


def test_only_what_the_settings_need_is_asked(role_vars, tmp_path):
    bare = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    res = run_playbook(play({**role_vars, "registry_htpasswd_users": [{"name": "a", "password": "b"}]}), check=True,
                       env={"ANSIBLE_PYTHON_INTERPRETER": str(bare / "bin" / "python")})
    msg = res.failures()["localhost"]
    assert "passlib" in msg and "cryptography" not in msg and "docker" not in msg, msg


@pytest.fixture(scope="module")
def debian_docker_sdk(tmp_path_factory):
    """Debian 12's docker SDK and its dependencies, unpacked from the Debian archive: (PYTHONPATH, SDK version)."""
    path = unpack_debian_packages(str(tmp_path_factory.mktemp("debian-sdk")), DOCKER_SDK)
    return path, module_version(path, "docker")


@pytest.mark.docker
def test_container_backend_with_debian_12_docker_sdk(role_vars, debian_docker_sdk, docker_client):
    path, version = debian_docker_sdk
    assert version == "5.0.3"
    env = {"ANSIBLE_PYTHON_INTERPRETER": DEBIAN_PYTHON, "PYTHONPATH": path}
    settings = {**role_vars, "registry_backend": "container", "registry_tls": True}
    try:
        first = run_playbook(play(settings), env=env)
        assert not first.failed, first.stdout[-4000:]
        ca = os.path.join(role_vars["registry_config_dir"], "tls", "ca.crt")
        assert wait_http(f"https://127.0.0.1:{role_vars['registry_port']}/v2/", timeout=10, cafile=ca) == 200
        again = run_playbook(play(settings), env=env)
        assert not again.failed and again.changed == 0, [n for n, r in again.tasks() if r.get("changed")]
        gone = run_playbook(play({**settings, "registry_state": "absent"}), env=env)
        assert not gone.failed, gone.stdout[-3000:]
        assert docker_client.containers.list(all=True, filters={"name": f"^{role_vars['registry_name']}$"}) == []
    finally:
        for container in docker_client.containers.list(all=True, filters={"name": f"^{role_vars['registry_name']}$"}):
            container.remove(force=True)


