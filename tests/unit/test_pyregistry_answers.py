"""What the registry writes about a request: access-log fields capped and escaped, and 500 answers that carry no
internal detail (an exception's text can hold storage paths), logged instead."""
import asyncio
import json
import logging

from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from pyregistry.config import from_mapping
from pyregistry.routes import _access_line, build_app

SECRET_PATH = "/var/lib/registry/docker/registry/v2/secret-internal-path"


def test_access_line_caps_and_escapes_client_fields():
    agent = "curl\x1b[31m\r\nfake 127.0.0.1 - - line\"quoted\"" + "A" * 70000
    referer = "http://x/\x00\x07" + "R" * 70000
    request = make_mocked_request("GET", "/v2/" + "p" * 9000, headers={"User-Agent": agent, "Referer": referer})
    line = _access_line(request, 200, 0, 0.1, "bob\n")
    assert line.endswith("\n") and line.count("\n") == 1
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in line[:-1]), line[:400]
    assert len(line) < 4096, len(line)
    assert "\\x1b[31m\\r\\nfake" in line and '\\"quoted\\"' in line and "\\x00\\x07" in line and "bob\\n" in line


def catalog_failing_with(exc, tmp_path, caplog):
    """(status, body text) of GET /v2/_catalog on an in-process app whose storage raises `exc`, errors logged to caplog."""
    config = from_mapping({"storage": {"filesystem": {"rootdirectory": str(tmp_path)}}, "log": {"accesslog": {"disabled": True}}}, environ={})
    app = build_app(config)

    def broken():
        raise exc

    app["storage"].catalog = broken

    async def fetch():
        async with TestClient(TestServer(app)) as client:
            resp = await client.get("/v2/_catalog")
            return resp.status, await resp.text()

    with caplog.at_level(logging.ERROR, logger="pyregistry"):
        return asyncio.run(fetch())


def test_500_answer_has_no_internal_detail_and_is_logged(tmp_path, caplog):
    status, text = catalog_failing_with(RuntimeError(f"cannot read {SECRET_PATH}"), tmp_path, caplog)
    assert status == 500 and json.loads(text) == {"errors": [{"code": "UNKNOWN", "message": "unknown error"}]}, text
    assert SECRET_PATH in caplog.text


def test_storage_os_error_answer_names_no_path(tmp_path, caplog):
    # no errno, no strerror: str() is the text with the path
    status, text = catalog_failing_with(OSError(f"odd failure at {SECRET_PATH}"), tmp_path, caplog)
    assert status == 500 and SECRET_PATH not in text and "UNKNOWN" in text, text
    assert SECRET_PATH in caplog.text
