# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authentication to a registry: HTTP Basic, or Bearer tokens from the registry's token service.

The flow is Distribution's token authentication (docker/distribution docs/spec/auth/token.md, the scheme the
distribution-spec defers to): a 401 answer's `WWW-Authenticate` names the scheme; for Bearer, its realm, service and
scope; a token is fetched from the realm (with Basic credentials when given) and sent as `Authorization: Bearer`.
Tokens are cached per scope; the cache is shared by the worker threads and guarded by a lock.
"""
from __future__ import annotations

import base64
import json
import re
import threading
from urllib.parse import urlencode, urlsplit

from ansible_collections.airgap.registry.plugins.module_utils.registry_transport import (
    EXCHANGE_ERRORS,
    RegistryAuthError,
    RegistryError,
    Response,
    Transport,
    error_from_body,
    target_of,
)


def parse_challenge(value: str | None) -> tuple[str, dict]:
    """A WWW-Authenticate header as (scheme lower-cased, {param: value}); ('', {}) when absent."""
    scheme, _sep, rest = (value or "").strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


class Auth:
    """Credentials for one registry and what the registry asked for: the scheme, and Bearer tokens by scope."""

    def __init__(self, transport: Transport, username: str | None = None, password: str | None = None) -> None:
        self.transport = transport
        self.username = username
        self.password = password
        self._lock = threading.Lock()
        self._kind = None
        self._tokens = {}

    def basic_header(self) -> str:
        raw = f"{self.username or ''}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def header(self, scope: str | None) -> str | None:
        """The Authorization header value for a request in `scope` (space-separated resource scopes), or None."""
        with self._lock:
            kind = self._kind
            token = self._tokens.get(scope)
        if kind == "basic" and self.username is not None:
            return self.basic_header()
        if kind == "bearer" and token:
            return "Bearer " + token
        return None

    def authenticate(self, resp: Response, scope: str | None) -> bool:
        """React to a 401 answer: remember the scheme, fetch a token when Bearer; False when nothing more can be tried.

        RegistryAuthError when the token service refuses or cannot be reached.
        """
        kind, params = parse_challenge(resp.header("WWW-Authenticate"))
        if kind == "basic":
            with self._lock:
                if self.username is None or self._kind == "basic":
                    return False
                self._kind = "basic"
            return True
        if kind == "bearer":
            wanted = list(dict.fromkeys((scope or "").split() + (params.get("scope") or "").split()))
            token = self._fetch_token(params, " ".join(wanted))
            with self._lock:
                self._kind = "bearer"
                self._tokens[scope] = token
            return True
        return False

    def _fetch_token(self, params: dict, scope: str) -> str:
        realm = params.get("realm")
        if not realm:
            raise RegistryAuthError(f"{self.transport.host}: Bearer challenge without realm", status=401)
        query = [("service", params["service"])] if params.get("service") else []
        query += [("scope", s) for s in (scope or "").split() if s]
        parts = urlsplit(realm + ("&" if "?" in realm else "?") + urlencode(query))
        headers = {"User-Agent": self.transport.user_agent}
        if self.username is not None:
            headers["Authorization"] = self.basic_header()
        conn = self.transport.new_conn(parts.scheme, parts.netloc)
        try:
            conn.request("GET", target_of(parts), headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        except EXCHANGE_ERRORS as exc:
            raise RegistryAuthError(f"token service {parts.scheme}://{parts.netloc}{parts.path} unreachable: {exc}") from None
        finally:
            conn.close()
        if resp.status != 200:
            raise error_from_body(resp.status, body, f"token service {parts.netloc}{parts.path}")
        try:
            data = json.loads(body)
            return data.get("token") or data["access_token"]
        except (ValueError, KeyError, AttributeError):
            raise RegistryAuthError(f"token service {parts.netloc}{parts.path} returned no token") from None

    def login_hint(self, err: RegistryError) -> RegistryError:
        """`err` (an auth failure) with a hint: pass credentials when none were given, else check them."""
        if not isinstance(err, RegistryAuthError) or err.status != 401:
            return err
        hint = self.transport.names["login_hint"] if self.username is None else "check the user name and password"
        return RegistryAuthError(f"{err.message} ({hint})", status=err.status, code=err.code)
