"""registry_pyregistry_install: package installs pyregistry from the built wheel in one step (one file, compared by
checksum) and runs it from there with an interpreter that has only the dependencies (Debian's python3, aiohttp 3.8)."""
import os

import pytest

from tests.conftest import require
from tests.helpers.ansible import run_playbook
from tests.helpers.bundled import bundled_vars, play, tear_down
from tests.helpers.package import build_wheel
from tests.helpers.registries import wait_http


@pytest.fixture
def packaged(tmp_path):
    require(os.path.exists("/usr/bin/python3"), "no system python3")
    wheel = build_wheel(tmp_path / "build")
    role_vars = bundled_vars(tmp_path, "pkg", registry_service_manager="supervisor", registry_pyregistry_python="/usr/bin/python3",
                             registry_pyregistry_install="package", registry_pyregistry_package=str(wheel))
    yield role_vars
    tear_down(role_vars)


def test_package_install_is_one_file_and_idempotent(packaged):
    first = run_playbook(play(packaged))
    assert not first.failed, first.stdout[-3000:]
    assert first.result("airgap.registry.registry : Copy the pyregistry package")["changed"] is True
    assert os.path.isfile(os.path.join(packaged["registry_pyregistry_dest"], "airgap_registry.whl"))
    assert wait_http(f"http://127.0.0.1:{packaged['registry_port']}/v2/", timeout=10) == 200

    again = run_playbook(play(packaged))
    assert not again.failed and again.changed == 0, [n for n, r in again.tasks() if r.get("changed")]

    missing = run_playbook(play({**packaged, "registry_pyregistry_package": packaged["registry_pyregistry_package"] + ".gone"}))
    assert missing.failed and "make wheel" in missing.result("Fail when the pyregistry package is missing")["msg"]


def test_check_mode_on_a_fresh_host_plans_the_package(packaged):
    res = run_playbook(play(packaged), check=True)
    assert not res.failed, res.stdout[-3000:]
    assert res.result("airgap.registry.registry : Copy the pyregistry package")["changed"] is True
    assert not os.path.exists(packaged["registry_pyregistry_dest"])
