"""Drop-in proof: pyregistry and Distribution (Debian's docker-registry) share one storage directory, both ways."""
import hashlib
import json
import os
import subprocess
import sys

import pytest

from tests.helpers.pyregistry import (
    ALL_TYPES,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    digest_of,
    image_manifest,
    push_image,
    put_manifest,
    req,
)
from tests.helpers.registries import REPO_ROOT

pytestmark = [pytest.mark.docker, pytest.mark.distribution]


def skopeo(*args):
    return subprocess.run(["skopeo", *args], check=True, capture_output=True, text=True, timeout=300)


def snapshot(url, repos):
    """Catalog, tags, manifests (bytes) and every blob (bytes) reachable through the API."""
    state = {"catalog": req(url, "GET", "/v2/_catalog").json()["repositories"], "tags": {}, "manifests": {}, "blobs": {}}
    for repo in repos:
        tags = req(url, "GET", f"/v2/{repo}/tags/list").json()["tags"]
        state["tags"][repo] = sorted(tags)  # Distribution 2.8 lists tags in directory order, pyregistry sorts them
        for tag in tags:
            got = req(url, "GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": ALL_TYPES})
            assert got.status == 200, got.body
            state["manifests"][(repo, tag)] = (got.headers["Content-Type"], got.headers["Docker-Content-Digest"], got.body)
            doc = json.loads(got.body)
            descs = ([doc["config"]] + doc["layers"]) if "config" in doc else []
            for child in doc.get("manifests", []):
                child_resp = req(url, "GET", f"/v2/{repo}/manifests/{child['digest']}", headers={"Accept": ALL_TYPES})
                state["manifests"][(repo, child["digest"])] = (child_resp.headers["Content-Type"], child["digest"], child_resp.body)
                child_doc = json.loads(child_resp.body)
                descs += [child_doc["config"]] + child_doc["layers"]
            for desc in descs:
                blob = req(url, "GET", f"/v2/{repo}/blobs/{desc['digest']}")
                assert blob.status == 200, (repo, desc)
                assert "sha256:" + hashlib.sha256(blob.body).hexdigest() == desc["digest"]
                state["blobs"][(repo, desc["digest"])] = blob.body
    return state


def fill(reg, sample_tarballs):
    """Push with real clients: skopeo from docker-archive (+ an OCI layout re-push), plus an index and a referrer via the API."""
    for tarball, ref in [("abox_1.0.1.tar", "pyreg/abox:1.0.1"), ("nginx_1.25.tar", "pyreg/library/nginx:1.25"),
                         ("tools_busyish_2.0.tar", "pyreg/tools/busyish:2.0")]:
        skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{sample_tarballs / tarball}", f"docker://{reg.host}/{ref}")
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--format", "oci",
           f"docker://{reg.host}/pyreg/abox:1.0.1", f"docker://{reg.host}/pyreg/abox:oci")
    child, data = push_image(reg.url, "pyreg/multi", "amd64", layers=[b"multi-layer"], media_type=OCI_MANIFEST)
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": child, "size": len(data), "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    assert put_manifest(reg.url, "pyreg/multi", "latest", index, OCI_INDEX).status == 201
    push_image(reg.url, "pyreg/multi", "docker", layers=[b"docker-layer"], media_type=DOCKER_MANIFEST)
    return ["pyreg/abox", "pyreg/library/nginx", "pyreg/multi", "pyreg/tools/busyish"]


@pytest.mark.parametrize("writer,reader", [("distribution", "pyregistry"), ("pyregistry", "distribution")])
def test_same_storage_both_ways(start_registry, sample_tarballs, tmp_path, writer, reader):
    shared = str(tmp_path / "shared-storage")
    os.makedirs(shared)
    config = {"storage": {"filesystem": {"rootdirectory": shared}, "delete": {"enabled": True}}}
    first = start_registry(writer, config=config)
    repos = fill(first, sample_tarballs)
    written = snapshot(first.url, repos)
    first.stop()
    second = start_registry(reader, config=config)
    read = snapshot(second.url, repos)
    assert read["catalog"] == written["catalog"] == repos
    assert read["tags"] == written["tags"]
    assert read["manifests"] == written["manifests"]
    assert read["blobs"] == written["blobs"]
    out = tmp_path / "pulled"
    skopeo("copy", "--src-tls-verify=false", f"docker://{second.host}/pyreg/library/nginx:1.25", f"dir:{out}")
    manifest = (out / "manifest.json").read_bytes()
    assert manifest == written["manifests"][("pyreg/library/nginx", "1.25")][2]
    for desc in [json.loads(manifest)["config"], *json.loads(manifest)["layers"]]:
        assert hashlib.sha256((out / desc["digest"].split(":")[1]).read_bytes()).hexdigest() == desc["digest"].split(":")[1]
    # the reader keeps writing into the shared tree: a new tag written by it is seen by the first kind again
    push_image(second.url, "pyreg/abox", "from-reader", layers=[b"reader-layer"])
    second.stop()
    again = start_registry(writer, config=config)
    assert "from-reader" in req(again.url, "GET", "/v2/pyreg/abox/tags/list").json()["tags"]


def test_docker_push_to_distribution_pull_from_pyregistry(start_registry, sample_images, docker_client, tmp_path):
    shared = str(tmp_path / "shared")
    os.makedirs(shared)
    config = {"storage": {"filesystem": {"rootdirectory": shared}}}
    dist = start_registry("distribution", config=config)
    pushed = f"{dist.host}/pyreg-dropin/nginx:1.25"
    subprocess.run(["docker", "tag", "nginx:1.25", pushed], check=True)
    try:
        subprocess.run(["docker", "push", pushed], check=True, capture_output=True, timeout=300)
        dist.stop()
        py = start_registry("pyregistry", config=config)
        pulled = f"{py.host}/pyreg-dropin/nginx:1.25"
        subprocess.run(["docker", "pull", pulled], check=True, capture_output=True, timeout=300)
        assert docker_client.images.get(pulled).id == docker_client.images.get("nginx:1.25").id
    finally:
        subprocess.run(["docker", "rmi", "-f", pushed, f"127.0.0.1:{dist.port}/pyreg-dropin/nginx:1.25"], capture_output=True, check=False)
        for image in docker_client.images.list(name="*/pyreg-dropin/nginx"):
            for tag in image.tags:
                subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def test_garbage_collect_across_implementations(start_registry, sample_tarballs, tmp_path):
    """Distribution's garbage-collect on a tree pyregistry wrote, and pyregistry's on one Distribution wrote, keep every image."""
    for writer, collector in [("pyregistry", ["docker-registry", "garbage-collect"]),
                              ("distribution", [sys.executable, "-m", "pyregistry", "garbage-collect", "--grace-period", "0s"])]:
        shared = str(tmp_path / f"gc-{writer}")
        os.makedirs(shared)
        config = {"storage": {"filesystem": {"rootdirectory": shared}, "delete": {"enabled": True}}}
        reg = start_registry(writer, config=config)
        repos = fill(reg, sample_tarballs)
        doomed, _ = image_manifest(reg.url, "pyreg/abox", [b"doomed-layer"])
        assert put_manifest(reg.url, "pyreg/abox", "doomed", doomed, OCI_MANIFEST).status == 201
        assert req(reg.url, "DELETE", f"/v2/pyreg/abox/manifests/{digest_of(doomed)}").status == 202
        before = snapshot(reg.url, repos)
        reg.stop()
        env = {**os.environ, "PYTHONPATH": REPO_ROOT}
        subprocess.run([*collector, reg.config_path], check=True, capture_output=True, env=env, timeout=300)
        assert not os.path.exists(os.path.join(shared, "docker/registry/v2/blobs/sha256", digest_of(b"doomed-layer")[7:9], digest_of(b"doomed-layer")[7:]))
        reg.start()
        assert snapshot(reg.url, repos) == before
        reg.stop()


def test_error_answers_match_distribution(start_registry):
    """The same bad requests get the same status and error code from both (where Distribution follows the spec)."""
    missing = digest_of(b"missing")
    bad_config = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                             "config": {"mediaType": "x", "digest": missing, "size": 1}, "layers": []}).encode()
    cases = [
        ("GET", "/v2/nope/manifests/latest", None, {}),
        ("GET", f"/v2/nope/manifests/{missing}", None, {}),
        ("GET", f"/v2/nope/blobs/{missing}", None, {}),
        ("HEAD", f"/v2/nope/blobs/{missing}", None, {}),
        ("GET", "/v2/nope/blobs/sha256:abc", None, {}),
        ("GET", "/v2/nope/tags/list", None, {}),
        ("PUT", "/v2/nope/manifests/t", bad_config, {"Content-Type": DOCKER_MANIFEST}),
        ("DELETE", f"/v2/nope/manifests/{missing}", None, {}),
        ("DELETE", f"/v2/nope/blobs/{missing}", None, {}),
        ("GET", "/v2/_catalog?n=abc", None, {}),
    ]
    answers = {}
    for kind in ("distribution", "pyregistry"):
        reg = start_registry(kind)
        answers[kind] = []
        for method, path, body, headers in cases:
            resp = req(reg.url, method, path, body=body, headers=headers)
            codes = resp.error_codes() if resp.body.startswith(b'{"errors"') else None
            answers[kind].append((method, path, resp.status, codes, resp.headers["Docker-Distribution-API-Version"]))
        reg.stop()
    assert answers["pyregistry"] == answers["distribution"]
