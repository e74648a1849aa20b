# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the deploy modules and the `registry` role must agree on, defined once (the role reads it through the
filters of plugins/filter/deploy.py): the address that reaches a port published on a bind address, and which setting
names hold secrets (masked in diffs, no_log for a config that has one)."""
from __future__ import annotations

import re
from typing import Any, Mapping

NOT_SECRET_SUFFIXES = ("_PATH", "_REALM")  # REGISTRY_AUTH_HTPASSWD_PATH names a file; its realm is shown to every client
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|ACCESSKEY|ACCOUNTKEY|SECRETKEY", re.IGNORECASE)


def probe_address(bind_address: str) -> str:
    """The address to reach a port published on `bind_address` from this host, without brackets (`::1`, `127.0.0.1`)."""
    if bind_address in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bind_address == "::":
        return "::1"
    return bind_address.strip("[]")


def probe_host(bind_address: str) -> str:
    """probe_address as a URL host: an IPv6 address in brackets."""
    address = probe_address(bind_address)
    return f"[{address}]" if ":" in address else address


def is_secret_name(name: str) -> bool:
    """Whether a setting called `name` (REGISTRY_HTTP_SECRET, storage.s3.secretkey, ...) holds a secret."""
    name = str(name).upper()
    return bool(SECRET_NAME.search(name)) and not name.endswith(NOT_SECRET_SUFFIXES)


def holds_secret(config: Any, prefix: str = "") -> bool:
    """Whether a nested registry config has a setting whose name, as its REGISTRY_* path (`HTTP_SECRET`), is secret.

    Only settings count, not the sections holding them: `auth.htpasswd.path` (AUTH_HTPASSWD_PATH) names a file."""
    if not isinstance(config, Mapping):
        return False
    for key, value in config.items():
        name = f"{prefix}_{key}" if prefix else str(key)
        if holds_secret(value, name) if isinstance(value, Mapping) else is_secret_name(name):
            return True
    return False
