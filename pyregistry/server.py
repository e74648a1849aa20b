"""Serving: TLS context, listening socket, worker processes, upload purging, clean shutdown on SIGTERM/SIGINT, and
the limits that keep idle or slow clients from holding every connection: the soft open-file limit raised to the hard
one, read timeouts for request heads and bodies."""
from __future__ import annotations

import asyncio
import logging
import os
import resource
import signal
import socket
import ssl

import aiohttp
from aiohttp import web, web_protocol

from pyregistry.config import Config
from pyregistry.output import harden_aiohttp
from pyregistry.routes import build_app
from pyregistry.storage import Storage

AIOHTTP_RUNNER_SHUTDOWN = tuple(int(part) for part in aiohttp.__version__.split(".")[:2]) >= (3, 9)

log = logging.getLogger("pyregistry")


def ssl_context(config: Config) -> ssl.SSLContext | None:
    """A server TLS context (minimum TLS 1.2, or 1.3 when configured) from the certificate/key files, or None. With
    http.tls.clientcas, client certificates signed by those CAs are required (or verified if given, per clientauth)."""
    if not config.http.tls.certificate:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3 if config.http.tls.minimum == "tls1.3" else ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(config.http.tls.certificate, config.http.tls.key)
    if config.http.tls.clientcas:
        for cafile in config.http.tls.clientcas:
            ctx.load_verify_locations(cafile)
        ctx.verify_mode = ssl.CERT_OPTIONAL if config.http.tls.clientauth == "verify-client-cert-if-given" else ssl.CERT_REQUIRED
    return ctx


def listen(config: Config, reuse_port: bool = False, backlog: int | None = 1024) -> socket.socket:
    """A socket bound to http.addr (listening unless backlog is None); SO_REUSEPORT lets each worker own one."""
    family = socket.AF_INET6 if ":" in config.http.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((config.http.host, config.http.port))
        if backlog is not None:
            sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (every connection holds a descriptor, and systemd leaves the soft
    limit at 1024); returns the soft limit in force. An unlimited hard limit gives 2^20, Linux's default nr_open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
    return soft


def connection_phase(handler: web_protocol.RequestHandler) -> tuple[str, int | None]:
    """Where an aiohttp connection (a RequestHandler) stands, as (phase, progress):
    ("head", requests parsed) while it waits for a request head (idle between requests, or a head arriving),
    ("body", body bytes received) while a request's body is still arriving and the server is reading it,
    ("busy", None) otherwise (the server works or writes; the client waits for it).

    Reads `_waiter`, `_request_count` and `_current_request`, which RequestHandler has from aiohttp 3.8 to 3.14."""
    waiter = handler._waiter
    if waiter is not None and not waiter.done():
        return "head", handler._request_count
    request, transport = handler._current_request, handler.transport
    if request is not None and transport is not None and not request.content.is_eof() and transport.is_reading():
        return "body", request.content.total_bytes
    return "busy", None


class ConnectionGuard:
    """Closes connections that hold a slot without progress: waiting for a request head (idle, or a head sent slowly)
    longer than `header_timeout` seconds, or receiving no byte of a body the server is reading for `body_timeout`."""

    def __init__(self, server: web.Server, header_timeout: float, body_timeout: float) -> None:
        self.server = server  # aiohttp's web.Server: its `connections` are the live RequestHandlers
        self.limits = {"head": header_timeout, "body": body_timeout}
        self.seen = {}  # handler -> (phase, progress, since)

    @property
    def interval(self) -> float:
        """Seconds between sweeps: a quarter of the shortest timeout, within [0.1, 5]."""
        return min(5.0, max(0.1, min(self.limits.values()) / 4))

    def sweep(self, now: float) -> int:
        """Close the connections whose phase has made no progress for longer than its limit; returns how many."""
        seen, closed = {}, 0
        for handler in list(self.server.connections):
            phase, progress = connection_phase(handler)
            last = self.seen.get(handler)
            since = last[2] if last is not None and last[:2] == (phase, progress) else now
            if phase in self.limits and now - since > self.limits[phase]:
                handler.force_close()
                closed += 1
                continue
            seen[handler] = (phase, progress, since)
        self.seen = seen
        return closed

    async def run(self) -> None:
        """Sweep every `interval` seconds, until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval)
            self.sweep(loop.time())


async def purge_loop(config: Config, storage: Storage) -> None:
    """Purge stale upload sessions at startup and then every interval."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            purged = await loop.run_in_executor(None, storage.purge_uploads, config.storage.purge.age, config.storage.purge.dryrun)
            for name, upload_id in purged:
                log.warning("upload purge%s: %s/%s", " (dry run)" if config.storage.purge.dryrun else "", name, upload_id)
        except OSError as exc:
            log.warning("upload purge failed: %s", exc)
        await asyncio.sleep(config.storage.purge.interval)


async def serve(config: Config, sock: socket.socket, purge: bool = True, storage: Storage | None = None) -> None:
    """Serve on `sock` until SIGTERM or SIGINT, then finish in-flight requests (for up to http.draintimeout) and return.
    `storage`: what to serve (build_app's default: storage.filesystem.rootdirectory)."""
    harden_aiohttp()
    app = build_app(config, storage=storage)
    # aiohttp 3.9+ takes the shutdown timeout on the runner; 3.8 (Debian 12's python3-aiohttp) on the site.
    shutdown = {"shutdown_timeout": config.http.drain_timeout}
    runner = web.AppRunner(app, access_log=None, handle_signals=False, keepalive_timeout=config.server.header_timeout,
                           **(shutdown if AIOHTTP_RUNNER_SHUTDOWN else {}))
    await runner.setup()
    site = web.SockSite(runner, sock, ssl_context=ssl_context(config), **({} if AIOHTTP_RUNNER_SHUTDOWN else shutdown))
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.ensure_future(ConnectionGuard(runner.server, config.server.header_timeout, config.server.body_timeout).run())]
    if purge and config.storage.purge.enabled and not config.storage.readonly:
        tasks.append(asyncio.ensure_future(purge_loop(config, app["storage"])))
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await runner.cleanup()


def run(config: Config, storage: Storage | None = None, source: str | None = None) -> int:
    """Run the server; with `config.server.workers` > 1, forked workers each listen on the port with SO_REUSEPORT, so the
    kernel spreads connections across them. `storage` and `source` (what the log names): serve-bundle's bundle.
    Returns an exit code."""
    ssl_context(config)  # fail early on unreadable certificate/key
    raise_open_files_limit()
    scheme = "https" if config.http.tls.certificate else "http"
    log.warning("pyregistry listening on %s://%s:%d (%s, %d worker(s))", scheme, config.http.host, config.http.port,
                source or f"storage {config.storage.rootdirectory}", config.server.workers)
    if config.server.workers == 1:
        asyncio.run(serve(config, listen(config), storage=storage))
        return 0
    reserved = listen(config, reuse_port=True, backlog=None)  # bound, never listening: fails early when the port is taken
    children = []
    for index in range(config.server.workers):
        pid = os.fork()
        if pid == 0:
            reserved.close()
            try:
                asyncio.run(serve(config, listen(config, reuse_port=True), purge=index == 0, storage=storage))
            finally:
                os._exit(0)
        children.append(pid)
    reserved.close()

    def forward(signum: int, _frame: object) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = 0
    for pid in children:
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        code = code or (os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0)
    return code
