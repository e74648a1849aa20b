"""What pyregistry lets out besides its API answers: no `Server` header, no request bytes echoed in aiohttp's own
error answers or logged with its parser errors, and repeated log records collapsed.

aiohttp offers no setting for the first two, so `harden_aiohttp` wraps two of its methods (present, with the same
signatures, from aiohttp 3.8 to 3.14): a response's header writer, and the protocol's error answer.
"""
from __future__ import annotations

import json
import logging
import time
from http import HTTPStatus
from typing import Callable

from aiohttp import hdrs, http_exceptions, web_protocol, web_request, web_response

REPEAT_WINDOW = 60.0  # seconds during which records like one already logged are only counted
MAX_KINDS = 1000  # distinct kinds of record remembered; beyond it the memory starts over


def harden_aiohttp() -> None:
    """Make every response, aiohttp's own error answers included, go without aiohttp's `Server: Python/... aiohttp/...`
    header (Distribution sends none; a `Server` set in http.headers stays), and make aiohttp's error answers (a header
    over the size limit, a malformed request line) answer an OCI error body that says only their status, never the request
    bytes that caused them.
    Idempotent."""
    response_cls, protocol_cls = web_response.StreamResponse, web_protocol.RequestHandler
    if getattr(response_cls._write_headers, "pyregistry", False):
        return
    write_headers, handle_error = response_cls._write_headers, protocol_cls.handle_error

    async def _write_headers(self: web_response.StreamResponse) -> None:
        if self._headers.get(hdrs.SERVER) == web_response.SERVER_SOFTWARE:
            del self._headers[hdrs.SERVER]
        await write_headers(self)

    def _handle_error(self: web_protocol.RequestHandler, request: web_request.BaseRequest, status: int = 500,
                      exc: BaseException | None = None, message: str | None = None) -> web_response.Response:
        handle_error(self, request, status, exc, status_line(status))  # logs (scrubbed by OutputFilter), checks the writer
        return error_answer(status)

    _write_headers.pyregistry = True
    response_cls._write_headers = _write_headers
    protocol_cls.handle_error = _handle_error


def error_answer(status: int) -> web_response.Response:
    """aiohttp's own error answer (a request it could not parse: bad request line, Content-Length, chunk, a header over
    the limit; or an error outside the handlers) as an OCI error body: code UNKNOWN, the status line as message, no
    detail and nothing of the request; the connection is closed after it."""
    body = json.dumps({"errors": [{"code": "UNKNOWN", "message": status_line(status)}]}).encode()
    response = web_response.Response(status=status, body=body, content_type="application/json")
    response.force_close()
    return response


def status_line(status: int) -> str:
    """400 -> '400 Bad Request' (the whole body of aiohttp's error answers)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


class OutputFilter(logging.Filter):
    """A handler filter: drops the request bytes aiohttp's parser errors carry (a 64 KiB `Authorization` header would
    be logged with its base64 credentials), and lets one record of a kind through per REPEAT_WINDOW, the next one after
    it saying how many were dropped. Records of the `pyregistry` logger below ERROR are never dropped (each names a
    different upload or event)."""

    def __init__(self, window: float = REPEAT_WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self.seen = {}  # kind -> [window start, records dropped since]

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub `record`; False when it is dropped as a repeat."""
        scrub(record)
        if record.name == "pyregistry" and record.levelno < logging.ERROR:
            return True
        return self._admit(record)

    def _admit(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        exc_type = record.exc_info[0] if record.exc_info else None
        kind = (record.name, record.levelno, str(record.msg), exc_type)
        entry = self.seen.get(kind)
        if entry is not None and now - entry[0] < self.window:
            entry[1] += 1
            return False
        if len(self.seen) >= MAX_KINDS:
            self.seen.clear()
        dropped = entry[1] if entry is not None else 0
        self.seen[kind] = [now, 0]
        if dropped:
            record.msg, record.args = f"{record.getMessage()} (and {dropped} more like it in the last {now - entry[0]:.0f}s)", None
        return True


def scrub(record: logging.LogRecord) -> None:
    """Replace the traceback of an aiohttp parser error (its message quotes the offending request bytes) by its class
    and status."""
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, http_exceptions.HttpProcessingError):
        record.msg, record.args = f"{record.getMessage()}: {type(exc).__name__} ({exc.code})", None
        record.exc_info, record.exc_text = None, None


def install_filter(logger: logging.Logger | None = None) -> None:
    """Put an OutputFilter on every handler of `logger` (the root logger by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(OutputFilter())
