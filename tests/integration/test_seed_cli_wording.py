"""Issue 16.11: airgap-seed's errors name its flags, its help documents AIRGAP_SEED_PASSWORD, --check says what would
be sent without a contradictory "0 B sent", a 401 says how to pass credentials; image_seed returns a summary line."""
import os
import subprocess
import sys

import pytest

from tests.helpers.certs import make_tls
from tests.helpers.seed import seed_module

pytestmark = pytest.mark.distribution
CLI = os.path.join(os.path.dirname(sys.executable), "airgap-seed")


def _cli(*args, stdin=None, env=None):
    return subprocess.run([CLI, *args], capture_output=True, text=True, input=stdin, timeout=300, check=False,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def auth_registry(start_registry, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(htpasswd), "cli", "cli-pass-9"], check=True, capture_output=True)
    return start_registry("distribution", config={"auth": {"htpasswd": {"realm": "seed", "path": str(htpasswd)}}})


def test_help_documents_the_password_environment_variable():
    out = _cli("--help")
    assert out.returncode == 0
    assert "AIRGAP_SEED_PASSWORD" in out.stdout and "--password-stdin" in out.stdout


def test_untrusted_tls_names_the_flags(start_registry, sample_tarballs, tmp_path):
    ca, cert, key = make_tls(tmp_path / "pki")
    reg = start_registry("distribution", cafile=ca, config={"http": {"tls": {"certificate": cert, "key": key}}})
    proc = _cli(str(sample_tarballs / "abox_1.0.1.tar"), "--registry", reg.host)
    assert proc.returncode == 1 and "not trusted" in proc.stderr
    assert "--ca-file" in proc.stderr and "--insecure" in proc.stderr
    assert "ca_file" not in proc.stderr and "validate_certs" not in proc.stderr
    assert _cli(str(sample_tarballs / "abox_1.0.1.tar"), "--registry", reg.host, "--ca-file", ca).returncode == 0


def test_401_hints_at_credentials(auth_registry, sample_tarballs):
    src = str(sample_tarballs / "abox_1.0.1.tar")
    anonymous = _cli(src, "--registry", auth_registry.host)
    assert anonymous.returncode == 1 and "401" in anonymous.stderr
    assert "--username" in anonymous.stderr and "--password-stdin" in anonymous.stderr and "AIRGAP_SEED_PASSWORD" in anonymous.stderr
    wrong = _cli(src, "--registry", auth_registry.host, "--username", "cli", env={"AIRGAP_SEED_PASSWORD": "nope-nope"})
    assert wrong.returncode == 1 and "check the user name and password" in wrong.stderr and "nope-nope" not in wrong.stderr
    good = _cli(src, "--registry", auth_registry.host, "--username", "cli", "--progress", "plain", env={"AIRGAP_SEED_PASSWORD": "cli-pass-9"})
    assert good.returncode == 0, good.stderr
    module = seed_module({"src": [src], "registry": auth_registry.host})
    assert module.get("failed") and "set username and password" in module["msg"]


def test_check_says_what_would_be_sent(distribution_registry, sample_tarballs):
    check = _cli(str(sample_tarballs), "--registry", distribution_registry.host, "--check", "--progress", "plain")
    assert check.returncode == 0, check.stderr
    lines = [line for line in check.stderr.splitlines() if line.startswith("would push " + distribution_registry.host)]
    assert len(lines) == 3, check.stderr
    for line in lines:
        assert "to send" in line and " sent" not in line and "pushed" not in line, line
    assert "3 images, 3 would push, about " in check.stdout and "to send" in check.stdout and " sent" not in check.stdout


def test_image_seed_returns_a_summary_line(distribution_registry, sample_tarballs):
    args = {"src": [str(sample_tarballs)], "registry": distribution_registry.host}
    planned = seed_module(args, check=True)
    assert planned["summary"].startswith("3 images: 3 would be pushed, 0 present; about ")
    assert all(image["bytes_to_send"] > 0 for image in planned["images"])
    done = seed_module(args)
    assert done["summary"].startswith("3 images: 3 pushed, 0 present; ") and " sent (" in done["summary"]
    again = seed_module(args)
    assert again["summary"].startswith("3 images: 0 pushed, 3 present; 0 B sent")
