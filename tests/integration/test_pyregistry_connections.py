"""Connection exhaustion: idle or slow clients without credentials cannot lock others out. The soft open-file limit
is raised to the hard one at start, request heads and bodies have read timeouts, and the error log stays small."""
import os
import resource
import socket
import time

import pytest

from tests.helpers.pyregistry import push_image, req
from tests.conftest import require

IDLE_CONNECTIONS = 1100
SYSTEMD_SOFT_LIMIT = 1024  # what a systemd unit without LimitNOFILE= leaves
PYTHONS = [pytest.param(None, id="venv")] + ([pytest.param("/usr/bin/python3", id="debian-aiohttp")] if os.path.exists("/usr/bin/python3") else [])


@pytest.fixture
def open_files():
    """Run with the soft open-file limit at hard (the test holds 1,100 sockets); restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    require(hard == resource.RLIM_INFINITY or hard >= IDLE_CONNECTIONS + 200,
            f"the hard open-file limit ({hard}) is too low for {IDLE_CONNECTIONS} connections")
    yield soft, hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def start_with_soft_limit(start_registry, limit, **kwargs):
    """Start pyregistry with the soft open-file limit at `limit` (as under systemd), then raise the test's own."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, hard), hard))
    try:
        reg = start_registry("pyregistry", **kwargs)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 20, hard))
    return reg


def slow_head(port):
    """A connection that sent the start of a request head and nothing more."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return sock


def base_answer(sock):
    """The status line of a `GET /v2/` answer, read whole (headers and the `{}` body may arrive apart)."""
    data = b""
    while not data.endswith(b"\r\n\r\n{}"):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return data.split(b"\r\n")[0]


def closed_within(sock, seconds):
    """True when the server closes `sock` within `seconds` (reading whatever it answers first)."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return False


@pytest.mark.parametrize("python", PYTHONS)
def test_a_client_pulls_while_1100_idle_connections_are_open(start_registry, open_files, python):
    reg = start_with_soft_limit(start_registry, SYSTEMD_SOFT_LIMIT, **({"python": python} if python else {}))
    digest, manifest = push_image(reg.url, "lib/app", "v1", layers=(b"layer-one", b"layer-two"))
    log_before = os.path.getsize(reg.log_path)
    idle = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            idle.append(slow_head(reg.port))
        started = time.monotonic()
        got = req(reg.url, "GET", "/v2/lib/app/manifests/v1", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        assert got.status == 200 and got.body == manifest
        layer = got.json()["layers"][0]["digest"]
        assert req(reg.url, "GET", f"/v2/lib/app/blobs/{layer}").body == b"layer-one"
        assert time.monotonic() - started < 20
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.5)
    assert os.path.getsize(reg.log_path) - log_before < 64 * 1024, reg.log()[-2000:]


@pytest.mark.parametrize("python", PYTHONS)
def test_slow_heads_slow_bodies_and_idle_connections_are_closed(start_registry, python):
    config = {"pyregistry": {"headertimeout": "1s", "bodytimeout": "1s"}}
    reg = start_registry("pyregistry", config, **({"python": python} if python else {}))
    assert closed_within(slow_head(reg.port), 5)

    trickle = slow_head(reg.port)
    for _ in range(6):  # one header byte every half second: progress, but never a whole head
        time.sleep(0.5)
        try:
            trickle.sendall(b"X")
        except OSError:
            break
    assert closed_within(trickle, 2)

    start = req(reg.url, "POST", "/v2/lib/app/blobs/uploads/")
    location = start.headers["Location"].split(f":{reg.port}", 1)[-1]
    body = socket.create_connection(("127.0.0.1", reg.port), timeout=30)
    body.sendall(f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n".encode() + b"x" * 10)
    assert closed_within(body, 5)

    idle = socket.create_connection(("127.0.0.1", reg.port), timeout=30)
    idle.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert b" 200 " in base_answer(idle)
    assert closed_within(idle, 5)

    busy = socket.create_connection(("127.0.0.1", reg.port), timeout=30)  # requests in a row keep a connection
    for _ in range(6):
        busy.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b" 200 " in base_answer(busy)
        time.sleep(0.4)
    busy.close()
    assert req(reg.url, "GET", "/v2/").status == 200
