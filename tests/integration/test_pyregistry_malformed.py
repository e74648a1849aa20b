"""No request, however malformed, gets a 5xx from pyregistry: every rejection is a 4xx with an OCI error body.

Cases from issue 10 (a manifest nested 10,000 arrays deep, `n=²`, an `n` of 5,000 digits) and their siblings: odd
values of every query parameter on every route, odd Content-Range and Range headers, manifests of the wrong shape.
"""
import json

import pytest

from tests.helpers.pyregistry import OCI_INDEX, OCI_MANIFEST, digest_of, push_blob, push_image, req

ODD_VALUES = ("%C2%B2", "%D9%A3", "9" * 5000, "99999999999999999999", "-1", "1e3", "0x10", "+5", "%205", "1.5", "", "%00",
              "%FF%FE", "%E2%80%AE", "sha256:", "sha256:" + "A" * 64, "sha512:" + "a" * 128, "..%2F..%2Fetc", "a" * 3000)
QUERY_KEYS = ("n", "last", "digest", "mount", "from", "artifactType")


def _assert_rejected_or_ok(resp, what):
    """A 2xx/3xx, or a 4xx whose body is an OCI error (HEAD has no body); never a 5xx."""
    assert resp.status < 500, (what, resp.status, resp.body[:300])
    if resp.status >= 400 and resp.body:
        assert resp.json()["errors"][0]["code"], what


@pytest.mark.parametrize("path", ["/v2/_catalog", "/v2/mal/pages/tags/list"])
def test_malformed_page_size_is_ignored(pyregistry_server, path):
    """`n` that is not ASCII digits fitting an int64 (`²` passes str.isdigit, 5,000 digits defeat int()) is ignored."""
    url = pyregistry_server.url
    for tag in ("a", "b", "c"):
        push_image(url, "mal/pages", tag)
    full = req(url, "GET", path).json()
    for value in ODD_VALUES:
        resp = req(url, "GET", f"{path}?n={value}")
        assert resp.status == 200, (value, resp.status, resp.body[:200])
        assert resp.json() == full, value
        _assert_rejected_or_ok(req(url, "GET", f"{path}?last={value}"), f"last={value[:20]}")
        _assert_rejected_or_ok(req(url, "GET", f"{path}?n={value}&last={value[:1000]}&n=1"), f"n=last={value[:20]}")
    page = req(url, "GET", f"{path}?n=1").json()
    assert len(page.get("tags") or page.get("repositories")) == 1


def test_odd_query_values_on_every_route(pyregistry_server):
    url = pyregistry_server.url
    digest, _ = push_image(url, "mal/routes", "v1")
    blob = push_blob(url, "mal/routes", b"a blob")
    upload = req(url, "POST", "/v2/mal/routes/blobs/uploads/").headers["Location"].split("/v2/", 1)[1]
    routes = [("GET", ""), ("GET", "_catalog"), ("GET", "mal/routes/tags/list"), ("GET", "mal/routes/manifests/v1"),
              ("HEAD", f"mal/routes/manifests/{digest}"), ("PUT", "mal/routes/manifests/odd"), ("DELETE", "mal/routes/manifests/nothere"),
              ("GET", f"mal/routes/blobs/{blob}"), ("HEAD", f"mal/routes/blobs/{blob}"), ("DELETE", f"mal/routes/blobs/{digest_of(b'x')}"),
              ("POST", "mal/routes/blobs/uploads/"), ("GET", upload), ("PATCH", upload), ("PUT", upload), ("DELETE", f"{upload}x"),
              ("GET", f"mal/routes/referrers/{digest}")]
    for method, path in routes:
        for key in QUERY_KEYS:
            for value in ODD_VALUES:
                resp = req(url, method, f"/v2/{path}?{key}={value}", body=b"{}" if method in ("PUT", "PATCH", "POST") else None)
                _assert_rejected_or_ok(resp, f"{method} {path} ?{key}={value[:20]}")


def test_odd_content_range_is_416(pyregistry_server):
    url = pyregistry_server.url
    for content_range in ("0-" + "9" * 5000, "9" * 5000 + "-9", "bytes=0-" + "9" * 40, "٣-٣".encode(), "²-²".encode(), "0-0/" + "9" * 5000,
                          "-0", "0--1", "1-0", "bytes 0-", "0-0, 1-1"):
        loc = req(url, "POST", "/v2/mal/ranges/blobs/uploads/").headers["Location"]
        resp = req(url, "PATCH", loc, body=b"x", headers={"Content-Range": content_range})
        assert resp.status == 416 and resp.error_codes() == ["RANGE_INVALID"], (content_range, resp.status, resp.body[:200])
        done = req(url, "PUT", f"{loc}?digest={digest_of(b'x')}", body=b"x", headers={"Content-Range": content_range})
        assert done.status == 416 and done.error_codes() == ["RANGE_INVALID"], (content_range, done.status)


def test_odd_blob_ranges_never_500(pyregistry_server):
    url = pyregistry_server.url
    blob = push_blob(url, "mal/get", b"0123456789")
    for value in ("bytes=5-2", "bytes=-0", "bytes=0-0,2-3", "bytes=", "items=0-1", "bytes=99-", "bytes=--1", "bytes=0-" + "9" * 5000,
                  "bytes=" + "9" * 5000 + "-", "bytes=-" + "9" * 5000, "bytes=٣-".encode(), "bytes=0-²".encode()):
        resp = req(url, "GET", f"/v2/mal/get/blobs/{blob}", headers={"Range": value})
        _assert_rejected_or_ok(resp, value)
        assert resp.status in (200, 206, 416), (value, resp.status)


@pytest.mark.parametrize("body", [
    b"[" * 10000 + b"]" * 10000,  # the case: a 20 KB body
    b'{"a":' * 10000 + b"1" + b"}" * 10000,
    b'{"schemaVersion":2,"layers":' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"schemaVersion":2,"annotations":{"a":' + b'{"b":' * 3000 + b"1" + b"}" * 3001 + b"}",
], ids=["arrays", "objects", "layers", "annotations"])
def test_deeply_nested_manifest_is_invalid(pyregistry_server, body):
    for media_type in (OCI_MANIFEST, OCI_INDEX):
        resp = req(pyregistry_server.url, "PUT", "/v2/mal/deep/manifests/v1", body=body, headers={"Content-Type": media_type})
        assert resp.status == 400 and resp.error_codes() == ["MANIFEST_INVALID"], (resp.status, resp.body[:200])


def test_manifest_of_the_wrong_shape_is_invalid(pyregistry_server):
    digest = "sha256:" + "a" * 64
    docs = [{"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [1]},
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [None]},
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"digest": digest, "platform": []}]},
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": [], "layers": []},
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": digest}, "layers": [1]},
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": 1}, "layers": []},
            {"schemaVersion": 2, "mediaType": [OCI_MANIFEST]},
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": digest}, "layers": [], "subject": []},
            [], None, 1, "manifest"]
    for doc in docs:
        media_type = doc.get("mediaType") if isinstance(doc, dict) and isinstance(doc.get("mediaType"), str) else OCI_MANIFEST
        resp = req(pyregistry_server.url, "PUT", "/v2/mal/shape/manifests/v1", body=json.dumps(doc).encode(), headers={"Content-Type": media_type})
        assert resp.status == 400 and resp.error_codes() == ["MANIFEST_INVALID"], (doc, resp.status, resp.body[:200])


def test_unknown_endpoint_under_v2_is_404_with_an_oci_body(pyregistry_server):
    url = pyregistry_server.url
    for method, path in [("GET", "/v2/mal/x/whatever"), ("POST", "/v2/mal/x/tags"), ("GET", "/v2/mal/x/blobs"), ("PUT", "/v2/mal/x/manifests/")]:
        resp = req(url, method, path)
        assert resp.status == 404 and resp.error_codes() == ["UNSUPPORTED"], (method, path, resp.status, resp.body[:200])
        assert resp.headers["Docker-Distribution-API-Version"] == "registry/2.0"
