"""image_save from a registry, multi-platform (issue 12): the whole index with its children, attestations and referrers
into an OCI archive that `skopeo copy --all oci-archive:` and our own seeding give back with the source digest;
platform_policy filter; docker-archive needs one platform.  Sources: oci_samples seeded into pyregistry and
Distribution 2.8 (no referrers API: the referrers tag scheme)."""
import hashlib
import json
import os
import shutil
import subprocess
import tarfile

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.archive_writer import ArchiveError, ImageSaver
from ansible_collections.airgap.registry.plugins.module_utils.image_archive import read_archive
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient
from ansible_collections.airgap.registry.plugins.module_utils.seed import seed
from tests.conftest import require
from tests.helpers.ansible import failed, run_module
from tests.helpers.seed import seeded_registry


MODULE = "airgap.registry.image_save"
SAMPLES = {"multi3.tar": "multi:3", "attest.tar": "attest:1", "signed.tar": "signed:1", "dlist.tar": "dlist:1"}
INDEX_ACCEPT = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")


@pytest.fixture(scope="module", params=["pyregistry", "distribution"])
def source(request, tmp_path_factory, oci_dir):
    """A registry of each kind holding the samples (seeded byte for byte)."""
    with seeded_registry(request.param, tmp_path_factory.mktemp(request.param), [oci_dir / n for n in SAMPLES]) as (reg, _result):
        yield reg


def _unit(path):
    return read_archive(str(path)).manifests[0]


def _saver(reg, dest, **kwargs):
    return ImageSaver(str(dest), source="registry", fmt="oci-archive", client_for=lambda h: RegistryClient(h, scheme="http"),
                      registry=reg.host, **kwargs)


def _index_json(path):
    with tarfile.open(path) as tar:
        return json.load(tar.extractfile("index.json"))


def test_saved_index_seeds_back_with_the_source_digest_and_referrers(source, oci_dir, tmp_path, start_registry):
    saver = _saver(source, tmp_path / "out")
    os.makedirs(tmp_path / "out")
    results = {ref: saver.save(ref)[0] for ref in SAMPLES.values()}
    for name, ref in SAMPLES.items():
        want = _unit(oci_dir / name)
        assert results[ref]["digest"] == results[ref]["source_digest"] == want.digest, ref
        assert _index_json(results[ref]["path"])["manifests"][0]["digest"] == want.digest
    assert results["attest:1"]["platforms"] == ["linux/amd64", "linux/arm64/v8", "unknown/unknown"]
    signed = read_archive(results["signed:1"]["path"]).manifests[0]
    source_signed = _unit(oci_dir / "signed.tar")
    assert sorted(r.digest for r in signed.referrers) == sorted(r.digest for r in source_signed.referrers)
    entries = _index_json(results["signed:1"]["path"])["manifests"]
    cosign = [e for e in entries if (e.get("annotations") or {}).get("org.opencontainers.image.ref.name", "").endswith(".sig")]
    assert [e["annotations"]["org.opencontainers.image.ref.name"] for e in cosign] == [f"signed:sha256-{source_signed.digest[7:]}.sig"]
    # Our own seeding of what was saved, into a fresh registry of the other kind.
    target = start_registry("distribution" if source.kind == "pyregistry" else "pyregistry")
    seed({"src": [r["path"] for r in results.values()], "registry": target.host, "retries": 1})
    client = RegistryClient(target.host, scheme="http")
    for name, ref in SAMPLES.items():
        repo, tag = ref.split(":")
        assert client.head_manifest(repo, tag)["digest"] == _unit(oci_dir / name).digest, ref
    assert f"sha256-{source_signed.digest[7:]}.sig" in client.tags("signed")
    # Second save: the tarballs already hold it all.
    again = _saver(source, tmp_path / "out")
    assert not any(again.save(ref)[0]["changed"] for ref in SAMPLES.values())


def test_skopeo_copy_all_reads_the_archive_with_the_same_digest(source, oci_dir, tmp_path, start_registry):
    require(shutil.which("skopeo"), "skopeo is not installed")
    os.makedirs(tmp_path / "out")
    target = start_registry("pyregistry")
    client = RegistryClient(target.host, scheme="http")
    for name in ("multi3.tar", "attest.tar"):  # OCI indexes (skopeo keeps a Docker manifest list out of OCI layouts)
        ref = SAMPLES[name]
        path = _saver(source, tmp_path / "out").save(ref)[0]["path"]
        subprocess.run(["skopeo", "copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
                        f"oci-archive:{path}:{ref}", f"docker://{target.host}/{ref}"], check=True, capture_output=True, timeout=120)
        assert client.head_manifest(*ref.split(":"))["digest"] == _unit(oci_dir / name).digest, name


def test_filter_writes_the_chosen_platforms_as_a_new_index(source, oci_dir, tmp_path, start_registry):
    os.makedirs(tmp_path / "out")
    result, _ = _saver(source, tmp_path / "out", platforms=["linux/arm64"], platform_policy="filter").save("attest:1")
    src = _unit(oci_dir / "attest.tar")
    assert result["source_digest"] == src.digest != result["digest"]
    saved = _unit(result["path"])
    assert saved.digest == result["digest"] == "sha256:" + hashlib.sha256(saved.body).hexdigest()
    assert saved.platforms() == ["linux/arm64/v8"] == result["platforms"]  # the attestation describes amd64: left out
    target = start_registry("pyregistry")
    seeded = seed({"src": [result["path"]], "registry": target.host, "retries": 1})
    assert seeded["images"][0]["digest"] == result["digest"]
    with pytest.raises(ArchiveError, match=r"attest:1: index sha256:[0-9a-f]{64} has no manifest for platform linux/s390x"):
        _saver(source, tmp_path / "out", platforms=["linux/s390x"], platform_policy="filter").save("attest:1")
    with pytest.raises(ArchiveError, match="platform_policy sparse applies to seeding only"):
        _saver(source, tmp_path / "out", platforms=["linux/amd64"], platform_policy="sparse").save("attest:1")
    assert sorted(os.listdir(tmp_path / "out")) == ["attest_1.tar"]


def test_module_writes_the_index_and_refuses_docker_archive_without_a_platform(oci_dir, tmp_path, start_registry):
    source = start_registry("pyregistry")
    seed({"src": [str(oci_dir / "multi3.tar")], "registry": source.host, "retries": 1})
    dest = tmp_path / "bundle"
    base = {"source": "registry", "registry": source.host, "scheme": "http", "dest": str(dest)}
    checked, _ = run_module(MODULE, {**base, "format": "oci-archive", "images": ["multi:3"]}, check=True)
    assert not failed(checked) and checked["changed"] and not dest.exists()
    saved, _ = run_module(MODULE, {**base, "format": "oci-archive", "images": ["multi:3"]})
    assert not failed(saved), saved
    (entry,) = saved["files"]
    assert entry["digest"] == entry["source_digest"] == _unit(oci_dir / "multi3.tar").digest
    assert entry["platforms"] == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    docker, _ = run_module(MODULE, {**base, "images": ["multi:3"], "dest": str(tmp_path / "docker")})
    assert failed(docker)
    assert docker["msg"].startswith("image multi:3: image multi:3 is a multi-platform image (index sha256:")
    assert "linux/amd64, linux/arm64/v8, linux/arm/v7" in docker["msg"] and "set platform" in docker["msg"]
    assert not (tmp_path / "docker").exists() or os.listdir(tmp_path / "docker") == []
    one, _ = run_module(MODULE, {**base, "images": ["multi:3"], "dest": str(tmp_path / "docker"), "platform": "linux/arm/v7"})
    assert not failed(one), one
