"""registry_pyregistry_install: copy is fast when nothing changed: one checksum listing on each side, and only the
files that differ are copied (issue 16, item 12). A changed file is copied alone and restarts the registry."""
import os
import shutil

import pytest

from tests.helpers.ansible import run_playbook
from tests.helpers.bundled import bundled_vars, play, tear_down
from tests.helpers.registries import REPO_ROOT, wait_http


@pytest.fixture
def copied(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(os.path.join(REPO_ROOT, "pyregistry"), src, ignore=shutil.ignore_patterns("__pycache__"))
    role_vars = bundled_vars(tmp_path, "copy", registry_pyregistry_install="copy", registry_pyregistry_src=str(src))
    yield role_vars
    tear_down(role_vars)


def copied_files(res):
    return [item["item"]["rel"] for item in res.result("airgap.registry.registry : Copy the pyregistry files that differ").get("results", [])]


def test_unchanged_copy_copies_nothing_and_a_changed_file_alone(copied):
    src = copied["registry_pyregistry_src"]
    shipped = sorted(os.path.relpath(os.path.join(d, f), src) for d, _, fs in os.walk(src) for f in fs if f.endswith(".py"))
    first = run_playbook(play(copied))
    assert not first.failed, first.stdout[-3000:]
    assert sorted(copied_files(first)) == shipped
    assert wait_http(f"http://127.0.0.1:{copied['registry_port']}/v2/", timeout=10) == 200

    again = run_playbook(play(copied))
    assert not again.failed and again.changed == 0, [n for n, r in again.tasks() if r.get("changed")]
    # No per-file task at all: two listings (controller, host) and nothing to copy, create or remove.
    assert copied_files(again) == []
    per_file = [name for name, res in again.tasks() if "pyregistry" in name and res.get("results")]
    assert per_file == [], per_file

    with open(os.path.join(src, "errors.py"), "a") as fh:
        fh.write("\n# changed on the controller\n")
    stale = os.path.join(copied["registry_pyregistry_dest"], "pyregistry", "gone.py")
    with open(stale, "w") as fh:
        fh.write("# a module the controller no longer ships\n")
    changed = run_playbook(play(copied))
    assert not changed.failed, changed.stdout[-3000:]
    assert copied_files(changed) == ["errors.py"]
    assert not os.path.exists(stale)
    assert changed.result("airgap.registry.registry : Restart registry (supervisor)")["changed"] is True
    assert wait_http(f"http://127.0.0.1:{copied['registry_port']}/v2/", timeout=20) == 200
