"""Concurrent writers of one name against a real pyregistry (1 and 2 worker processes): no 5xx, and the tag list
always agrees with GET. Every loop is bounded, so each test ends in seconds."""
import json
import threading

import pytest

from tests.helpers.pyregistry import OCI_MANIFEST, digest_of, image_manifest, push_blob, put_manifest, req

ROUNDS = 60


def hammer(workers, rounds=ROUNDS):
    """Run each worker(i) `rounds` times on its own thread; returns the list of unexpected outcomes."""
    problems = []

    def loop(work):
        for i in range(rounds):
            try:
                work(i)
            except Exception as exc:  # noqa: BLE001 - collected and asserted on by the test
                problems.append(repr(exc))

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return problems


def expect(resp, allowed, what):
    assert resp.status in allowed, f"{what}: {resp.status} {resp.body[:300]!r}"


def list_agrees_with_get(url, name):
    listed = req(url, "GET", f"/v2/{name}/tags/list")
    expect(listed, (200, 404), "tags/list")
    tags = listed.json().get("tags") or [] if listed.status == 200 else []
    for tag in tags:
        got = req(url, "HEAD", f"/v2/{name}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
        assert got.status == 200, f"tag {tag} listed but HEAD answers {got.status}"
    return tags


@pytest.mark.parametrize("workers", [1, 2])
def test_put_delete_get_one_tag(start_registry, workers):
    reg = start_registry("pyregistry", config={"pyregistry": {"workers": workers}})
    url, name = reg.url, "race/tag"
    docs = [image_manifest(url, name, [f"layer {i}".encode()])[0] for i in range(2)]

    def putter(i):
        expect(put_manifest(url, name, "t", docs[i % 2], OCI_MANIFEST), (201,), "PUT tag")

    def deleter(i):
        expect(req(url, "DELETE", f"/v2/{name}/manifests/t"), (202, 404), "DELETE tag")

    def getter(i):
        expect(req(url, "GET", f"/v2/{name}/manifests/t", headers={"Accept": OCI_MANIFEST}), (200, 404), "GET tag")
        expect(req(url, "GET", f"/v2/{name}/tags/list"), (200, 404), "tags/list")

    problems = hammer([putter, putter, deleter, deleter, getter])
    assert not problems, problems[:5]
    for _ in range(3):  # quiet now: what is listed is what GET serves, and back again
        tags = list_agrees_with_get(url, name)
        got = req(url, "GET", f"/v2/{name}/manifests/t", headers={"Accept": OCI_MANIFEST})
        assert (got.status == 200) == ("t" in tags)
        expect(req(url, "DELETE", f"/v2/{name}/manifests/t"), (202, 404), "DELETE tag")
        assert list_agrees_with_get(url, name) == []
        expect(put_manifest(url, name, "t", docs[0], OCI_MANIFEST), (201,), "PUT tag")
        assert list_agrees_with_get(url, name) == ["t"]


@pytest.mark.parametrize("workers", [1, 2])
def test_put_delete_manifest_by_digest_and_blob_links(start_registry, workers):
    reg = start_registry("pyregistry", config={"pyregistry": {"workers": workers}})
    url, name = reg.url, "race/digest"
    doc, _ = image_manifest(url, name, [b"the layer"])
    digest = digest_of(doc)
    layer = json.loads(doc)["layers"][0]["digest"]
    other = "race/other"
    push_blob(url, other, b"mounted blob")
    mounted = digest_of(b"mounted blob")

    def manifest_writer(i):
        ref = digest if i % 2 else f"v{i % 3}"
        expect(put_manifest(url, name, ref, doc, OCI_MANIFEST), (201, 400), "PUT manifest")  # 400: its layer unlinked meanwhile

    def manifest_deleter(i):
        expect(req(url, "DELETE", f"/v2/{name}/manifests/{digest}"), (202, 404), "DELETE manifest")

    def link_churn(i):
        expect(req(url, "POST", f"/v2/{name}/blobs/uploads/?mount={mounted}&from={other}"), (201, 202), "mount")
        expect(req(url, "DELETE", f"/v2/{name}/blobs/{mounted}"), (202, 404), "DELETE blob link")
        if i % 10 == 0:
            expect(req(url, "DELETE", f"/v2/{name}/blobs/{layer}"), (202, 404), "DELETE layer link")
            push_blob(url, name, b"the layer")

    def reader(i):
        expect(req(url, "HEAD", f"/v2/{name}/blobs/{mounted}"), (200, 404), "HEAD blob")
        list_tags = req(url, "GET", f"/v2/{name}/tags/list")
        expect(list_tags, (200, 404), "tags/list")

    problems = hammer([manifest_writer, manifest_writer, manifest_deleter, link_churn, reader], rounds=40)
    assert not problems, problems[:5]
    list_agrees_with_get(url, name)


@pytest.mark.parametrize("workers", [1, 2])
def test_concurrent_commits_same_upload_and_same_digest(start_registry, workers):
    reg = start_registry("pyregistry", config={"pyregistry": {"workers": workers}})
    url = reg.url
    data = b"same bytes from everyone " * 4000
    digest = digest_of(data)

    def same_digest(i):  # many uploads of the same blob, into one repository and into others
        push_blob(url, f"race/blob{i % 3}", data)

    shared = {}
    lock = threading.Lock()

    def same_upload(i):  # PATCH and PUT racing on one upload session: only 2xx, 404 or 416
        with lock:
            if i not in shared:
                start = req(url, "POST", "/v2/race/upload/blobs/uploads/")
                expect(start, (202,), "POST")
                shared[i] = start.headers["Location"]
        location = shared[i]
        sep = "&" if "?" in location else "?"
        put = req(url, "PUT", f"{location}{sep}digest={digest}", body=data, headers={"Content-Type": "application/octet-stream"})
        expect(put, (201, 400, 404, 416), "PUT same upload")

    def canceller(i):  # DELETE of the upload racing its commit: never pulled from under it (no 500)
        with lock:
            location = shared.get(i)
        if location:
            expect(req(url, "DELETE", location), (204, 404, 416), "DELETE upload")

    problems = hammer([same_digest, same_digest, same_digest, same_upload, same_upload, canceller], rounds=25)
    assert not problems, problems[:5]
    for repo in ("race/blob0", "race/blob1", "race/blob2"):
        got = req(url, "GET", f"/v2/{repo}/blobs/{digest}")
        assert got.status == 200 and got.body == data
