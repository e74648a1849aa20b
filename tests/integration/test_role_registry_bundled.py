"""The registry role, bundled backend, on localhost: converge, idempotence, check mode, restart handler, TLS + users, teardown."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
import yaml

from tests.helpers.ansible import run_playbook
from tests.helpers.registries import REPO_ROOT, free_port, wait_http



def play(role_vars):
    return [{"name": "registry", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry", "vars": role_vars}]}]


@pytest.fixture
def bundled(tmp_path):
    """Role variables for one bundled registry in tmp_path; torn down with registry_state=absent (and the pid file as a fallback)."""
    role_vars = {
        "registry_name": f"tls-role-{uuid.uuid4().hex[:8]}",
        "registry_port": free_port(),
        "registry_config_dir": str(tmp_path / "etc"),
        "registry_storage_dir": str(tmp_path / "storage"),
        "registry_pid_file": str(tmp_path / "run" / "registry.pid"),
        "registry_log_file": str(tmp_path / "run" / "registry.log"),
    }
    yield role_vars
    if os.path.exists(role_vars["registry_config_dir"]):
        run_playbook(play({**role_vars, "registry_state": "absent"}))
    pid = read_pid(role_vars)
    if pid:
        os.killpg(pid, signal.SIGKILL)


def read_pid(role_vars):
    try:
        with open(role_vars["registry_pid_file"]) as fh:
            pid = int(fh.read())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def server_pids(role_vars):
    """Pids of the server processes started with this instance's config.yml."""
    config = os.path.join(role_vars["registry_config_dir"], "config.yml")
    out = subprocess.run(["pgrep", "-f", f"serve {config}$"], capture_output=True, text=True, check=False).stdout
    return sorted(int(p) for p in out.split())


def task(res, name):
    """The result of the role's task `name`."""
    return res.result(f"airgap.registry.registry : {name}")


def url(role_vars, scheme="http", host="127.0.0.1"):
    return f"{scheme}://{host}:{role_vars['registry_port']}/v2/"


def test_converge_idempotence_check_mode_and_restart_handler(bundled):
    res = run_playbook(play(bundled))
    assert not res.failed, res.stdout[-3000:]
    assert res.changed > 0
    assert wait_http(url(bundled), timeout=5) == 200
    pid = read_pid(bundled)
    assert pid and len(server_pids(bundled)) == 1
    assert os.path.isdir(bundled["registry_storage_dir"])

    again = run_playbook(play(bundled))
    assert not again.failed and again.changed == 0, [t for t, r in again.tasks() if r.get("changed")]
    check = run_playbook(play(bundled), check=True, diff=True)
    assert not check.failed and check.changed == 0
    assert read_pid(bundled) == pid

    headers = {**bundled, "registry_config": {"http": {"headers": {"X-Airgap-Test": ["tls-role"]}}}}
    preview = run_playbook(play(headers), check=True, diff=True)
    assert preview.changed > 0
    assert "X-Airgap-Test" in str(task(preview, "Render config.yml").get("diff"))
    assert read_pid(bundled) == pid
    with urllib.request.urlopen(url(bundled), timeout=5) as resp:
        assert resp.headers.get("X-Airgap-Test") is None

    changed = run_playbook(play(headers))
    assert not changed.failed, changed.stdout[-3000:]
    assert task(changed, "Restart registry (supervisor)")["changed"] is True
    new_pid = read_pid(bundled)
    assert new_pid and new_pid != pid and len(server_pids(bundled)) == 1
    with urllib.request.urlopen(url(bundled), timeout=5) as resp:
        assert resp.headers.get("X-Airgap-Test") == "tls-role"
    assert run_playbook(play(headers)).changed == 0


def test_supervisor_restarts_a_crashed_server(bundled):
    assert not run_playbook(play(bundled)).failed
    (first,) = server_pids(bundled)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server_pids(bundled) in ([], [first]):
        time.sleep(0.2)
    (second,) = server_pids(bundled)
    assert second != first
    assert wait_http(url(bundled), timeout=20) == 200
    assert run_playbook(play(bundled)).changed == 0


def test_tls_and_users(bundled):
    role_vars = {**bundled, "registry_tls": True, "registry_htpasswd_users": [{"name": "alice", "password": "Wonder-land1"}]}
    res = run_playbook(play(role_vars))
    assert not res.failed, res.stdout[-3000:]
    assert "Wonder-land1" not in res.stdout
    ca = os.path.join(bundled["registry_config_dir"], "tls", "ca.crt")
    assert subprocess.run(["openssl", "verify", "-CAfile", ca, os.path.join(bundled["registry_config_dir"], "tls", "registry.crt")],
                          capture_output=True, check=False).returncode == 0

    def status(user, password, host="localhost"):
        return subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, "-u", f"{user}:{password}",
                               url(bundled, "https", host)], capture_output=True, text=True, check=False).stdout

    assert status("alice", "Wonder-land1") == "200"
    assert status("alice", "Wonder-land1", "127.0.0.1") == "200"
    assert status("alice", "wrong") == "401"
    again = run_playbook(play(role_vars))
    assert again.changed == 0, [(name, r.get("msg"), r.get("diff")) for name, r in again.tasks() if r.get("changed")]

    more = {**role_vars, "registry_htpasswd_users": [{"name": "alice", "password": "Wonder-land1"}, {"name": "bob", "password": "b0b"}]}
    res = run_playbook(play(more))
    assert task(res, "Restart registry (supervisor)")["changed"] is True
    assert status("bob", "b0b") == "200"

    res = run_playbook(play({**role_vars, "registry_htpasswd_users": [{"name": "bob", "password": "b0b"}]}))
    assert task(res, "Registry users")["removed"] == ["alice"]
    assert status("alice", "Wonder-land1") == "401"
    assert status("bob", "b0b") == "200"


def test_tls_names_without_the_probe_address(bundled):
    """Names that leave out 127.0.0.1 (a DNS name only): the role adds the address its health check uses."""
    res = run_playbook(play({**bundled, "registry_tls": True, "registry_tls_subject_alt_names": ["registry.example"]}))
    assert not res.failed, res.stdout[-3000:]
    cert = os.path.join(bundled["registry_config_dir"], "tls", "registry.crt")
    text = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", cert], capture_output=True, text=True, check=True).stdout
    assert "DNS:registry.example" in text and "IP Address:127.0.0.1" in text


def test_absent_stops_the_daemon_and_keeps_storage(bundled):
    assert not run_playbook(play(bundled)).failed
    pid = read_pid(bundled)
    assert pid
    res = run_playbook(play({**bundled, "registry_state": "absent"}))
    assert not res.failed and res.changed > 0
    assert read_pid(bundled) is None and server_pids(bundled) == []
    assert not os.path.exists(bundled["registry_config_dir"])
    assert os.path.isdir(bundled["registry_storage_dir"])
    assert run_playbook(play({**bundled, "registry_state": "absent"})).changed == 0


def test_check_mode_on_a_fresh_host_writes_nothing(bundled):
    res = run_playbook(play({**bundled, "registry_tls": True, "registry_htpasswd_users": [{"name": "a", "password": "b"}]}), check=True)
    assert not res.failed, res.stdout[-3000:]
    assert res.changed > 0
    assert not os.path.exists(bundled["registry_config_dir"])
    assert not os.path.exists(bundled["registry_storage_dir"])
    assert read_pid(bundled) is None


def test_port_in_use_fails_clearly(bundled):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", bundled["registry_port"]))
        busy.listen()
        res = run_playbook(play(bundled))
    assert res.failed
    assert "already in use" in task(res, "Start the registry daemon")["stderr"]
    assert read_pid(bundled) is None


@pytest.mark.parametrize(("extra", "name", "message"), [
    ({"registry_htpasswd_users": [{"name": "alice"}]}, "Check the port and the users", "needs a name and a password"),
    ({"registry_port": 70000}, "Check the port and the users", "registry_port must be 1-65535"),
    ({"registry_tls": True, "registry_tls_generate": False}, "Fail when a given TLS file is missing", "does not exist"),
    ({"registry_pyregistry_python": "/usr/bin/python3"}, "Fail when pyregistry cannot run", "cannot import pyregistry"),
    ({"registry_backend": "kubernetes"}, None, "registry_backend"),
])
def test_bad_input_fails_clearly(bundled, extra, name, message):
    res = run_playbook(play({**bundled, **extra}))
    assert res.failed
    text = task(res, name)["msg"] if name else res.stdout
    assert message in text
    assert read_pid(bundled) is None


def test_bundled_command_is_replaceable(bundled):
    """Any server that reads a Distribution config.yml can run under the supervisor (here Debian's docker-registry)."""
    role_vars = {**bundled, "registry_bundled_command": ["docker-registry", "serve"]}
    res = run_playbook(play(role_vars))
    assert not res.failed, res.stdout[-3000:]
    assert wait_http(url(bundled), timeout=5) == 200
    (pid,) = server_pids(bundled)
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        assert fh.read().split(b"\0")[0] == b"docker-registry"
    assert run_playbook(play(role_vars)).changed == 0


def test_copy_install_runs_pyregistry_from_the_copied_sources(bundled, tmp_path):
    dest = tmp_path / "opt-pyregistry"
    role_vars = {**bundled, "registry_pyregistry_install": "copy", "registry_pyregistry_dest": str(dest)}
    res = run_playbook(play(role_vars))
    assert not res.failed, res.stdout[-3000:]
    copied = sorted(p.name for p in (dest / "pyregistry").glob("*.py"))
    shipped = sorted(p for p in os.listdir(os.path.join(REPO_ROOT, "pyregistry")) if p.endswith(".py"))
    assert copied == shipped
    (pid,) = server_pids(bundled)
    with open(f"/proc/{pid}/environ", "rb") as fh:
        assert f"PYTHONPATH={dest}".encode() in fh.read().split(b"\0")
    assert wait_http(url(bundled), timeout=5) == 200
    assert run_playbook(play(role_vars)).changed == 0

    bare = tmp_path / "bare-venv"  # a Python without aiohttp, PyYAML and bcrypt
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    failing = run_playbook(play({**role_vars, "registry_pyregistry_python": str(bare / "bin" / "python")}))
    assert failing.failed
    assert "(aiohttp, PyYAML, bcrypt)" in task(failing, "Fail when pyregistry cannot run")["msg"]


def test_registry_config_merges_and_s3_replaces_filesystem(bundled):
    s3 = {"storage": {"s3": {"region": "us-east-1", "bucket": "tls-role", "regionendpoint": "http://127.0.0.1:9"}, "cache": {"blobdescriptor": "inmemory"}},
          "proxy": {"remoteurl": "https://mirror.invalid"}, "redis": {"addr": "127.0.0.1:6379"}}
    res = run_playbook(play({**bundled, "registry_config": s3}), check=True, diff=True)
    assert not res.failed, res.stdout[-3000:]
    rendered = task(res, "Render config.yml")["diff"][0]["after"]
    config = yaml.safe_load(rendered)
    assert config["storage"]["s3"]["bucket"] == "tls-role"
    assert "filesystem" not in config["storage"]
    assert config["storage"]["delete"] == {"enabled": True} and config["storage"]["cache"] == {"blobdescriptor": "inmemory"}
    assert config["proxy"]["remoteurl"] == "https://mirror.invalid" and config["redis"]["addr"] == "127.0.0.1:6379"
    assert config["http"]["addr"] == f"127.0.0.1:{bundled['registry_port']}"
    assert task(res, "Create the storage directory").get("skipped") is True

    secret = run_playbook(play({**bundled, "registry_http_secret": "s3cr3t-value"}), check=True, diff=True)
    assert not secret.failed and "s3cr3t-value" not in secret.stdout
