"""Docker client config.json auth entries: keys, merge, removal, atomic 0600 writes."""
import base64
import json
import os
import stat

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.docker_config import (
    DOCKER_HUB_KEY,
    DockerConfigError,
    auth_key,
    credential_helper,
    default_config_path,
    get_credentials,
    load_config,
    with_credentials,
    without_credentials,
    write_config,
)


@pytest.mark.parametrize(("registry", "key"), [
    ("reg.local:5000", "reg.local:5000"),
    ("https://reg.local:5000", "reg.local:5000"),
    ("http://127.0.0.1:5000/", "127.0.0.1:5000"),
    ("ghcr.io", "ghcr.io"),
    ("docker.io", DOCKER_HUB_KEY),
    ("https://index.docker.io/v1/", DOCKER_HUB_KEY),
    ("registry-1.docker.io", DOCKER_HUB_KEY),
])
def test_auth_key_is_the_docker_cli_key(registry, key):
    assert auth_key(registry) == key


def test_default_path_honours_docker_config(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert default_config_path() == str(tmp_path / "config.json")
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_config_path() == str(tmp_path / ".docker" / "config.json")


def test_with_credentials_merges_and_replaces_aliases():
    config = {"auths": {"https://reg.local:5000": {"auth": "b2xkOm9sZA=="}, "other:1": {"auth": "eDp5"}},
              "HttpHeaders": {"User-Agent": "x"}, "psFormat": "table"}
    new = with_credentials(config, "reg.local:5000", "seed", "p:ss")
    assert new["auths"] == {"other:1": {"auth": "eDp5"}, "reg.local:5000": {"auth": base64.b64encode(b"seed:p:ss").decode()}}
    assert new["HttpHeaders"] == {"User-Agent": "x"} and new["psFormat"] == "table"
    assert "https://reg.local:5000" in config["auths"], "the input must not be modified"
    assert get_credentials(new, "https://reg.local:5000/") == ("seed", "p:ss")


def test_get_credentials_reads_auth_and_username_forms():
    assert get_credentials({}, "r:1") is None
    assert get_credentials({"auths": {"r:1": {"username": "u", "password": "p"}}}, "r:1") == ("u", "p")
    assert get_credentials({"auths": {"r:1": {"auth": "not base64!"}}}, "r:1") is None
    assert get_credentials({"auths": {"r:1": {"auth": encode("u", "p")}}}, "r:2") is None


def encode(user, password):
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_without_credentials_removes_every_alias_only():
    config = {"auths": {"r:1": {"auth": encode("a", "b")}, "https://r:1": {"auth": encode("a", "b")}, "s:2": {}}, "x": 1}
    assert without_credentials(config, "r:1") == {"auths": {"s:2": {}}, "x": 1}
    assert without_credentials({}, "r:1") == {}, "logging out of nothing changes nothing"
    assert without_credentials({"auths": {"s:2": {}}}, "r:1") == {"auths": {"s:2": {}}}


def test_credential_helper_detection():
    assert credential_helper({}, "r:1") is None
    assert credential_helper({"credsStore": "pass"}, "r:1") == "pass"
    assert credential_helper({"credHelpers": {"r:1": "ecr-login"}}, "https://r:1") == "ecr-login"
    assert credential_helper({"credHelpers": {"other": "x"}}, "r:1") is None


def test_write_config_atomic_mode_0600_and_round_trip(tmp_path):
    path = tmp_path / "new" / "dir" / "config.json"
    write_config(str(path), {"auths": {"r:1": {"auth": encode("u", "p")}}})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert load_config(str(path)) == {"auths": {"r:1": {"auth": encode("u", "p")}}}
    path.chmod(0o644)
    write_config(str(path), {"auths": {}})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text()) == {"auths": {}}
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"], "no temp file left behind"


def test_load_config_missing_empty_and_broken(tmp_path):
    assert load_config(str(tmp_path / "absent.json")) == {}
    empty = tmp_path / "empty.json"
    empty.write_text("\n")
    assert load_config(str(empty)) == {}
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DockerConfigError, match="broken.json is not valid JSON"):
        load_config(str(broken))
    listing = tmp_path / "list.json"
    listing.write_text("[]")
    with pytest.raises(DockerConfigError, match="does not hold a JSON object"):
        load_config(str(listing))


def test_write_config_into_unwritable_place_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DockerConfigError, match="cannot write"):
        write_config(str(blocker / "config.json"), {})
