"""htpasswd logins side by side: one file written by Apache's `htpasswd -B`, served by Distribution and pyregistry,
answers every login the same (long passwords, non-UTF-8 bytes); registry_htpasswd keeps such entries as they are."""
import base64
import shutil
import subprocess

import pytest

from tests.helpers.ansible import run_module
from tests.helpers.pyregistry import req
from tests.conftest import require

pytestmark = pytest.mark.distribution

LONG = bytes(range(0x21, 0x21 + 80))  # 80 printable bytes: Apache and Go read the first 72
ENTRIES = {b"long": LONG, b"latin": b"caf\xe9", b"plain": b"s3cret"}
ATTEMPTS = [
    (b"long", LONG), (b"long", LONG[:72]), (b"long", LONG[:72] + b"anything"), (b"long", LONG[:71]),
    (b"latin", b"caf\xe9"), (b"latin", "café".encode()), (b"plain", b"s3cret"), (b"plain", b"s3cret "), (b"nobody", b"s3cret"),
]


@pytest.fixture
def htpasswd_file(tmp_path):
    require(shutil.which("htpasswd"), "htpasswd (apache2-utils) is not installed")
    path = tmp_path / "htpasswd"
    lines = [subprocess.run([b"htpasswd", b"-nbB", b"-C", b"4", user, pw], check=True, capture_output=True, timeout=60).stdout.strip()
             for user, pw in ENTRIES.items()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def login_status(url, user, password):
    token = base64.b64encode(user + b":" + password).decode()
    return req(url, "GET", "/v2/", headers={"Authorization": f"Basic {token}"}).status


def test_logins_answer_as_distribution(start_registry, htpasswd_file):
    auth = {"auth": {"htpasswd": {"realm": "r", "path": str(htpasswd_file)}}}
    distribution, pyregistry = start_registry("distribution", auth), start_registry("pyregistry", auth)
    for user, password in ATTEMPTS:
        expected = login_status(distribution.url, user, password)
        assert login_status(pyregistry.url, user, password) == expected, (user, password, expected)
    assert login_status(pyregistry.url, b"long", LONG) == 200


def test_registry_htpasswd_keeps_long_password_entries(htpasswd_file):
    """Adding a user leaves the `htpasswd -B` entries as they are, and a second run changes nothing."""
    before = htpasswd_file.read_bytes()
    params = {"path": str(htpasswd_file), "name": "dave", "password": "x" * 72, "bcrypt_cost": 4, "update_password": "always"}
    out, _ = run_module("airgap.registry.registry_htpasswd", params)
    assert out["changed"] and out["added"] == ["dave"], out
    assert all(line in htpasswd_file.read_bytes() for line in before.splitlines())
    out, _ = run_module("airgap.registry.registry_htpasswd", params)
    assert not out["changed"], out
    assert subprocess.run(["htpasswd", "-vb", str(htpasswd_file), "dave", "x" * 72], capture_output=True, check=False).returncode == 0
