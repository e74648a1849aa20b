"""image_save: engine and registry tarballs, loaded back by the real `docker load` and read by real skopeo."""
import io
import json
import os
import subprocess
import tarfile
import uuid

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.archive_writer import host_platform
from ansible_collections.airgap.registry.plugins.module_utils.media_types import DOCKER_MANIFEST_LIST
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient
from tests.helpers.ansible import failed, run_module
from tests.helpers.engine import docker_push

pytestmark = [pytest.mark.docker, pytest.mark.distribution]

MODULE = "airgap.registry.image_save"


@pytest.fixture
def unique_image(docker_client, sample_images):
    """A fresh image (abox:1.0.1 plus a random layer) named info-uniq-<hex>:1; removed at teardown."""
    name = f"info-uniq-{uuid.uuid4().hex[:10]}:1"
    dockerfile = f"FROM abox:1.0.1\nLABEL info.test={name}\nCOPY rand /rand\n"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for member, data in (("Dockerfile", dockerfile.encode()), ("rand", os.urandom(200000))):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    image, _logs = docker_client.images.build(fileobj=context, custom_context=True, tag=name, rm=True)
    yield name, image.id
    subprocess.run(["docker", "rmi", "-f", name], check=False, capture_output=True)


def image_id(name):
    out = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", name], check=False, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def docker_load(path):
    out = subprocess.run(["docker", "load", "-i", str(path)], check=True, capture_output=True, text=True)
    return out.stdout


def test_engine_save_then_docker_load_gives_the_same_image(unique_image, tmp_path):
    name, source_id = unique_image
    dest = tmp_path / "bundle"
    check, _ = run_module(MODULE, {"images": [name], "dest": str(dest)}, check=True, diff=True)
    assert check["changed"] is True and not dest.exists()
    result, _ = run_module(MODULE, {"images": [name], "dest": str(dest)}, diff=True)
    assert not failed(result), result
    path = dest / (name.replace(":", "_") + ".tar")
    assert result["files"] == [{"image": name, "path": str(path), "changed": True, "digest": source_id, "format": "docker-archive"}]
    assert result["diff"] == {"before": {str(path): None}, "after": {str(path): source_id}}
    assert os.listdir(dest) == [path.name], "no temp file left"
    subprocess.run(["docker", "rmi", name], check=True, capture_output=True)
    assert image_id(name) is None
    assert f"Loaded image: {name}" in docker_load(path)
    assert image_id(name) == source_id
    again, _ = run_module(MODULE, {"images": [name], "dest": str(dest)})
    assert again["changed"] is False and again["files"][0]["changed"] is False


def test_engine_save_names_tarballs_as_the_seed(sample_images, tmp_path):
    result, _ = run_module(MODULE, {"images": ["registry:2.8.3", "tools/busyish:2.0"], "dest": str(tmp_path)})
    assert not failed(result), result
    assert sorted(os.listdir(tmp_path)) == ["registry_2.8.3.tar", "tools_busyish_2.0.tar"]
    assert [f["digest"] for f in result["files"]] == [image_id("registry:2.8.3"), image_id("tools/busyish:2.0")]
    listing = subprocess.run(["tar", "-xOf", str(tmp_path / "tools_busyish_2.0.tar"), "manifest.json"], check=True, capture_output=True, text=True)
    assert json.loads(listing.stdout)[0]["RepoTags"] == ["tools/busyish:2.0"]


def test_engine_save_of_an_unknown_image_fails_and_leaves_nothing(sample_images, tmp_path):
    result, _ = run_module(MODULE, {"images": ["abox:1.0.1", "info-absent/nothing:0"], "dest": str(tmp_path)})
    assert failed(result)
    assert result["msg"] == "image info-absent/nothing:0: image info-absent/nothing:0 is not in the Docker engine"
    assert os.listdir(tmp_path) == ["abox_1.0.1.tar"], "the images before the bad one are complete, nothing partial"


@pytest.fixture(params=["distribution", "pyregistry"])
def pushed_unique(request, unique_image, start_registry):
    """unique_image pushed to a fresh registry (Distribution, then the bundled one), then removed from the engine."""
    name, source_id = unique_image
    reg = start_registry(request.param)
    repo = name.split(":")[0]
    docker_push(name, f"{reg.host}/{repo}:1")
    subprocess.run(["docker", "rmi", name], check=True, capture_output=True)
    return reg, repo, source_id


def test_registry_docker_archive_loads_as_the_same_image(pushed_unique, tmp_path):
    dest = tmp_path / "bundle"
    reg, repo, source_id = pushed_unique
    args = {"source": "registry", "registry": reg.host, "images": [f"{repo}:1"], "dest": str(dest)}
    result, _ = run_module(MODULE, args)
    assert not failed(result), result
    (entry,) = result["files"]
    assert entry["changed"] is True and entry["digest"] == source_id
    assert image_id(f"{repo}:1") is None
    assert f"Loaded image: {repo}:1" in docker_load(entry["path"])
    assert image_id(f"{repo}:1") == source_id
    again, _ = run_module(MODULE, args)
    assert again["changed"] is False
    forced, _ = run_module(MODULE, {**args, "force": True})
    assert forced["changed"] is True
    subprocess.run(["docker", "rmi", f"{repo}:1"], check=True, capture_output=True)
    preserved_dest = tmp_path / "preserved"
    preserved, _ = run_module(MODULE, {**args, "dest": str(preserved_dest), "layers": "preserve"})
    assert not failed(preserved), preserved
    with tarfile.open(preserved["files"][0]["path"]) as tar:
        layer_paths = json.load(tar.extractfile("manifest.json"))[0]["Layers"]
        assert all(tar.extractfile(path).read(2) == b"\x1f\x8b" for path in layer_paths), "layers kept gzip-compressed"
    assert os.path.getsize(preserved["files"][0]["path"]) < os.path.getsize(entry["path"])
    assert f"Loaded image: {repo}:1" in docker_load(preserved["files"][0]["path"])
    assert image_id(f"{repo}:1") == source_id


def test_registry_oci_archive_is_read_by_skopeo_with_the_same_config(pushed_unique, tmp_path):
    dest = tmp_path / "bundle"
    reg, repo, source_id = pushed_unique
    image = f"{reg.host}/{repo}:1"
    args = {"source": "registry", "format": "oci-archive", "images": [image], "dest": str(dest)}
    check, _ = run_module(MODULE, args, check=True)
    assert check["changed"] is True and not dest.exists()
    result, _ = run_module(MODULE, args)
    assert not failed(result), result
    path = result["files"][0]["path"]
    assert os.path.basename(path) == image.replace("/", "_").replace(":", "_") + ".tar"
    raw = json.loads(subprocess.run(["skopeo", "inspect", "--raw", f"oci-archive:{path}"], check=True, capture_output=True, text=True).stdout)
    assert raw["config"]["digest"] == source_id
    config = json.loads(subprocess.run(["skopeo", "inspect", "--config", f"oci-archive:{path}"], check=True, capture_output=True, text=True).stdout)
    assert config["config"]["Labels"]["info.test"] == f"{repo}:1"
    copy_dir = tmp_path / "copied"
    subprocess.run(["skopeo", "copy", f"oci-archive:{path}", f"dir:{copy_dir}"], check=True, capture_output=True)
    assert (copy_dir / source_id.split(":")[1]).exists()
    again, _ = run_module(MODULE, args)
    assert again["changed"] is False


def test_registry_source_errors(pushed_unique, tmp_path):
    dest = tmp_path / "bundle"
    reg, repo, _ = pushed_unique
    base = {"source": "registry", "dest": str(dest)}
    unknown, _ = run_module(MODULE, {**base, "registry": reg.host, "images": [f"{repo}:404"]})
    assert failed(unknown) and "MANIFEST_UNKNOWN" in unknown["msg"] and unknown["msg"].startswith(f"image {repo}:404: ")
    nameless, _ = run_module(MODULE, {**base, "images": [f"{repo}:1"]})
    assert failed(nameless) and "names no registry" in nameless["msg"]
    engine_oci, _ = run_module(MODULE, {"images": ["abox:1.0.1"], "dest": str(dest), "format": "oci-archive"})
    assert failed(engine_oci) and "needs source=registry" in engine_oci["msg"]
    assert not dest.exists() or os.listdir(dest) == []


def test_registry_manifest_list_needs_a_platform_for_docker_archive(pushed_unique, tmp_path):
    reg, repo, source_id = pushed_unique
    client = RegistryClient(reg.host, scheme="http")
    head = client.head_manifest(repo, "1")
    other = "s390x" if host_platform() != "linux/s390x" else "riscv64"
    os_name, arch = host_platform().split("/")
    listing = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST_LIST, "manifests": [
        {"mediaType": head["media_type"], "digest": head["digest"], "size": head["size"], "platform": {"os": "linux", "architecture": other}},
        {"mediaType": head["media_type"], "digest": head["digest"], "size": head["size"], "platform": {"os": os_name, "architecture": arch}},
    ]}
    client.put_manifest(repo, "multi", json.dumps(listing).encode(), DOCKER_MANIFEST_LIST)
    dest = tmp_path / "bundle"
    args = {"source": "registry", "registry": reg.host, "images": [f"{repo}:multi"], "dest": str(dest)}
    unnamed, _ = run_module(MODULE, args)  # docker-archive holds one platform: it must be named
    assert failed(unnamed) and f"image {repo}:multi is a multi-platform image" in unnamed["msg"] and "set platform" in unnamed["msg"]
    args["platform"] = host_platform()
    result, _ = run_module(MODULE, args)
    assert not failed(result), result
    assert result["files"][0]["digest"] == source_id
    assert f"Loaded image: {repo}:multi" in docker_load(result["files"][0]["path"])
    assert image_id(f"{repo}:multi") == source_id
    subprocess.run(["docker", "rmi", f"{repo}:multi"], check=False, capture_output=True)
    wrong, _ = run_module(MODULE, {**args, "platform": "windows/arm64", "force": True})
    assert failed(wrong)
    assert f"no image for platform windows/arm64 (available: linux/{arch}, linux/{other})" in wrong["msg"]


def test_saved_tarballs_seed_into_another_registry(pushed_unique, start_registry, tmp_path):
    """The bundle -> seed path: every tarball image_save writes is read by image_seed and lands with the same config."""
    reg, repo, source_id = pushed_unique
    dest = tmp_path / "bundle"
    for fmt, layers, suffix in (("docker-archive", "uncompressed", "plain"), ("docker-archive", "preserve", "gz"), ("oci-archive", "uncompressed", "oci")):
        out = dest / suffix
        saved, _ = run_module(MODULE, {"source": "registry", "registry": reg.host, "images": [f"{repo}:1"], "dest": str(out),
                                       "format": fmt, "layers": layers})
        assert not failed(saved), saved
    target = start_registry("pyregistry")
    for suffix in ("plain", "gz", "oci"):
        seeded, _ = run_module("airgap.registry.image_seed", {"src": [str(dest / suffix)], "registry": target.host, "scheme": "http",
                                                              "rename": {f"{repo}:1": f"{target.host}/{repo}-{suffix}:1"}})
        assert not failed(seeded), seeded
    client = RegistryClient(target.host, scheme="http")
    for suffix in ("plain", "gz", "oci"):
        body, _media_type, _digest = client.get_manifest(f"{repo}-{suffix}", "1")
        assert json.loads(body)["config"]["digest"] == source_id, suffix
    info, _ = run_module("airgap.registry.registry_info", {"registry": target.host, "scheme": "http",
                                                           "expect": [f"{repo}-{suffix}:1" for suffix in ("plain", "gz", "oci")]})
    assert not failed(info), info
