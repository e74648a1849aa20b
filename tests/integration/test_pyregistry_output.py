"""What reaches clients and logs besides API answers: no Server header (as Distribution), and a login header over the
64 KiB limit neither echoed in the answer nor logged, with aiohttp 3.14 (venv) and Debian 12's aiohttp 3.8."""
import base64

import pytest

from tests.helpers.pyregistry import push_blob, pythons, raw_exchange, req

CREDENTIALS = b"alice:SECRETPASSWORD" * 4000
TOKEN = base64.b64encode(CREDENTIALS).decode()


def start(start_registry, python):
    kwargs = {"python": python} if python else {}
    return start_registry("pyregistry", **kwargs)


@pytest.mark.parametrize("python", pythons())
def test_oversized_login_header_is_neither_echoed_nor_logged(start_registry, python):
    reg = start(start_registry, python)
    for _ in range(3):
        answer = raw_exchange(reg.port, f"GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {TOKEN}\r\nConnection: close\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1."), answer[:200]
        assert b" 400 " in answer.split(b"\r\n")[0] and TOKEN[:12].encode() not in answer and b"Server:" not in answer
    assert req(reg.url, "GET", "/v2/").status == 200
    log = reg.log()
    assert TOKEN[:12] not in log and "SECRETPASSWORD" not in log
    assert log.count("LineTooLong (400)") == 1, log  # three alike: one line, the others counted


@pytest.mark.parametrize("python", pythons())
def test_no_server_header_on_any_answer(start_registry, python):
    reg = start(start_registry, python)
    blob = push_blob(reg.url, "a", b"some layer")
    for method, path in [("GET", "/v2/"), ("GET", "/v2/a/manifests/latest"), ("DELETE", "/v2/"), ("GET", "/nothing"), ("GET", "/metrics"),
                         ("GET", f"/v2/a/blobs/{blob}"), ("HEAD", f"/v2/a/blobs/{blob}"), ("POST", "/v2/a/blobs/uploads/")]:
        resp = req(reg.url, method, path)
        assert "Server" not in resp.headers, (method, path, resp.status, resp.headers["Server"])
    answer = raw_exchange(reg.port, b"GET /v2/ HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
    assert b" 400 " in answer.split(b"\r\n")[0] and b"Server:" not in answer


@pytest.mark.distribution
def test_distribution_sends_no_server_header_either(distribution_registry):
    assert "Server" not in req(distribution_registry.url, "GET", "/v2/").headers
