"""pyregistry's HTTP API against the OCI Distribution spec and Distribution's behaviour, over real HTTP."""
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.pyregistry import (
    ALL_TYPES,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    digest_of,
    image_manifest,
    push_blob,
    push_image,
    put_manifest,
    req,
)

API = "Docker-Distribution-API-Version"


def test_base_and_version_header_on_every_status(pyregistry_server):
    url = pyregistry_server.url
    ok = req(url, "GET", "/v2/")
    assert (ok.status, ok.json(), ok.headers[API]) == (200, {}, "registry/2.0")
    for method, path, status in [
        ("GET", "/v2/nothere/manifests/latest", 404),
        ("GET", "/v2/UPPER/tags/list", 400),
        ("PATCH", "/v2/", 405),
        ("GET", "/v2/a/blobs/sha256:zz", 400),
    ]:
        resp = req(url, method, path)
        assert resp.status == status, (method, path, resp.body)
        assert resp.headers[API] == "registry/2.0"
        assert resp.json()["errors"][0]["code"]
    assert req(url, "PATCH", "/v2/").headers["Allow"] == "GET, HEAD"


def test_blob_upload_monolithic_get_head_range_etag(pyregistry_server):
    url = pyregistry_server.url
    data = os.urandom(100_000)
    digest = push_blob(url, "pyreg/blobs", data)
    head = req(url, "HEAD", f"/v2/pyreg/blobs/blobs/{digest}")
    assert head.status == 200 and head.body == b""
    assert head.headers["Docker-Content-Digest"] == digest
    assert int(head.headers["Content-Length"]) == len(data)
    assert head.headers["ETag"] == f'"{digest}"'
    get = req(url, "GET", f"/v2/pyreg/blobs/blobs/{digest}")
    assert get.body == data
    part = req(url, "GET", f"/v2/pyreg/blobs/blobs/{digest}", headers={"Range": "bytes=10-19"})
    assert part.status == 206 and part.body == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    cached = req(url, "GET", f"/v2/pyreg/blobs/blobs/{digest}", headers={"If-None-Match": f'"{digest}"'})
    assert cached.status == 304
    bad_range = req(url, "GET", f"/v2/pyreg/blobs/blobs/{digest}", headers={"Range": f"bytes={len(data) + 5}-"})
    assert bad_range.status == 416
    empty = push_blob(url, "pyreg/blobs", b"")
    suffix = req(url, "GET", f"/v2/pyreg/blobs/blobs/{empty}", headers={"Range": "bytes=-10"})
    assert suffix.status == 416 and suffix.headers["Content-Range"] == "bytes */0"
    other = req(url, "GET", f"/v2/pyreg/other/blobs/{digest}")
    assert other.status == 404 and other.error_codes() == ["BLOB_UNKNOWN"]


def test_single_request_post_upload(pyregistry_server):
    url = pyregistry_server.url
    data = b"single post body"
    digest = digest_of(data)
    resp = req(url, "POST", f"/v2/pyreg/single/blobs/uploads/?digest={digest}", body=data)
    assert resp.status == 201
    assert resp.headers["Location"].endswith(f"/v2/pyreg/single/blobs/{digest}")
    assert req(url, "GET", f"/v2/pyreg/single/blobs/{digest}").body == data


def test_upload_start_headers_and_status(pyregistry_server):
    url = pyregistry_server.url
    start = req(url, "POST", "/v2/pyreg/up/blobs/uploads/")
    assert start.status == 202
    assert start.headers["Range"] == "0-0"
    upload_id = start.headers["Docker-Upload-UUID"]
    assert upload_id in start.headers["Location"]
    assert start.headers["Location"].startswith(url)
    patch = req(url, "PATCH", start.headers["Location"], body=b"abcdef", headers={"Content-Range": "0-5"})
    assert patch.status == 202 and patch.headers["Range"] == "0-5"
    status = req(url, "GET", start.headers["Location"])
    assert status.status == 204 and status.headers["Range"] == "0-5"
    gone = req(url, "DELETE", start.headers["Location"])
    assert gone.status == 204
    assert req(url, "GET", start.headers["Location"]).error_codes() == ["BLOB_UPLOAD_UNKNOWN"]
    assert not os.listdir(os.path.join(pyregistry_server.root, "docker/registry/v2/repositories/pyreg/up/_uploads"))


def test_chunked_upload_out_of_order_and_repeated_chunk_416(pyregistry_server):
    url = pyregistry_server.url
    data = os.urandom(3000)
    loc = req(url, "POST", "/v2/pyreg/chunks/blobs/uploads/").headers["Location"]
    first = req(url, "PATCH", loc, body=data[:1000], headers={"Content-Range": "0-999", "Content-Type": "application/octet-stream"})
    assert first.status == 202
    repeated = req(url, "PATCH", loc, body=data[:1000], headers={"Content-Range": "0-999"})
    assert repeated.status == 416 and repeated.headers[API] == "registry/2.0"
    skipped = req(url, "PATCH", loc, body=data[2000:], headers={"Content-Range": "2000-2999"})
    assert skipped.status == 416
    req(url, "PATCH", loc, body=data[1000:2000], headers={"Content-Range": "1000-1999"})
    streamed = req(url, "PATCH", loc, body=data[2000:])  # streamed PATCH, no Content-Range
    assert streamed.headers["Range"] == "0-2999"
    digest = digest_of(data)
    done = req(url, "PUT", f"{loc}?digest={digest}")
    assert done.status == 201 and done.headers["Docker-Content-Digest"] == digest
    assert req(url, "GET", f"/v2/pyreg/chunks/blobs/{digest}").body == data


def test_wrong_digest_rejected_and_nothing_stored(pyregistry_server):
    url = pyregistry_server.url
    data = b"the real bytes"
    wrong = digest_of(b"other bytes")
    loc = req(url, "POST", "/v2/pyreg/bad/blobs/uploads/").headers["Location"]
    resp = req(url, "PUT", f"{loc}?digest={wrong}", body=data)
    assert resp.status == 400 and resp.error_codes() == ["DIGEST_INVALID"]
    post = req(url, "POST", f"/v2/pyreg/bad/blobs/uploads/?digest={wrong}", body=data)
    assert post.status == 400 and post.error_codes() == ["DIGEST_INVALID"]
    blobs = os.path.join(pyregistry_server.root, "docker/registry/v2/blobs")
    stored = [f for _, _, files in os.walk(blobs) for f in files]
    assert stored == []
    assert req(url, "HEAD", f"/v2/pyreg/bad/blobs/{wrong}").status == 404
    assert os.listdir(os.path.join(pyregistry_server.root, "docker/registry/v2/repositories/pyreg/bad/_uploads")) == []


def test_cross_repository_mount(pyregistry_server):
    url = pyregistry_server.url
    digest = push_blob(url, "pyreg/src", b"mount me")
    mounted = req(url, "POST", f"/v2/pyreg/dst/blobs/uploads/?mount={digest}&from=pyreg/src")
    assert mounted.status == 201 and mounted.headers["Docker-Content-Digest"] == digest
    assert req(url, "GET", f"/v2/pyreg/dst/blobs/{digest}").body == b"mount me"
    no_from = req(url, "POST", f"/v2/pyreg/dst2/blobs/uploads/?mount={digest}")
    assert no_from.status == 201
    missing = digest_of(b"never pushed")
    fallback = req(url, "POST", f"/v2/pyreg/dst/blobs/uploads/?mount={missing}&from=pyreg/src")
    assert fallback.status == 202 and fallback.headers["Docker-Upload-UUID"]
    wrong_repo = req(url, "POST", f"/v2/pyreg/dst3/blobs/uploads/?mount={digest}&from=pyreg/nothing")
    assert wrong_repo.status == 202


def test_manifest_put_get_head_bytes_exact_etag(pyregistry_server):
    url = pyregistry_server.url
    digest, data = push_image(url, "pyreg/man", "v1")
    assert digest == digest_of(data)
    for ref in ("v1", digest):
        get = req(url, "GET", f"/v2/pyreg/man/manifests/{ref}", headers={"Accept": ALL_TYPES})
        assert get.status == 200 and get.body == data
        assert get.headers["Content-Type"] == OCI_MANIFEST
        assert get.headers["Docker-Content-Digest"] == digest
        assert get.headers["ETag"] == f'"{digest}"'
    head = req(url, "HEAD", "/v2/pyreg/man/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert head.status == 200 and int(head.headers["Content-Length"]) == len(data)
    cached = req(url, "GET", "/v2/pyreg/man/manifests/v1", headers={"If-None-Match": f'"{digest}"'})
    assert cached.status == 304
    by_digest_wrong = put_manifest(url, "pyreg/man", digest_of(b"x"), data, OCI_MANIFEST)
    assert by_digest_wrong.status == 400 and by_digest_wrong.error_codes() == ["DIGEST_INVALID"]


def test_manifest_accept_negotiation(pyregistry_server):
    url = pyregistry_server.url
    oci_digest, _ = push_image(url, "pyreg/neg", "oci", media_type=OCI_MANIFEST)
    docker_digest, docker_data = push_image(url, "pyreg/neg", "docker", media_type=DOCKER_MANIFEST)
    only_docker = req(url, "GET", "/v2/pyreg/neg/manifests/oci", headers={"Accept": DOCKER_MANIFEST})
    assert only_docker.status == 404 and only_docker.error_codes() == ["MANIFEST_UNKNOWN"]
    lst = json.dumps({
        "schemaVersion": 2, "mediaType": DOCKER_LIST,
        "manifests": [{"mediaType": DOCKER_MANIFEST, "digest": docker_digest, "size": len(docker_data),
                       "platform": {"architecture": "amd64", "os": "linux"}}],
    }).encode()
    assert put_manifest(url, "pyreg/neg", "list", lst, DOCKER_LIST).status == 201
    as_list = req(url, "GET", "/v2/pyreg/neg/manifests/list", headers={"Accept": ALL_TYPES})
    assert as_list.headers["Content-Type"] == DOCKER_LIST and as_list.body == lst
    as_image = req(url, "GET", "/v2/pyreg/neg/manifests/list", headers={"Accept": DOCKER_MANIFEST})
    assert as_image.headers["Docker-Content-Digest"] == docker_digest and as_image.body == docker_data
    list_digest = "sha256:" + hashlib.sha256(lst).hexdigest()
    by_digest = req(url, "GET", f"/v2/pyreg/neg/manifests/{list_digest}", headers={"Accept": DOCKER_MANIFEST})
    assert by_digest.headers["Docker-Content-Digest"] == list_digest and by_digest.body == lst  # by digest: what was asked for
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": [{"mediaType": OCI_MANIFEST, "digest": oci_digest, "size": 1}]}).encode()
    assert put_manifest(url, "pyreg/neg", "index", index, OCI_INDEX).status == 201
    got = req(url, "GET", "/v2/pyreg/neg/manifests/index", headers={"Accept": OCI_INDEX})
    assert got.headers["Content-Type"] == OCI_INDEX


def test_manifest_validation_errors(pyregistry_server):
    url = pyregistry_server.url
    missing = digest_of(b"absent layer")
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": missing, "size": 3}, "layers": []}
    resp = put_manifest(url, "pyreg/val", "t", json.dumps(doc).encode(), OCI_MANIFEST)
    assert resp.status == 400 and resp.error_codes() == ["MANIFEST_BLOB_UNKNOWN"]
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"mediaType": OCI_MANIFEST, "digest": missing, "size": 3}]}
    resp = put_manifest(url, "pyreg/val", "i", json.dumps(index).encode(), OCI_INDEX)
    assert resp.status == 400 and resp.error_codes() == ["MANIFEST_BLOB_UNKNOWN"]
    assert put_manifest(url, "pyreg/val", "j", b"{not json", OCI_MANIFEST).error_codes() == ["MANIFEST_INVALID"]
    big = b'{"schemaVersion": 2, "pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    assert put_manifest(url, "pyreg/val", "big", big, OCI_MANIFEST).status == 413
    assert put_manifest(url, "pyreg/val", "bad%20tag", b"{}", OCI_MANIFEST).status == 400
    assert req(url, "GET", "/v2/pyreg/val/tags/list").status == 404  # nothing was stored


def test_referrers_subject_artifact_type_never_404(pyregistry_server):
    url = pyregistry_server.url
    subject_digest, subject_data = push_image(url, "pyreg/ref", "app")
    subject = {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": len(subject_data)}
    sig, _ = image_manifest(url, "pyreg/ref", [b"sig"], subject=subject, artifact_type="application/vnd.example.sig")
    resp = put_manifest(url, "pyreg/ref", digest_of(sig), sig, OCI_MANIFEST)
    assert resp.status == 201 and resp.headers["OCI-Subject"] == subject_digest
    sbom, _ = image_manifest(url, "pyreg/ref", [b"sbom"], subject=subject, artifact_type="application/vnd.example.sbom")
    put_manifest(url, "pyreg/ref", digest_of(sbom), sbom, OCI_MANIFEST)
    all_refs = req(url, "GET", f"/v2/pyreg/ref/referrers/{subject_digest}")
    assert all_refs.status == 200 and all_refs.headers["Content-Type"] == OCI_INDEX
    assert {m["digest"] for m in all_refs.json()["manifests"]} == {digest_of(sig), digest_of(sbom)}
    filtered = req(url, "GET", f"/v2/pyreg/ref/referrers/{subject_digest}?artifactType=application/vnd.example.sbom")
    assert [m["digest"] for m in filtered.json()["manifests"]] == [digest_of(sbom)]
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    dangling_subject = {"mediaType": OCI_MANIFEST, "digest": digest_of(b"no such manifest"), "size": 5}
    orphan, _ = image_manifest(url, "pyreg/ref", [b"orphan"], subject=dangling_subject)
    assert put_manifest(url, "pyreg/ref", digest_of(orphan), orphan, OCI_MANIFEST).status == 201
    empty = req(url, "GET", f"/v2/pyreg/unknownrepo/referrers/{subject_digest}")
    assert empty.status == 200 and empty.json()["manifests"] == []


def test_tags_and_catalog_pagination(pyregistry_server):
    url = pyregistry_server.url
    for tag in ["b", "a", "c", "1.0", "latest"]:
        push_image(url, "pyreg/tags", tag)
    push_image(url, "pyreg/tags/sub", "x")
    push_image(url, "pyreg-z", "x")
    assert req(url, "GET", "/v2/pyreg/tags/tags/list").json() == {"name": "pyreg/tags", "tags": ["1.0", "a", "b", "c", "latest"]}
    page = req(url, "GET", "/v2/pyreg/tags/tags/list?n=2")
    assert page.json()["tags"] == ["1.0", "a"]
    assert page.headers["Link"] == '</v2/pyreg/tags/tags/list?last=a&n=2>; rel="next"'
    assert req(url, "GET", "/v2/pyreg/tags/tags/list?n=2&last=a").json()["tags"] == ["b", "c"]
    assert req(url, "GET", "/v2/pyreg/tags/tags/list?n=2&last=c").json()["tags"] == ["latest"]
    catalog = req(url, "GET", "/v2/_catalog").json()["repositories"]
    assert catalog == ["pyreg/tags", "pyreg/tags/sub", "pyreg-z"]  # Distribution's path-component order
    first = req(url, "GET", "/v2/_catalog?n=1")
    assert first.json()["repositories"] == ["pyreg/tags"] and 'rel="next"' in first.headers["Link"]
    assert req(url, "GET", "/v2/_catalog?n=5&last=pyreg/tags").json()["repositories"] == ["pyreg/tags/sub", "pyreg-z"]


def test_deletes(pyregistry_server):
    url = pyregistry_server.url
    digest, _ = push_image(url, "pyreg/del", "one", layers=[b"del-layer"])
    push_image(url, "pyreg/del", "two")
    assert req(url, "DELETE", "/v2/pyreg/del/manifests/two").status == 202
    assert req(url, "GET", "/v2/pyreg/del/tags/list").json()["tags"] == ["one"]
    assert req(url, "DELETE", f"/v2/pyreg/del/manifests/{digest}").status == 202
    assert req(url, "GET", f"/v2/pyreg/del/manifests/{digest}").status == 404
    assert req(url, "GET", "/v2/pyreg/del/tags/list").json()["tags"] == []
    layer = digest_of(b"del-layer")
    assert req(url, "DELETE", f"/v2/pyreg/del/blobs/{layer}").status == 202
    assert req(url, "HEAD", f"/v2/pyreg/del/blobs/{layer}").status == 404
    assert req(url, "DELETE", f"/v2/pyreg/del/blobs/{layer}").status == 404


def test_deletes_disabled_and_readonly(start_registry):
    reg = start_registry("pyregistry", config={"storage": {"delete": {"enabled": False}}})
    digest, _ = push_image(reg.url, "pyreg/nodel", "t")
    resp = req(reg.url, "DELETE", f"/v2/pyreg/nodel/manifests/{digest}")
    assert resp.status == 405 and resp.error_codes() == ["UNSUPPORTED"]
    layer = req(reg.url, "DELETE", f"/v2/pyreg/nodel/blobs/{digest_of(b'layer')}")
    assert layer.status == 405 and layer.error_codes() == ["UNSUPPORTED"]
    assert req(reg.url, "HEAD", f"/v2/pyreg/nodel/blobs/{digest_of(b'layer')}").status == 200
    reg.stop()
    ro = start_registry("pyregistry", env={"REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED": "true",
                                           "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": reg.root})
    assert req(ro.url, "GET", "/v2/pyreg/nodel/manifests/t").status == 200
    blocked = req(ro.url, "POST", "/v2/pyreg/nodel/blobs/uploads/")
    assert blocked.status == 405 and blocked.error_codes() == ["UNSUPPORTED"]


@pytest.mark.parametrize("path", [
    "/v2/../../etc/tags/list",
    "/v2/%2e%2e/%2e%2e/etc/tags/list",
    "/v2/a/%2e%2e/%2e%2e/%2e%2e/etc/blobs/uploads/",
    "/v2//etc/blobs/uploads/",
    "/v2/Upper/blobs/uploads/",
    "/v2/" + "a" * 256 + "/blobs/uploads/",
    "/v2/a/_uploads/blobs/uploads/",
    "/v2/pyreg/x/manifests/" + "t" * 129,
    "/v2/pyreg/x/manifests/..",
    "/v2/pyreg/x/blobs/uploads/..%2f..%2f..",
])
def test_names_never_escape_root(pyregistry_server, path, tmp_path):
    before = set(os.listdir(os.path.dirname(pyregistry_server.root)))
    for method in ("POST", "PUT", "GET", "PATCH"):
        resp = req(pyregistry_server.url, method, path, body=b"{}")
        assert resp.status in (400, 404, 405, 416), (method, path, resp.status, resp.body)
    assert set(os.listdir(os.path.dirname(pyregistry_server.root))) == before
    repos = os.path.join(pyregistry_server.root, "docker/registry/v2/repositories")
    assert not os.path.exists(repos) or os.listdir(repos) == []


def test_location_headers_forwarded_host_relative(start_registry):
    reg = start_registry("pyregistry")
    fwd = req(reg.url, "POST", "/v2/pyreg/loc/blobs/uploads/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "reg.example:443"})
    assert fwd.headers["Location"].startswith("https://reg.example:443/v2/pyreg/loc/blobs/uploads/")
    rfc = req(reg.url, "POST", "/v2/pyreg/loc/blobs/uploads/", headers={"Forwarded": 'for=10.0.0.1;proto=https;host="front.example", for=10.0.0.2'})
    assert rfc.headers["Location"].startswith("https://front.example/v2/pyreg/loc/blobs/uploads/")
    plain = req(reg.url, "POST", "/v2/pyreg/loc/blobs/uploads/", headers={"Host": "myhost:5000"})
    assert plain.headers["Location"].startswith("http://myhost:5000/v2/")
    reg.stop()
    rel = start_registry("pyregistry", config={"http": {"relativeurls": True, "headers": {"X-Content-Type-Options": ["nosniff"]}}})
    resp = req(rel.url, "POST", "/v2/pyreg/loc/blobs/uploads/")
    assert resp.headers["Location"].startswith("/v2/pyreg/loc/blobs/uploads/")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    host = start_registry("pyregistry", env={"REGISTRY_HTTP_HOST": "https://public.example"})
    assert req(host.url, "POST", "/v2/pyreg/loc/blobs/uploads/").headers["Location"].startswith("https://public.example/v2/")


def test_health_metrics_and_access_log(start_registry):
    reg = start_registry("pyregistry", config={"log": {"accesslog": {"disabled": False}}})
    assert req(reg.url, "GET", "/debug/health").status == 200
    assert req(reg.url, "GET", "/healthz").json() == {}
    req(reg.url, "GET", "/v2/", headers={"User-Agent": "pyreg-probe"})
    metrics = req(reg.url, "GET", "/metrics").body.decode()
    assert 'pyregistry_http_requests_total{method="GET",code="200"}' in metrics
    time.sleep(0.2)
    lines = [line for line in reg.log().splitlines() if "pyreg-probe" in line]
    assert len(lines) == 1 and '"GET /v2/ HTTP/1.1" 200' in lines[0]
    quiet = start_registry("pyregistry")  # the harness config sets log.accesslog.disabled: true
    req(quiet.url, "GET", "/v2/", headers={"User-Agent": "pyreg-probe"})
    time.sleep(0.2)
    assert "pyreg-probe" not in quiet.log()


def test_upload_purging(start_registry):
    purging = {"enabled": True, "age": "1s", "interval": "1s", "dryrun": False}
    reg = start_registry("pyregistry", config={"storage": {"maintenance": {"uploadpurging": purging}}})
    loc = req(reg.url, "POST", "/v2/pyreg/purge/blobs/uploads/").headers["Location"]
    uploads = os.path.join(reg.root, "docker/registry/v2/repositories/pyreg/purge/_uploads")
    assert len(os.listdir(uploads)) == 1
    deadline = time.monotonic() + 10
    while os.listdir(uploads) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert os.listdir(uploads) == []
    assert req(reg.url, "GET", loc).error_codes() == ["BLOB_UPLOAD_UNKNOWN"]


def test_sigterm_and_sigint_shut_down_cleanly(start_registry):
    for sig in (signal.SIGTERM, signal.SIGINT):
        reg = start_registry("pyregistry")
        reg.proc.send_signal(sig)
        assert reg.proc.wait(timeout=15) == 0


def test_cli_config_error_is_clear(tmp_path):
    bad = tmp_path / "config.yml"
    bad.write_text("http:\n  addr: nonsense\n")
    run = subprocess.run([sys.executable, "-m", "pyregistry", "serve", str(bad)], check=False, capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "http.addr" in run.stderr


def test_worker_processes_share_uploads_and_stop_together(start_registry):
    reg = start_registry("pyregistry", config={"pyregistry": {"workers": 2}})
    data = os.urandom(300_000)
    loc = req(reg.url, "POST", "/v2/pyreg/workers/blobs/uploads/").headers["Location"]
    for i in range(0, len(data), 50_000):  # one connection per chunk: chunks land on either worker
        assert req(reg.url, "PATCH", loc, body=data[i:i + 50_000], headers={"Content-Range": f"{i}-{i + 49_999}"}).status == 202
    assert req(reg.url, "PUT", f"{loc}?digest={digest_of(data)}").status == 201
    assert req(reg.url, "GET", f"/v2/pyreg/workers/blobs/{digest_of(data)}").body == data
    children = pathlib.Path(f"/proc/{reg.proc.pid}/task/{reg.proc.pid}/children").read_text().split()
    assert len(children) == 2
    reg.proc.send_signal(signal.SIGTERM)
    assert reg.proc.wait(timeout=20) == 0
    assert not any(os.path.exists(f"/proc/{pid}") and "zombie" not in pathlib.Path(f"/proc/{pid}/status").read_text().lower() for pid in children)
