"""pyregistry's output hygiene: parser errors logged without request bytes, repeated records collapsed."""
import logging

from aiohttp import http_exceptions

from pyregistry.output import OutputFilter, status_line


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def record(name="aiohttp.server", level=logging.ERROR, msg="Error handling request from %s", args=("127.0.0.1",), exc=None):
    exc_info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)


def test_parser_errors_are_logged_without_the_request_bytes():
    exc = http_exceptions.LineTooLong("Basic YWxpY2U6c2VjcmV0" * 100, "65536")
    rec = record(exc=exc)
    assert OutputFilter().filter(rec)
    text = logging.Formatter().format(rec)
    assert "YWxpY2U6" not in text and "LineTooLong (400)" in text and "127.0.0.1" in text


def test_repeated_records_collapse_and_are_counted():
    clock = Clock()
    flt = OutputFilter(window=60, clock=clock)
    passed = [flt.filter(record(args=(f"10.0.0.{i % 250}",))) for i in range(10_000)]
    assert passed.count(True) == 1
    clock.now += 61
    rec = record()
    assert flt.filter(rec) and "(and 9999 more like it in the last 61s)" in rec.getMessage()


def test_own_warnings_are_never_dropped_but_own_errors_are_collapsed():
    flt = OutputFilter(clock=Clock())
    assert all(flt.filter(record("pyregistry", logging.WARNING, "upload purge: %s", (f"r/{i}",))) for i in range(50))
    errors = [flt.filter(record("pyregistry", logging.ERROR, "unhandled error on %s %s", ("GET", "/v2/"))) for _ in range(50)]
    assert errors.count(True) == 1


def test_status_line():
    assert status_line(400) == "400 Bad Request" and status_line(431) == "431 Request Header Fields Too Large"

