"""The registry role's supervisor script on its own: start/status/stop/restart, stale pid files, start failures."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.helpers.registries import REPO_ROOT, free_port

SUPERVISOR = os.path.join(REPO_ROOT, "roles", "registry", "files", "registry_supervisor.py")


@pytest.fixture
def spec(tmp_path):
    """A spec that serves tmp_path over http.server on a free port; the daemon is stopped at teardown."""
    port = free_port()
    data = {"command": [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], "env": {"TLS_SUPERVISOR_TEST": "1"},
            "cwd": str(tmp_path), "pid_file": str(tmp_path / "run" / "sv.pid"), "log_file": str(tmp_path / "log" / "sv.log"),
            "host": "127.0.0.1", "port": port}
    path = tmp_path / "service.json"
    path.write_text(json.dumps(data))
    yield path, data
    supervise("stop", path)


def supervise(action, path):
    return subprocess.run([sys.executable, SUPERVISOR, action, str(path)], capture_output=True, text=True, timeout=120, check=False)


def read_pid(data):
    with open(data["pid_file"]) as fh:
        return int(fh.read())


def alive(pid):
    """True for a running process (a zombie left to a PID 1 that does not reap is not running)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_start_is_idempotent_and_stop_ends_the_group(spec):
    path, data = spec
    first = supervise("start", path)
    assert first.returncode == 0 and first.stdout.startswith("started pid"), first.stderr
    pid = read_pid(data)
    assert os.getpgid(pid) == pid and listening(data["port"])
    again = supervise("start", path)
    assert again.returncode == 0 and again.stdout.strip() == f"running pid {pid}"
    assert supervise("status", path).returncode == 0

    stopped = supervise("stop", path)
    assert stopped.stdout.strip() == f"stopped pid {pid}"
    assert not os.path.exists(data["pid_file"]) and not listening(data["port"])
    assert supervise("status", path).returncode == 3
    assert supervise("stop", path).stdout.strip() == "not running"


def test_restart_replaces_the_daemon(spec):
    path, data = spec
    supervise("start", path)
    pid = read_pid(data)
    res = supervise("restart", path)
    assert res.returncode == 0 and res.stdout.strip().endswith("restarted")
    new_pid = read_pid(data)
    assert new_pid != pid and listening(data["port"])
    assert not alive(pid)


def test_stale_pid_file_is_ignored(spec):
    path, data = spec
    os.makedirs(os.path.dirname(data["pid_file"]))
    with open(data["pid_file"], "w") as fh:
        fh.write(f"{os.getpid()}\n")  # alive, but not this spec's supervisor
    assert supervise("status", path).returncode == 3
    res = supervise("start", path)
    assert res.stdout.startswith("started pid") and read_pid(data) != os.getpid()


def test_failing_command_is_reported_with_its_log(spec):
    path, data = spec
    data["command"] = [sys.executable, "-c", "import sys; print('tls-boom: bad config'); sys.exit(3)"]
    path.write_text(json.dumps(data))
    began = time.monotonic()
    res = supervise("start", path)
    assert res.returncode == 1
    assert "did not start listening" in res.stderr and "tls-boom: bad config" in res.stderr
    assert time.monotonic() - began < 25
    assert supervise("status", path).returncode == 3


def test_port_in_use_is_refused(spec):
    path, data = spec
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", data["port"]))
        busy.listen()
        res = supervise("start", path)
    assert res.returncode == 1 and "already in use" in res.stderr
    assert not os.path.exists(data["pid_file"])


def test_killed_server_is_restarted(spec):
    path, data = spec
    supervise("start", path)
    pid = read_pid(data)
    child = int(subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=True).stdout.split()[0])
    os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout.split()
        if out and int(out[0]) != child and listening(data["port"]):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the server was not restarted")
    with open(data["log_file"]) as fh:
        assert "command exited with -9" in fh.read()


def test_concurrent_starts_leave_one_daemon(spec):
    path, data = spec
    procs = [subprocess.Popen([sys.executable, SUPERVISOR, "start", str(path)], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = sorted(p.communicate(timeout=120)[0].split()[0] for p in procs)
    assert outputs == ["running", "running", "started"]
    supervisors = subprocess.run(["pgrep", "-f", f"registry_supervisor.py run {path}$"], capture_output=True, text=True, check=False).stdout.split()
    assert [p for p in supervisors if alive(int(p))] == [str(read_pid(data))]
