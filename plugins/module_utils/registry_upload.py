# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blob uploads: cross-repository mounts, monolithic or chunked uploads that resume, and streamed uploads of a
digest not known ahead.

Distribution-spec "Pushing blobs": POST /v2/<name>/blobs/uploads/ opens a session (202, Location); "Mounting a blob
from another repository" (?mount=&from=, 201 when mounted); "Pushing a blob in chunks" (PATCH with Content-Range,
202, then PUT ?digest=; GET on the session gives the Range the registry holds, so an upload resumes from there);
"Pushing a blob monolithically" (PUT ?digest= with the whole body).
"""
from __future__ import annotations

import hashlib
import re
import ssl
from typing import TYPE_CHECKING, Callable
from urllib.parse import urlencode

from ansible_collections.airgap.registry.plugins.module_utils.compression import Reader
from ansible_collections.airgap.registry.plugins.module_utils.registry_transport import (
    EXCHANGE_ERRORS,
    RegistryError,
    Response,
    error_from_body,
)
from ansible_collections.airgap.registry.plugins.module_utils.retry import RETRY_STATUSES

if TYPE_CHECKING:  # the facade imports this module
    from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient

SEND_BLOCK = 1024 * 1024
SENDFILE_BLOCK = 16 * SEND_BLOCK


def with_query(location: str, **params: str) -> str:
    """`location` with query parameters added (an upload Location may carry its own)."""
    return location + ("&" if "?" in location else "?") + urlencode(params)


class _UploadState:
    """Where a resumable upload stands: session location, bytes the registry holds, bytes sent, tries that failed."""

    def __init__(self, location: str, chunk_size: int | None) -> None:
        self.location = location
        self.offset = 0
        self.sent = 0
        self.failures = 0
        self.chunk_size = chunk_size
        self.answer = None  # the last error answer, for the final error
        self.reason = ""


class Uploads:
    """Upload operations of a RegistryClient (`client`: request(), transport, auth, policy)."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client
        self.transport = client.transport

    def mount_blob(self, repo: str, digest: str, from_repo: str | None = None) -> bool:
        """Cross-repository mount; True when mounted (201), False when the registry started an upload (cancelled)."""
        scope = f"repository:{repo}:pull,push" + (f" repository:{from_repo}:pull" if from_repo else "")
        query = {"mount": digest, **({"from": from_repo} if from_repo else {})}
        resp = self.client.request("POST", f"/v2/{repo}/blobs/uploads/?" + urlencode(query), scope=scope, body=b"", ok=(201, 202))
        if resp.status == 201:
            return True
        location = resp.header("Location")
        if location:
            try:
                self.client.request("DELETE", location, scope=scope, ok=(200, 202, 204, 404))
            except RegistryError:
                pass
        return False

    def _start_upload(self, repo: str, scope: str) -> str:
        resp = self.client.request("POST", f"/v2/{repo}/blobs/uploads/", scope=scope, body=b"", ok=(202,))
        location = resp.header("Location")
        if not location:
            raise RegistryError(f"POST {self.transport.host}/v2/{repo}/blobs/uploads/: no Location in the answer")
        return location

    def _upload_offset(self, location: str, scope: str) -> tuple[int | None, str]:
        """(bytes the registry holds for an upload session or None when it no longer knows it, session location)."""
        try:
            resp = self.client.request("GET", location, scope=scope, ok=(204, 200, 400, 404))
        except RegistryError:
            return None, location
        if resp.status not in (200, 204):
            return None, location
        match = re.match(r"(?:bytes=)?0-(\d+)", resp.header("Range") or "")
        end = int(match.group(1)) + 1 if match else 0
        return (end if end > 1 else 0), resp.header("Location") or location

    # --- sending bodies ------------------------------------------------------------------------------------------
    def _start_request(self, conn, method: str, location: str, scope: str, headers: dict) -> None:
        """Send the request line and headers of `method` on `conn`; the body follows."""
        hdrs = {"User-Agent": self.transport.user_agent, "Content-Type": "application/octet-stream", **headers}
        auth = self.client.auth.header(scope)
        if auth:
            hdrs["Authorization"] = auth
        conn.putrequest(method, self.transport.path(location), skip_accept_encoding=True)
        for key, value in hdrs.items():
            conn.putheader(key, value)
        conn.endheaders()

    def _send(self, method: str, location: str, scope: str, headers: dict, stream, length: int, progress) -> Response:  # noqa: PLR0917 - internal
        """Send `length` bytes from `stream` as the body of one request on this thread's connection."""
        conn, _reused = self.transport.take_conn()
        try:
            self._start_request(conn, method, location, scope, {"Content-Length": str(length), **headers})
            self._send_body(conn, stream, length, progress)
        except (BrokenPipeError, ConnectionResetError) as exc:
            return self._early_answer(conn, exc)
        except BaseException:
            self.transport.drop_conn()  # a half-sent request: the connection cannot carry another one
            raise
        return self.transport.read_answer(conn)

    def _early_answer(self, conn, exc: Exception) -> Response:
        """The answer a registry sent before closing on a body it would not take (a full disk: 500), else `exc` again."""
        try:
            raw = conn.getresponse()
            return Response(raw.status, raw.headers, raw.read())
        except EXCHANGE_ERRORS:
            raise exc from None
        finally:
            self.transport.drop_conn()

    def _send_body(self, conn, stream, length: int, progress) -> None:
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
                raise RegistryError(f"upload to {self.transport.host}: source ended {left} bytes early")
            left -= n
            if progress:
                progress(n)

    # --- resumable upload of a known digest -----------------------------------------------------------------------
    def upload_blob(self, repo: str, digest: str, size: int, open_stream: Callable, chunk_size: int | None = None,  # noqa: PLR0917 - the documented interface
                    progress: Callable | None = None) -> int:
        """Upload a blob of `size` bytes streamed from open_stream(offset) (a reader from that byte on), monolithic or
        in chunks of `chunk_size` bytes; resumes after a dropped connection or a retryable answer from the offset the
        registry holds (the retry policy bounds the tries); returns the bytes sent.  progress(n) after each block.

        RegistryError (RegistryAuthError with a login hint) on a final error answer or when the tries run out.
        """
        scope = f"repository:{repo}:pull,push"
        what = f"upload {repo}@{digest}"
        state = _UploadState(self._start_upload(repo, scope), chunk_size)
        while True:
            try:
                resp = self._try_upload(state, scope, digest, size, open_stream, progress)
                if resp.status in (201, 204):
                    return state.sent
                if resp.status == 401 and state.failures < 2 and self.client.auth.authenticate(resp, scope):
                    state.failures += 1
                    state.location, state.offset = self._start_upload(repo, scope), 0
                    continue
                if resp.status not in RETRY_STATUSES and resp.status != 416:
                    raise self.client.auth.login_hint(error_from_body(resp.status, resp.body, what))
                state.answer = error_from_body(resp.status, resp.body, what)
                state.reason = f"HTTP {resp.status}"
                retry_after = resp.header("Retry-After")
            except ssl.SSLCertVerificationError as exc:
                raise self.transport.untrusted(what, exc) from None
            except EXCHANGE_ERRORS as exc:
                self.transport.drop_conn()
                state.reason = f"{exc.__class__.__name__}: {exc}"
                retry_after = None
            self._retry(state, repo, scope, size, what, retry_after)

    def _try_upload(self, state: _UploadState, scope: str, digest: str, size: int, open_stream: Callable, progress) -> Response:  # noqa: PLR0917 - internal
        """One try: PATCH chunks from state.offset, then the closing PUT; the last answer."""
        stream = open_stream(state.offset)
        try:
            resp = None
            while state.chunk_size and state.offset < size:
                n = min(state.chunk_size, size - state.offset)
                resp = self._send("PATCH", state.location, scope, {"Content-Range": f"{state.offset}-{state.offset + n - 1}"},
                                  stream, n, progress)
                if resp.status != 202:
                    return resp
                state.location = resp.header("Location") or state.location
                state.offset += n
                state.sent += n
            resp = self._send("PUT", with_query(state.location, digest=digest), scope, {}, stream, size - state.offset, progress)
            if resp.status in (201, 204):
                state.sent += size - state.offset
            return resp
        finally:
            stream.close()

    def _retry(self, state: _UploadState, repo: str, scope: str, size: int, what: str, retry_after: str | None) -> None:  # noqa: PLR0917 - internal
        """Count a failed try, raise when the policy allows no more, else wait and find where to resume."""
        state.failures += 1
        policy = self.client.policy
        if not policy.allows(state.failures):
            if state.answer is not None:
                raise RegistryError(f"{state.answer} (after {policy.retries} retries; last try: {state.reason})",
                                    status=state.answer.status, code=state.answer.code)
            raise RegistryError(f"{what}: {state.reason} (after {policy.retries} retries)")
        policy.sleep(state.failures, retry_after)
        known, state.location = self._upload_offset(state.location, scope)
        if not known or known > size:
            state.location, state.offset = self._start_upload(repo, scope), 0
        else:
            state.offset = known
            state.chunk_size = state.chunk_size or size

    # --- streamed upload of an unknown digest ---------------------------------------------------------------------
    def upload_stream(self, repo: str, stream: Reader, progress: Callable | None = None) -> tuple[str, int]:
        """Upload a blob whose digest is not known ahead (one streamed PATCH, chunked encoding, then PUT ?digest=);
        returns (digest `sha256:<hex>`, size in bytes).  Not resumable: RegistryError on any failure."""
        scope = f"repository:{repo}:pull,push"
        what = f"upload to {repo}"
        location = self._start_upload(repo, scope)
        hasher = hashlib.sha256()
        size = 0
        conn, _reused = self.transport.take_conn()
        try:
            self._start_request(conn, "PATCH", location, scope, {"Transfer-Encoding": "chunked"})
            for block in iter(lambda: stream.read(SEND_BLOCK), b""):
                hasher.update(block)
                size += len(block)
                conn.send(b"%x\r\n%s\r\n" % (len(block), block))
                if progress:
                    progress(len(block))
            conn.send(b"0\r\n\r\n")
            resp = self.transport.read_answer(conn)
        except EXCHANGE_ERRORS as exc:
            self.transport.drop_conn()
            raise RegistryError(f"{what}: {exc.__class__.__name__}: {exc}") from None
        if resp.status != 202:
            raise error_from_body(resp.status, resp.body, what)
        digest = "sha256:" + hasher.hexdigest()
        location = resp.header("Location") or location
        self.client.request("PUT", with_query(location, digest=digest), scope=scope, body=b"", ok=(201, 204), what=f"{what} ({digest})")
        return digest, size
