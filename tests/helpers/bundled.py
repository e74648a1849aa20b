"""The registry role's bundled backend in a test: its variables under tmp_path, the play, and a tear-down that leaves
no server behind."""
import os
import signal
import uuid

from tests.helpers.ansible import run_playbook
from tests.helpers.registries import free_port


def play(role_vars):
    """One play running the registry role on localhost with `role_vars`."""
    return [{"name": "registry", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry", "vars": role_vars}]}]


def bundled_vars(tmp_path, prefix, **extra):
    """Role variables for a bundled registry with a unique name, a free port and every path under `tmp_path`."""
    return {
        "registry_name": f"{prefix}-{uuid.uuid4().hex[:8]}",
        "registry_port": free_port(),
        "registry_config_dir": str(tmp_path / "etc"),
        "registry_storage_dir": str(tmp_path / "storage"),
        "registry_pid_file": str(tmp_path / "run" / "registry.pid"),
        "registry_log_file": str(tmp_path / "run" / "registry.log"),
        "registry_pyregistry_dest": str(tmp_path / "opt"),
        **extra,
    }


def tear_down(role_vars):
    """The role with registry_state: absent, then SIGKILL to the server's process group if it is still there."""
    run_playbook(play({**role_vars, "registry_state": "absent"}))
    try:
        with open(role_vars["registry_pid_file"]) as fh:
            os.killpg(int(fh.read()), signal.SIGKILL)
    except (OSError, ValueError):
        pass
