# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small OCI Distribution (registry v2) API client, standard library only.

Keep-alive connections (one per thread), Basic and Bearer-token auth, retries with exponential backoff,
streamed monolithic or chunked blob uploads that resume after a dropped connection, cross-repository mounts.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import socket
import ssl
import threading
import time
from urllib.parse import urlencode, urljoin, urlsplit

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPES = (DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX)

RETRY_STATUSES = (408, 429, 500, 502, 503, 504)
CONNECTION_ERRORS = (ConnectionError, http.client.RemoteDisconnected, http.client.IncompleteRead, http.client.BadStatusLine,
                     socket.timeout, BrokenPipeError)
LOOPBACK_HOSTS = ("localhost", "::1", "[::1]")
SEND_BLOCK = 1024 * 1024
SENDFILE_BLOCK = 16 * SEND_BLOCK
MAX_PAGES = 100000  # 100 million names at Distribution's default page size of 1000
MAX_EMPTY_PAGES = 10
MAX_REDIRECTS = 5


class RegistryError(Exception):
    """An error from the registry API: HTTP status, OCI error code and message (never a credential)."""

    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class RegistryAuthError(RegistryError):
    """The registry refused the request (401/403) after the credentials were tried."""


class RegistryFileError(RegistryError):
    """A file given as an option (the CA file) is missing, unreadable or not what it should be; names the file and option."""


# How the errors name the options that fix them: the modules' option names by default; the CLI passes its flags.
MODULE_OPTION_NAMES = {
    "ca_file": "ca_file",
    "trust_hint": "set ca_file to the registry's CA certificate, or validate_certs: false",
    "scheme_hint": "set scheme: http",
    "login_hint": "set username and password",
}


class _Response:
    """A fully read response: status, headers (case-insensitive via http.client), body bytes."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name, default)


class BlobStream:
    """A streaming blob download on its own connection; a context manager with .read(n)."""

    def __init__(self, conn, resp):
        self._conn = conn
        self._resp = resp
        self.size = int(resp.getheader("Content-Length") or -1)

    def read(self, n=-1):
        return self._resp.read(n) if n is not None and n >= 0 else self._resp.read()

    def close(self):
        self._resp.close()
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _is_loopback(host):
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _probe_context():
    """A context that only asks whether a loopback server speaks TLS (the real connections verify)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _parse_challenge(value):
    """Parse a WWW-Authenticate header into (scheme lowercased, {param: value})."""
    scheme, _sep, rest = (value or "").strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


def error_from_body(status, body, what):
    """Build a RegistryError (or RegistryAuthError) from an OCI error body."""
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


# The connection options of every registry-API module (documented in doc_fragments/registry_connection.py).
CONNECTION_ARGUMENT_SPEC = {
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "ca_file": {"type": "path"},
    "validate_certs": {"type": "bool", "default": True},
    "scheme": {"type": "str", "choices": ["http", "https"]},
    "timeout": {"type": "int", "default": 60},
}


def client_from_params(registry, params, **kwargs):
    """A RegistryClient for `registry` with the CONNECTION_ARGUMENT_SPEC options found in `params` (and `option_names`)."""
    options = {key: params[key] for key in CONNECTION_ARGUMENT_SPEC}
    if params.get("option_names"):
        options["option_names"] = params["option_names"]
    options.update(kwargs)
    return RegistryClient(registry, **options)


class RegistryClient:
    """Client for one registry (HOST:PORT or URL)."""

    def __init__(self, registry, username=None, password=None, ca_file=None, validate_certs=True,  # noqa: PLR0917 - the documented interface
                 scheme=None, timeout=60, retries=4, user_agent="airgap.registry", option_names=None):
        """A RegistryFileError (raised here, before any request) when ca_file cannot be read or holds no PEM certificate.

        `option_names` overrides MODULE_OPTION_NAMES, so that errors name the options of the caller (the CLI's flags).
        """
        if "://" in registry:
            parts = urlsplit(registry)
            scheme = scheme or parts.scheme
            registry = parts.netloc
        self.host = registry.rstrip("/")
        if not self.host:
            raise RegistryError("registry address is empty")
        if scheme not in (None, "http", "https"):
            raise RegistryError(f"unsupported scheme {scheme!r} (use http or https)")
        self.scheme = scheme
        self._explicit_scheme = scheme is not None
        self.username = username
        self.password = password
        self.ca_file = ca_file
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.retries = retries
        self.user_agent = user_agent
        self._local = threading.local()
        self._lock = threading.Lock()
        self._auth_kind = None
        self._challenge = {}
        self._tokens = {}
        self._ssl_context = None
        self.names = {**MODULE_OPTION_NAMES, **(option_names or {})}
        if ca_file and validate_certs:
            self._context()

    # --- connections ---------------------------------------------------------------------------------------------
    @property
    def hostname(self):
        return urlsplit("//" + self.host).hostname or self.host

    def _context(self):
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

    def _ca_context(self):
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

    def _untrusted(self, what, exc):
        return RegistryError(f"{what}: TLS certificate not trusted: {exc.verify_message} ({self.names['trust_hint']})")

    def login_hint(self, err):
        """`err` (an auth failure) with a hint: pass credentials when none were given, else check them."""
        if not isinstance(err, RegistryAuthError) or err.status != 401:
            return err
        hint = self.names["login_hint"] if self.username is None else "check the user name and password"
        return RegistryAuthError(f"{err.message} ({hint})", status=err.status, code=err.code)

    def _new_conn(self, scheme, host):
        if scheme == "https":
            return http.client.HTTPSConnection(host, timeout=self.timeout, context=self._context())
        return http.client.HTTPConnection(host, timeout=self.timeout)

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._new_conn(self._scheme(), self.host)
            self._local.conn = conn
            self._local.fresh = True
        return conn

    def _drop_conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def close(self):
        """Close this thread's connection."""
        self._drop_conn()

    def _scheme(self):
        """The scheme; when not given, https, falling back to http only for a loopback registry."""
        if self.scheme:
            return self.scheme
        with self._lock:
            if self.scheme:
                return self.scheme
            conn = self._new_conn("https", self.host) if not _is_loopback(self.hostname) else \
                http.client.HTTPSConnection(self.host, timeout=self.timeout, context=_probe_context())
            try:
                conn.request("GET", "/v2/", headers={"User-Agent": self.user_agent})
                conn.getresponse().read()
                self.scheme = "https"
            except ssl.SSLCertVerificationError as exc:
                raise RegistryError(f"TLS certificate of {self.host} not trusted: {exc.verify_message} ({self.names['trust_hint']})") from None
            except (ssl.SSLError, OSError, http.client.HTTPException) as exc:
                if not _is_loopback(self.hostname):
                    hint = f" (a plain-HTTP registry: {self.names['scheme_hint']})" if isinstance(exc, ssl.SSLError) else ""
                    raise RegistryError(f"cannot reach https://{self.host}/v2/: {exc}{hint}") from None
                self.scheme = "http"
            finally:
                conn.close()
        return self.scheme

    @property
    def base_url(self):
        return f"{self._scheme()}://{self.host}"

    # --- auth ----------------------------------------------------------------------------------------------------
    def _basic_header(self):
        raw = f"{self.username or ''}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _auth_header(self, scope):
        if self._auth_kind == "basic" and self.username is not None:
            return self._basic_header()
        if self._auth_kind == "bearer":
            token = self._tokens.get(scope)
            if token:
                return "Bearer " + token
        return None

    def _authenticate(self, resp, scope):
        """React to a 401: remember the scheme, fetch a token when Bearer; False when nothing more can be tried."""
        kind, params = _parse_challenge(resp.header("WWW-Authenticate"))
        if kind == "basic":
            if self.username is None or self._auth_kind == "basic":
                return False
            self._auth_kind = "basic"
            return True
        if kind == "bearer":
            self._auth_kind = "bearer"
            self._challenge = params
            wanted = list(dict.fromkeys((scope or "").split() + (params.get("scope") or "").split()))
            self._tokens[scope] = self._fetch_token(params, " ".join(wanted))
            return True
        return False

    def _fetch_token(self, params, scope):
        realm = params.get("realm")
        if not realm:
            raise RegistryAuthError(f"{self.host}: Bearer challenge without realm", status=401)
        query = [("service", params["service"])] if params.get("service") else []
        query += [("scope", s) for s in (scope or "").split() if s]
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        parts = urlsplit(url)
        headers = {"User-Agent": self.user_agent}
        if self.username is not None:
            headers["Authorization"] = self._basic_header()
        conn = self._new_conn(parts.scheme, parts.netloc)
        try:
            conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""), headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as exc:
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

    # --- requests ------------------------------------------------------------------------------------------------
    def _path(self, url):
        """A request target on this registry from a path or an absolute/relative URL (an upload Location).

        An absolute Location naming another host (a registry whose http.host differs from the address used to reach
        it, behind a proxy or NAT) is still sent to the address this client talks to.
        """
        if url.startswith("/"):
            return url
        parts = urlsplit(urljoin(self.base_url + "/", url))
        return parts.path + ("?" + parts.query if parts.query else "")

    def request(self, method, url, *, scope=None, headers=None, body=None, ok=(200,), what=None):
        """One request with auth and retries; returns a fully read response whose status is in `ok` (else raises)."""
        path = self._path(url)
        what = what or f"{method} {self.host}{path.split('?')[0]}"
        attempt = 0
        auth_tries = 0
        while True:
            hdrs = {"User-Agent": self.user_agent, **(headers or {})}
            auth = self._auth_header(scope)
            if auth:
                hdrs["Authorization"] = auth
            if body is not None:
                hdrs.setdefault("Content-Length", str(len(body)))
            conn = self._conn()
            reused = not getattr(self._local, "fresh", True)
            self._local.fresh = False
            try:
                conn.request(method, path, body=body, headers=hdrs)
                raw = conn.getresponse()
                data = raw.read()
                resp = _Response(raw.status, raw.headers, data)
                if raw.will_close:
                    self._drop_conn()
            except ssl.SSLCertVerificationError as exc:
                self._drop_conn()
                raise self._untrusted(what, exc) from None
            except CONNECTION_ERRORS + (OSError, http.client.HTTPException) as exc:
                self._drop_conn()
                if reused:
                    continue
                attempt += 1
                if attempt > self.retries:
                    raise RegistryError(f"{what}: {exc.__class__.__name__}: {exc} (after {self.retries} retries)") from None
                time.sleep(min(0.25 * 2 ** attempt, 8))
                continue
            if resp.status == 401 and auth_tries < 2:
                auth_tries += 1
                if self._authenticate(resp, scope):
                    continue
            if resp.status in ok:
                return resp
            if resp.status in RETRY_STATUSES and attempt < self.retries:
                attempt += 1
                time.sleep(min(0.25 * 2 ** attempt, 8))
                continue
            raise self.login_hint(error_from_body(resp.status, resp.body, what))

    def ping(self):
        """GET /v2/ through the auth flow; returns the HTTP status."""
        return self.request("GET", "/v2/", scope="", what=f"login to {self.host}").status

    @staticmethod
    def _next_link(resp):
        link = resp.header("Link")
        if not link:
            return None
        match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link)
        return match.group(1) if match else None

    def _pages(self, first, key, scope, what, ok=(200,)):
        """Follow `Link: <...>; rel="next"` from `first`; yields each page's `key` list (None for a 404 page).

        Bounded: a next link seen before (a cycle), more than MAX_PAGES pages, or MAX_EMPTY_PAGES pages in a row that
        add no new name end the listing with a RegistryError naming the registry.
        """
        url = first
        seen = set()
        names = set()
        idle = 0
        for page in range(1, MAX_PAGES + 1):
            seen.add(self._path(url))
            resp = self.request("GET", url, scope=scope, ok=ok)
            if resp.status == 404:
                yield None
                return
            try:
                data = json.loads(resp.body or b"{}")
                items = data.get(key) or [] if isinstance(data, dict) else None
            except ValueError:
                items = None
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                raise RegistryError(f"{what} of {self.host}: page {page} is not a JSON object with a list of names in {key!r}")
            yield [item for item in items if item not in names]
            fresh = set(items) - names
            names.update(fresh)
            url = self._next_link(resp)
            if not url:
                return
            if self._path(url) in seen:
                raise RegistryError(f"{what} of {self.host}: the registry's next-page link {url} after page {page} points to a "
                                    "page already read (a pagination loop); listing stopped")
            idle = 0 if fresh else idle + 1
            if idle >= MAX_EMPTY_PAGES:
                raise RegistryError(f"{what} of {self.host}: {idle} pages in a row brought no new name while the registry "
                                    "kept sending a next-page link (a pagination loop); listing stopped")
        raise RegistryError(f"{what} of {self.host}: more than {MAX_PAGES} pages; listing stopped")

    def catalog(self, page_size=1000):
        """All repository names, following Link pages (bounded, loops detected: see _pages)."""
        out = []
        for names in self._pages("/v2/_catalog?" + urlencode({"n": page_size}), "repositories", "registry:catalog:*", "catalog"):
            out.extend(names)
        return out

    def tags(self, repo, page_size=1000):
        """All tags of `repo`; [] when the repository is unknown (pages bounded, loops detected: see _pages)."""
        out = []
        for names in self._pages(f"/v2/{repo}/tags/list?" + urlencode({"n": page_size}), "tags", f"repository:{repo}:pull",
                                 f"tags of {repo}", ok=(200, 404)):
            if names is None:
                return []
            out.extend(names)
        return out

    def head_manifest(self, repo, ref, accept=MANIFEST_TYPES):
        """{digest, media_type, size} of a manifest, or None when it does not exist."""
        resp = self.request("HEAD", f"/v2/{repo}/manifests/{ref}", scope=f"repository:{repo}:pull",
                            headers={"Accept": ", ".join(accept)}, ok=(200, 404))
        if resp.status == 404:
            return None
        return {"digest": resp.header("Docker-Content-Digest"), "media_type": resp.header("Content-Type"),
                "size": int(resp.header("Content-Length") or 0)}

    def get_manifest(self, repo, ref, accept=MANIFEST_TYPES):
        """(body, media_type, digest) of a manifest; RegistryError (status 404) when unknown."""
        resp = self.request("GET", f"/v2/{repo}/manifests/{ref}", scope=f"repository:{repo}:pull",
                            headers={"Accept": ", ".join(accept)})
        digest = resp.header("Docker-Content-Digest") or "sha256:" + hashlib.sha256(resp.body).hexdigest()
        return resp.body, resp.header("Content-Type"), digest

    def put_manifest(self, repo, ref, body, media_type):
        """Upload a manifest under `ref` (tag or digest); returns its digest."""
        resp = self.request("PUT", f"/v2/{repo}/manifests/{ref}", scope=f"repository:{repo}:pull,push",
                            headers={"Content-Type": media_type}, body=body, ok=(200, 201, 202))
        return resp.header("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()

    def delete_manifest(self, repo, digest):
        self.request("DELETE", f"/v2/{repo}/manifests/{digest}", scope=f"repository:{repo}:pull,push,delete", ok=(200, 202))

    def blob_size(self, repo, digest):
        """Size of a blob in `repo`, or None when the registry does not have it there."""
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:pull", ok=(200, 404))
        if resp.status == 404:
            return None
        return int(resp.header("Content-Length") or 0)

    def open_blob(self, repo, digest):
        """A streaming download of a blob (BlobStream), following redirects (no credentials to other hosts)."""
        scope = f"repository:{repo}:pull"
        url = f"{self.base_url}/v2/{repo}/blobs/{digest}"
        visited = []
        while True:
            visited.append(url)
            parts = urlsplit(url)
            same_host = parts.netloc == self.host
            headers = {"User-Agent": self.user_agent}
            if same_host:
                self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=scope, ok=(200, 307, 302, 404))
                auth = self._auth_header(scope)
                if auth:
                    headers["Authorization"] = auth
            conn = self._new_conn(parts.scheme, parts.netloc)
            try:
                conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""), headers=headers)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise RegistryError(f"GET blob {digest} from {parts.netloc}: {exc}") from None
            if resp.status == 200:
                return BlobStream(conn, resp)
            body = resp.read()
            conn.close()
            if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                url = urljoin(url, resp.getheader("Location"))
                if url in visited:
                    raise RegistryError(f"GET blob {repo}@{digest} from {self.host}: redirect loop ({' -> '.join([*visited, url])})")
                if len(visited) > MAX_REDIRECTS:
                    raise RegistryError(f"GET blob {repo}@{digest} from {self.host}: more than {MAX_REDIRECTS} redirects (last: {url})")
                continue
            raise error_from_body(resp.status, body, f"GET blob {repo}@{digest}")

    # --- uploads -------------------------------------------------------------------------------------------------
    @staticmethod
    def _with_query(location, **params):
        return location + ("&" if "?" in location else "?") + urlencode(params)

    def mount_blob(self, repo, digest, from_repo=None):
        """Cross-repository mount; True when mounted (201), False when the registry started an upload (cancelled)."""
        scope = f"repository:{repo}:pull,push" + (f" repository:{from_repo}:pull" if from_repo else "")
        query = {"mount": digest, **({"from": from_repo} if from_repo else {})}
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/?" + urlencode(query), scope=scope, body=b"", ok=(201, 202))
        if resp.status == 201:
            return True
        location = resp.header("Location")
        if location:
            try:
                self.request("DELETE", location, scope=scope, ok=(200, 202, 204, 404))
            except RegistryError:
                pass
        return False

    def _start_upload(self, repo, scope):
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", scope=scope, body=b"", ok=(202,))
        location = resp.header("Location")
        if not location:
            raise RegistryError(f"POST {self.host}/v2/{repo}/blobs/uploads/: no Location in the answer")
        return location

    def _upload_offset(self, location, scope):
        """Bytes the registry holds for an upload session, or None when it no longer knows the session."""
        try:
            resp = self.request("GET", location, scope=scope, ok=(204, 200, 400, 404))
        except RegistryError:
            return None, location
        if resp.status not in (200, 204):
            return None, location
        match = re.match(r"(?:bytes=)?0-(\d+)", resp.header("Range") or "")
        end = int(match.group(1)) + 1 if match else 0
        return (end if end > 1 else 0), resp.header("Location") or location

    def _send(self, method, location, scope, headers, stream, length, progress):  # noqa: PLR0917 - internal
        """Send `length` bytes from `stream` as the body of one request on this thread's connection."""
        path = self._path(location)
        hdrs = {"User-Agent": self.user_agent, "Content-Length": str(length), "Content-Type": "application/octet-stream", **headers}
        auth = self._auth_header(scope)
        if auth:
            hdrs["Authorization"] = auth
        conn = self._conn()
        self._local.fresh = False
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for key, value in hdrs.items():
                conn.putheader(key, value)
            conn.endheaders()
            self._send_body(conn, stream, length, progress)
        except (BrokenPipeError, ConnectionResetError) as exc:
            return self._early_answer(conn, exc)
        except BaseException:
            self._drop_conn()  # a half-sent request: the connection cannot carry another one
            raise
        raw = conn.getresponse()
        resp = _Response(raw.status, raw.headers, raw.read())
        if raw.will_close:
            self._drop_conn()
        return resp

    def _early_answer(self, conn, exc):
        """The answer a registry sent before closing on a body it would not take (a full disk: 500), else `exc` again."""
        try:
            raw = conn.getresponse()
            return _Response(raw.status, raw.headers, raw.read())
        except (OSError, http.client.HTTPException):
            raise exc from None
        finally:
            self._drop_conn()

    def _send_body(self, conn, stream, length, progress):
        """`length` bytes of `stream` onto the connection; sendfile(2) from a file window on a plain socket."""
        left = length
        send_to = None if isinstance(conn.sock, ssl.SSLSocket) else getattr(stream, "send_to", None)
        while left > 0:
            if send_to is not None:
                n = send_to(conn.sock, min(SENDFILE_BLOCK, left))
            else:
                block = stream.read(min(SEND_BLOCK, left))
                conn.send(block)
                n = len(block)
            if not n:
                raise RegistryError(f"upload to {self.host}: source ended {left} bytes early")
            left -= n
            if progress:
                progress(n)

    def upload_blob(self, repo, digest, size, open_stream, chunk_size=None, progress=None):  # noqa: PLR0917 - the documented interface
        """Upload a blob streamed from open_stream(offset); monolithic or chunked; resumes; returns bytes sent."""
        scope = f"repository:{repo}:pull,push"
        what = f"upload {repo}@{digest}"
        sent = 0
        failures = 0
        answer = None  # the last error answer, for the final error
        location = self._start_upload(repo, scope)
        offset = 0
        while True:
            try:
                stream = open_stream(offset)
                try:
                    resp = None
                    while chunk_size and offset < size:
                        n = min(chunk_size, size - offset)
                        resp = self._send("PATCH", location, scope, {"Content-Range": f"{offset}-{offset + n - 1}"}, stream, n, progress)
                        if resp.status != 202:
                            break
                        location = resp.header("Location") or location
                        offset += n
                        sent += n
                    if resp is None or resp.status == 202:
                        resp = self._send("PUT", self._with_query(location, digest=digest), scope, {}, stream, size - offset, progress)
                        if resp.status in (201, 204):
                            sent += size - offset
                finally:
                    stream.close()
                if resp.status in (201, 204):
                    return sent
                if resp.status == 401 and failures < 2 and self._authenticate(resp, scope):
                    failures += 1
                    location, offset = self._start_upload(repo, scope), 0
                    continue
                if resp.status not in RETRY_STATUSES and resp.status != 416:
                    raise self.login_hint(error_from_body(resp.status, resp.body, what))
                answer = error_from_body(resp.status, resp.body, what)
                reason = f"HTTP {resp.status}"
            except ssl.SSLCertVerificationError as exc:
                raise self._untrusted(what, exc) from None
            except CONNECTION_ERRORS + (OSError, http.client.HTTPException) as exc:
                self._drop_conn()
                reason = f"{exc.__class__.__name__}: {exc}"
            failures += 1
            if failures > self.retries:
                if answer is not None:
                    raise RegistryError(f"{answer} (after {self.retries} retries; last try: {reason})", status=answer.status, code=answer.code)
                raise RegistryError(f"{what}: {reason} (after {self.retries} retries)")
            time.sleep(min(0.25 * 2 ** failures, 8))
            known, location = self._upload_offset(location, scope)
            if not known or known > size:
                location, offset = self._start_upload(repo, scope), 0
            else:
                offset = known
                chunk_size = chunk_size or size

    def upload_stream(self, repo, stream, progress=None):
        """Upload a blob whose digest is not known ahead (one streamed PATCH, chunked encoding); returns (digest, size)."""
        scope = f"repository:{repo}:pull,push"
        what = f"upload to {repo}"
        location = self._start_upload(repo, scope)
        hasher = hashlib.sha256()
        size = 0
        path = self._path(location)
        hdrs = {"User-Agent": self.user_agent, "Transfer-Encoding": "chunked", "Content-Type": "application/octet-stream"}
        auth = self._auth_header(scope)
        if auth:
            hdrs["Authorization"] = auth
        conn = self._conn()
        self._local.fresh = False
        try:
            conn.putrequest("PATCH", path, skip_accept_encoding=True)
            for key, value in hdrs.items():
                conn.putheader(key, value)
            conn.endheaders()
            for block in iter(lambda: stream.read(SEND_BLOCK), b""):
                hasher.update(block)
                size += len(block)
                conn.send(b"%x\r\n%s\r\n" % (len(block), block))
                if progress:
                    progress(len(block))
            conn.send(b"0\r\n\r\n")
            raw = conn.getresponse()
            resp = _Response(raw.status, raw.headers, raw.read())
            if raw.will_close:
                self._drop_conn()
        except CONNECTION_ERRORS + (OSError, http.client.HTTPException) as exc:
            self._drop_conn()
            raise RegistryError(f"{what}: {exc.__class__.__name__}: {exc}") from None
        if resp.status != 202:
            raise error_from_body(resp.status, resp.body, what)
        digest = "sha256:" + hasher.hexdigest()
        location = resp.header("Location") or location
        self.request("PUT", self._with_query(location, digest=digest), scope=scope, body=b"", ok=(201, 204), what=f"{what} ({digest})")
        return digest, size
