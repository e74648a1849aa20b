"""`pyregistry garbage-collect`: never deletes what a manifest, an index child or a referrer needs; safe during pushes."""
import json
import os
import subprocess
import sys
import threading

from tests.helpers.pyregistry import ALL_TYPES, OCI_INDEX, OCI_MANIFEST, digest_of, image_manifest, push_blob, push_image, put_manifest, req
from tests.helpers.registries import REPO_ROOT


def gc(reg, *args):
    env = {**os.environ, "PYTHONPATH": REPO_ROOT}
    run = subprocess.run([sys.executable, "-m", "pyregistry", "garbage-collect", *args, reg.config_path],
                         capture_output=True, text=True, env=env, check=False, timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stdout


def blob_exists(reg, digest):
    return os.path.exists(os.path.join(reg.root, "docker/registry/v2/blobs/sha256", digest[7:9], digest[7:], "data"))


def pullable(url, name, ref):
    """Every blob of the manifest (and of an index's children) is served."""
    got = req(url, "GET", f"/v2/{name}/manifests/{ref}", headers={"Accept": ALL_TYPES})
    if got.status != 200:
        return False
    doc = json.loads(got.body)
    if "manifests" in doc:
        return all(pullable(url, name, child["digest"]) for child in doc["manifests"])
    return all(req(url, "HEAD", f"/v2/{name}/blobs/{d['digest']}").status == 200 for d in [doc["config"], *doc["layers"]])


def populate(url):
    keep, _ = push_image(url, "pyreg/gc", "keep", layers=[b"keep-layer", b"shared-layer"])
    gone, _ = push_image(url, "pyreg/gc", "gone", layers=[b"gone-layer", b"shared-layer"])
    child, child_data = push_image(url, "pyreg/gc", "child-tag", layers=[b"child-layer"])
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": child, "size": len(child_data), "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    assert put_manifest(url, "pyreg/gc", "multi", index, OCI_INDEX).status == 201
    assert req(url, "DELETE", "/v2/pyreg/gc/manifests/child-tag").status == 202  # child now reachable only through the index
    keep_data = req(url, "GET", "/v2/pyreg/gc/manifests/keep", headers={"Accept": ALL_TYPES}).body
    sig, _ = image_manifest(url, "pyreg/gc", [b"signature-layer"], subject={"mediaType": OCI_MANIFEST, "digest": keep, "size": len(keep_data)},
                            artifact_type="application/vnd.example.sig")
    assert put_manifest(url, "pyreg/gc", digest_of(sig), sig, OCI_MANIFEST).status == 201
    untagged, _ = image_manifest(url, "pyreg/gc", [b"untagged-layer"])
    assert put_manifest(url, "pyreg/gc", digest_of(untagged), untagged, OCI_MANIFEST).status == 201
    assert req(url, "DELETE", f"/v2/pyreg/gc/manifests/{gone}").status == 202
    orphan = push_blob(url, "pyreg/gc", b"orphan blob, no manifest")
    return {"keep": keep, "child": child, "sig": digest_of(sig), "untagged": digest_of(untagged), "orphan": orphan}


def test_gc_dry_run_then_real(start_registry):
    reg = start_registry("pyregistry")
    d = populate(reg.url)
    before = sorted(os.listdir(os.path.join(reg.root, "docker/registry/v2/blobs/sha256")))
    out = gc(reg, "--dry-run", "--grace-period", "0s")
    assert f"would delete blob {digest_of(b'gone-layer')}" in out and "eligible for deletion" in out
    assert sorted(os.listdir(os.path.join(reg.root, "docker/registry/v2/blobs/sha256"))) == before
    assert blob_exists(reg, digest_of(b"gone-layer"))
    out = gc(reg, "--grace-period", "0s")
    assert not blob_exists(reg, digest_of(b"gone-layer"))
    assert not blob_exists(reg, d["orphan"])
    for kept in [b"keep-layer", b"shared-layer", b"child-layer", b"signature-layer", b"untagged-layer"]:
        assert blob_exists(reg, digest_of(kept)), kept
    for ref in ("keep", "multi", d["sig"], d["untagged"], d["child"]):
        assert pullable(reg.url, "pyreg/gc", ref), ref
    assert req(reg.url, "HEAD", f"/v2/pyreg/gc/blobs/{digest_of(b'gone-layer')}").status == 404
    assert req(reg.url, "GET", f"/v2/pyreg/gc/referrers/{d['keep']}").json()["manifests"][0]["digest"] == d["sig"]


def test_gc_delete_untagged_keeps_index_children_and_referrers(start_registry):
    reg = start_registry("pyregistry")
    d = populate(reg.url)
    out = gc(reg, "--delete-untagged", "--grace-period", "0s")
    assert f"deleted manifest pyreg/gc@{d['untagged']}" in out
    assert not blob_exists(reg, digest_of(b"untagged-layer"))
    assert req(reg.url, "GET", f"/v2/pyreg/gc/manifests/{d['untagged']}").status == 404
    for ref in ("keep", "multi", d["sig"], d["child"]):
        assert pullable(reg.url, "pyreg/gc", ref), ref
    assert blob_exists(reg, digest_of(b"signature-layer")) and blob_exists(reg, digest_of(b"child-layer"))


def test_gc_grace_period_protects_fresh_blobs(start_registry):
    reg = start_registry("pyregistry")
    orphan = push_blob(reg.url, "pyreg/gc", b"just uploaded, manifest not pushed yet")
    out = gc(reg)  # default grace period (1m)
    assert "0 blobs and 0 manifests deleted" in out
    assert blob_exists(reg, orphan)


def test_gc_while_pushes_happen(start_registry):
    reg = start_registry("pyregistry")
    old = push_blob(reg.url, "pyreg/old", b"an old orphan")
    two_hours_ago = os.path.getmtime(reg.config_path) - 7200
    for path in (os.path.join(reg.root, "docker/registry/v2/blobs/sha256", old[7:9], old[7:], "data"),
                 os.path.join(reg.root, "docker/registry/v2/repositories/pyreg/old/_layers/sha256", old[7:], "link")):
        os.utime(path, (two_hours_ago, two_hours_ago))
    pushed, errors, stop = [], [], threading.Event()

    def pusher(worker):
        i = 0
        while not stop.is_set() and i < 200:
            try:
                pushed.append(push_image(reg.url, f"pyreg/busy{worker}", f"t{i}", layers=[os.urandom(2048), b"common-layer"])[0])
            except AssertionError as exc:
                errors.append(exc)
            i += 1

    threads = [threading.Thread(target=pusher, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            gc(reg, "--delete-untagged")
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    assert not errors
    assert pushed
    assert not blob_exists(reg, old)  # the collector did sweep, while the pushes all survived
    for digest in pushed:
        repo = next(r for r in req(reg.url, "GET", "/v2/_catalog?n=100").json()["repositories"]
                    if req(reg.url, "HEAD", f"/v2/{r}/manifests/{digest}").status == 200)
        assert pullable(reg.url, repo, digest)
