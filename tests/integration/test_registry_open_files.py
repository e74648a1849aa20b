"""The registry role starts the registry with a high open-file limit: `LimitNOFILE=` in the systemd unit, and the
supervisor (no systemd) raises its soft limit to the hard one for the command it runs."""
import json
import os
import re
import resource
import subprocess
import sys
import time

from tests.helpers.registries import REPO_ROOT, free_port
from tests.conftest import require

ROLE = os.path.join(REPO_ROOT, "roles", "registry")
SUPERVISOR = os.path.join(ROLE, "files", "registry_supervisor.py")


def test_systemd_unit_raises_the_open_file_limit():
    with open(os.path.join(ROLE, "templates", "registry.service.j2")) as fh:
        m = re.search(r"^LimitNOFILE=(\d+)$", fh.read(), re.MULTILINE)
    assert m and int(m.group(1)) >= 65536


def test_supervised_command_gets_the_hard_open_file_limit(tmp_path):
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    require(hard != resource.RLIM_INFINITY and hard > 1024, f"the hard open-file limit ({hard}) leaves nothing to raise")
    port = free_port()
    serve = (f"import resource, runpy, sys; print('nofile', *resource.getrlimit(resource.RLIMIT_NOFILE), flush=True); "
             f"sys.argv = ['http.server', '{port}', '--bind', '127.0.0.1']; runpy.run_module('http.server', run_name='__main__')")
    data = {"command": [sys.executable, "-c", serve], "cwd": str(tmp_path), "pid_file": str(tmp_path / "sv.pid"),
            "log_file": str(tmp_path / "sv.log"), "host": "127.0.0.1", "port": port}
    spec = tmp_path / "service.json"
    spec.write_text(json.dumps(data))

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))

    try:
        started = subprocess.run([sys.executable, SUPERVISOR, "start", str(spec)], capture_output=True, text=True, timeout=120,
                                 preexec_fn=low_limit, check=False)
        assert started.returncode == 0, started.stderr
        deadline = time.monotonic() + 10
        while "nofile" not in (tmp_path / "sv.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert f"nofile {hard} {hard}" in (tmp_path / "sv.log").read_text()
    finally:
        subprocess.run([sys.executable, SUPERVISOR, "stop", str(spec)], capture_output=True, timeout=120, check=False)
