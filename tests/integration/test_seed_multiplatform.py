"""Multi-platform images, artifacts and referrers (issue 12): seeded byte for byte into pyregistry and Distribution 2.8,
then read back by skopeo, containerd's ctr and docker.  Sample data from scripts/oci_samples.py (no registry)."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.image_archive import read_archive
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient
from ansible_collections.airgap.registry.plugins.module_utils.seed import SeedError, seed
from tests.conftest import require
from tests.helpers.engine import ctr_pull_all_platforms
from tests.helpers.registries import REPO_ROOT
from tests.helpers.seed import seeded_registry

sys.path.insert(0, os.path.join(REPO_ROOT, "scripts"))
import oci_samples  # noqa: E402 - scripts/ is not a package

GOOD = ("multi2.tar", "multi3.tar", "dlist.tar", "attest.tar", "signed.tar", "helm.tar")


def _index_digest(path):
    """The digest index.json's first entry names (what skopeo copy --all keeps)."""
    return read_archive(str(path)).manifests[0].digest


@pytest.fixture(scope="module", params=["pyregistry", "distribution"])
def seeded(request, tmp_path_factory, oci_dir):
    """A registry of each kind with every good sample seeded once; (registry, first run result)."""
    with seeded_registry(request.param, tmp_path_factory.mktemp(request.param), [oci_dir / n for n in GOOD]) as seeded:
        yield seeded


def _client(reg):
    return RegistryClient(reg.host, scheme="http")


def test_tags_keep_the_source_digests(seeded, oci_dir):
    reg, result = seeded
    by_target = {i["target"]: i for i in result["images"]}
    client = _client(reg)
    for name, ref in (("multi2.tar", "multi:2"), ("multi3.tar", "multi:3"), ("dlist.tar", "dlist:1"),
                      ("attest.tar", "attest:1"), ("signed.tar", "signed:1"), ("helm.tar", "charts/mychart:0.1.0")):
        want = _index_digest(oci_dir / name)
        repo, tag = ref.rsplit(":", 1)
        assert client.head_manifest(repo, tag)["digest"] == want, name
        assert by_target[f"{reg.host}/{ref}"]["digest"] == want
        assert by_target[f"{reg.host}/{ref}"]["source_digest"] == want
    assert by_target[f"{reg.host}/multi:3"]["platforms"] == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    assert "unknown/unknown" in by_target[f"{reg.host}/attest:1"]["platforms"]
    # The cosign-style tag travels too.
    sig_tags = [t for t in client.tags("signed") if t.endswith(".sig")]
    assert sig_tags == [f"sha256-{_index_digest(oci_dir / 'signed.tar')[7:]}.sig"]


def test_second_run_pushes_nothing(seeded, oci_dir):
    reg, _first = seeded
    again = seed({"src": [str(oci_dir / n) for n in GOOD], "registry": reg.host, "retries": 1})
    assert again["changed"] is False
    assert sum(i["bytes_sent"] for i in again["images"]) == 0


def test_referrers_list_the_signature(seeded, oci_dir):
    reg, _result = seeded
    subject = _index_digest(oci_dir / "signed.tar")
    unit = read_archive(str(oci_dir / "signed.tar")).manifests[0]
    want = sorted(r.digest for r in unit.referrers)
    client = _client(reg)
    if reg.kind == "pyregistry":
        resp = client.request("GET", f"/v2/signed/referrers/{subject}", headers={"Accept": "application/vnd.oci.image.index.v1+json"})
    else:  # Distribution 2.8 has no referrers API: the referrers tag scheme
        resp = client.request("GET", f"/v2/signed/manifests/sha256-{subject[7:]}",
                              headers={"Accept": "application/vnd.oci.image.index.v1+json"})
    listed = json.loads(resp.body)["manifests"]
    assert sorted(m["digest"] for m in listed) == want
    assert "application/vnd.dev.cosign.artifact.sig.v1+json" in {m.get("artifactType") for m in listed}


def test_skopeo_copy_all_gives_the_same_index(seeded, oci_dir, tmp_path):
    require(shutil.which("skopeo"), "skopeo is not installed")
    reg, _result = seeded
    for name, ref in (("multi3.tar", "multi:3"), ("attest.tar", "attest:1")):
        out = tmp_path / name
        subprocess.run(["skopeo", "copy", "--all", "--preserve-digests", "--src-tls-verify=false", f"docker://{reg.host}/{ref}",
                        f"oci:{out}:x"], check=True, capture_output=True)
        index = json.loads((out / "index.json").read_text())
        assert index["manifests"][0]["digest"] == _index_digest(oci_dir / name), name
        body = (out / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]).read_bytes()
        assert "sha256:" + hashlib.sha256(body).hexdigest() == _index_digest(oci_dir / name)
    # A Docker manifest list cannot go into an OCI layout unchanged (skopeo refuses): dir: keeps it as it is.
    out = tmp_path / "dlist"
    subprocess.run(["skopeo", "copy", "--all", "--preserve-digests", "--src-tls-verify=false", f"docker://{reg.host}/dlist:1",
                    f"dir:{out}"], check=True, capture_output=True)
    assert "sha256:" + hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest() == _index_digest(oci_dir / "dlist.tar")


def test_ctr_pulls_every_platform(seeded):
    reg, _result = seeded
    assert f"{reg.host}/multi:3" in ctr_pull_all_platforms(f"{reg.host}/multi:3")


def test_check_mode_lists_what_would_move(tmp_path, oci_dir, start_registry):
    reg = start_registry("pyregistry")
    result = seed({"src": [str(oci_dir / "multi2.tar")], "registry": reg.host, "check_mode": True})
    (image,) = result["images"]
    unit = read_archive(str(oci_dir / "multi2.tar")).manifests[0]
    assert image["changed"] is True
    assert {f"manifest {m.digest}" for m in unit.walk()} == {w.split(" (")[0] for w in image["would_push"] if w.startswith("manifest")}
    assert {f"blob {b.digest}" for b in unit.all_blobs()} == {w for w in image["would_push"] if w.startswith("blob")}
    assert image["bytes_to_send"] == sum(b.size for b in unit.all_blobs())
    assert _client(reg).head_manifest("multi", "2") is None


@pytest.mark.parametrize("maker", [oci_samples.broken_child, oci_samples.broken_platform])
def test_broken_inputs_fail_before_anything_is_pushed(tmp_path, maker, start_registry):
    path, digest = maker(str(tmp_path))
    reg = start_registry("pyregistry")
    with pytest.raises(SeedError) as err:
        seed({"src": [str(oci_samples.multi(str(tmp_path), "multi2", 2, "multi:2")), path], "registry": reg.host, "retries": 1})
    assert path in str(err.value) and digest in str(err.value)
    assert _client(reg).catalog() == []


def test_engine_transport_refuses_an_index(oci_dir, start_registry):
    reg = start_registry("pyregistry")
    with pytest.raises(SeedError, match=r"multi-platform image .*use transport: direct") as err:
        seed({"src": [str(oci_dir / "multi3.tar")], "registry": reg.host, "transport": "engine"})
    assert "linux/arm64/v8" in str(err.value)
    assert _client(reg).catalog() == []


def test_docker25_save_with_one_platform_warns(oci_dir, start_registry):
    reg = start_registry("pyregistry")
    result = seed({"src": [str(oci_dir / "docker25.tar")], "registry": reg.host})
    assert any("holds only some platforms" in w and "linux/arm64/v8" in w for w in result["warnings"])
    assert result["images"][0]["changed"] is True


def test_docker_pulls_a_foreign_platform(seeded, docker_client):
    reg, _result = seeded
    name = f"{reg.host}/multi:3"
    image = docker_client.images.pull(f"{reg.host}/multi", tag="3", platform="linux/arm64")
    try:
        assert image.attrs["Architecture"] == "arm64"
        assert any(d.endswith(_index_digest_of(reg, "multi", "3")) for d in image.attrs.get("RepoDigests") or [])
    finally:
        docker_client.images.remove(name, force=True)


def _index_digest_of(reg, repo, tag):
    return _client(reg).head_manifest(repo, tag)["digest"]


def test_registry_info_shows_indexes_platforms_and_referrers(seeded, oci_dir):
    from ansible_collections.airgap.registry.plugins.modules.registry_info import inventory  # noqa: PLC0415

    reg, _result = seeded
    info = inventory(_client(reg), repositories=["multi", "signed", "charts/mychart", "attest"])
    assert info["manifests"]["multi:3"]["index"] is True
    assert info["manifests"]["multi:3"]["platforms"] == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    assert "unknown/unknown" in info["manifests"]["attest:1"]["platforms"]
    chart = info["manifests"]["charts/mychart:0.1.0"]
    assert chart["index"] is False and chart["platforms"] == []
    unit = read_archive(str(oci_dir / "signed.tar")).manifests[0]
    assert sorted(r["digest"] for r in info["manifests"]["signed:1"]["referrers"]) == sorted(r.digest for r in unit.referrers)
    assert info["manifests"]["multi:2"]["referrers"] == []
