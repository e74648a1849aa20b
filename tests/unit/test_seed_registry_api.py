"""registry_api against a small in-process fake registry: Bearer token flow, retries, pagination, resumable uploads."""
import base64
import hashlib
import http.server
import io
import json
import socket
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.image_archive import _Section
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryAuthError, RegistryClient, RegistryError


class FakeRegistry(http.server.BaseHTTPRequestHandler):
    """Bearer-protected registry: /token issues tokens per scope; uploads keep state; faults on demand."""

    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", headers=None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        if self.headers.get("Transfer-Encoding") == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if not size:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorized(self, scope):
        st = self.state
        st["log"].append((self.command, self.path))
        auth = self.headers.get("Authorization") or ""
        granted = {}
        for item in auth[len("Bearer tok-"):].split() if auth.startswith("Bearer tok-") else []:
            kind, name, actions = item.rsplit(":", 2) if item.count(":") >= 2 else (item, "", "")
            granted.setdefault(f"{kind}:{name}", set()).update(actions.split(","))
        if auth.startswith("Bearer tok-") and not scope:
            return True
        if scope:
            kind, name, actions = scope.rsplit(":", 2)
            if set(actions.split(",")) <= granted.get(f"{kind}:{name}", set()):
                return True
        host = self.headers["Host"]
        challenge = f'Bearer realm="http://{host}/token",service="fake"' + (f',scope="{scope}"' if scope else "")
        self._send(401, json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}).encode(),
                   {"WWW-Authenticate": challenge})
        return False

    def handle_one(self):
        st = self.state
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/token":
            st["token_requests"] += 1
            expected = "Basic " + base64.b64encode(b"alice:pw").decode()
            if self.headers.get("Authorization") != expected:
                return self._send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
            scope = " ".join(query.get("scope", []))
            return self._send(200, json.dumps({"token": f"tok-{scope}"}).encode())
        if st["fail_next"]:
            st["fail_next"] -= 1
            self._body()
            return self._send(503, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}')
        if url.path == "/v2/":
            if self._authorized(""):
                self._send(200, b"{}")
            return None
        if url.path == "/v2/_catalog":
            if not self._authorized("registry:catalog:*"):
                return None
            names = ["a", "b", "c", "d", "e"]
            last = query.get("last", [""])[0]
            rest = [n for n in names if n > last][:2]
            headers = {"Link": f'</v2/_catalog?last={rest[-1]}&n=2>; rel="next"'} if rest and rest[-1] != names[-1] else {}
            return self._send(200, json.dumps({"repositories": rest}).encode(), headers)
        parts = url.path.split("/")
        repo = parts[2]
        if not self._authorized(f"repository:{repo}:pull,push" if self.command in ("POST", "PUT", "PATCH") else f"repository:{repo}:pull"):
            return None
        if parts[3:5] == ["blobs", "uploads"]:
            return self._upload(parts, query)
        return self._send(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}')

    def _upload(self, parts, query):
        st = self.state
        uploads = st["uploads"]
        if self.command == "POST":
            uid = str(len(uploads) + 1)
            uploads[uid] = b""
            return self._send(202, headers={"Location": f"/v2/{parts[2]}/blobs/uploads/{uid}", "Range": "0-0"})
        uid = parts[5]
        if self.command == "GET":
            size = len(uploads[uid])
            return self._send(204, headers={"Range": f"0-{max(size - 1, 0)}", "Location": f"/v2/{parts[2]}/blobs/uploads/{uid}"})
        if self.command == "PATCH" and st["drop_patch"]:
            st["drop_patch"] -= 1
            length = int(self.headers["Content-Length"])
            uploads[uid] += self.rfile.read(length // 2)
            self.close_connection = True
            self.connection.close()
            return None
        uploads[uid] += self._body()
        if self.command == "PATCH":
            return self._send(202, headers={"Location": f"/v2/{parts[2]}/blobs/uploads/{uid}", "Range": f"0-{len(uploads[uid]) - 1}"})
        digest = query["digest"][0]
        if "sha256:" + hashlib.sha256(uploads[uid]).hexdigest() != digest:
            return self._send(400, b'{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}')
        st["blobs"][digest] = uploads[uid]
        return self._send(201, headers={"Docker-Content-Digest": digest})

    do_GET = do_POST = do_PUT = do_PATCH = do_HEAD = do_DELETE = handle_one


@pytest.fixture
def fake():
    state = {"log": [], "token_requests": 0, "fail_next": 0, "drop_patch": 0, "uploads": {}, "blobs": {}}
    handler = type("Handler", (FakeRegistry,), {"state": state})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["host"] = f"127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def test_bearer_token_flow_caches_per_scope(fake):
    client = RegistryClient(fake["host"], username="alice", password="pw", scheme="http")
    assert client.ping() == 200
    assert client.catalog(page_size=2) == ["a", "b", "c", "d", "e"]
    assert fake["token_requests"] == 2
    client.catalog(page_size=2)
    assert fake["token_requests"] == 2


def test_bearer_bad_credentials(fake):
    client = RegistryClient(f"http://{fake['host']}", username="alice", password="not-it-123")
    with pytest.raises(RegistryAuthError) as err:
        client.ping()
    assert err.value.status == 401 and "bad credentials" in str(err.value)
    assert "not-it-123" not in str(err.value)


def test_retries_on_503_then_gives_up(fake):
    client = RegistryClient(fake["host"], username="alice", password="pw", scheme="http", retries=2)
    client.ping()
    fake["fail_next"] = 2
    assert client.ping() == 200
    fake["fail_next"] = 5
    with pytest.raises(RegistryError) as err:
        client.ping()
    assert err.value.status == 503 and err.value.code == "UNAVAILABLE"


@pytest.mark.parametrize("chunk_size", [None, 4096])
def test_streamed_and_chunked_uploads_resume_after_a_dropped_connection(fake, chunk_size):
    client = RegistryClient(fake["host"], username="alice", password="pw", scheme="http")
    data = bytes(range(256)) * 100
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    client.ping()
    fake["drop_patch"] = 1 if chunk_size else 0
    opened = []

    def open_stream(offset):
        opened.append(offset)
        return io.BytesIO(data[offset:])
    sent = client.upload_blob("app", digest, len(data), open_stream, chunk_size=chunk_size)
    assert fake["blobs"][digest] == data
    if chunk_size:
        assert opened[0] == 0 and len(opened) == 2 and opened[1] > 0
    assert sent >= len(data) - (opened[-1] if chunk_size else 0)


def test_upload_stream_computes_digest(fake):
    client = RegistryClient(fake["host"], username="alice", password="pw", scheme="http")
    data = b"streamed layer " * 5000
    digest, size = client.upload_stream("app", io.BytesIO(data))
    assert (digest, size) == ("sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    assert fake["blobs"][digest] == data


def test_unknown_repo_error_carries_oci_code(fake):
    client = RegistryClient(fake["host"], username="alice", password="pw", scheme="http")
    with pytest.raises(RegistryError) as err:
        client.get_manifest("app", "1")
    assert (err.value.status, err.value.code) == (404, "NAME_UNKNOWN")
    assert "repository name not known" in str(err.value)


def test_an_answer_sent_before_the_body_is_taken_is_reported(tmp_path):
    """A registry that answers 500 and closes mid-body (a full disk): the error is its answer, not a broken pipe."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    body = json.dumps({"errors": [{"code": "UNKNOWN", "message": "unknown error", "detail": "no space left on device"}]}).encode()

    def serve():
        while True:
            try:
                conn, _addr = server.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += conn.recv(65536)
                if head.startswith(b"POST"):
                    conn.sendall(b"HTTP/1.1 202 Accepted\r\nLocation: /v2/r/blobs/uploads/u1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                elif head.startswith(b"GET"):
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                else:  # the PUT with the blob: answer at once, read nothing more, close
                    conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                                 b"Connection: close\r\n\r\n%s" % (len(body), body))
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    blob = tmp_path / "blob"
    blob.write_bytes(b"x" * (32 << 20))
    client = RegistryClient(f"127.0.0.1:{server.getsockname()[1]}", scheme="http", retries=1)
    try:
        with pytest.raises(RegistryError) as err:
            client.upload_blob("r", "sha256:" + "0" * 64, 32 << 20, lambda off: _Section(open(blob, "rb"), off, (32 << 20) - off))  # noqa: SIM115 - the section closes it
    finally:
        server.close()
    assert err.value.status == 500 and "no space left on device" in str(err.value), str(err.value)
