# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read and write the `auths` section of a Docker client config.json, as the docker CLI does, without a daemon."""
from __future__ import annotations

import base64
import binascii
import json
import os

from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_bytes_atomically
from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError
from ansible_collections.airgap.registry.plugins.module_utils.reference import HUB_NAMES, registry_host

DOCKER_HUB_KEY = "https://index.docker.io/v1/"


class DockerConfigError(AirgapError):
    """The config file cannot be read, parsed or written."""


def default_config_path() -> str:
    """Where the docker CLI looks: $DOCKER_CONFIG/config.json, else ~/.docker/config.json."""
    directory = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(directory, "config.json")


def registry_hostname(registry: str) -> str:
    """HOST[:PORT] of a registry given as `host:port`, `https://host:port` or `https://host/v1/`."""
    return registry_host(registry)


def auth_key(registry: str) -> str:
    """The `auths` key the docker CLI uses for `registry` (Docker Hub has its historical URL key)."""
    host = registry_hostname(registry)
    if host in HUB_NAMES:
        return DOCKER_HUB_KEY
    return host


def load_config(path: str, option: str = "config_path") -> dict:
    """The parsed config file, or {} when it does not exist; errors name `option` (the option that gave the path)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise DockerConfigError(f"{option} {path}: cannot read: {exc.strerror or exc}") from None
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise DockerConfigError(f"{option} {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DockerConfigError(f"{option} {path} does not hold a JSON object")
    return data


def _matching_keys(config: dict, registry: str) -> list[str]:
    """The `auths` keys that name the same registry (`host`, `https://host`, `http://host/v1/`, ...)."""
    wanted = auth_key(registry)
    auths = config.get("auths") or {}
    return [key for key in auths if key == wanted or auth_key(key) == wanted]


def credential_helper(config: dict, registry: str) -> str | None:
    """The credential helper the docker CLI would use for `registry` instead of `auths`, or None."""
    helpers = config.get("credHelpers") or {}
    host = auth_key(registry)
    return helpers.get(host) or config.get("credsStore") or None


def get_credentials(config: dict, registry: str) -> tuple[str, str] | None:
    """(username, password) stored in `auths` for `registry`, or None."""
    for key in _matching_keys(config, registry):
        entry = config["auths"][key] or {}
        if entry.get("auth"):
            try:
                user, _sep, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                continue
            return user, password
        if entry.get("username") is not None:
            return entry["username"], entry.get("password", "")
    return None


def encode_auth(username: str, password: str) -> str:
    """The `auth` value of an `auths` entry: base64 of `user:password`."""
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def with_credentials(config: dict, registry: str, username: str, password: str) -> dict:
    """A copy of `config` whose `auths` holds exactly one entry for `registry`: {"auth": base64(user:pass)}."""
    new = dict(config)
    auths = dict(new.get("auths") or {})
    for key in _matching_keys(config, registry):
        auths.pop(key)
    auths[auth_key(registry)] = {"auth": encode_auth(username, password)}
    new["auths"] = auths
    return new


def without_credentials(config: dict, registry: str) -> dict:
    """A copy of `config` without any `auths` entry for `registry` (equal to `config` when it has none)."""
    keys = _matching_keys(config, registry)
    new = dict(config)
    if keys:
        new["auths"] = {key: value for key, value in config["auths"].items() if key not in keys}
    return new


def write_config(path: str, config: dict, option: str = "config_path") -> None:
    """Write `config` atomically (temp file beside the final target of `path`, then rename), mode 0600, directory 0700;
    DockerConfigError naming `option` and the path when it cannot."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700)
        write_bytes_atomically(path, (json.dumps(config, indent="\t") + "\n").encode(), 0o600)
    except OSError as exc:
        raise DockerConfigError(f"{option} {path}: cannot write: {exc.strerror or exc}") from None
