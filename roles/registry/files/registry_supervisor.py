# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Supervise the bundled registry where no systemd runs: one daemon per service spec (JSON).

    registry_supervisor.py start|stop|restart|status SPEC

The spec names the command, its environment and working directory, the pid and log files, and the address the
registry listens on. `start` leaves a detached supervisor process (its pid in the pid file, leader of its own
process group) that runs the command, restarts it when it dies, and stops it on SIGTERM. `start` returns once the
address accepts connections and prints `started`, or `running` when it already ran. Standard library only, Python 3.8+.
"""
from __future__ import annotations

import fcntl
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time

START_TIMEOUT = 30
STOP_TIMEOUT = 30
MAX_BACKOFF = 30
EXIT_MARK = "registry-supervisor: command exited with"


def load_spec(path):
    with open(path) as fh:
        spec = json.load(fh)
    for key in ("command", "pid_file", "log_file", "host", "port"):
        if key not in spec:
            raise SystemExit(f"{path}: missing {key!r}")
    return spec


def read_pid(spec):
    try:
        with open(spec["pid_file"]) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def running_pid(spec, spec_path):
    """Pid of the live supervisor of this spec, or None (a stale pid file or a reused pid does not count)."""
    pid = read_pid(spec)
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return pid
    return pid if os.path.abspath(spec_path) in argv and "run" in argv else None


def port_open(host, port, timeout=1.0):
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def log_since(spec, offset):
    """What the log gained after byte `offset`."""
    try:
        with open(spec["log_file"], "rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def start(spec, spec_path):
    """Start the supervisor unless it runs; a lock next to the pid file keeps concurrent starts from racing."""
    os.makedirs(os.path.dirname(os.path.abspath(spec["pid_file"])), exist_ok=True)
    with open(f"{spec['pid_file']}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return start_locked(spec, spec_path)


def start_locked(spec, spec_path):
    pid = running_pid(spec, spec_path)
    if pid:
        print(f"running pid {pid}")
        return 0
    if port_open(spec["host"], spec["port"]):
        print(f"port {spec['port']} on {spec['host']} is already in use by another process", file=sys.stderr)
        return 1
    for key in ("pid_file", "log_file"):
        os.makedirs(os.path.dirname(os.path.abspath(spec[key])), exist_ok=True)
    with open(spec["log_file"], "ab") as log, open(os.devnull, "rb") as devnull:
        log_start = log.tell()
        subprocess.Popen([sys.executable, os.path.abspath(__file__), "run", os.path.abspath(spec_path)], stdin=devnull, stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True, close_fds=True, cwd="/")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        pid = running_pid(spec, spec_path)
        if pid and port_open(spec["host"], spec["port"]):
            print(f"started pid {pid}")
            return 0
        if EXIT_MARK in log_since(spec, log_start):
            break
        time.sleep(0.2)
    stop(spec, spec_path, quiet=True)
    print(f"the registry did not start listening on {spec['host']}:{spec['port']}; log:\n{log_since(spec, log_start)[-3000:]}", file=sys.stderr)
    return 1


def stop(spec, spec_path, quiet=False):
    pid = running_pid(spec, spec_path)
    if not pid:
        if not quiet:
            print("not running")
        return 0
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and running_pid(spec, spec_path):
        time.sleep(0.1)
    if running_pid(spec, spec_path):
        os.killpg(pid, signal.SIGKILL)
    if os.path.exists(spec["pid_file"]):
        os.unlink(spec["pid_file"])
    if not quiet:
        print(f"stopped pid {pid}")
    return 0


def raise_open_files_limit():
    """Raise the soft RLIMIT_NOFILE to the hard one, for the command to inherit: each client connection holds a
    descriptor, and a soft limit of 1024 lets a thousand idle connections lock every client out."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if resource.RLIM_INFINITY not in (hard, soft) and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            print(f"registry-supervisor: cannot raise the open-file limit from {soft} to {hard}: {exc}", flush=True)


def run(spec, spec_path):
    """The supervisor itself: keep the command running until SIGTERM."""
    raise_open_files_limit()
    tmp = f"{spec['pid_file']}.{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(f"{os.getpid()}\n")
    os.replace(tmp, spec["pid_file"])
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    env = dict(os.environ, **{k: str(v) for k, v in (spec.get("env") or {}).items()})
    backoff = 1
    while not stopping:
        began = time.monotonic()
        child = subprocess.Popen(spec["command"], env=env, cwd=spec.get("cwd") or "/", stdin=subprocess.DEVNULL)
        while child.poll() is None and not stopping:
            time.sleep(0.2)
        if stopping:
            child.terminate()
            try:
                child.wait(timeout=STOP_TIMEOUT - 5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            break
        backoff = 1 if time.monotonic() - began > MAX_BACKOFF else min(backoff * 2, MAX_BACKOFF)
        print(f"{EXIT_MARK} {child.returncode}; restarting in {backoff}s", flush=True)
        resume = time.monotonic() + backoff
        while time.monotonic() < resume and not stopping:
            time.sleep(0.2)
    if read_pid(spec) == os.getpid():
        os.unlink(spec["pid_file"])
    return 0


def status(spec, spec_path):
    pid = running_pid(spec, spec_path)
    print(f"running pid {pid}" if pid else "stopped")
    return 0 if pid else 3


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop", "restart", "status", "run"):
        print(__doc__, file=sys.stderr)
        return 2
    action, spec_path = argv[1], argv[2]
    spec = load_spec(spec_path)
    if action == "restart":
        stop(spec, spec_path, quiet=True)
        code = start(spec, spec_path)
        if code == 0:
            print("restarted")
        return code
    return {"start": start, "stop": stop, "status": status, "run": run}[action](spec, spec_path)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
