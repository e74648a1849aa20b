"""The aiohttp application: URL routing under /v2/, API-version and configured headers, auth, read-only mode,
errors as JSON bodies, access log, health and metrics endpoints."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from typing import Awaitable, Callable

from aiohttp import web

from pyregistry.auth import Htpasswd, parse_basic
from pyregistry.errors import NoEndpoint, ReadOnly, RegistryError, Unauthorized, Unknown, Unsupported, from_os_error
from pyregistry.handlers import Handlers
from pyregistry.config import Config
from pyregistry.metrics import Metrics
from pyregistry.storage import Storage, check_name

API_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
READ_BUFSIZE = 1 << 20  # request body reads of 1 MiB: fewer transport pauses on large uploads
log = logging.getLogger("pyregistry")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# (regex over the path after /v2/, handler name, allowed methods)
ROUTES = [
    (re.compile(r""), "base", ("GET", "HEAD")),
    (re.compile(r"_catalog"), "catalog", ("GET", "HEAD")),
    (re.compile(r"(?P<name>.+)/tags/list"), "tags_list", ("GET", "HEAD")),
    (re.compile(r"(?P<name>.+)/manifests/(?P<reference>[^/]+)"), "manifest", ("GET", "HEAD", "PUT", "DELETE")),
    (re.compile(r"(?P<name>.+)/blobs/uploads/?"), "upload_start", ("POST",)),
    (re.compile(r"(?P<name>.+)/blobs/uploads/(?P<upload_id>[^/]+)"), "upload", ("GET", "PATCH", "PUT", "DELETE")),
    (re.compile(r"(?P<name>.+)/blobs/(?P<digest>[^/]+)"), "blob", ("GET", "HEAD", "DELETE")),
    (re.compile(r"(?P<name>.+)/referrers/(?P<digest>[^/]+)"), "referrers", ("GET", "HEAD")),
]


LOG_FIELD_MAX = 256  # characters of a client-chosen access-log field (User-Agent, Referer, user) kept
LOG_REQUEST_MAX = 1024  # characters of the logged request path and query kept


def error_response(exc: RegistryError) -> web.Response:
    """The JSON answer to an API error: its status (errors.http_status), body and headers."""
    headers = {"Content-Type": "application/json", **exc.headers}
    return web.Response(status=exc.status, body=exc.body(), headers=headers)


def log_field(value: str | None, limit: int = LOG_FIELD_MAX) -> str:
    """A client-chosen value as one access-log field: '-' when absent, control characters, backslash and double quote
    escaped (\\xHH, \\\\, \\"), so a client cannot forge or break lines, and cut to `limit` characters ('...' marks a cut)."""
    if not value:
        return "-"
    cut = value[:limit]
    text = cut.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    return text + ("..." if len(value) > limit else "")


def _access_line(request: web.BaseRequest, status: int, size: int, seconds: float, user: str | None) -> str:
    """One Apache combined-format line (plus the seconds taken) for `request`; every client-chosen field goes through
    log_field, so a line stays one line of at most a few KiB whatever the headers hold."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    version = f"HTTP/{request.version.major}.{request.version.minor}"
    request_line = f"{log_field(request.method, 16)} {log_field(request.path_qs, LOG_REQUEST_MAX)} {version}"
    referer, agent = log_field(request.headers.get("Referer")), log_field(request.headers.get("User-Agent"))
    return f'{request.remote or "-"} - {log_field(user)} [{stamp}] "{request_line}" {status} {size} "{referer}" "{agent}" {seconds:.6f}\n'


class Frontend:
    """What stands before the handlers: authentication, routing, read-only mode, errors as OCI JSON bodies (a 500
    carries no internal detail: it is logged), API and configured headers, metrics and the access log."""

    def __init__(self, config: Config, storage: Storage, metrics: Metrics) -> None:
        self.config = config
        self.metrics = metrics
        self.handlers = Handlers(storage, config, metrics)
        auth = config.auth
        self.htpasswd = Htpasswd(auth.htpasswd_path, auth.htpasswd_realm) if auth.htpasswd_path else None
        self.extra_headers = dict(config.http.headers)

    async def authenticate(self, request: web.Request) -> str:
        """The user name of the request's Basic credentials; raises Unauthorized (with the challenge) otherwise."""
        creds = parse_basic(request.headers.get("Authorization"))
        if creds is not None:
            ok = await asyncio.get_running_loop().run_in_executor(None, self.htpasswd.check, *creds)
            if ok:
                return creds[0]
        raise Unauthorized(headers={"WWW-Authenticate": self.htpasswd.challenge()})

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """Route a request under PREFIX/v2/ to its handler (ROUTES); raises Unsupported (method), NameInvalid, ReadOnly,
        NoEndpoint, or what the handler raises."""
        request["user"] = await self.authenticate(request) if self.htpasswd is not None else None
        tail = request.match_info["tail"]
        for regex, handler_name, methods in ROUTES:
            m = regex.fullmatch(tail)
            if not m:
                continue
            if request.method not in methods:
                raise Unsupported(message=f"method {request.method} not allowed here", headers={"Allow": ", ".join(methods)})
            args = m.groupdict()
            if "name" in args:
                check_name(args["name"])
            if self.config.storage.readonly and request.method in WRITE_METHODS:
                raise ReadOnly(message=self.handlers.storage.readonly_message)
            return await getattr(self.handlers, handler_name)(request, **args)
        raise NoEndpoint(message="no such endpoint in the registry API")

    async def answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The handler's response, or the error answer for what it raised (OSError: errors.from_os_error; any other
        exception: a bare 500 UNKNOWN, its text logged, never sent). A client that went away is not answered."""
        try:
            try:
                return await handler(request)
            except ConnectionError:
                raise  # the client went away (aiohttp raises ConnectionResetError into the body): not a storage error
            except OSError as exc:
                log.error("storage error on %s %s: %s", request.method, request.path, exc)
                raise from_os_error(exc) from exc
        except RegistryError as exc:
            return error_response(exc)
        except web.HTTPException as exc:
            return web.Response(status=exc.status, text=exc.text or exc.reason, headers=exc.headers)
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception:  # noqa: BLE001 - any bug becomes a 500 with a JSON body, and is logged
            log.exception("unhandled error on %s %s", request.method, request.path)
            return error_response(Unknown())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """answer(), then the API-version and configured headers, the metrics and the access-log line."""
        started = time.monotonic()
        response = await self.answer(request, handler)
        if request.path.startswith(self.config.http.prefix + "/v2"):
            response.headers[API_HEADER[0]] = API_HEADER[1]
        for name, value in self.extra_headers.items():
            response.headers.setdefault(name, value)
        seconds = time.monotonic() - started
        self.metrics.observe(request.method, response.status, seconds)
        if self.config.log.accesslog:
            size = response.content_length if response.content_length is not None else 0
            sys.stderr.write(_access_line(request, response.status, size, seconds, request.get("user")))
        return response

    async def health(self, request: web.Request) -> web.Response:
        """/debug/health and /healthz: {} while serving."""
        return web.Response(body=json.dumps({}).encode(), content_type="application/json")

    async def metrics_view(self, request: web.Request) -> web.Response:
        """/metrics: the Prometheus text exposition."""
        return web.Response(text=self.metrics.render(), content_type="text/plain", charset="utf-8", headers={"X-Content-Type-Options": "nosniff"})


def build_app(config: Config, metrics: Metrics | None = None, storage: Storage | None = None) -> web.Application:
    """The aiohttp Application serving `config`: the API under http.prefix + /v2/, health and metrics at the root.
    `storage` defaults to the Storage of storage.filesystem.rootdirectory (serve-bundle gives a bundle.BundleStorage)."""
    storage = storage or Storage(config.storage.rootdirectory, delete_enabled=config.storage.delete_enabled,
                                 index_rule=config.validation.indexes)
    frontend = Frontend(config, storage, metrics or Metrics())
    app = web.Application(middlewares=[frontend.middleware], client_max_size=1024**4, handler_args={"max_field_size": 65536, "read_bufsize": READ_BUFSIZE})
    app["storage"] = storage
    app["metrics"] = frontend.metrics
    app.router.add_route("GET", "/debug/health", frontend.health)
    app.router.add_route("GET", "/healthz", frontend.health)
    app.router.add_route("GET", "/metrics", frontend.metrics_view)
    app.router.add_route("*", config.http.prefix + r"/v2{slash:/?}{tail:.*}", frontend.dispatch)
    return app
