"""htpasswd (bcrypt) authentication, re-reading the file whenever its mtime or size changes.

Passwords compare as Distribution (Go's x/crypto/bcrypt) and Apache compare them: as bytes, of which bcrypt reads the
first 72. A failed check always costs the work of the file's most expensive hash, so its timing tells neither whether
the user exists nor which cost that user's hash has.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import threading

import bcrypt

BCRYPT_MAX_BYTES = 72  # bcrypt reads no further; Go and Apache ignore the rest, Python's bcrypt 5 raises ValueError
BCRYPT_COST_RE = re.compile(rb"\$2[aby]\$(\d\d)\$")
BCRYPT_MIN_COST, BCRYPT_MAX_COST = 4, 31


def hash_cost(hashed: bytes) -> int | None:
    """The cost of a bcrypt hash (bytes), or None when it is not one bcrypt can check."""
    m = BCRYPT_COST_RE.match(hashed)
    if m is None or not BCRYPT_MIN_COST <= int(m.group(1)) <= BCRYPT_MAX_COST:
        return None
    return int(m.group(1))


def bcrypt_matches(password: bytes, hashed: bytes) -> bool:
    """True when `password` (bytes, any length) matches the bcrypt hash `hashed` (bytes); False on a malformed hash."""
    try:
        return bcrypt.checkpw(password[:BCRYPT_MAX_BYTES], hashed)
    except ValueError:
        return False


def spend(password: bytes, costs: list[int]) -> None:
    """Hash `password` once at each cost in `costs` and discard the results: work that makes failures cost the same."""
    for cost in costs:
        bcrypt.hashpw(password[:BCRYPT_MAX_BYTES], bcrypt.gensalt(rounds=cost))


def padding_costs(cost: int | None, top: int) -> list[int]:
    """Costs whose work adds up, with one check at `cost` (None: no check), to one check at `top`.

    2^top = 2^cost + 2^cost + 2^(cost+1) + ... + 2^(top-1), so a check at `cost` plus hashes at cost, cost+1, ...,
    top-1 does the work of one check at `top`; with no check, one hash at `top` does."""
    if cost is None:
        return [top]
    return list(range(cost, top))


def read_users(path: str) -> dict[bytes, bytes]:
    """{user: hash} (both bytes) from the htpasswd file at `path`, parsed as Distribution parses it: lines trimmed,
    empty and '#' lines skipped, the user name up to the first ':'. Entries bcrypt cannot check are kept (they never
    match, as in Distribution)."""
    users = {}
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.strip()
            if not line or line.startswith(b"#") or b":" not in line:
                continue
            user, _, hashed = line.partition(b":")
            users[user] = hashed
    return users


class Htpasswd:
    """Users from an htpasswd file with bcrypt hashes (the only kind Distribution accepts)."""

    def __init__(self, path: str, realm: str) -> None:
        self.path = path
        self.realm = realm
        self._users = {}
        self._top_cost = None
        self._stamp = None
        self._verified = set()
        self._lock = threading.Lock()

    def _reload(self) -> None:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        if stamp == self._stamp:
            return
        users = read_users(self.path) if stamp is not None else {}
        costs = [c for c in map(hash_cost, users.values()) if c is not None]
        self._users, self._top_cost, self._stamp, self._verified = users, max(costs, default=None), stamp, set()

    def check(self, user: str, password: str) -> bool:
        """True when `user`/`password` (str, as parse_basic gives them) match the file; successful checks are cached
        until the file changes. A failure costs one check at the file's highest bcrypt cost, whoever the user is."""
        user_b, password_b = user.encode("utf-8", "surrogateescape"), password.encode("utf-8", "surrogateescape")
        key = (user_b, hashlib.sha256(password_b).digest())
        with self._lock:
            self._reload()
            hashed, top = self._users.get(user_b), self._top_cost
            if hashed is not None and key in self._verified:
                return True
        cost = hash_cost(hashed) if hashed is not None else None
        if cost is not None and bcrypt_matches(password_b, hashed):
            with self._lock:
                if self._users.get(user_b) == hashed:
                    self._verified.add(key)
            return True
        if top is not None:
            spend(password_b, padding_costs(cost, top))
        return False

    def challenge(self) -> str:
        """The WWW-Authenticate value of a 401: Basic with the configured realm."""
        return f'Basic realm="{self.realm}"'


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """'Basic base64(user:pass)' -> (user, password), or None. Both are str holding the exact bytes sent (UTF-8, other
    bytes as surrogate escapes), so they compare byte for byte as Go's Request.BasicAuth gives them to Distribution."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8", "surrogateescape")
    except binascii.Error:
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None
