"""Seeding from a bundle (issue 13, docs/bundles.md) into pyregistry and Distribution 2.8: every form (directory,
.tar, .tar.zst, split parts of each) goes byte for byte, so every tag has the source digest; a second run sends
nothing; a delta whose base blobs are missing fails before anything is pushed, naming them; a delta whose base is
there seeds and pulls.  Bundles come from tests/helpers/bundle_samples.py (scripts/oci_samples.py content)."""
import io
import json
import shutil
import subprocess

import pytest

from ansible_collections.airgap.registry.plugins.module_utils import seed_plan
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient
from ansible_collections.airgap.registry.plugins.module_utils.seed import SeedError, seed
from tests.conftest import require
from tests.helpers import bundle_samples as bs
from tests.helpers.registries import RegistryProcess
from tests.helpers.seed import seed_module

FORMS = ("directory", "tar", "tar.zst", "split tar", "split tar.zst")
# docker.io/library/multi:2 -> REG/multi:2, ghcr.io/acme/dlist:1 -> REG/acme/dlist:1 (the retag rule)
TARGETS = {"docker.io/library/multi:2": "multi:2", "ghcr.io/acme/dlist:1": "acme/dlist:1",
           "docker.io/acme/signed:1": "acme/signed:1", "registry.example.com/charts/mychart:0.1.0": "charts/mychart:0.1.0",
           "docker.io/library/plain:1": "plain:1", "quay.io/acme/other:2.0": "acme/other:2.0"}


@pytest.fixture(scope="module")
def sample():
    return bs.sample_layout()


@pytest.fixture(scope="module")
def forms(sample, tmp_path_factory):
    return bs.every_form(sample[0], str(tmp_path_factory.mktemp("bundle")))


@pytest.fixture(params=["pyregistry", "distribution"])
def registry(request, tmp_path):
    if request.param == "distribution":
        require(shutil.which("docker-registry"), "Debian's docker-registry binary is not installed")
    reg = RegistryProcess(request.param, str(tmp_path / request.param)).start()
    yield reg
    reg.stop()


def _client(reg):
    return RegistryClient(reg.host, scheme="http")


def _referrers(reg, repo, subject):
    """Digests of the manifests listed as referrers of `subject` (the API on pyregistry, the tag scheme on Distribution)."""
    client = _client(reg)
    path = f"referrers/{subject}" if reg.kind == "pyregistry" else f"manifests/sha256-{subject[7:]}"
    resp = client.request("GET", f"/v2/{repo}/{path}", headers={"Accept": "application/vnd.oci.image.index.v1+json"})
    return sorted(m["digest"] for m in json.loads(resp.body)["manifests"])


def _subject_of(lay, digest):
    return sorted(e["digest"] for e in lay.entries
                  if json.loads(lay.blobs[e["digest"]]).get("subject", {}).get("digest") == digest)


@pytest.mark.parametrize("form", FORMS)
def test_every_form_seeds_byte_for_byte(registry, forms, sample, form):
    lay, names = sample
    result = seed({"src": forms[form], "registry": registry.host, "retries": 1, "parallel": 3})
    assert result["warnings"] == []
    by_target = {i["target"]: i for i in result["images"]}
    assert set(by_target) == {f"{registry.host}/{t}" for t in TARGETS.values()}
    client = _client(registry)
    for source, target in TARGETS.items():
        repo, tag = target.rsplit(":", 1)
        assert client.head_manifest(repo, tag)["digest"] == names[source], (form, source)
        assert by_target[f"{registry.host}/{target}"]["source_digest"] == names[source]
    # Referrers go with their subject: the signed index's signature and SBOM, and the plain image's signature.
    assert _referrers(registry, "acme/signed", names["docker.io/acme/signed:1"]) == _subject_of(lay, names["docker.io/acme/signed:1"])
    assert _referrers(registry, "plain", names["docker.io/library/plain:1"]) == _subject_of(lay, names["docker.io/library/plain:1"])
    assert len(_subject_of(lay, names["docker.io/library/plain:1"])) == 1
    # Every blob crossed once per repository needing it at most (shared layers mounted or found there).
    assert sum(i["bytes_sent"] for i in result["images"]) <= sum(len(b) for b in lay.blobs.values()) * 2
    again = seed({"src": forms[form], "registry": registry.host, "retries": 1})
    assert again["changed"] is False
    assert sum(i["bytes_sent"] for i in again["images"]) == 0


def test_sources_name_a_bundle_once(forms, tmp_path):
    assert seed_plan.expand_sources(forms["directory"]) == [forms["directory"]]
    assert seed_plan.expand_sources(forms["split tar"]) == [forms["split tar"]]
    assert seed_plan.expand_sources(forms["split tar.zst"]) == [forms["split tar.zst"][:-len(".part001")]]


def test_a_missing_part_is_named(sample, tmp_path, start_registry):
    forms = bs.every_form(sample[0], str(tmp_path))
    (tmp_path / "s.tar.part004").unlink()
    reg = start_registry("pyregistry")
    with pytest.raises(SeedError, match=r"s\.tar\.part004 is missing"):
        seed({"src": forms["split tar"], "registry": reg.host})
    assert _client(reg).catalog() == []


def test_a_blob_neither_held_nor_declared_fails_naming_it(sample, tmp_path, start_registry):
    lay, names = sample
    layer = json.loads(lay.blobs[names["quay.io/acme/other:2.0"]])["layers"][-1]["digest"]
    directory = bs.write_dir(lay, str(tmp_path / "b"))
    (tmp_path / "b" / "blobs" / "sha256" / layer[7:]).unlink()
    reg = start_registry("pyregistry")
    with pytest.raises(SeedError) as err:
        seed({"src": directory, "registry": reg.host})
    assert directory in str(err.value) and layer in str(err.value)
    assert _client(reg).catalog() == []


def _delta(lay, tmp_path, names):
    """A delta bundle of `lay` leaving out plain:1's config and the layer every image shares (`base`), declared at
    the site in repository multi; (directory, {digest: repository})."""
    plain = json.loads(lay.blobs[names["docker.io/library/plain:1"]])
    declared = {plain["config"]["digest"]: "multi", plain["layers"][0]["digest"]: "multi"}
    return bs.write_dir(lay, str(tmp_path / "delta"), declared), declared


def test_delta_without_its_base_fails_before_pushing(registry, sample, tmp_path):
    lay, names = sample
    delta, declared = _delta(lay, tmp_path, names)
    with pytest.raises(SeedError) as err:
        seed({"src": delta, "registry": registry.host, "retries": 1})
    for digest in declared:
        assert digest in str(err.value)
    assert "docker.io/library/plain:1" in str(err.value)
    assert _client(registry).catalog() == []
    # Check mode says the same, without pushing either.
    with pytest.raises(SeedError, match="relies on 2 blob"):
        seed({"src": delta, "registry": registry.host, "check_mode": True})


def test_delta_with_its_base_seeds_and_pulls(registry, sample, tmp_path):
    require(shutil.which("skopeo"), "skopeo is not installed")
    lay, names = sample
    # The site holds multi:2 (its config is another, so plain's config is only there if pushed: add it to the base).
    base = bs.oci.Layout()
    base.blobs = dict(lay.blobs)
    base.entries = [e for e in lay.entries if e.get("annotations", {}).get(bs.REF_NAME) == "docker.io/library/multi:2"]
    plain = json.loads(lay.blobs[names["docker.io/library/plain:1"]])
    config = plain["config"]
    seed({"src": bs.write_dir(base, str(tmp_path / "base")), "registry": registry.host, "retries": 1})
    client = _client(registry)
    client.upload_blob("multi", config["digest"], config["size"], lambda off: io.BytesIO(lay.blobs[config["digest"]][off:]))
    delta, declared = _delta(lay, tmp_path, names)
    result = seed({"src": delta, "registry": registry.host, "retries": 1})
    plain_result = next(i for i in result["images"] if i["target"].endswith("/plain:1"))
    assert plain_result["digest"] == names["docker.io/library/plain:1"]
    sent = sum(i["bytes_sent"] for i in result["images"])
    assert sent <= sum(len(b) for d, b in lay.blobs.items() if d not in declared) * 2
    out = tmp_path / "pulled"
    run = subprocess.run(["skopeo", "copy", "--all", "--preserve-digests", "--src-tls-verify=false",
                          f"docker://{registry.host}/plain:1", f"oci:{out}:x"], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    index = json.loads((out / "index.json").read_text())
    assert index["manifests"][0]["digest"] == names["docker.io/library/plain:1"]


def test_plain_image_referrers_in_an_oci_archive(tmp_path, start_registry):
    """Not a bundle: a plain image with a signature by subject in one OCI archive goes verbatim with it."""
    lay = bs.oci.Layout()
    plain = bs.oci.image(lay, "plain", bs.oci.PLATFORMS[0])
    lay.entries.append({**{k: v for k, v in plain.items() if k != "platform"}, "annotations": {bs.REF_NAME: "plainsig:1"}})
    sig = bs.oci.artifact(lay, "application/vnd.dev.cosign.artifact.sig.v1+json", b"sig", "application/octet-stream", subject=plain)
    lay.entries.append(sig)
    path = lay.write(str(tmp_path / "plainsig.tar"))
    reg = start_registry("pyregistry")
    result = seed({"src": path, "registry": reg.host})
    assert result["warnings"] == []
    assert _client(reg).head_manifest("plainsig", "1")["digest"] == plain["digest"]
    assert _referrers(reg, "plainsig", plain["digest"]) == [sig["digest"]]


def test_image_seed_module_takes_a_split_bundle(forms, start_registry):
    reg = start_registry("pyregistry")
    result = seed_module({"src": forms["split tar"], "registry": reg.host})
    assert result["changed"] is True, result
    assert len(result["images"]) == len(TARGETS)
    assert all(i["digest"] == i["source_digest"] for i in result["images"])
