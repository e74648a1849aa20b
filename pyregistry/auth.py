"""htpasswd (bcrypt) authentication, re-reading the file whenever its mtime or size changes."""
import base64
import binascii
import hashlib
import os
import threading

import bcrypt

BCRYPT_PREFIXES = ("$2y$", "$2b$", "$2a$")


class Htpasswd:
    """Users from an htpasswd file with bcrypt hashes (the only kind Distribution accepts)."""

    def __init__(self, path, realm):
        self.path = path
        self.realm = realm
        self._users = {}
        self._stamp = None
        self._verified = set()
        self._lock = threading.Lock()

    def _reload(self):
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        if stamp == self._stamp:
            return
        users = {}
        if stamp is not None:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                for raw in fh:
                    line = raw.strip()
                    if not line or line.startswith("#") or ":" not in line:
                        continue
                    user, _, hashed = line.partition(":")
                    if hashed.startswith(BCRYPT_PREFIXES):
                        users[user] = hashed
        self._users, self._stamp, self._verified = users, stamp, set()

    def check(self, user, password):
        """True when `user`/`password` match the file (successful checks are cached until it changes)."""
        with self._lock:
            self._reload()
            hashed = self._users.get(user)
            key = (user, hashlib.sha256(password.encode()).hexdigest())
            if hashed is not None and key in self._verified:
                return True
            decoy = None if hashed is not None else next(iter(self._users.values()), None)
        # An unknown user costs one bcrypt check too (against another user's hash, result ignored), so the answer's
        # timing does not tell which users exist.
        against = hashed or decoy
        if against is None:
            return False
        try:
            matched = bcrypt.checkpw(password.encode(), against.encode())
        except ValueError:
            matched = False
        ok = matched and hashed is not None
        if ok:
            with self._lock:
                if self._users.get(user) == hashed:
                    self._verified.add(key)
        return ok

    def challenge(self):
        return f'Basic realm="{self.realm}"'


def parse_basic(header):
    """'Basic base64(user:pass)' -> (user, password), or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None
