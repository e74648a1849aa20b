"""registry_tls's own EXAMPLES, run as written on a fresh host (paths moved under a tmp dir) (issue 16, item 12)."""
import os

import yaml

from tests.helpers.ansible import run_playbook
from tests.helpers.registries import REPO_ROOT


def examples():
    namespace = {}
    with open(os.path.join(REPO_ROOT, "plugins", "modules", "registry_tls.py")) as fh:
        source = fh.read()
    exec(compile(source.split("from ansible.module_utils")[0], "registry_tls.py", "exec"), namespace)  # noqa: S102 - the docs strings only
    return yaml.safe_load(namespace["EXAMPLES"])


def moved(task, root):
    """The example task with its absolute paths under `root` (a fresh filesystem for it)."""
    args = dict(task["airgap.registry.registry_tls"])
    for name in ("ca_cert", "ca_key", "cert", "key"):
        args[name] = str(root) + args[name]
    return {"name": task["name"], "airgap.registry.registry_tls": args}


def test_the_first_example_works_on_a_fresh_host(tmp_path):
    task = moved(examples()[0], tmp_path)
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]
    planned = run_playbook(play, check=True)
    assert not planned.failed, planned.stdout[-3000:]
    assert planned.result(task["name"])["directories_created"] == [str(tmp_path / "etc/airgap/tls")]
    assert not (tmp_path / "etc").exists()
    res = run_playbook(play)
    assert not res.failed, res.stdout[-3000:]
    out = res.result(task["name"])
    assert out["generated"] == ["ca", "key", "cert"] and out["directories_created"] == [str(tmp_path / "etc/airgap/tls")]
    assert oct((tmp_path / "etc/airgap/tls").stat().st_mode & 0o777) == "0o750"
    assert (tmp_path / "etc/airgap/tls/ca.crt").is_file()
    again = run_playbook(play)
    assert again.changed == 0 and again.result(task["name"])["directories_created"] == []


def test_the_company_ca_example_works_on_a_fresh_host(tmp_path):
    """The second example expects a company CA at /etc/pki: without one it generates it there (both files absent)."""
    task = moved(examples()[1], tmp_path)
    res = run_playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}])
    assert not res.failed, res.stdout[-3000:]
    assert (tmp_path / "etc/pki/company-ca.crt").is_file() and (tmp_path / "etc/airgap/tls/registry.crt").is_file()
