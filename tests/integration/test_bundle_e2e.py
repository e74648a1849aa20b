"""End to end (issue 13): `airgap-bundle create` from a registry holding the issue-12 samples and plain images sharing
layers, `airgap-bundle verify` and `list`, then `airgap-seed BUNDLE` into pyregistry and Distribution 2.8: every tag
has the source's digest; docker, skopeo (copy --all) and containerd (ctr pull --all-platforms) pull the result."""
import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient
from ansible_collections.airgap.registry.plugins.module_utils.seed import seed
from tests.conftest import require
from tests.helpers.engine import ctr_pull_all_platforms
from tests.helpers.registries import REPO_ROOT
from tests.helpers.seed import seeded_registry, start_kind

BUNDLE_CLI = os.path.join(REPO_ROOT, ".venv", "bin", "airgap-bundle")
SEED_CLI = os.path.join(REPO_ROOT, ".venv", "bin", "airgap-seed")
OCI = ("multi3.tar", "dlist.tar", "attest.tar", "signed.tar", "helm.tar")
TAGS = ("multi:3", "dlist:1", "attest:1", "signed:1", "charts/mychart:0.1.0", "abox:1.0.1", "tools/busyish:2.0", "nginx:1.25")


def _client(reg):
    return RegistryClient(reg.host, scheme="http")


def _run(*args):
    run = subprocess.run([*args], capture_output=True, text=True, check=False, timeout=600)
    assert run.returncode == 0, f"{args[:2]}: {run.stderr[-3000:]}"
    return run


@pytest.fixture(scope="module")
def created(tmp_path_factory, oci_dir, sample_tarballs):
    """(source registry, {tag: digest}, {form: bundle path}): the samples in a pyregistry, bundled as a directory and
    as split .tar.zst parts by airgap-bundle create."""
    require(os.path.exists(BUNDLE_CLI) and os.path.exists(SEED_CLI), "airgap-bundle/airgap-seed not installed in .venv (make)")
    src = [oci_dir / n for n in OCI] + sorted(sample_tarballs.glob("*.tar"))
    with seeded_registry("pyregistry", tmp_path_factory.mktemp("src"), src) as (reg, _result):
        digests = {tag: _client(reg).head_manifest(*tag.rsplit(":", 1))["digest"] for tag in TAGS}
        out = tmp_path_factory.mktemp("bundles")
        images = [f"{reg.host}/{t}" for t in TAGS]
        _run(BUNDLE_CLI, "create", *images, "--output", f"{out}/dir/")
        _run(BUNDLE_CLI, "create", *images, "--output", str(out / "b.tar.zst"), "--split-size", "200K")
        yield reg, digests, {"directory": str(out / "dir"), "split tar.zst": str(out / "b.tar.zst")}


def test_verify_and_list_the_created_bundles(created):
    _reg, digests, forms = created
    for form, path in forms.items():
        assert "good" in _run(BUNDLE_CLI, "verify", path).stdout, form
        listing = json.loads(_run(BUNDLE_CLI, "list", path, "--json").stdout)
        by_tag = {i["reference"].split("/", 1)[1]: i["digest"] for i in listing["images"]}
        assert {t: by_tag[t] for t in TAGS} == digests, form
    assert json.loads(_run(BUNDLE_CLI, "list", forms["split tar.zst"], "--json").stdout)["parts"] > 1


@pytest.fixture(scope="module", params=["pyregistry", "distribution"])
def seeded(request, created, tmp_path_factory):
    """A target registry of each kind seeded by airgap-seed from the split bundle; (registry, seed stdout)."""
    _src, _digests, forms = created
    reg = start_kind(request.param, tmp_path_factory.mktemp(request.param))
    try:
        run = _run(SEED_CLI, forms["split tar.zst"], "--registry", reg.host)
        yield reg, run
    finally:
        reg.stop()


def test_every_tag_has_the_source_digest(seeded, created):
    reg, _run_result = seeded
    _src, digests, forms = created
    client = _client(reg)
    for tag, digest in digests.items():
        assert client.head_manifest(*tag.rsplit(":", 1))["digest"] == digest, tag
    # The directory form into the same registry: everything is there already.
    again = seed({"src": forms["directory"], "registry": reg.host, "retries": 1})
    assert again["changed"] is False and sum(i["bytes_sent"] for i in again["images"]) == 0


def test_skopeo_copy_all(seeded, created, tmp_path):
    require(shutil.which("skopeo"), "skopeo is not installed")
    reg, _r = seeded
    _src, digests, _forms = created
    for tag in ("multi:3", "signed:1", "abox:1.0.1"):
        out = tmp_path / tag.replace(":", "_").replace("/", "_")
        _run("skopeo", "copy", "--all", "--preserve-digests", "--src-tls-verify=false", f"docker://{reg.host}/{tag}", f"oci:{out}:x")
        assert json.loads((out / "index.json").read_text())["manifests"][0]["digest"] == digests[tag], tag


def test_docker_pull(seeded, created, docker_client):
    reg, _r = seeded
    _src, digests, _forms = created
    for repo, tag, platform in (("multi", "3", "linux/arm64"), ("abox", "1.0.1", None)):
        image = docker_client.images.pull(f"{reg.host}/{repo}", tag=tag, platform=platform)
        try:
            assert any(d.endswith(digests[f"{repo}:{tag}"]) for d in image.attrs.get("RepoDigests") or []), repo
        finally:
            docker_client.images.remove(f"{reg.host}/{repo}:{tag}", force=True)


def test_ctr_pulls_every_platform(seeded):
    reg, _result = seeded
    assert f"{reg.host}/multi:3" in ctr_pull_all_platforms(f"{reg.host}/multi:3")
