"""Issue 10.12: a file a module writes that is a symbolic link is written through the link, as `docker login` does;
the link is never replaced by a regular file."""
import base64
import json
import os
import subprocess

import pytest

from tests.helpers.ansible import failed, run_module
from tests.helpers.registries import htpasswd_auth

pytestmark = pytest.mark.distribution

USER = "linker"
PASSWORD = "L1nk-pass-42"


@pytest.fixture
def auth_registry(start_registry, tmp_path):
    return start_registry("distribution", config={"auth": htpasswd_auth(tmp_path, USER, PASSWORD)})


def test_registry_login_writes_through_a_symlinked_config(auth_registry, tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "docker-config.json"
    real.write_text(json.dumps({"auths": {"other.example:5000": {"auth": "eDp5"}}}))
    config_dir = tmp_path / "home" / ".docker"
    config_dir.mkdir(parents=True)
    link = config_dir / "config.json"
    os.symlink("../../dotfiles/docker-config.json", link)

    args = {"registry": auth_registry.host, "username": USER, "password": PASSWORD, "config_path": str(link)}
    result, _run = run_module("airgap.registry.registry_login", args)
    assert not failed(result), result
    assert result["changed"] is True
    assert os.path.islink(link) and os.readlink(link) == "../../dotfiles/docker-config.json"
    auths = json.loads(real.read_text())["auths"]
    assert auths[auth_registry.host] == {"auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
    assert "other.example:5000" in auths
    assert sorted(os.listdir(config_dir)) == ["config.json"] and sorted(os.listdir(dotfiles)) == ["docker-config.json"]

    again, _run = run_module("airgap.registry.registry_login", args)
    assert again["changed"] is False, "the entry is read through the link too"
    out, _run = run_module("airgap.registry.registry_login", {"registry": auth_registry.host, "state": "absent", "config_path": str(link)})
    assert out["changed"] is True and os.path.islink(link)
    assert auth_registry.host not in json.loads(real.read_text())["auths"]


def test_registry_htpasswd_writes_through_a_symlinked_file(tmp_path):
    (tmp_path / "secrets").mkdir()
    real = tmp_path / "secrets" / "htpasswd"
    link = tmp_path / "htpasswd"
    os.symlink(real, link)
    out, run = run_module("airgap.registry.registry_htpasswd", {"path": str(link), "name": "alice", "password": "Al1ce-pw"})
    assert not run.failed, run.stdout
    assert out["changed"] is True
    assert os.path.islink(link) and real.is_file()
    assert subprocess.run(["htpasswd", "-vb", str(real), "alice", "Al1ce-pw"], capture_output=True, check=False).returncode == 0


def test_registry_ca_trust_writes_through_a_symlinked_ca_file(tmp_path):
    from tests.helpers.certs import make_tls  # noqa: PLC0415 - only this test needs a CA

    ca, _cert, _key = make_tls(tmp_path / "pki")
    (tmp_path / "store").mkdir()
    real = tmp_path / "store" / "registry-ca.crt"
    certs_d = tmp_path / "certs.d" / "reg.local:5000"
    certs_d.mkdir(parents=True)
    link = certs_d / "ca.crt"
    os.symlink(real, link)
    pem = open(ca).read()  # noqa: SIM115, PTH123 - a one-line read
    out, run = run_module("airgap.registry.registry_ca_trust", {"pem": pem, "dest": [str(link)], "verify": False})
    assert not run.failed, run.stdout[-2000:]
    assert out["changed"] is True
    assert os.path.islink(link) and real.read_text() == pem
