"""Issue 16.2: every file-input error names the file and the option that gave it (module option names for the
modules, flags for airgap-seed), for a missing, unreadable or non-PEM CA file, a docker config path, tarball paths;
never a bare "[Errno 2]", an OpenSSL message without the file, or a traceback."""
import os
import subprocess
import sys

import pytest

from tests.helpers.ansible import failed, run_playbook
from tests.helpers.certs import make_tls

pytestmark = pytest.mark.distribution
CLI = os.path.join(os.path.dirname(sys.executable), "airgap-seed")


@pytest.fixture
def tls_registry(start_registry, tmp_path):
    ca, cert, key = make_tls(tmp_path / "pki")
    reg = start_registry("distribution", cafile=ca, config={"http": {"tls": {"certificate": cert, "key": key}}})
    return reg, ca


@pytest.fixture
def bad_cas(tmp_path):
    """{label: path} of CA files that cannot be used."""
    not_pem = tmp_path / "notpem.crt"
    not_pem.write_text("this is not a certificate\n")
    broken = tmp_path / "broken.crt"
    broken.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    return {"missing": str(tmp_path / "missing-ca.crt"), "directory": str(tmp_path), "not PEM": str(not_pem), "broken PEM": str(broken)}


def _tasks(reg, ca, tarballs, tmp_path):
    common = {"registry": reg.host, "ca_file": ca}
    return [
        {"name": "info", "airgap.registry.registry_info": common},
        {"name": "login", "airgap.registry.registry_login": {**common, "username": "seeder", "password": "Secret-Pw-91",
                                                             "config_path": str(tmp_path / "docker" / "config.json")}},
        {"name": "seed", "airgap.registry.image_seed": {**common, "src": [str(tarballs / "abox_1.0.1.tar")]}},
        {"name": "save", "airgap.registry.image_save": {**common, "source": "registry", "images": ["abox:1.0.1"],
                                                        "dest": str(tmp_path / "saved")}},
    ]


def test_modules_name_the_ca_file_and_the_option(tls_registry, bad_cas, sample_tarballs, tmp_path):
    reg, _good = tls_registry
    for label, ca in bad_cas.items():
        tasks = [{**task, "ignore_errors": True} for task in _tasks(reg, ca, sample_tarballs, tmp_path)]
        run = run_playbook([{"name": "p", "hosts": "localhost", "gather_facts": False, "tasks": tasks}])
        for name in ("info", "login", "seed", "save"):
            result = run.result(name)
            assert failed(result), (label, name, result)
            msg = result["msg"]
            assert f"ca_file {ca}:" in msg, (label, name, msg)
            assert "[Errno" not in msg and "Traceback" not in msg, (label, name, msg)
            if label in ("not PEM", "broken PEM"):
                assert "PEM" in msg, (label, name, msg)
    assert not (tmp_path / "docker").exists() and not (tmp_path / "saved").exists()


def test_good_ca_file_still_works(tls_registry, sample_tarballs, tmp_path):
    reg, ca = tls_registry
    tasks = [task for task in _tasks(reg, ca, sample_tarballs, tmp_path) if task["name"] in ("info", "seed")]
    run = run_playbook([{"name": "p", "hosts": "localhost", "gather_facts": False, "tasks": tasks}])
    assert not run.failed, run.stdout[-2000:]
    assert run.result("seed")["changed"] is True


def test_docker_config_path_and_tarball_errors_name_the_option(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    unreadable_dir = tmp_path / "config-is-a-dir"
    unreadable_dir.mkdir()
    tasks = [
        {"name": "login-dir", "airgap.registry.registry_login": {"registry": "127.0.0.1:1", "state": "absent",
                                                                 "config_path": str(unreadable_dir)}, "ignore_errors": True},
        {"name": "login-write", "airgap.registry.registry_login": {"registry": "127.0.0.1:1", "state": "absent",
                                                                   "config_path": str(blocker / "config.json")}, "ignore_errors": True},
        {"name": "seed-missing", "airgap.registry.image_seed": {"registry": "127.0.0.1:1", "src": [str(tmp_path / "nope.tar")]},
         "ignore_errors": True},
        {"name": "seed-not-tar", "airgap.registry.image_seed": {"registry": "127.0.0.1:1", "src": [str(blocker)]}, "ignore_errors": True},
    ]
    run = run_playbook([{"name": "p", "hosts": "localhost", "gather_facts": False, "tasks": tasks}])
    assert run.result("login-dir")["msg"].startswith(f"config_path {unreadable_dir}: cannot read: Is a directory")
    assert run.result("login-write")["msg"].startswith(f"config_path {blocker / 'config.json'}: cannot read: Not a directory")
    assert run.result("seed-missing")["msg"] == f"src {tmp_path / 'nope.tar'}: no such file or directory"
    assert run.result("seed-not-tar")["msg"].startswith(f"src {blocker}: ")


def _cli(*args, stdin=None):
    return subprocess.run([CLI, *args], capture_output=True, text=True, input=stdin, timeout=300, check=False)


def test_cli_names_its_flags_and_never_prints_a_traceback(tls_registry, bad_cas, sample_tarballs, tmp_path):
    reg, _good = tls_registry
    src = str(sample_tarballs / "abox_1.0.1.tar")
    for label, ca in bad_cas.items():
        proc = _cli(src, "--registry", reg.host, "--ca-file", ca)
        assert proc.returncode == 1, (label, proc.stderr)
        assert "Traceback" not in proc.stderr and "[Errno" not in proc.stderr, (label, proc.stderr)
        assert f"--ca-file {ca}:" in proc.stderr, (label, proc.stderr)
    missing = _cli(str(tmp_path / "nope.tar"), "--registry", reg.host)
    assert missing.returncode == 1 and f"SRC {tmp_path / 'nope.tar'}: no such file or directory" in missing.stderr
    report = _cli(src, "--registry", reg.host, "--ca-file", tls_registry[1], "--report", str(tmp_path / "no-dir" / "r.json"))
    assert report.returncode == 2 and f"--report {tmp_path / 'no-dir' / 'r.json'}" in report.stderr
    assert "Traceback" not in report.stderr
