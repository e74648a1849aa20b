# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transport to one registry: address and scheme (probed when not given), TLS trust, keep-alive connections (one
per thread), single request/answer exchanges, and the errors of the registry API with their OCI error codes.

Distribution-spec: the API root is `/v2/` ("Determining support"); error bodies are `{"errors": [{code, message,
detail}]}` ("Error Codes").  Retries and authentication are layered above (registry_api, registry_auth).
"""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from urllib.parse import SplitResult, urljoin, urlsplit

from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError
from ansible_collections.airgap.registry.plugins.module_utils.reference import split_address

CONNECTION_ERRORS = (ConnectionError, http.client.RemoteDisconnected, http.client.IncompleteRead, http.client.BadStatusLine,
                     socket.timeout, BrokenPipeError)
# What a failed exchange can raise: a dropped or refused connection, a broken HTTP answer.
EXCHANGE_ERRORS = CONNECTION_ERRORS + (OSError, http.client.HTTPException)
LOOPBACK_HOSTS = ("localhost", "::1", "[::1]")

# How the errors name the options that fix them: the modules' option names by default; the CLI passes its flags.
MODULE_OPTION_NAMES = {
    "ca_file": "ca_file",
    "trust_hint": "set ca_file to the registry's CA certificate, or validate_certs: false",
    "scheme_hint": "set scheme: http",
    "login_hint": "set username and password",
}


class RegistryError(AirgapError):
    """An error from the registry API: HTTP status, OCI error code and message (never a credential)."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class RegistryAuthError(RegistryError):
    """The registry refused the request (401/403) after the credentials were tried."""


class RegistryFileError(RegistryError):
    """A file given as an option (the CA file) is missing, unreadable or not what it should be; names the file and option."""


def error_from_body(status: int, body: bytes | None, what: str) -> RegistryError:
    """A RegistryError (RegistryAuthError for 401/403) from an answer whose body may be an OCI error body
    (distribution-spec "Error Codes"): `what: HTTP status CODE: message[: detail]`."""
    code = message = None
    try:
        errors = json.loads(body or b"{}").get("errors") or []
        if errors:
            code = errors[0].get("code")
            message = errors[0].get("message")
            detail = errors[0].get("detail")
            if detail and not isinstance(detail, (dict, list)):
                message = f"{message}: {detail}"
    except (ValueError, AttributeError):
        pass
    if not message:
        message = (body or b"").decode("utf-8", "replace").strip()[:200] or http.client.responses.get(status, "error")
    text = f"{what}: HTTP {status}" + (f" {code}" if code else "") + f": {message}"
    cls = RegistryAuthError if status in (401, 403) else RegistryError
    return cls(text, status=status, code=code)


class Response:
    """A fully read answer: status, headers (case-insensitive, from http.client), body bytes."""

    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


class BlobStream:
    """A streaming blob download on its own connection; a context manager with .read(n) and .size (bytes, -1 unknown)."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._resp = resp
        self.size = int(resp.getheader("Content-Length") or -1)

    def read(self, n: int = -1) -> bytes:
        return self._resp.read(n) if n is not None and n >= 0 else self._resp.read()

    def close(self) -> None:
        self._resp.close()
        self._conn.close()

    def __enter__(self) -> BlobStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _probe_context() -> ssl.SSLContext:
    """A context that only asks whether a loopback server speaks TLS (the real connections verify)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def target_of(parts: SplitResult) -> str:
    """The request target (path and query) of a urlsplit result."""
    return parts.path + ("?" + parts.query if parts.query else "")


class Transport:
    """Connections to one registry, given as HOST[:PORT] or a URL (whose scheme is then used).

    RegistryError for an empty address or a scheme other than http/https; RegistryFileError (raised here, before any
    request) when ca_file cannot be read or holds no PEM certificate.  `names` are the option names errors mention.
    """

    def __init__(self, registry: str, *, scheme: str | None = None, ca_file: str | None = None, validate_certs: bool = True,
                 timeout: float = 60, user_agent: str = "airgap.registry", names: dict | None = None) -> None:
        if "://" in registry:
            given, host, _path = split_address(registry)
            scheme = scheme or given
            registry = host
        self.host = registry.rstrip("/")
        if not self.host:
            raise RegistryError("registry address is empty")
        if scheme not in (None, "http", "https"):
            raise RegistryError(f"unsupported scheme {scheme!r} (use http or https)")
        self.scheme = scheme
        self.ca_file = ca_file
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.user_agent = user_agent
        self.names = {**MODULE_OPTION_NAMES, **(names or {})}
        self._local = threading.local()
        self._lock = threading.Lock()
        self._ssl_context = None
        if ca_file and validate_certs:
            self.context()

    @property
    def hostname(self) -> str:
        return urlsplit("//" + self.host).hostname or self.host

    # --- TLS -----------------------------------------------------------------------------------------------------
    def context(self) -> ssl.SSLContext:
        """The TLS context of every connection (built once): verifying, trusting ca_file, or not verifying."""
        if self._ssl_context is None:
            if not self.validate_certs:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif self.ca_file:
                ctx = self._ca_context()
            else:
                ctx = ssl.create_default_context()
            self._ssl_context = ctx
        return self._ssl_context

    def _ca_context(self) -> ssl.SSLContext:
        """A verifying context trusting ca_file; RegistryFileError naming the file and the option when it cannot."""
        where = f"{self.names['ca_file']} {self.ca_file}"
        try:
            with open(self.ca_file, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise RegistryFileError(f"{where}: cannot read the CA certificate: {exc.strerror or exc}") from None
        if b"CERTIFICATE-----" not in data:
            raise RegistryFileError(f"{where}: not a PEM CA certificate (no '-----BEGIN CERTIFICATE-----' line)")
        try:
            return ssl.create_default_context(cafile=self.ca_file)
        except (ssl.SSLError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            raise RegistryFileError(f"{where}: not a valid PEM CA certificate ({reason})") from None
        except OSError as exc:
            raise RegistryFileError(f"{where}: cannot read the CA certificate: {exc.strerror or exc}") from None

    def untrusted(self, what: str, exc: ssl.SSLCertVerificationError) -> RegistryError:
        """The error for a certificate that does not verify, with the hint that fixes it."""
        return RegistryError(f"{what}: TLS certificate not trusted: {exc.verify_message} ({self.names['trust_hint']})")

    # --- connections ---------------------------------------------------------------------------------------------
    def new_conn(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        """A new connection to `netloc` (this registry, a token service, a redirect target)."""
        if scheme == "https":
            return http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self.context())
        return http.client.HTTPConnection(netloc, timeout=self.timeout)

    def conn(self) -> http.client.HTTPConnection:
        """This thread's keep-alive connection to the registry (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.new_conn(self.probe_scheme(), self.host)
            self._local.conn = conn
            self._local.fresh = True
        return conn

    def take_conn(self) -> tuple[http.client.HTTPConnection, bool]:
        """(this thread's connection, True when it carried a request before: a failure on it may be a stale close)."""
        conn = self.conn()
        reused = not getattr(self._local, "fresh", True)
        self._local.fresh = False
        return conn, reused

    def drop_conn(self) -> None:
        """Close this thread's connection (the next request opens a new one)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def probe_scheme(self) -> str:
        """The scheme; when not given, https, falling back to http only for a loopback registry (probed once)."""
        if self.scheme:
            return self.scheme
        with self._lock:
            if not self.scheme:
                self.scheme = self._probe()
        return self.scheme

    def _probe(self) -> str:
        loopback = _is_loopback(self.hostname)
        conn = http.client.HTTPSConnection(self.host, timeout=self.timeout, context=_probe_context()) if loopback else \
            self.new_conn("https", self.host)
        try:
            conn.request("GET", "/v2/", headers={"User-Agent": self.user_agent})
            conn.getresponse().read()
            return "https"
        except ssl.SSLCertVerificationError as exc:
            raise RegistryError(f"TLS certificate of {self.host} not trusted: {exc.verify_message} ({self.names['trust_hint']})") from None
        except (ssl.SSLError, OSError, http.client.HTTPException) as exc:
            if not loopback:
                hint = f" (a plain-HTTP registry: {self.names['scheme_hint']})" if isinstance(exc, ssl.SSLError) else ""
                raise RegistryError(f"cannot reach https://{self.host}/v2/: {exc}{hint}") from None
            return "http"
        finally:
            conn.close()

    @property
    def base_url(self) -> str:
        return f"{self.probe_scheme()}://{self.host}"

    def path(self, url: str) -> str:
        """A request target on this registry from a path or an absolute/relative URL (an upload Location).

        An absolute Location naming another host (a registry whose http.host differs from the address used to reach
        it, behind a proxy or NAT) is still sent to the address this client talks to.
        """
        if url.startswith("/"):
            return url
        return target_of(urlsplit(urljoin(self.base_url + "/", url)))

    # --- exchanges -----------------------------------------------------------------------------------------------
    def read_answer(self, conn: http.client.HTTPConnection) -> Response:
        """The whole answer on `conn`; the connection is dropped when the server closes it."""
        raw = conn.getresponse()
        resp = Response(raw.status, raw.headers, raw.read())
        if raw.will_close:
            self.drop_conn()
        return resp

    def close(self) -> None:
        """Close this thread's connection."""
        self.drop_conn()
