"""image_seed for real: tarballs written by docker save and skopeo, pushed into Distribution (and pyregistry),
pulled back with docker and skopeo, compared with the source."""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile

import pytest
from ansible_collections.airgap.registry.plugins.module_utils.image_archive import read_archive
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient
from ansible_collections.airgap.registry.plugins.module_utils.seed import Seeder

from tests.conftest import require
from tests.helpers.seed import seed_module

pytestmark = [pytest.mark.docker, pytest.mark.distribution]

SAMPLES = ["abox:1.0.1", "nginx:1.25", "tools/busyish:2.0"]


def _run(*cmd, **kw):
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True, **kw)


def _tar_dir(src_dir, dest, extra=None):
    """Tar a directory (an OCI layout) into `dest`, adding `extra` {name: bytes} members."""
    with tarfile.open(dest, "w") as tar:
        for root, _dirs, files in os.walk(src_dir):
            for name in sorted(files):
                full = os.path.join(root, name)
                tar.add(full, arcname=os.path.relpath(full, src_dir))
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(dest)


def _blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _docker25_layout(work, image, nested, with_manifest_json=True, gzip_layers=False):
    """A Docker 25+ style save of `image`: OCI layout with uncompressed layers (gzip ones, as the containerd image store
    keeps them, with gzip_layers), manifest.json, optionally containerd's nested index (image index -> platform
    manifests, only amd64's blobs present)."""
    layout = work / ("d25-" + image.replace("/", "_").replace(":", "_") + ("-nested" if nested else "") + ("" if with_manifest_json else "-oci")
                     + ("-gz" if gzip_layers else ""))
    keep = [] if gzip_layers else ["--dest-oci-accept-uncompressed-layers"]
    _run("skopeo", "copy", "-q", *keep, f"docker-daemon:{image}", f"oci:{layout}:{image.split(':')[1]}")
    index = json.loads((layout / "index.json").read_text())
    desc = index["manifests"][0]
    manifest = json.loads((layout / "blobs" / "sha256" / desc["digest"][7:]).read_text())
    extra = {}
    if nested:
        platform_index = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{**{k: desc[k] for k in ("mediaType", "digest", "size")}, "platform": {"architecture": "amd64", "os": "linux"}},
                          {"mediaType": desc["mediaType"], "digest": "sha256:" + "0" * 64, "size": 1234,
                           "platform": {"architecture": "arm64", "os": "linux"}}],
        }).encode()
        (layout / "blobs" / "sha256" / _blob(platform_index)[7:]).write_bytes(platform_index)
        desc = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": _blob(platform_index), "size": len(platform_index)}
    desc["annotations"] = {"io.containerd.image.name": f"docker.io/library/{image}" if "/" not in image else f"docker.io/{image}",
                           "org.opencontainers.image.ref.name": image.split(":")[1]}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [desc]}))
    if with_manifest_json:
        extra["manifest.json"] = json.dumps([{"Config": "blobs/sha256/" + manifest["config"]["digest"][7:], "RepoTags": [image],
                                              "Layers": ["blobs/sha256/" + x["digest"][7:] for x in manifest["layers"]]}]).encode()
    return _tar_dir(layout, str(layout) + ".tar", extra)


@pytest.fixture(scope="module")
def tarballs(docker_client, sample_tarballs, tmp_path_factory):
    """Tarballs of the sample images in every format, written by the real tools (from the samples, loaded into the engine first)."""
    require(shutil.which("skopeo"), "skopeo is not installed")
    for sample in sorted(sample_tarballs.glob("*.tar")):
        _run("docker", "load", "-q", "-i", str(sample))
    work = tmp_path_factory.mktemp("seed-tarballs")
    out = {}
    out["legacy"] = str(work / "legacy_all.tar")
    _run("docker", "save", "-o", out["legacy"], *SAMPLES)
    out["skopeo-docker-archive"] = str(work / "skopeo_nginx.tar")
    _run("skopeo", "copy", "-q", "docker-daemon:nginx:1.25", f"docker-archive:{out['skopeo-docker-archive']}:nginx:1.25")
    out["skopeo-oci-archive"] = str(work / "oci_busyish.tar")
    _run("skopeo", "copy", "-q", "docker-daemon:tools/busyish:2.0", f"oci-archive:{out['skopeo-oci-archive']}:tools/busyish:2.0")
    out["docker25"] = _docker25_layout(work, "abox:1.0.1", nested=False)
    out["docker25-nested"] = _docker25_layout(work, "nginx:1.25", nested=True)
    out["oci-nested"] = _docker25_layout(work, "tools/busyish:2.0", nested=True, with_manifest_json=False)
    out["docker25-containerd-gzip"] = _docker25_layout(work, "nginx:1.25", nested=True, gzip_layers=True)
    with open(out["legacy"], "rb") as src, gzip.open(work / "legacy_all.tar.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    out["legacy-gzip"] = str(work / "legacy_all.tar.gz")
    _run("zstd", "-q", "-f", out["legacy"], "-o", str(work / "legacy_all.tar.zst"))
    out["legacy-zstd"] = str(work / "legacy_all.tar.zst")
    return out


def _engine_id(ref):
    return _run("docker", "image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()


def _pull_id(target):
    """docker pull the target, return its image ID, untag it again."""
    try:
        _run("docker", "pull", "-q", target)
        return _engine_id(target)
    finally:
        subprocess.run(["docker", "rmi", target], check=False, capture_output=True)


def _skopeo_config(target):
    raw = _run("skopeo", "inspect", "--tls-verify=false", "--config", "--raw", f"docker://{target}").stdout.encode()
    return _blob(raw), json.loads(raw)["rootfs"]["diff_ids"]


def _seed(registry, src, **args):
    result = seed_module({"src": src if isinstance(src, list) else [src], "registry": registry.host, **args})
    assert not result.get("failed"), result.get("msg")
    return result


@pytest.mark.parametrize("fmt", ["legacy", "skopeo-docker-archive", "skopeo-oci-archive", "docker25", "docker25-nested", "oci-nested",
                                 "docker25-containerd-gzip", "legacy-gzip", "legacy-zstd"])
def test_direct_preserve_round_trip(fmt, tarballs, distribution_registry):
    archive = read_archive(tarballs[fmt])
    first = _seed(distribution_registry, tarballs[fmt])
    assert first["changed"] is True
    assert first["images"] and all(i["changed"] and i["blobs_pushed"] > 0 for i in first["images"])
    for image in archive.images:
        (result,) = [i for i in first["images"] if i["config_digest"] == image.config_digest]
        config_digest, diff_ids = _skopeo_config(result["target"])
        assert config_digest == image.config_digest
        assert diff_ids == [layer.diff_id for layer in image.layers]
        assert _pull_id(result["target"]) == image.config_digest
        if image.source_manifest:
            assert result["digest"] == _blob(image.source_manifest[0])
    again = _seed(distribution_registry, tarballs[fmt])
    assert again["changed"] is False
    assert all(i["bytes_sent"] == 0 and not i["changed"] for i in again["images"])
    assert [i["digest"] for i in again["images"]] == [i["digest"] for i in first["images"]]


def test_legacy_targets_names_and_shared_base_layer_mounted(tarballs, distribution_registry):
    result = _seed(distribution_registry, tarballs["legacy"], rename={"nginx": "web/nginx"})
    host = distribution_registry.host
    assert sorted(i["target"] for i in result["images"]) == sorted([f"{host}/abox:1.0.1", f"{host}/web/nginx:1.25", f"{host}/tools/busyish:2.0"])
    assert sum(i["blobs_mounted"] for i in result["images"]) == 2
    for name in SAMPLES:
        target = f"{host}/web/nginx:1.25" if name.startswith("nginx") else f"{host}/{name}"
        assert _pull_id(target) == _engine_id(name)
    assert sorted(RegistryClient(host).catalog()) == ["abox", "tools/busyish", "web/nginx"]


@pytest.mark.parametrize("layers", ["gzip", "zstd"])
def test_direct_recompressed_layers_are_deterministic(layers, tarballs, distribution_registry):
    result = _seed(distribution_registry, tarballs["legacy"], layers=layers)
    client = RegistryClient(distribution_registry.host)
    media_suffix = "gzip" if layers == "gzip" else "zstd"
    for image in result["images"]:
        repo, tag = image["target"].split("/", 1)[1].rsplit(":", 1)
        manifest = json.loads(client.get_manifest(repo, tag)[0])
        assert all(x["mediaType"].endswith(media_suffix) for x in manifest["layers"])
        assert _pull_id(image["target"]) == image["config_digest"]
    other = _seed(distribution_registry, tarballs["legacy-zstd"], layers=layers, rename={"abox": "again/abox"})
    (abox,) = [i for i in other["images"] if i["source"] == "abox:1.0.1"]
    first_layers = json.loads(client.get_manifest("abox", "1.0.1")[0])["layers"]
    again_layers = json.loads(client.get_manifest("again/abox", "1.0.1")[0])["layers"]
    assert first_layers == again_layers
    assert abox["changed"] is True
    assert _seed(distribution_registry, tarballs["legacy"], layers=layers)["changed"] is False


def test_check_mode_pushes_nothing_and_diff(tarballs, distribution_registry):
    result = seed_module({"src": [tarballs["legacy"]], "registry": distribution_registry.host}, check=True, diff=True)
    assert result["changed"] is True
    assert all(i["blobs_pushed"] > 0 and i["bytes_sent"] == 0 for i in result["images"])
    assert set(result["diff"]["before"].values()) == {None}
    assert RegistryClient(distribution_registry.host).catalog() == []


def test_chunked_uploads(tarballs, distribution_registry):
    result = _seed(distribution_registry, tarballs["legacy"], chunk_size=65536, parallel=2)
    assert result["changed"] is True
    (nginx,) = [i for i in result["images"] if i["source"] == "nginx:1.25"]
    assert _pull_id(nginx["target"]) == _engine_id("nginx:1.25")


def test_engine_transport(tarballs, distribution_registry):
    first = _seed(distribution_registry, tarballs["legacy-gzip"], transport="engine")
    assert first["changed"] is True
    for image in first["images"]:
        assert image["digest"].startswith("sha256:")
        assert _skopeo_config(image["target"])[0] == image["config_digest"]
    again = _seed(distribution_registry, tarballs["legacy"], transport="engine")
    assert again["changed"] is False
    for image in first["images"]:
        subprocess.run(["docker", "rmi", image["target"]], check=False, capture_output=True)


def test_image_pushed_by_another_tool_is_up_to_date(tarballs, distribution_registry):
    """docker push stores gzip layers, so its manifest is not the one seeding would put; the same config still means up to date."""
    host = distribution_registry.host
    _run("docker", "tag", "abox:1.0.1", f"{host}/abox:1.0.1")
    try:
        _run("docker", "push", "-q", f"{host}/abox:1.0.1")
    finally:
        subprocess.run(["docker", "rmi", f"{host}/abox:1.0.1"], check=False, capture_output=True)
    pushed = RegistryClient(host).head_manifest("abox", "1.0.1")["digest"]
    result = _seed(distribution_registry, tarballs["legacy"])
    by_source = {i["source"]: i for i in result["images"]}
    assert by_source["abox:1.0.1"]["changed"] is False
    assert by_source["abox:1.0.1"]["bytes_sent"] == 0
    assert by_source["abox:1.0.1"]["digest"] == pushed
    assert by_source["nginx:1.25"]["changed"] is True


def test_registry_refusing_mounts_gets_the_blob_it_has_copied(distribution_registry, sample_images, tmp_path, monkeypatch):
    """gzip layers learned from a docker push are copied between repositories from the registry, not recompressed (which
    would give other digests) when the registry refuses cross-repository mounts."""
    host = distribution_registry.host
    _run("docker", "tag", "abox:1.0.1", f"{host}/abox:1.0.1")
    _run("docker", "tag", "abox:1.0.1", "abox:latest")
    try:
        _run("docker", "push", "-q", f"{host}/abox:1.0.1")
        _run("docker", "save", "-o", str(tmp_path / "set.tar"), "abox:1.0.1", "abox:latest", "nginx:1.25")
    finally:
        subprocess.run(["docker", "rmi", f"{host}/abox:1.0.1", "abox:latest"], check=False, capture_output=True)
    monkeypatch.setattr(RegistryClient, "mount_blob", lambda self, repo, digest, from_repo=None: False)
    result = Seeder({"src": [str(tmp_path / "set.tar")], "registry": host, "layers": "gzip"}).run()
    by_target = {i["target"]: i for i in result["images"]}
    assert by_target[f"{host}/abox:1.0.1"]["changed"] is False
    assert by_target[f"{host}/nginx:1.25"]["changed"] is True
    assert _pull_id(f"{host}/nginx:1.25") == _engine_id("nginx:1.25")
    assert _pull_id(f"{host}/abox:latest") == _engine_id("abox:1.0.1")


def test_pyregistry_round_trip(tarballs, start_registry):
    try:
        reg = start_registry("pyregistry")
    except RuntimeError as exc:
        require(False, f"pyregistry does not start yet: {exc}")
    result = _seed(reg, tarballs["legacy"], layers="gzip")
    assert result["changed"] is True
    for image in result["images"]:
        assert _pull_id(image["target"]) == image["config_digest"]
    assert _seed(reg, tarballs["legacy"], layers="gzip")["changed"] is False


def test_several_tags_of_one_image_in_one_tarball(sample_images, distribution_registry, tmp_path):
    alias = "seed-alias/abox:latest"
    _run("docker", "tag", "abox:1.0.1", alias)
    try:
        tarball = str(tmp_path / "two-tags.tar")
        _run("docker", "save", "-o", tarball, "abox:1.0.1", alias)
    finally:
        subprocess.run(["docker", "rmi", alias], check=False, capture_output=True)
    (image,) = read_archive(tarball).images
    assert sorted(image.refs) == ["abox:1.0.1", alias]
    result = _seed(distribution_registry, tarball)
    by_source = {i["source"]: i for i in result["images"]}
    assert by_source["abox:1.0.1"]["digest"] == by_source[alias]["digest"]
    assert sum(i["blobs_pushed"] for i in result["images"]) == 3
    assert sum(i["blobs_mounted"] for i in result["images"]) == 3
    client = RegistryClient(distribution_registry.host)
    assert client.tags("seed-alias/abox") == ["latest"] and client.tags("abox") == ["1.0.1"]
