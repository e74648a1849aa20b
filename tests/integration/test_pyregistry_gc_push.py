"""Garbage-collect during a push never breaks the push: layers uploaded long before the manifest (more than the grace
period) stay while the push goes on, and the manifest PUT succeeds."""
import json
import os
import threading
import time

from tests.helpers.pyregistry import OCI_INDEX, OCI_MANIFEST, digest_of, push_blob, put_manifest, req
from tests.integration.test_pyregistry_gc import blob_exists, gc, pullable

V2 = "docker/registry/v2"


def age(reg, name, *digests, seconds=7200):
    """Make blobs and their links in `name` look written `seconds` ago (past any grace period)."""
    stamp = time.time() - seconds
    for digest in digests:
        hexpart = digest[7:]
        for path in (f"{V2}/blobs/sha256/{hexpart[:2]}/{hexpart}/data", f"{V2}/repositories/{name}/_layers/sha256/{hexpart}/link",
                     f"{V2}/repositories/{name}/_manifests/revisions/sha256/{hexpart}/link"):
            full = os.path.join(reg.root, path)
            if os.path.exists(full):
                os.utime(full, (stamp, stamp))


def manifest(config, layers):
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config), "size": len(config)},
                       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest_of(data), "size": len(data)}
                                  for data in layers]}).encode()


def test_layers_older_than_grace_survive_while_the_push_goes_on(start_registry):
    reg = start_registry("pyregistry")
    name, config, first, last = "gcpush/slow", b'{"os": "linux"}', b"first layer, done two hours ago", b"last layer, still uploading"
    push_blob(reg.url, name, config)
    push_blob(reg.url, name, first)
    age(reg, name, digest_of(config), digest_of(first))
    start = req(reg.url, "POST", f"/v2/{name}/blobs/uploads/")  # the last layer is on its way
    location = start.headers["Location"]
    patch = req(reg.url, "PATCH", location, body=last[:10], headers={"Content-Type": "application/octet-stream"})
    assert patch.status == 202
    out = gc(reg, "--delete-untagged")  # default grace period: 1m
    assert blob_exists(reg, digest_of(first)) and blob_exists(reg, digest_of(config)), out
    location = patch.headers["Location"]
    sep = "&" if "?" in location else "?"
    done = req(reg.url, "PUT", f"{location}{sep}digest={digest_of(last)}", body=last[10:])
    assert done.status == 201, done.body
    gc(reg, "--delete-untagged")  # between the last layer and the manifest
    resp = put_manifest(reg.url, name, "v1", manifest(config, [first, last]), OCI_MANIFEST)
    assert resp.status == 201, resp.body
    assert pullable(reg.url, name, "v1")


def test_index_children_pushed_long_before_the_index_survive(start_registry):
    reg = start_registry("pyregistry")
    name, config = "gcpush/multi", b'{"os": "linux", "architecture": "amd64"}'
    push_blob(reg.url, name, config)
    push_blob(reg.url, name, b"amd64 layer")
    child = manifest(config, [b"amd64 layer"])
    assert put_manifest(reg.url, name, digest_of(child), child, OCI_MANIFEST).status == 201
    age(reg, name, digest_of(config), digest_of(b"amd64 layer"), digest_of(child))
    push_blob(reg.url, name, b"arm64 layer")  # the push goes on with the next platform
    gc(reg, "--delete-untagged")
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest_of(child), "size": len(child), "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    resp = put_manifest(reg.url, name, "multi", index, OCI_INDEX)
    assert resp.status == 201, resp.body
    assert pullable(reg.url, name, "multi")


def test_idle_repository_is_still_swept_and_gc_races_no_manifest_put(start_registry):
    reg = start_registry("pyregistry")
    abandoned = push_blob(reg.url, "gcpush/abandoned", b"pushed, then nothing for two hours")
    age(reg, "gcpush/abandoned", abandoned)
    errors = []

    def pusher(worker):
        for i in range(15):
            config, layer = json.dumps({"w": worker, "i": i}).encode(), os.urandom(512)
            push_blob(reg.url, f"gcpush/busy{worker}", config)
            push_blob(reg.url, f"gcpush/busy{worker}", layer)
            age(reg, f"gcpush/busy{worker}", digest_of(config), digest_of(layer), seconds=30)  # inside the grace period
            resp = put_manifest(reg.url, f"gcpush/busy{worker}", f"t{i}", manifest(config, [layer]), OCI_MANIFEST)
            if resp.status != 201:
                errors.append(resp.body)

    threads = [threading.Thread(target=pusher, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for _ in range(3):
        gc(reg, "--delete-untagged", "--grace-period", "1m")
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert not blob_exists(reg, abandoned)
    for worker in range(3):
        for i in range(15):
            assert pullable(reg.url, f"gcpush/busy{worker}", f"t{i}")
