"""Issue 10.13: every loop over pages and redirects is bounded and detects a cycle.  A tiny stub registry
(http.server on 127.0.0.1) answers with endless next-page links or a redirect loop."""
import http.server
import json
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient, RegistryError
from tests.helpers.ansible import failed, run_module

STUB_LIMIT = 300  # the stub stops paging after this many pages, so a client without a bound still ends (and fails the test)


class Stub(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode):
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode = mode
        self.pages = 0

    @property
    def host(self):
        return f"127.0.0.1:{self.server_address[1]}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urlsplit(self.path)
        mode = self.server.mode
        if url.path == "/v2/":
            return self._send(200, b"{}")
        if url.path.endswith("/_catalog") or url.path.endswith("/tags/list"):
            self.server.pages += 1
            if mode == "always-503":
                return self._send(503, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}')
            if mode == "always-close":
                self.close_connection = True
                return None
            key = "repositories" if url.path.endswith("/_catalog") else "tags"
            page = int(parse_qs(url.query).get("page", ["0"])[0])
            headers = []
            if self.server.pages < STUB_LIMIT:
                if mode == "same-link":
                    headers.append(("Link", f'<{url.path}?n=1000&last=a>; rel="next"'))
                elif mode == "new-links":  # a new link every time, never a new name
                    headers.append(("Link", f'<{url.path}?n=1000&page={page + 1}>; rel="next"'))
            body = {key: ["abox"] if key == "repositories" else ["1.0"]}
            if key == "tags":
                body["name"] = "abox"
            return self._send(200, json.dumps(body).encode(), [("Content-Type", "application/json"), *headers])
        if "/blobs/" in url.path:
            if mode == "redirect-loop":
                return self._send(307, b"", [("Location", "/elsewhere/a")])
            return self._send(404, b"")
        if url.path.startswith("/elsewhere/"):  # a -> b -> a -> ...
            return self._send(307, b"", [("Location", "/elsewhere/b" if url.path == "/elsewhere/a" else "/elsewhere/a")])
        return self._send(404, b"")


@pytest.fixture
def stub():
    servers = []

    def start(mode):
        server = Stub(mode)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.timeout(120)
def test_registry_info_stops_on_a_repeated_catalog_link(stub):
    server = stub("same-link")
    result, _run = run_module("airgap.registry.registry_info", {"registry": server.host, "scheme": "http"})
    assert failed(result), result
    assert server.host in result["msg"] and "pagination loop" in result["msg"], result["msg"]
    assert server.pages == 2, "the second page's link repeats the first one: stop there"


@pytest.mark.parametrize("mode", ["same-link", "new-links"])
def test_catalog_and_tags_pagination_is_bounded(stub, mode):
    server = stub(mode)
    client = RegistryClient(server.host, scheme="http", retries=0)
    with pytest.raises(RegistryError, match=f"catalog of {server.host}: .*pagination loop"):
        client.catalog()
    with pytest.raises(RegistryError, match=f"tags of abox of {server.host}: .*pagination loop"):
        client.tags("abox")
    assert server.pages < 30


def test_blob_redirect_loop_is_an_error(stub):
    server = stub("redirect-loop")
    client = RegistryClient(server.host, scheme="http", retries=0)
    with pytest.raises(RegistryError, match="redirect loop") as info:
        client.open_blob("abox", "sha256:" + "0" * 64)
    assert server.host in str(info.value)


@pytest.mark.parametrize("mode", ["always-503", "always-close"])
def test_retries_are_bounded(stub, mode):
    server = stub(mode)
    client = RegistryClient(server.host, scheme="http", retries=2)
    with pytest.raises(RegistryError) as info:
        client.catalog()
    assert server.host in str(info.value)
    assert server.pages <= 2 * (client.retries + 1), "each try may be repeated once on a fresh connection, no more"
