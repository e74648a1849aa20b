"""The aiohttp application: URL routing under /v2/, API-version and configured headers, auth, read-only mode,
errors as JSON bodies, access log, health and metrics endpoints."""
import asyncio
import json
import logging
import re
import sys
import time

from aiohttp import web

from pyregistry.auth import Htpasswd, parse_basic
from pyregistry.errors import RegistryError
from pyregistry.handlers import Handlers, storage_error
from pyregistry.metrics import Metrics
from pyregistry.storage import Storage, check_name

API_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
READ_BUFSIZE = 1 << 20  # request body reads of 1 MiB: fewer transport pauses on large uploads
log = logging.getLogger("pyregistry")

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


def error_response(exc):
    headers = {"Content-Type": "application/json", **exc.headers}
    return web.Response(status=exc.status, body=exc.body(), headers=headers)


def _access_line(request, status, size, seconds, user):
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    referer = request.headers.get("Referer", "-")
    agent = request.headers.get("User-Agent", "-")
    peer = request.remote or "-"
    return (
        f'{peer} - {user or "-"} [{stamp}] "{request.method} {request.path_qs} HTTP/{request.version.major}.{request.version.minor}" '
        f'{status} {size} "{referer}" "{agent}" {seconds:.6f}\n'
    )


def build_app(config, metrics=None):
    """The aiohttp Application serving `config`."""
    storage = Storage(config.rootdirectory, delete_enabled=config.delete_enabled)
    metrics = metrics or Metrics()
    handlers = Handlers(storage, config, metrics)
    htpasswd = Htpasswd(config.htpasswd_path, config.htpasswd_realm) if config.htpasswd_path else None
    extra_headers = dict(config.headers)

    async def authenticate(request):
        """The user name, or raise UNAUTHORIZED."""
        creds = parse_basic(request.headers.get("Authorization"))
        if creds is not None:
            ok = await asyncio.get_running_loop().run_in_executor(None, htpasswd.check, *creds)
            if ok:
                return creds[0]
        raise RegistryError("UNAUTHORIZED", headers={"WWW-Authenticate": htpasswd.challenge()})

    async def dispatch(request):
        tail = request.match_info["tail"]
        user = None
        if htpasswd is not None:
            user = await authenticate(request)
        request["user"] = user
        for regex, handler_name, methods in ROUTES:
            m = regex.fullmatch(tail)
            if not m:
                continue
            if request.method not in methods:
                raise RegistryError("UNSUPPORTED", message=f"method {request.method} not allowed here", headers={"Allow": ", ".join(methods)})
            args = m.groupdict()
            if "name" in args:
                check_name(args["name"])
            if config.readonly and request.method in WRITE_METHODS:
                raise RegistryError("UNSUPPORTED", message="registry is in read-only mode")
            return await getattr(handlers, handler_name)(request, **args)
        raise RegistryError("UNSUPPORTED", message="no such endpoint in the registry API", status=404)

    @web.middleware
    async def middleware(request, handler):
        started = time.monotonic()
        is_api = request.path.startswith(config.prefix + "/v2")
        try:
            try:
                response = await handler(request)
            except ConnectionError:
                raise  # the client went away (aiohttp raises ConnectionResetError into the body): not a storage error
            except OSError as exc:
                raise storage_error(exc) from exc
        except RegistryError as exc:
            response = error_response(exc)
        except web.HTTPException as exc:
            response = web.Response(status=exc.status, text=exc.text or exc.reason, headers=exc.headers)
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception as exc:  # noqa: BLE001 - any bug becomes a 500 with a JSON body, and is logged
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = error_response(RegistryError("UNKNOWN", detail=str(exc)))
        if is_api:
            response.headers[API_HEADER[0]] = API_HEADER[1]
        for name, value in extra_headers.items():
            response.headers.setdefault(name, value)
        seconds = time.monotonic() - started
        metrics.observe(request.method, response.status, seconds)
        if config.accesslog:
            size = response.content_length if response.content_length is not None else 0
            sys.stderr.write(_access_line(request, response.status, size, seconds, request.get("user")))
        return response

    async def health(request):
        return web.Response(body=json.dumps({}).encode(), content_type="application/json")

    async def metrics_view(request):
        return web.Response(text=metrics.render(), content_type="text/plain", charset="utf-8", headers={"X-Content-Type-Options": "nosniff"})

    app = web.Application(middlewares=[middleware], client_max_size=1024**4, handler_args={"max_field_size": 65536, "read_bufsize": READ_BUFSIZE})
    app["storage"] = storage
    app["metrics"] = metrics
    app.router.add_route("GET", "/debug/health", health)
    app.router.add_route("GET", "/healthz", health)
    app.router.add_route("GET", "/metrics", metrics_view)
    app.router.add_route("*", config.prefix + r"/v2{slash:/?}{tail:.*}", dispatch)
    return app
