# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Users in an htpasswd file with bcrypt hashes, the only scheme the registry (Distribution, pyregistry) accepts."""
from __future__ import annotations

import os
from typing import Any

from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_bytes_atomically

try:
    from passlib.apache import HtpasswdFile
    from passlib.hash import bcrypt

    HAS_PASSLIB = True
    PASSLIB_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_PASSLIB = False
    PASSLIB_ERROR = exc

BCRYPT_MAX_BYTES = 72


class HtpasswdError(Exception):
    """Bad input or an unreadable file; the message is meant for the user."""


def requested_users(users: list[dict] | None, name: str | None, password: str | None, state: str) -> list[tuple[str, str | None]]:
    """The users asked for, as [(name, password or None)], validated; HtpasswdError on bad input."""
    if users is None:
        users = [{"name": name, "password": password}] if name is not None else []
    if not users:
        raise HtpasswdError("give the user(s): users, or name (with password for state=present)")
    out, seen = [], set()
    for entry in users:
        user, secret = entry.get("name"), entry.get("password")
        check_name(user)
        if user in seen:
            raise HtpasswdError(f"user {user!r} is listed twice")
        seen.add(user)
        if state == "present":
            check_password(user, secret)
        out.append((user, secret))
    return out


def check_name(user: str | None) -> None:
    """HtpasswdError when `user` is empty or holds ':' or whitespace."""
    if not user or ":" in user or any(c.isspace() for c in user):
        raise HtpasswdError(f"invalid user name {user!r}: it must be non-empty, without ':' or whitespace")


def check_password(user: str, secret: str | None) -> None:
    """HtpasswdError when `secret` is empty, longer than bcrypt uses, or holds a NUL byte."""
    if secret is None or secret == "":
        raise HtpasswdError(f"user {user!r}: a non-empty password is required for state=present")
    raw = secret.encode("utf-8")
    if len(raw) > BCRYPT_MAX_BYTES:
        raise HtpasswdError(f"user {user!r}: bcrypt uses at most {BCRYPT_MAX_BYTES} bytes of a password; this one has {len(raw)}")
    if "\x00" in secret:
        raise HtpasswdError(f"user {user!r}: the password contains a NUL byte, which bcrypt cannot hash")


def load(path: str) -> tuple[Any, bool]:
    """(the htpasswd file at `path`, whether it exists); empty when it does not; HtpasswdError when it is malformed."""
    if not os.path.exists(path):
        return HtpasswdFile(), False
    try:
        return HtpasswdFile(path), True
    except (ValueError, UnicodeDecodeError) as exc:
        raise HtpasswdError(f"{path} is not an htpasswd file: {exc}") from None


def is_bcrypt(hashed: str | None) -> bool:
    """True when `hashed` is a bcrypt hash."""
    return bool(hashed) and bcrypt.identify(hashed)


class HtpasswdChange:
    """The changes needed to make `path` hold the requested users in the requested state."""

    def __init__(self, path: str, users: list[tuple[str, str | None]], state: str, update_password: str, cost: int, *,
                 exclusive: bool = False, check_mode: bool = False) -> None:
        """`exclusive` removes users that are not listed (state=present); `check_mode` tolerates a missing directory
        (an earlier task of the same check run would create it)."""
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory) and not check_mode:
            raise HtpasswdError(f"directory {directory} does not exist")
        self.file, self.exists = load(path)
        self.before = sorted(self.file.users())
        self.added, self.updated, self.removed = [], [], []
        hasher = bcrypt.using(ident="2y", rounds=cost)
        for user, secret in users:
            known = user in self.file.users()
            if state == "absent":
                if known:
                    self.file.delete(user)
                    self.removed.append(user)
            elif not known:
                self.file.set_hash(user, hasher.hash(secret))
                self.added.append(user)
            elif update_password == "always" and not self._current(user, secret):
                self.file.set_hash(user, hasher.hash(secret))
                self.updated.append(user)
        if exclusive and state == "present":
            listed = {user for user, _secret in users}
            for user in sorted(set(self.file.users()) - listed):
                self.file.delete(user)
                self.removed.append(user)
        self.after = sorted(self.file.users())

    def _current(self, user: str, secret: str | None) -> bool:
        """True when the stored hash is bcrypt and verifies `secret` (then the entry is left as it is)."""
        return is_bcrypt(self.file.get_hash(user)) and bool(self.file.check_password(user, secret))

    @property
    def changed(self) -> bool:
        """True when a user is added, updated or removed."""
        return bool(self.added or self.updated or self.removed)

    def write(self) -> None:
        """Replace the file atomically (temp file in the same directory, then rename), keeping its mode."""
        mode = os.stat(self.path).st_mode & 0o7777 if self.exists else 0o600
        write_bytes_atomically(self.path, self.file.to_string(), mode)
