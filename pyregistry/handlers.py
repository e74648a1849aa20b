"""HTTP handlers of the Distribution API: base, blobs, uploads, manifests, tags, catalog, referrers."""
from __future__ import annotations

import asyncio
import json
import os
import re
import select
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, Callable, TypeVar

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from pyregistry import manifests
from pyregistry.errors import BlobUnknown, DigestInvalid, ManifestUnknown, NameUnknown, RangeInvalid, RegistryError
from pyregistry.config import Config
from pyregistry.metrics import Metrics
from pyregistry.storage import Storage, UploadWriter, check_digest, check_reference, is_digest

T = TypeVar("T")

FLUSH_BYTES = 4 * 1024 * 1024
THREADED_SENDFILE_MIN = 1024 * 1024
SEND_STALL_SECONDS = 120
SENDFILE_THREADS = 16
SENDFILE_POOL = ThreadPoolExecutor(max_workers=SENDFILE_THREADS, thread_name_prefix="pyregistry-sendfile")
NUMBER = r"[0-9]{1,18}"  # ASCII digits that fit an int64 (\d and str.isdigit() take '²' or '٣'; int() refuses 5,000 digits)
NUMBER_RE = re.compile(NUMBER)
CONTENT_RANGE_RE = re.compile(rf"(?:bytes[ =])?({NUMBER})-({NUMBER})(?:/{NUMBER}|/\*)?")
DEFAULT_CATALOG_ENTRIES = 100


def _empty(status: int, headers: dict[str, str]) -> web.Response:
    return web.Response(status=status, headers={**headers, "Content-Length": "0"})


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None, content_type: str = "application/json") -> web.Response:
    body = json.dumps(payload).encode()
    return web.Response(status=status, body=body, headers={"Content-Type": content_type, **(headers or {})})


def _range_header(size: int) -> str:
    return f"0-{max(size - 1, 0)}"


def _check_read_reference(reference: str) -> None:
    """The manifest reference of a read (GET, HEAD, DELETE): one that is neither a valid tag nor a digest names nothing
    here, so it is unknown (404 MANIFEST_UNKNOWN), as the OCI distribution-spec v1.1.1 conformance suite expects of pulls
    (`.INVALID_MANIFEST_NAME`). A PUT keeps check_reference's 400 (TAG_INVALID, DIGEST_INVALID)."""
    try:
        check_reference(reference)
    except RegistryError:
        raise ManifestUnknown(detail={"reference": reference[:200]}) from None


def _page_size(request: web.Request, default: int | None) -> int | None:
    """The `n` query parameter as an int, or `default` when it is absent or not NUMBER (Distribution ignores a malformed n)."""
    raw = request.query.get("n") or ""
    return int(raw) if NUMBER_RE.fullmatch(raw) else default


def _paginate(items: list[str], request: web.Request, default: int | None, path: str,
              key: Callable[[str], Any] | None = None) -> tuple[list[str], dict[str, str]]:
    """Apply `last` and `n` to `items` (sorted by `key`); returns (page, headers with a Link to the next page)."""
    key = key or (lambda item: item)
    last = request.query.get("last")
    if last:
        items = [item for item in items if key(item) > key(last)]
    n = _page_size(request, default)
    if n is None or len(items) <= n:
        return items, {}
    page = items[:n]
    headers = {"Link": f'<{path}?last={page[-1] if page else ""}&n={n}>; rel="next"'} if page else {}
    return page, headers


async def _read_manifest(request: web.Request) -> bytes:
    """The manifest body of a PUT as bytes; raises ManifestTooLarge as soon as its declared or received length is over
    the limit (nothing more is read)."""
    manifests.check_size(request.content_length or 0)
    parts, total = [], 0
    async for chunk in request.content.iter_any():
        total += len(chunk)
        manifests.check_size(total)
        parts.append(chunk)
    return b"".join(parts)


def _forwarded(header: str) -> dict[str, str]:
    """The first element of an RFC 7239 Forwarded header as {param: value}."""
    params = {}
    for pair in header.split(",", maxsplit=1)[0].split(";"):
        key, sep, value = pair.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return params


def _accepted_types(request: web.Request) -> set[str]:
    accepted = set()
    for value in request.headers.getall("Accept", []):
        for part in value.split(","):
            media = part.split(";")[0].strip()
            if media:
                accepted.add(media)
    return accepted


def _sendfile_blocking(sock_fd: int, file_fd: int, offset: int, count: int) -> None:
    """sendfile() the whole range from a worker thread, waiting for the (non-blocking) socket to drain as needed."""
    poller = select.poll()
    poller.register(sock_fd, select.POLLOUT)
    while count > 0:
        try:
            sent = os.sendfile(sock_fd, file_fd, offset, count)
        except BlockingIOError:
            if not poller.poll(SEND_STALL_SECONDS * 1000):
                raise TimeoutError("client stopped reading") from None
            continue
        if sent == 0:
            raise ConnectionResetError("blob file shorter than expected")
        offset += sent
        count -= sent


class BlobResponse(web.StreamResponse):
    """A blob body (or a byte range of it) sent with sendfile from already open files: `pieces` [(file, offset,
    count)] in order (one piece, but a blob of a split bundle can span parts).

    Large plain-TCP pieces are sent by a thread of SENDFILE_POOL (reading paused on the connection meanwhile), so
    concurrent downloads copy on every core; the rest (and whatever exceeds the pool, e.g. many slow clients) goes
    through the event loop's sendfile.
    """

    threaded_in_flight = 0  # per process: one event loop

    def __init__(self, pieces: list[tuple[BinaryIO, int, int]], status: int, headers: dict[str, str]) -> None:
        super().__init__(status=status, headers=headers)
        self._pieces = pieces
        self.content_length = sum(count for _fobj, _offset, count in pieces)

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        try:
            writer = await super().prepare(request)
            if self.content_length and request.method != "HEAD":
                for fobj, offset, count in self._pieces:
                    await self._send(request, writer, fobj, offset, count)
                await super().write_eof()
            return writer
        finally:
            for fobj, _offset, _count in self._pieces:
                fobj.close()

    async def _send(self, request: web.BaseRequest, writer: AbstractStreamWriter, fobj: BinaryIO, offset: int, count: int) -> None:
        """sendfile `count` bytes of `fobj` from `offset` to the client (threaded when large, see the class)."""
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("connection lost")
        await writer.drain()
        sock = transport.get_extra_info("socket")
        threaded = (count >= THREADED_SENDFILE_MIN and sock is not None and transport.get_extra_info("sslcontext") is None
                    and transport.get_write_buffer_size() == 0 and BlobResponse.threaded_in_flight < SENDFILE_THREADS)
        if not threaded:
            await request._loop.sendfile(transport, fobj, offset, count)
            return
        BlobResponse.threaded_in_flight += 1
        transport.pause_reading()
        try:
            await request._loop.run_in_executor(SENDFILE_POOL, _sendfile_blocking, sock.fileno(), fobj.fileno(), offset, count)
        finally:
            BlobResponse.threaded_in_flight -= 1
            if not transport.is_closing():
                transport.resume_reading()


class Handlers:
    """Request handlers bound to one Storage, Config and Metrics."""

    def __init__(self, storage: Storage, config: Config, metrics: Metrics) -> None:
        self.storage = storage
        self.config = config
        self.metrics = metrics

    # ---- helpers -----------------------------------------------------------------------------------------
    def url(self, request: web.Request, path: str) -> str:
        """An absolute (or, with http.relativeurls, relative) URL for a Location header; `path` is under http.prefix."""
        path = self.config.http.prefix + path
        if self.config.http.relativeurls:
            return path
        if self.config.http.public_host:
            return self.config.http.public_host + path
        forwarded = _forwarded(request.headers.get("Forwarded", ""))
        proto = forwarded.get("proto") or request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip() or request.scheme
        host = forwarded.get("host") or request.headers.get("X-Forwarded-Host", "").split(",")[0].strip() or request.headers.get("Host") or request.host
        return f"{proto}://{host}{path}"

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """`func(*args)` in the default thread pool (blocking storage work off the event loop)."""
        return await asyncio.get_running_loop().run_in_executor(None, func, *args)

    async def receive(self, request: web.Request, writer: UploadWriter, expected: int | None = None) -> int:
        """Stream the request body into an UploadWriter, hashing off the event loop; returns the bytes received.

        A body that is not `expected` bytes long (when given) is rolled back before the writer lets the next request in."""
        loop = asyncio.get_running_loop()
        pending = None
        parts, buffered, total = [], 0, 0
        try:
            async for chunk in request.content.iter_any():
                parts.append(chunk)
                buffered += len(chunk)
                if buffered >= FLUSH_BYTES:
                    if pending is not None:
                        await pending
                    pending = loop.run_in_executor(None, writer.write, parts)
                    total += buffered
                    parts, buffered = [], 0
            if pending is not None:
                await pending
            if parts:
                await loop.run_in_executor(None, writer.write, parts)
                total += buffered
            if expected is not None and total != expected:
                await loop.run_in_executor(None, writer.abort)
        except BaseException:
            if pending is not None and not pending.done():
                await asyncio.wait([pending])
            writer.abort()
            raise
        finally:
            writer.close()
        self.metrics.add("bytes_received", total)
        return total

    def _upload_headers(self, request: web.Request, name: str, upload_id: str, size: int) -> dict[str, str]:
        return {
            "Location": self.url(request, f"/v2/{name}/blobs/uploads/{upload_id}"),
            "Docker-Upload-UUID": upload_id,
            "Range": _range_header(size),
        }

    def _blob_created(self, request: web.Request, name: str, digest: str) -> web.Response:
        return _empty(201, {"Location": self.url(request, f"/v2/{name}/blobs/{digest}"), "Docker-Content-Digest": digest})

    # ---- base, catalog, tags -----------------------------------------------------------------------------
    async def base(self, request: web.Request) -> web.Response:
        """GET /v2/: {} (API version check)."""
        return _json({})

    async def catalog(self, request: web.Request) -> web.Response:
        """GET /v2/_catalog: {"repositories": [...]}, paginated (n, last, Link)."""
        repos = await self.run(self.storage.catalog)
        page, headers = _paginate(repos, request, DEFAULT_CATALOG_ENTRIES, request.path, key=lambda name: name.split("/"))
        return _json({"repositories": page}, headers=headers)

    async def tags_list(self, request: web.Request, name: str) -> web.Response:
        """GET /v2/<name>/tags/list: {"name", "tags"}, paginated; raises NameUnknown."""
        tags = await self.run(self.storage.tags, name)
        if tags is None:
            raise NameUnknown(detail={"name": name})
        page, headers = _paginate(tags, request, None, request.path)
        return _json({"name": name, "tags": page}, headers=headers)

    # ---- blobs -------------------------------------------------------------------------------------------
    async def blob(self, request: web.Request, name: str, digest: str) -> web.StreamResponse:
        """GET/HEAD (with Range, If-None-Match) or DELETE /v2/<name>/blobs/<digest>; raises DigestInvalid, BlobUnknown,
        RangeInvalid, DeleteDisabled."""
        check_digest(digest)
        if request.method == "DELETE":
            await self.run(self.storage.delete_blob, name, digest)
            return _empty(202, {"Docker-Content-Digest": digest})
        stat = self.storage.blob_stat(name, digest)
        if stat is None:
            raise BlobUnknown(detail={"digest": digest})
        _path, size = stat
        if request.method == "HEAD" and not self.config.storage.readonly:
            self.storage.touch_blob(digest)  # a client checking before it pushes a manifest: keep it out of garbage-collect
        headers = {
            "Docker-Content-Digest": digest,
            "ETag": f'"{digest}"',
            "Content-Type": "application/octet-stream",
            "Cache-Control": "max-age=31536000",
            "Accept-Ranges": "bytes",
        }
        if request.headers.get("If-None-Match", "").strip() in (f'"{digest}"', digest):
            return web.Response(status=304, headers=headers)
        offset, count, status = 0, size, 200
        if "Range" in request.headers:
            try:
                rng = request.http_range
            except ValueError:
                rng = None
            start, stop = (rng.start, rng.stop) if rng else (None, None)
            if rng is None or size == 0 or (start is not None and start >= size and start >= 0):
                raise RangeInvalid(detail={"size": size}, headers={"Content-Range": f"bytes */{size}"})
            if start is not None:
                if start < 0:
                    start = max(size + start, 0)
                stop = size if stop is None else min(stop, size)
                offset, count, status = start, stop - start, 206
                headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        return BlobResponse(self.storage.open_blob_range(digest, offset, count), status, headers)

    # ---- uploads -----------------------------------------------------------------------------------------
    async def upload_start(self, request: web.Request, name: str) -> web.Response:
        """POST /v2/<name>/blobs/uploads/ [?mount=&from=] [?digest=]: a mount (201), a session (202) or a monolithic
        upload (201)."""
        query = request.query
        mount = query.get("mount")
        if mount:
            check_digest(mount)
            if await self.run(self.storage.mount, name, query.get("from") or None, mount):
                return self._blob_created(request, name, mount)
        upload_id = await self.run(self.storage.start_upload, name)
        digest = query.get("digest")
        if digest is None:
            return _empty(202, self._upload_headers(request, name, upload_id, 0))
        try:
            check_digest(digest)
            await self.receive(request, self.storage.upload_writer(name, upload_id))
            await self.run(self._commit, name, upload_id, digest)
        except BaseException:
            await self.run(self.storage.discard_upload, name, upload_id)
            raise
        return self._blob_created(request, name, digest)

    def _commit(self, name: str, upload_id: str, digest: str) -> int:
        size = self.storage.commit_upload(name, upload_id, digest)
        self.metrics.add("blob_uploads")
        return size

    async def _append(self, request: web.Request, name: str, upload_id: str) -> int:
        """Append the body of a PATCH/PUT, honouring Content-Range; returns the new size."""
        size = await self.run(self.storage.upload_size, name, upload_id)
        content_range = request.headers.get("Content-Range")
        expected = None
        if content_range:
            m = CONTENT_RANGE_RE.fullmatch(content_range.strip())
            if not m or int(m.group(1)) != size or int(m.group(2)) < int(m.group(1)):
                detail = {"expected_start": size, "Content-Range": content_range[:100]}
                raise RangeInvalid(detail=detail, headers=self._upload_headers(request, name, upload_id, size))
            expected = int(m.group(2)) - int(m.group(1)) + 1
        writer = await self.run(self.storage.upload_writer, name, upload_id)
        received = await self.receive(request, writer, expected)
        if expected is not None and received != expected:
            detail = {"expected_bytes": expected, "received": received}
            raise RangeInvalid(detail=detail, headers=self._upload_headers(request, name, upload_id, size))
        return size + received

    async def upload(self, request: web.Request, name: str, upload_id: str) -> web.Response:
        """GET (status), PATCH (chunk), PUT ?digest= (commit) or DELETE (cancel) of an upload session."""
        method = request.method
        if method == "GET":
            size = await self.run(self.storage.upload_size, name, upload_id)
            return _empty(204, self._upload_headers(request, name, upload_id, size))
        if method == "DELETE":
            await self.run(self.storage.cancel_upload, name, upload_id)
            return _empty(204, {})
        if method == "PATCH":
            size = await self._append(request, name, upload_id)
            return _empty(202, self._upload_headers(request, name, upload_id, size))
        digest = request.query.get("digest")
        if not digest:
            raise DigestInvalid(detail="digest query parameter required")
        check_digest(digest)
        await self._append(request, name, upload_id)
        await self.run(self._commit, name, upload_id, digest)
        return self._blob_created(request, name, digest)

    # ---- manifests ---------------------------------------------------------------------------------------
    async def manifest(self, request: web.Request, name: str, reference: str) -> web.Response:
        """GET/HEAD, PUT or DELETE /v2/<name>/manifests/<tag or digest>."""
        method = request.method
        if method == "PUT":
            check_reference(reference)
        else:
            _check_read_reference(reference)
        if method in ("GET", "HEAD"):
            return await self._manifest_get(request, name, reference)
        if method == "PUT":
            return await self._manifest_put(request, name, reference)
        await self.run(self.storage.delete_manifest, name, reference)
        return _empty(202, {})

    async def _manifest_get(self, request: web.Request, name: str, reference: str) -> web.Response:
        digest, data, info = await self.run(self.storage.get_manifest, name, reference)
        accepted = _accepted_types(request)
        by_tag = not is_digest(reference)
        if accepted and "*/*" not in accepted and info.media_type not in accepted and info.media_type != manifests.DOCKER_MANIFEST \
                and (by_tag or info.media_type != manifests.DOCKER_LIST):  # by digest, a list is served as it is (as Distribution does)
            digest, data, info = await self.run(self._fallback_child, name, info, accepted, reference)
        headers = {"Docker-Content-Digest": digest, "ETag": f'"{digest}"', "Content-Type": info.media_type}
        if request.headers.get("If-None-Match", "").strip() in (f'"{digest}"', digest):
            return web.Response(status=304, headers=headers)
        if request.method == "HEAD":
            return web.Response(status=200, headers={**headers, "Content-Length": str(len(data))})
        return web.Response(status=200, body=data, headers=headers)

    def _fallback_child(self, name: str, info: manifests.ManifestInfo, accepted: set[str],
                        reference: str) -> tuple[str, bytes, manifests.ManifestInfo]:
        """For a client that does not accept a manifest list: its linux/amd64 image, as Distribution serves it."""
        if info.media_type == manifests.DOCKER_LIST:
            for child, platform in info.children:
                if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
                    digest, data, child_info = self.storage.get_manifest(name, child)
                    if child_info.media_type in accepted or child_info.media_type == manifests.DOCKER_MANIFEST:
                        return digest, data, child_info
        raise ManifestUnknown(detail={"reference": reference, "reason": f"{info.media_type} not in the Accept header"})

    async def _manifest_put(self, request: web.Request, name: str, reference: str) -> web.Response:
        data = await _read_manifest(request)
        await self.run(manifests.check_go_readable, data)
        digest, info = await self.run(self.storage.put_manifest, name, reference, data, request.headers.get("Content-Type"))
        self.metrics.add("manifest_pushes")
        headers = {"Location": self.url(request, f"/v2/{name}/manifests/{digest}"), "Docker-Content-Digest": digest}
        if info.subject:
            headers["OCI-Subject"] = info.subject
        return _empty(201, headers)

    # ---- referrers ---------------------------------------------------------------------------------------
    async def referrers(self, request: web.Request, name: str, digest: str) -> web.Response:
        """GET /v2/<name>/referrers/<digest> [?artifactType=]: an OCI index of the manifests whose subject is digest."""
        check_digest(digest)
        artifact_type = request.query.get("artifactType")
        found = await self.run(self.storage.referrers, name, digest, artifact_type)
        headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type else {}
        payload = {"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": found}
        return _json(payload, headers=headers, content_type=manifests.OCI_INDEX)

