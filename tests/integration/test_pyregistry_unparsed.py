"""Requests aiohttp cannot parse get a 4xx with an OCI error body, never the request bytes (issue 10's "whole kind" of
items 2 and 11), with aiohttp 3.14 (venv) and Debian 12's aiohttp 3.8."""
import json

import pytest

from tests.helpers.pyregistry import pythons, raw_exchange, req

MARK = b"ECHOMARK"
UNPARSABLE = {
    "request line": b"GET /v2/" + MARK + b" NOT-HTTP\r\nHost: x\r\n\r\n",
    "method": b"G\x01T /v2/ HTTP/1.1\r\nHost: x\r\nX-A: " + MARK + b"\r\n\r\n",
    "content length": b"PUT /v2/a/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1" + MARK + b"\r\n\r\n",
    "chunk": b"PUT /v2/a/manifests/v1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ" + MARK + b"\r\n\r\n",
    "header line": b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Long: " + MARK + b"a" * 70000 + b"\r\n\r\n",
    "header without colon": b"GET /v2/ HTTP/1.1\r\nHost: x\r\n" + MARK + b"\r\n\r\n",
}


def parse_answer(answer):
    """An HTTP answer's bytes -> (status, headers, body)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("python", pythons())
def test_unparsable_requests_get_an_oci_error_body(start_registry, python):
    reg = start_registry("pyregistry", **({"python": python} if python else {}))
    for what, data in UNPARSABLE.items():
        status, headers, body = parse_answer(raw_exchange(reg.port, data))
        assert 400 <= status < 500, (what, status, body[:200])
        assert headers.get("Content-Type", "").startswith("application/json"), (what, headers)
        errors = json.loads(body)["errors"]
        assert errors and errors[0]["code"] and errors[0]["message"], (what, body)
        assert MARK not in body and MARK.lower() not in body.lower(), (what, body)
        assert "Server" not in headers, (what, headers)
    assert req(reg.url, "GET", "/v2/").status == 200
