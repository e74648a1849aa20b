"""registry_htpasswd through real Ansible: Apache's htpasswd, a real Distribution registry and the real docker login accept it."""
import os
import subprocess

import pytest

from tests.helpers.ansible import run_module

MODULE = "airgap.registry.registry_htpasswd"
USERS = [{"name": "alice", "password": "Al1ce-s3cret"}, {"name": "bob", "password": "b0b pass: with spaces"}]


def htpasswd_verify(path, user, password):
    return subprocess.run(["htpasswd", "-vb", str(path), user, password], capture_output=True, text=True, check=False).returncode


def curl_status(url, user=None, password=None):
    cmd = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", url]
    if user:
        cmd += ["-u", f"{user}:{password}"]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def test_users_verify_with_apache_htpasswd_and_second_run_is_unchanged(tmp_path):
    path = tmp_path / "htpasswd"
    out, run = run_module(MODULE, {"path": str(path), "users": USERS}, diff=True)
    assert not run.failed, run.stdout
    assert out["changed"] and out["added"] == ["alice", "bob"]
    assert out["diff"] == {"before": {"users": []}, "after": {"users": ["alice", "bob"]}}
    assert oct(os.stat(path).st_mode & 0o777) == "0o640"
    assert htpasswd_verify(path, "alice", "Al1ce-s3cret") == 0
    assert htpasswd_verify(path, "bob", "b0b pass: with spaces") == 0
    assert htpasswd_verify(path, "alice", "wrong") != 0
    for secret in ("Al1ce-s3cret", "b0b pass", "$2y$"):
        assert secret not in run.stdout

    content = path.read_bytes()
    again, _ = run_module(MODULE, {"path": str(path), "users": USERS})
    assert again["changed"] is False and again["added"] == again["updated"] == []
    assert path.read_bytes() == content


def test_check_mode_update_and_remove(tmp_path):
    path = tmp_path / "htpasswd"
    out, _ = run_module(MODULE, {"path": str(path), "name": "alice", "password": "one"}, check=True)
    assert out["changed"] and out["added"] == ["alice"]
    assert not path.exists()

    run_module(MODULE, {"path": str(path), "name": "alice", "password": "one"})
    out, _ = run_module(MODULE, {"path": str(path), "name": "alice", "password": "two", "update_password": "on_create"})
    assert out["changed"] is False and htpasswd_verify(path, "alice", "one") == 0
    before = path.read_bytes()
    out, _ = run_module(MODULE, {"path": str(path), "name": "alice", "password": "two"}, check=True)
    assert out["changed"] and out["updated"] == ["alice"] and path.read_bytes() == before
    out, _ = run_module(MODULE, {"path": str(path), "name": "alice", "password": "two"})
    assert out["updated"] == ["alice"] and htpasswd_verify(path, "alice", "two") == 0

    run_module(MODULE, {"path": str(path), "name": "bob", "password": "b"})
    out, _ = run_module(MODULE, {"path": str(path), "name": "alice", "state": "absent"}, diff=True)
    assert out["removed"] == ["alice"] and out["users"] == ["bob"]
    assert out["diff"]["before"]["users"] == ["alice", "bob"] and out["diff"]["after"]["users"] == ["bob"]
    assert htpasswd_verify(path, "alice", "two") != 0 and htpasswd_verify(path, "bob", "b") == 0


def test_bad_input_fails_clearly_and_writes_nothing(tmp_path):
    path = tmp_path / "htpasswd"
    out, _ = run_module(MODULE, {"path": str(path), "name": "al:ice", "password": "x"})
    assert out["failed"] and "invalid user name" in out["msg"]
    out, _ = run_module(MODULE, {"path": str(path), "users": [{"name": "a", "password": "x" * 73}]})
    assert out["failed"] and "72 bytes" in out["msg"]
    assert "x" * 73 not in str(out)
    out, _ = run_module(MODULE, {"path": str(path), "name": "a"})
    assert out["failed"] and "password is required" in out["msg"]
    assert not path.exists()


@pytest.mark.distribution
def test_distribution_accepts_the_file(tmp_path, start_registry):
    path = tmp_path / "htpasswd"
    run_module(MODULE, {"path": str(path), "users": USERS})
    reg = start_registry("distribution", config={"auth": {"htpasswd": {"realm": "tls-test", "path": str(path)}}})
    assert curl_status(reg.url + "/v2/") == "401"
    assert curl_status(reg.url + "/v2/", "alice", "Al1ce-s3cret") == "200"
    assert curl_status(reg.url + "/v2/", "bob", "b0b pass: with spaces") == "200"
    assert curl_status(reg.url + "/v2/", "alice", "wrong") == "401"
    assert curl_status(reg.url + "/v2/", "mallory", "Al1ce-s3cret") == "401"


@pytest.mark.docker
@pytest.mark.distribution
def test_docker_login_right_and_wrong(tmp_path, start_registry, docker_client):
    path = tmp_path / "htpasswd"
    run_module(MODULE, {"path": str(path), "users": USERS})
    reg = start_registry("distribution", config={"auth": {"htpasswd": {"realm": "tls-test", "path": str(path)}}})
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker-config")}

    def login(user, password):
        return subprocess.run(["docker", "login", reg.host, "-u", user, "--password-stdin"], input=password,
                              capture_output=True, text=True, env=env, check=False)

    ok = login("alice", "Al1ce-s3cret")
    assert ok.returncode == 0 and "Login Succeeded" in ok.stdout, ok.stderr
    bad = login("alice", "wrong")
    assert bad.returncode != 0 and "unauthorized" in bad.stderr.lower()
