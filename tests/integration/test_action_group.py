"""The registry action group (meta/runtime.yml): module_defaults for group/airgap.registry.registry sets the
connection once for image_seed, registry_info, registry_login and image_save, against a pyregistry that wants a login."""
import shutil
import subprocess

import pytest

from tests.helpers.ansible import run_playbook
from tests.conftest import require

USER = "grouped"
PASSWORD = "Gr0up-pass-19c"


@pytest.fixture
def auth_pyregistry(start_registry, tmp_path):
    require(shutil.which("htpasswd"), "htpasswd (apache2-utils) is not installed")
    line = subprocess.run(["htpasswd", "-Bbn", "-C", "4", USER, PASSWORD], check=True, capture_output=True, text=True).stdout.strip()
    path = tmp_path / "htpasswd"
    path.write_text(line + "\n")
    return start_registry("pyregistry", config={"auth": {"htpasswd": {"realm": "r", "path": str(path)}}})


def test_module_defaults_group_sets_the_connection_once(auth_pyregistry, sample_tarballs, tmp_path):
    reg = auth_pyregistry
    connection = {"username": USER, "password": PASSWORD, "scheme": "http", "timeout": 30}
    tasks = [
        {"name": "seed", "airgap.registry.image_seed": {"src": str(sample_tarballs / "abox_1.0.1.tar"), "registry": reg.host}},
        {"name": "info", "airgap.registry.registry_info": {"registry": reg.host, "expect": ["abox:1.0.1"]}},
        {"name": "save", "airgap.registry.image_save": {"source": "registry", "registry": reg.host, "images": ["abox:1.0.1"],
                                                        "dest": str(tmp_path / "saved")}},
        {"name": "login", "airgap.registry.registry_login": {"registry": reg.host, "config_path": str(tmp_path / "docker" / "config.json")}},
    ]
    play = [{"name": "grouped", "hosts": "localhost", "gather_facts": False,
             "module_defaults": {"group/airgap.registry.registry": connection}, "tasks": tasks}]
    res = run_playbook(play)
    assert not res.failed, res.stdout + res.stderr
    assert res.result("seed")["changed"] is True
    assert res.result("info")["missing"] == []
    assert res.result("save")["changed"] is True
    assert res.result("login")["changed"] is True

    # without the group's defaults the same task has no credentials: the registry refuses it
    bare = [{"name": "bare", "hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "info", "airgap.registry.registry_info": {"registry": reg.host, "scheme": "http"}}]}]
    res = run_playbook(bare)
    assert res.failed and res.result("info").get("failed"), res.result("info")
