"""Integrity under faults: kill -9 mid-upload, a full disk, 16 concurrent pushers, hostile names."""
import hashlib
import http.client
import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers.pyregistry import OCI_MANIFEST, digest_of, push_blob, put_manifest, req


def blob_files(root):
    base = os.path.join(root, "docker/registry/v2/blobs")
    return sorted(os.path.join(d, f) for d, _, files in os.walk(base) for f in files)


def streaming_put(host, path, total, chunk, started):
    """PUT `total` pseudo-random bytes in `chunk`s without waiting for the answer; sets `started` after ~1/4."""
    conn = http.client.HTTPConnection(host, timeout=60)
    try:
        conn.putrequest("PUT", path)
        conn.putheader("Content-Length", str(total))
        conn.putheader("Content-Type", "application/octet-stream")
        conn.endheaders()
        sent = 0
        while sent < total:
            conn.send(chunk)
            sent += len(chunk)
            if sent >= total // 4:
                started.set()
                time.sleep(0.01)
        conn.getresponse().read()
    except OSError:
        pass
    finally:
        started.set()
        conn.close()


def test_kill_9_during_large_upload_then_retry(start_registry):
    reg = start_registry("pyregistry")
    kept = push_blob(reg.url, "pyreg/kill", b"committed before the crash")
    chunk = os.urandom(1024 * 1024)
    total = 200 * len(chunk)
    digest = "sha256:" + hashlib.sha256(chunk * 200).hexdigest()
    loc = req(reg.url, "POST", "/v2/pyreg/kill/blobs/uploads/").headers["Location"]
    path = loc.split(reg.host, 1)[1] + f"?digest={digest}"
    started = threading.Event()
    sender = threading.Thread(target=streaming_put, args=(reg.host, path, total, chunk, started))
    sender.start()
    assert started.wait(60)
    reg.kill()
    sender.join(60)
    assert reg.proc.returncode == -9
    reg.start()
    assert req(reg.url, "HEAD", f"/v2/pyreg/kill/blobs/{digest}").status == 404
    assert blob_files(reg.root) == [os.path.join(reg.root, "docker/registry/v2/blobs/sha256", kept[7:9], kept[7:], "data")]
    assert req(reg.url, "GET", f"/v2/pyreg/kill/blobs/{kept}").body == b"committed before the crash"
    # the interrupted session resumes from what reached the disk (hash state rebuilt after the restart)
    status = req(reg.url, "GET", loc)
    assert status.status == 204
    have = os.path.getsize(os.path.join(reg.root, "docker/registry/v2/repositories/pyreg/kill/_uploads", status.headers["Docker-Upload-UUID"], "data"))
    assert 0 < have < total and status.headers["Range"] == f"0-{have - 1}"
    data = chunk * 200
    resumed = req(reg.url, "PATCH", loc, body=data[have:], headers={"Content-Range": f"{have}-{total - 1}"})
    assert resumed.status == 202, resumed.body
    assert req(reg.url, "PUT", f"{loc}?digest={digest}").status == 201
    # and a fresh retry of the whole blob by another client succeeds too
    retry = req(reg.url, "POST", f"/v2/pyreg/kill2/blobs/uploads/?digest={digest}", body=data)
    assert retry.status == 201
    got = req(reg.url, "GET", f"/v2/pyreg/kill2/blobs/{digest}")
    assert hashlib.sha256(got.body).hexdigest() == digest[7:]


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs mounted for the test, unmounted afterwards."""
    mountpoint = tmp_path / "tmpfs"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mountpoint)], capture_output=True, check=False)
    from tests.conftest import require

    require(mounted.returncode == 0, f"cannot mount a tmpfs: {mounted.stderr!r}")
    yield str(mountpoint)
    subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, check=False)


def test_full_disk_clear_error_nothing_visible(start_registry, small_disk):
    reg = start_registry("pyregistry", config={"storage": {"filesystem": {"rootdirectory": small_disk}, "delete": {"enabled": True}}})
    small = push_blob(reg.url, "pyreg/full", b"fits")
    big = os.urandom(12 * 1024 * 1024)
    digest = digest_of(big)
    mono = req(reg.url, "POST", f"/v2/pyreg/full/blobs/uploads/?digest={digest}", body=big)
    assert mono.status == 507 and mono.error_codes() == ["UNKNOWN"] and "space" in mono.json()["errors"][0]["message"]
    loc = req(reg.url, "POST", "/v2/pyreg/full/blobs/uploads/").headers["Location"]
    patch = req(reg.url, "PATCH", loc, body=big)
    assert patch.status == 507
    status = req(reg.url, "GET", loc)
    assert status.headers["Range"] == "0-0"  # the failed chunk was rolled back
    assert req(reg.url, "HEAD", f"/v2/pyreg/full/blobs/{digest}").status == 404
    assert [os.path.basename(os.path.dirname(p)) for p in blob_files(small_disk)] == [small[7:]]
    req(reg.url, "DELETE", loc)
    # with the space back, the same registry keeps working
    assert push_blob(reg.url, "pyreg/full", b"after the failure") == digest_of(b"after the failure")
    # a manifest write that hits the full disk leaves no tag behind
    filler = os.path.join(small_disk, "filler")
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M", "count=16"], capture_output=True, check=False)
    layer = digest_of(b"fits")
    doc = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": layer, "size": 4},
                      "layers": [], "annotations": {"pad": "p" * 200_000}}).encode()
    resp = put_manifest(reg.url, "pyreg/full", "latest", doc, OCI_MANIFEST)
    assert resp.status == 507 and resp.json()["errors"]
    assert req(reg.url, "GET", "/v2/pyreg/full/manifests/latest").status == 404
    os.unlink(filler)


def test_16_concurrent_pushers_same_image(pyregistry_server):
    url = pyregistry_server.url
    layers = [os.urandom(3 * 1024 * 1024), os.urandom(512 * 1024), b'{"os":"linux","architecture":"amd64"}']
    digests = [digest_of(layer) for layer in layers]

    def push(i):
        for data, digest in zip(layers, digests, strict=True):
            loc = req(url, "POST", "/v2/pyreg/same/blobs/uploads/").headers["Location"]
            half = len(data) // 2
            assert req(url, "PATCH", loc, body=data[:half], headers={"Content-Range": f"0-{half - 1}"}).status == 202
            loc2 = req(url, "PATCH", loc, body=data[half:]).headers["Location"]
            done = req(url, "PUT", f"{loc2}?digest={digest}")
            assert done.status == 201, done.body
        doc = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digests[2], "size": len(layers[2])},
                          "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": len(b)}
                                     for d, b in zip(digests[:2], layers[:2], strict=True)]}).encode()
        resp = put_manifest(url, "pyreg/same", "latest", doc, OCI_MANIFEST)
        assert resp.status == 201, resp.body
        return resp.headers["Docker-Content-Digest"]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(push, range(16)))
    assert len(set(results)) == 1
    stored = blob_files(pyregistry_server.root)
    assert len(stored) == 4  # 3 blobs + the manifest, each once
    for data, digest in zip(layers, digests, strict=True):
        assert req(url, "GET", f"/v2/pyreg/same/blobs/{digest}").body == data
    uploads = os.path.join(pyregistry_server.root, "docker/registry/v2/repositories/pyreg/same/_uploads")
    assert os.listdir(uploads) == []


def test_client_dropping_mid_download_leaves_server_healthy(pyregistry_server):
    url = pyregistry_server.url
    data = os.urandom(1024 * 1024) * 64
    digest = req(url, "POST", f"/v2/pyreg/drop/blobs/uploads/?digest={digest_of(data)}", body=data).headers["Docker-Content-Digest"]
    for _ in range(8):
        conn = http.client.HTTPConnection(pyregistry_server.host, timeout=30)
        conn.request("GET", f"/v2/pyreg/drop/blobs/{digest}")
        resp = conn.getresponse()
        assert resp.status == 200 and len(resp.read(1024 * 1024)) == 1024 * 1024
        conn.sock.close()
        conn.close()
    assert req(url, "GET", "/v2/").status == 200
    got = req(url, "GET", f"/v2/pyreg/drop/blobs/{digest}", headers={"Range": "bytes=1048576-3145727"})
    assert got.status == 206 and got.body == data[1048576:3145728]
    assert hashlib.sha256(req(url, "GET", f"/v2/pyreg/drop/blobs/{digest}").body).hexdigest() == digest[7:]


def test_more_concurrent_large_downloads_than_sendfile_threads(pyregistry_server):
    url = pyregistry_server.url
    data = os.urandom(3 * 1024 * 1024)
    digest = push_blob(url, "pyreg/many", data)
    with ThreadPoolExecutor(24) as pool:
        bodies = list(pool.map(lambda _: req(url, "GET", f"/v2/pyreg/many/blobs/{digest}").body, range(48)))
    assert all(body == data for body in bodies)
