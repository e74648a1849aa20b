"""Defaults that do not collide with the `make run` demo (issue 16, item 7).

A user's own playbook run from the repository root gets no inventory from ansible.cfg (so it never lands on the
demo's 127.0.0.1 registry host and its .cache/samples tarballs), and the `registry` role's defaults name directories
that are not the demo's: the demo's settings live in inventories/localhost.
"""
import json
import os
import subprocess

from tests.helpers.ansible import BIN, run_playbook
from tests.helpers.registries import REPO_ROOT

LOCALHOST = os.path.join(REPO_ROOT, "inventories", "localhost")


def user_env():
    """The environment of a user at a terminal in the repository root: ansible.cfg applies, nothing else is set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def test_a_playbook_run_from_the_repo_root_without_inventory_targets_no_registry_host(tmp_path):
    own = tmp_path / "mine.yml"
    own.write_text("- hosts: registry_hosts\n  gather_facts: false\n  tasks:\n"
                   "    - ansible.builtin.debug:\n        msg: 'tarballs={{ registry_seed_tarballs_dir | default(\"unset\") }}'\n")
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), str(own)], cwd=REPO_ROOT, env=user_env(),
                          capture_output=True, text=True, timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "tarballs=" not in out and ".cache/samples" not in out, out
    assert "no hosts matched" in out, out


def demo_vars():
    proc = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", LOCALHOST, "--host", "localhost"], cwd=REPO_ROOT,
                          env=user_env(), capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout)


def test_the_role_defaults_do_not_name_the_demo_directories(tmp_path):
    demo = demo_vars()
    assert demo["registry_name"] != "registry", demo
    play = [{"hosts": "localhost", "gather_facts": False, "roles": [{"role": "airgap.registry.registry"}]}]
    # What a user's own play with the role's defaults would do on this machine (check mode: nothing is written).
    planned = run_playbook(play, check=True)
    config_dir = planned.result("airgap.registry.registry : Create the config directory")["path"]
    storage_dir = planned.result("airgap.registry.registry : Create the storage directory")["path"]
    assert (config_dir, storage_dir) == ("/etc/airgap/registry", "/var/lib/airgap/registry")
    assert f"/etc/airgap/{demo['registry_name']}" != config_dir
    assert f"/var/lib/airgap/{demo['registry_name']}" != storage_dir
