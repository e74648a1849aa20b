"""airgap-bundle create and have (issue 13) against real registries: pyregistry and Distribution 2.8 as sources, seeded
with the issue-12 samples (multi-platform indexes, attestations, a signature and SBOM by subject, a cosign .sig tag, a
Helm chart) and three plain images sharing their base layer; skopeo copies the bundle back into a registry."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile

import pytest
import zstandard

from ansible_collections.airgap.registry.plugins.module_utils import bundle_create
from ansible_collections.airgap.registry.plugins.module_utils.bundle_create import create_bundle
from ansible_collections.airgap.registry.plugins.module_utils.bundle_have import have
from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import BundleError, parse_have, reference_of
from ansible_collections.airgap.registry.plugins.module_utils.bundle_verify import verify_bundle
from ansible_collections.airgap.registry.plugins.module_utils.media_types import OCI_LAYER
from ansible_collections.airgap.registry.plugins.module_utils.docker_config import encode_auth
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryAuthError, RegistryClient
from ansible_collections.airgap.registry.plugins.module_utils.seed import seed
from tests.conftest import require
from tests.helpers.engine import ctr_namespace
from tests.helpers.registries import REPO_ROOT, htpasswd_auth
from tests.helpers.seed import start_kind


OCI = ("multi2.tar", "multi3.tar", "dlist.tar", "attest.tar", "signed.tar", "helm.tar")
TAGS = ("multi:2", "multi:3", "dlist:1", "attest:1", "signed:1", "charts/mychart:0.1.0",
        "abox:1.0.1", "tools/busyish:2.0", "nginx:1.25")
CLI = os.path.join(REPO_ROOT, ".venv", "bin", "airgap-bundle")


def _fill(reg, oci_dir, sample_tarballs, rename=None):
    src = [str(oci_dir / n) for n in OCI] + [str(p) for p in sorted(sample_tarballs.glob("*.tar"))]
    seed({"src": src, "registry": reg.host, "retries": 1, "rename": rename})


@pytest.fixture(scope="module", params=["pyregistry", "distribution"])
def source(request, tmp_path_factory, oci_dir, sample_tarballs):
    """A source registry of each kind holding every sample."""
    reg = start_kind(request.param, tmp_path_factory.mktemp(f"src-{request.param}"))
    try:
        _fill(reg, oci_dir, sample_tarballs)
        yield reg
    finally:
        reg.stop()


@pytest.fixture(scope="module")
def py_source(tmp_path_factory, oci_dir, sample_tarballs):
    reg = start_kind("pyregistry", tmp_path_factory.mktemp("src-py"))
    try:
        _fill(reg, oci_dir, sample_tarballs)
        yield reg
    finally:
        reg.stop()


def _refs(reg, tags=TAGS):
    return [f"{reg.host}/{t}" for t in tags]


def _blob_files(root):
    directory = os.path.join(root, "blobs", "sha256")
    return {f"sha256:{name}": os.path.join(directory, name) for name in os.listdir(directory)}


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _names(root):
    with open(os.path.join(root, "index.json")) as fh:
        return {reference_of(d): d["digest"] for d in json.load(fh)["manifests"] if reference_of(d)}


def _skopeo_copy(src, dest_reg, dest_repo):
    proc = subprocess.run(["skopeo", "copy", "--all", "--preserve-digests", "--quiet", "--dest-tls-verify=false", src,
                           f"docker://{dest_reg.host}/{dest_repo}"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return RegistryClient(dest_reg.host, scheme="http").head_manifest(*dest_repo.rsplit(":", 1))["digest"]


# --- directory bundles ---------------------------------------------------------------------------------------------
def test_directory_bundle_holds_each_blob_once_and_copies_back(source, tmp_path, start_registry):
    require(shutil.which("skopeo"), "skopeo is not installed")
    out = str(tmp_path / "bundle") + "/"
    result = create_bundle({"images": _refs(source), "output": out, "retries": 1})
    client = RegistryClient(source.host, scheme="http")
    files = _blob_files(out)
    # Every blob once, each file holding what its name says; the count is the result's.
    assert len(files) == result["blobs_total"]
    assert all(_sha256_file(path) == digest for digest, path in files.items())
    assert sum(os.path.getsize(p) for p in files.values()) == result["bytes_total"]
    # The shared base layer is stored once: the bundle is smaller than the images' sizes added up.
    assert result["bytes_total"] < sum(i["size"] for i in result["images"])
    # index.json names each image by its full source reference, at the source's digest.
    names = _names(out)
    for tag in TAGS:
        repo, ref = tag.rsplit(":", 1)
        assert names[f"{source.host}/{tag}"] == client.head_manifest(repo, ref)["digest"], tag
    sig = [n for n in names if re.search(r":sha256-[0-9a-f]{64}\.sig$", n)]
    assert len(sig) == 1 and sig[0].startswith(f"{source.host}/signed:")
    signed = next(i for i in json.load(open(os.path.join(out, "airgap-bundle.json")))["images"]
                  if i["reference"] == f"{source.host}/signed:1")
    assert len(signed["referrers"]) >= 2 and all(r in files for r in signed["referrers"])
    multi3 = next(i for i in result["images"] if i["reference"].endswith("/multi:3"))
    assert multi3["platforms"] == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    assert verify_bundle(out) == []
    # A rerun finds everything: nothing fetched, nothing changed.
    again = create_bundle({"images": _refs(source), "output": out})
    assert (again["changed"], again["blobs_fetched"]) == (False, 0)
    checked = create_bundle({"images": _refs(source), "output": out, "check_mode": True})
    assert (checked["changed"], checked["blobs_fetched"], checked["images"]) == (False, 0, result["images"])
    fresh = create_bundle({"images": _refs(source), "output": str(tmp_path / "fresh") + "/", "check_mode": True})
    assert fresh["changed"] and fresh["bytes_fetched"] > 0 and not (tmp_path / "fresh").exists()
    # skopeo copies the images from the bundle into another registry with the same digests (containers/image reads
    # only OCI media types from an index.json: Docker-typed images are checked with ctr import in test_tar_and_tar_zst).
    target = start_registry("pyregistry")
    for tag in ("multi:3", "attest:1", "signed:1", "charts/mychart:0.1.0"):
        assert _skopeo_copy(f"oci:{out}:{source.host}/{tag}", target, tag) == names[f"{source.host}/{tag}"], tag


# --- tarballs -------------------------------------------------------------------------------------------------------
def _members(path, compressed=False):
    with open(path, "rb") as raw:
        fh = zstandard.ZstdDecompressor().stream_reader(raw) if compressed else raw
        with tarfile.open(fileobj=fh, mode="r|") as tar:
            out = []
            for member in tar:
                data = tar.extractfile(member).read() if member.isfile() else None
                out.append((member.name, data))
            return out


def test_tar_and_tar_zst(py_source, tmp_path, start_registry):
    require(shutil.which("skopeo"), "skopeo is not installed")
    directory = str(tmp_path / "dir") + "/"
    create_bundle({"images": _refs(py_source), "output": directory})
    blobs = _blob_files(directory)
    for name, compressed in (("b.tar", False), ("b.tar.zst", True)):
        path = str(tmp_path / name)
        result = create_bundle({"images": _refs(py_source), "output": path})
        assert result["form"] == name.split(".", 1)[1] and result["changed"]
        assert not os.path.exists(path + ".partial") and verify_bundle(path) == []
        members = _members(path, compressed)
        names = [n for n, _d in members]
        assert names[:2] == ["oci-layout", "airgap-bundle.json"] and names[-1] == "index.json"
        files = [n for n in names if n.startswith("blobs/sha256/")]
        assert files == sorted(files) and len(files) == len(set(files)) == len(blobs) == result["blobs_total"]
        for member, data in members:
            if member.startswith("blobs/sha256/"):
                assert "sha256:" + hashlib.sha256(data).hexdigest() == "sha256:" + member.rsplit("/", 1)[1]
        again = create_bundle({"images": _refs(py_source), "output": path})
        assert (again["changed"], again["blobs_fetched"]) == (False, 0)
    target = start_registry("pyregistry")
    want = _names(directory)[f"{py_source.host}/multi:3"]
    assert _skopeo_copy(f"oci-archive:{tmp_path / 'b.tar'}:{py_source.host}/multi:3", target, "multi:3") == want
    ratio = os.path.getsize(tmp_path / "b.tar.zst") / os.path.getsize(tmp_path / "b.tar")
    assert ratio < 1


def test_ctr_imports_every_image_of_a_tar(py_source, tmp_path):
    """containerd reads Docker media types in index.json too (skopeo does not): every named image, at its digest."""
    path = str(tmp_path / "b.tar")
    result = create_bundle({"images": _refs(py_source), "output": path})
    with ctr_namespace() as ctr:
        run = subprocess.run([*ctr, "images", "import", "--all-platforms", "--no-unpack", path], capture_output=True,
                             text=True, check=False)
        assert run.returncode == 0, run.stderr
        listed = subprocess.run([*ctr, "images", "ls"], capture_output=True, text=True, check=True).stdout.splitlines()[1:]
        imported = {line.split()[0]: line.split()[2] for line in listed}
        assert imported == {i["reference"]: i["digest"] for i in result["images"]}
        assert any("docker.distribution.manifest.v2" in line for line in listed)  # abox: a Docker schema 2 image


def test_split_parts_concatenate_to_the_tarball(py_source, tmp_path, monkeypatch):
    require(shutil.which("sha256sum"), "sha256sum is not installed")
    monkeypatch.setattr(bundle_create, "now", lambda: "2026-11-30T07:00:00Z")  # one clock for both bundles
    refs = _refs(py_source, ("multi:3", "abox:1.0.1", "nginx:1.25"))
    whole = tmp_path / "whole" / "b.tar"
    whole.parent.mkdir()
    create_bundle({"images": refs, "output": str(whole)})
    split = tmp_path / "split" / "b.tar"
    split.parent.mkdir()
    result = create_bundle({"images": refs, "output": str(split), "split_size": "64K"})
    parts = result["parts"]
    assert len(parts) > 1 and not split.exists()
    assert [os.path.basename(p) for p in parts] == [f"b.tar.part{i:03d}" for i in range(1, len(parts) + 1)]
    assert all(os.path.getsize(p) <= 64 * 1024 for p in parts)
    joined = b"".join(open(p, "rb").read() for p in parts)
    assert joined == whole.read_bytes()
    check = subprocess.run(["sha256sum", "-c", "b.tar.sha256"], cwd=split.parent, capture_output=True, text=True, check=False)
    assert check.returncode == 0 and check.stdout.count(": OK") == len(parts), check.stdout + check.stderr
    # A rerun reads the finished parts: nothing to do; another part size writes the parts again.
    again = create_bundle({"images": refs, "output": str(split), "split_size": "64K"})
    assert (again["changed"], again["blobs_fetched"], again["parts"]) == (False, 0, parts)
    other = create_bundle({"images": refs, "output": str(split), "split_size": "128K"})
    assert other["changed"] and len(other["parts"]) < len(parts) and not os.path.exists(parts[-1])
    assert b"".join(open(p, "rb").read() for p in other["parts"]) == whole.read_bytes()
    assert verify_bundle(str(split)) == [] and verify_bundle(str(whole)) == []
    parts = create_bundle({"images": refs, "output": str(split), "split_size": "64K"})["parts"]
    # Flip a byte: sha256sum -c names the part.
    with open(parts[0], "r+b") as fh:
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    check = subprocess.run(["sha256sum", "-c", "b.tar.sha256"], cwd=split.parent, capture_output=True, text=True, check=False)
    assert check.returncode == 1 and "b.tar.part001: FAILED" in check.stdout


# --- interrupted and rerun ------------------------------------------------------------------------------------------
class StopAfter:
    """A progress observer that interrupts the run after `count` blobs are stored."""

    def __init__(self, count):
        self.count = count
        self.done = []

    def blob_start(self, key, label, total):
        pass

    def blob_advance(self, key, n):
        pass

    def blob_done(self, key, how, label):
        self.done.append(key)
        if len(self.done) >= self.count:
            raise KeyboardInterrupt("interrupted by the test")


def _blob_gets(reg):
    with open(reg.log_path, errors="replace") as fh:
        return re.findall(r'"GET /v2/[^ ]+/blobs/(sha256:[0-9a-f]{64}) ', fh.read())


@pytest.mark.parametrize("name", ["bundle/", "bundle.tar"])
def test_interrupted_create_fetches_nothing_twice(name, tmp_path, oci_dir, sample_tarballs):
    reg = start_kind("distribution", tmp_path / "reg", config={"log": {"accesslog": {"disabled": False}}})
    try:
        _fill(reg, oci_dir, sample_tarballs)
        before = len(_blob_gets(reg))
        out = str(tmp_path / name.rstrip("/")) + ("/" if name.endswith("/") else "")
        opts = {"images": _refs(reg), "output": out, "parallel": 1}
        stopper = StopAfter(5)
        with pytest.raises(KeyboardInterrupt):
            create_bundle(opts, stopper)
        assert len(stopper.done) == 5
        staging = out.rstrip("/") + ("" if name.endswith("/") else ".partial")
        assert os.path.isdir(staging) and not os.path.exists(os.path.join(staging, "index.json"))
        second = create_bundle(opts)
        assert 0 < second["blobs_fetched"] < second["blobs_total"]
        # Across both runs every config and layer was fetched exactly once.
        gets = _blob_gets(reg)[before:]
        assert sorted(gets) == sorted(_non_manifest_blobs(second)), "a blob was fetched twice, or not at all"
        third = create_bundle(opts)
        assert third["blobs_fetched"] == 0 and len(_blob_gets(reg)[before:]) == len(gets)
    finally:
        reg.stop()


def _non_manifest_blobs(result):
    """The digests of the bundle's blobs that are not manifests or indexes (those come with the plan)."""
    if result["form"] == "directory":
        stored = {d: open(p, "rb").read(8192) for d, p in _blob_files(result["output"]).items()}
    else:
        stored = {"sha256:" + n.rsplit("/", 1)[1]: data[:8192] for n, data in _members(result["output"])
                  if n.startswith("blobs/sha256/")}
    return [d for d, head in stored.items() if not _is_manifest(head)]


def _is_manifest(head):
    try:
        doc = json.loads(head)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("schemaVersion") == 2 and ("manifests" in doc or "layers" in doc)


# --- platforms --------------------------------------------------------------------------------------------------------
def test_platform_filter_and_sparse(py_source, tmp_path):
    ref = f"{py_source.host}/multi:3"
    client = RegistryClient(py_source.host, scheme="http")
    source_digest = client.head_manifest("multi", "3")["digest"]
    index = json.loads(client.get_manifest("multi", source_digest)[0])
    arm = [e["digest"] for e in index["manifests"] if e["platform"]["architecture"] == "arm"]
    filtered = create_bundle({"images": [ref], "output": str(tmp_path / "f") + "/", "platforms": ["linux/amd64"]})
    image = filtered["images"][0]
    assert image["platforms"] == ["linux/amd64"] and image["digest"] != source_digest
    doc = json.load(open(tmp_path / "f" / "airgap-bundle.json"))
    assert doc["images"][0]["sourceDigest"] == source_digest
    assert not set(arm) & set(_blob_files(tmp_path / "f"))
    sparse = create_bundle({"images": [ref], "output": str(tmp_path / "s") + "/", "platforms": ["linux/amd64"],
                            "platform_policy": "sparse"})
    assert sparse["images"][0]["digest"] == source_digest and not set(arm) & set(_blob_files(tmp_path / "s"))
    with pytest.raises(BundleError, match=r"multi:3.*s390x"):
        create_bundle({"images": [ref], "output": str(tmp_path / "x") + "/", "platforms": ["linux/s390x"]})
    assert not (tmp_path / "x").exists()


# --- have and delta ---------------------------------------------------------------------------------------------------
def test_have_then_delta_holds_only_new_blobs(py_source, tmp_path, start_registry, oci_dir, sample_tarballs):
    site = start_registry("pyregistry")
    # The site has abox and an older multi:2 (the 3-platform index under that tag).
    seed({"src": [str(oci_dir / "multi3.tar"), str(sample_tarballs / "abox_1.0.1.tar")], "registry": site.host,
          "retries": 1, "rename": {"multi:3": "multi:2"}})
    have_path = tmp_path / "have.json"
    summary = have({"registry": site.host, "output": str(have_path)})
    doc = parse_have(have_path.read_bytes(), str(have_path))
    assert set(doc["repositories"]) == {"abox", "multi"} and summary["blobs"] == len(doc["blobs"])
    site_client = RegistryClient(site.host, scheme="http")
    assert doc["repositories"]["multi"]["2"] == site_client.head_manifest("multi", "2")["digest"]
    assert all(site_client.blob_size(repo, digest) for digest, repo in doc["blobs"].items())
    refs = _refs(py_source, ("abox:1.0.1", "multi:2", "nginx:1.25"))
    full = create_bundle({"images": refs, "output": str(tmp_path / "full") + "/"})
    delta = create_bundle({"images": refs, "output": str(tmp_path / "delta") + "/", "have": str(have_path)})
    carried = set(_blob_files(tmp_path / "delta"))
    everything = set(_blob_files(tmp_path / "full"))
    record = json.load(open(tmp_path / "delta" / "airgap-bundle.json"))["delta"]
    assert record["registry"] == site.host and record["have_created"] == doc["created"]
    # Carried + relied on = the full bundle; nothing carried that the site has, except manifests.
    assert carried | set(record["blobs"]) == everything and not carried & set(record["blobs"])
    assert verify_bundle(str(tmp_path / "delta")) == []
    assert set(record["blobs"]) <= set(doc["blobs"]) and all(record["blobs"][d] == doc["blobs"][d] for d in record["blobs"])
    for digest in carried & set(doc["blobs"]):
        pytest.fail(f"{digest} is at the site but carried")
    # abox is wholly at the site: its config and layers are relied on; nginx's own layer and config travel.
    abox = json.loads(RegistryClient(py_source.host, scheme="http").get_manifest("abox", "1.0.1")[0])
    assert {d["digest"] for d in [abox["config"], *abox["layers"]]} <= set(record["blobs"])
    nginx = json.loads(RegistryClient(py_source.host, scheme="http").get_manifest("nginx", "1.25")[0])
    assert nginx["config"]["digest"] in carried and nginx["layers"][-1]["digest"] in carried
    assert nginx["layers"][0]["digest"] in record["blobs"]  # the base layer shared with abox
    # Every manifest travels, the updated tag's too.
    assert _names(tmp_path / "delta") == _names(tmp_path / "full")
    assert delta["blobs_fetched"] < full["blobs_fetched"]


# --- from the engine ------------------------------------------------------------------------------------------------
def test_from_engine(docker_client, tmp_path, start_registry):
    require(shutil.which("skopeo"), "skopeo is not installed")
    layer = tmp_path / "rootfs.tar"
    with tarfile.open(layer, "w") as tar:
        info = tarfile.TarInfo("hello.txt")
        data = b"hello from the engine\n"
        info.size = len(data)
        tar.addfile(info, __import__("io").BytesIO(data))
    name = "airgap-bundle-engine-test:1"
    subprocess.run(["docker", "import", str(layer), name], check=True, capture_output=True)
    try:
        inspect = docker_client.api.inspect_image(name)
        out = str(tmp_path / "bundle") + "/"
        result = create_bundle({"images": [name], "output": out, "from_engine": True})
        reference = "docker.io/library/airgap-bundle-engine-test:1"
        assert [i["reference"] for i in result["images"]] == [reference]
        digest = _names(out)[reference]
        manifest = json.load(open(os.path.join(out, "blobs", "sha256", digest[7:])))
        assert manifest["config"]["digest"] == inspect["Id"]
        assert [d["digest"] for d in manifest["layers"]] == inspect["RootFS"]["Layers"]
        assert {d["mediaType"] for d in manifest["layers"]} == {OCI_LAYER}
        assert result["images"][0]["platforms"] == [f"{inspect['Os']}/{inspect['Architecture']}"]
        target = start_registry("pyregistry")
        assert _skopeo_copy(f"oci:{out}:{reference}", target, "engine:1") == digest
    finally:
        subprocess.run(["docker", "rmi", name], check=False, capture_output=True)


# --- the command line ------------------------------------------------------------------------------------------------
def test_cli_create_check_have_and_errors(py_source, tmp_path):
    require(os.path.exists(CLI), "airgap-bundle is not installed in .venv (make)")
    images = tmp_path / "images.txt"
    images.write_text(f"# the images\n{py_source.host}/abox:1.0.1\n\n{py_source.host}/nginx:1.25  # web\n")
    out = tmp_path / "b.tar"
    checked = subprocess.run([CLI, "create", "--images-file", str(images), "--output", str(out), "--check"],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert "2 images" in checked.stdout and "would fetch" in checked.stdout and not out.exists()
    assert not list(tmp_path.glob("b.tar*"))
    done = subprocess.run([CLI, "create", "--images-file", str(images), "--output", str(out), "--report",
                           str(tmp_path / "r.json")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["blobs_fetched"] > 0 and out.exists() and "fetched" in done.stderr
    verified = subprocess.run([CLI, "verify", str(out)], capture_output=True, text=True, check=False)
    assert verified.returncode == 0 and verified.stdout.strip() == f"{out}: good", verified.stderr
    table = subprocess.run([CLI, "list", str(out)], capture_output=True, text=True, check=False)
    assert table.returncode == 0 and f"{py_source.host}/nginx:1.25" in table.stdout and "REFERENCE" in table.stdout
    broken = tmp_path / "broken.tar"
    broken.write_bytes(out.read_bytes()[:-20000])
    failed = subprocess.run([CLI, "verify", str(broken)], capture_output=True, text=True, check=False)
    assert failed.returncode == 1 and "broken.tar" in failed.stderr
    listed = subprocess.run([CLI, "list", "--json", str(out)], capture_output=True, text=True, check=True)
    assert [i["reference"] for i in json.loads(listed.stdout)["images"]] == [i["reference"] for i in report["images"]]
    have_out = tmp_path / "have.json"
    listed = subprocess.run([CLI, "have", "--registry", py_source.host, "--output", str(have_out)],
                            capture_output=True, text=True, check=False)
    assert listed.returncode == 0 and json.loads(have_out.read_text())["haveVersion"] == 1
    bad = subprocess.run([CLI, "create", f"{py_source.host}/nope:1", "--output", str(tmp_path / "n") + "/"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "nope" in bad.stderr and "Traceback" not in bad.stderr
    usage = subprocess.run([CLI, "create", "--output", str(tmp_path / "x.zip")], capture_output=True, text=True, check=False)
    assert usage.returncode == 1 and "x.zip" in usage.stderr
    none = subprocess.run([CLI, "create", "--output", str(tmp_path / "x.tar")], capture_output=True, text=True, check=False)
    assert none.returncode == 1 and "no image given" in none.stderr


# --- credentials -------------------------------------------------------------------------------------------------------
def _registry_with_login(start_registry, tmp_path, sample_tarballs):
    """A pyregistry asking for `bundler` / `s3cret-pw` (htpasswd), holding abox:1.0.1."""
    require(shutil.which("htpasswd"), "htpasswd (apache2-utils) is not installed")
    reg = start_registry("pyregistry", config={"auth": htpasswd_auth(tmp_path, "bundler", "s3cret-pw")})
    seed({"src": [str(sample_tarballs / "abox_1.0.1.tar")], "registry": reg.host, "retries": 1,
          "username": "bundler", "password": "s3cret-pw"})
    return reg


def test_credentials_from_docker_config(start_registry, tmp_path, sample_tarballs, monkeypatch):
    reg = _registry_with_login(start_registry, tmp_path, sample_tarballs)
    config_dir = tmp_path / "docker"
    config_dir.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    opts = {"images": [f"{reg.host}/abox:1.0.1"], "retries": 0}
    with pytest.raises(RegistryAuthError):
        create_bundle({**opts, "output": str(tmp_path / "none") + "/"})
    (config_dir / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": encode_auth("bundler", "s3cret-pw")}}}))
    result = create_bundle({**opts, "output": str(tmp_path / "ok") + "/"})
    assert result["blobs_fetched"] > 0
    # An explicit user name wins over the config file.
    (config_dir / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": encode_auth("bundler", "wrong")}}}))
    explicit = create_bundle({**opts, "output": str(tmp_path / "explicit") + "/", "username": "bundler",
                              "password": "s3cret-pw"})
    assert explicit["images"] == result["images"]
    with pytest.raises(RegistryAuthError):
        create_bundle({**opts, "output": str(tmp_path / "wrong") + "/"})


def test_credentials_from_a_docker_credential_helper(start_registry, tmp_path, sample_tarballs, monkeypatch):
    """~/.docker/config.json naming a credential helper for the registry (credHelpers, as `docker login` writes with
    one): create asks `docker-credential-NAME get` as docker does; a helper that cannot be run is named in the error."""
    reg = _registry_with_login(start_registry, tmp_path, sample_tarballs)
    bin_dir, config_dir = tmp_path / "bin", tmp_path / "docker"
    bin_dir.mkdir()
    config_dir.mkdir()
    helper = bin_dir / "docker-credential-airgaptest"  # the credential helper protocol: `get`, server URL on stdin
    helper.write_text("#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread server\n"
                      f"[ \"$server\" = {reg.host} ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\n"
                      f"echo '{{\"ServerURL\": \"{reg.host}\", \"Username\": \"bundler\", \"Secret\": \"s3cret-pw\"}}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    (config_dir / "config.json").write_text(json.dumps({"auths": {reg.host: {}}, "credHelpers": {reg.host: "airgaptest"}}))
    opts = {"images": [f"{reg.host}/abox:1.0.1"], "retries": 0}
    result = create_bundle({**opts, "output": str(tmp_path / "ok") + "/"})
    assert result["blobs_fetched"] > 0
    (config_dir / "config.json").write_text(json.dumps({"credsStore": "nosuchhelper"}))
    with pytest.raises(BundleError, match=rf"{config_dir}/config.json sends credentials for {reg.host} to "
                                          "docker-credential-nosuchhelper, which cannot be run"):
        create_bundle({**opts, "output": str(tmp_path / "none") + "/"})


def test_a_directory_update_that_fails_writing_index_json_leaves_the_old_bundle_whole(py_source, tmp_path, monkeypatch):
    """Updating a bundle directory to other images: when index.json cannot be written (a full disk), the blobs the old
    index.json names are still there (no prune before the new index is in place): the old bundle still verifies."""
    out = str(tmp_path / "b") + "/"
    create_bundle({"images": _refs(py_source, ("abox:1.0.1",)), "output": out})
    assert verify_bundle(out) == []
    real = bundle_create.write_bytes_atomically

    def full_disk(path, data, *args):
        if path.endswith("index.json"):
            raise OSError(28, "No space left on device", path)
        return real(path, data, *args)
    monkeypatch.setattr(bundle_create, "write_bytes_atomically", full_disk)
    with pytest.raises(OSError, match="No space left"):
        create_bundle({"images": _refs(py_source, ("nginx:1.25",)), "output": out})
    assert [p for p in verify_bundle(out) if "not in the bundle" in p] == []
    monkeypatch.setattr(bundle_create, "write_bytes_atomically", real)
    again = create_bundle({"images": _refs(py_source, ("nginx:1.25",)), "output": out})
    assert again["changed"] and verify_bundle(out) == [] and again["blobs_fetched"] == 0
    assert not create_bundle({"images": _refs(py_source, ("nginx:1.25",)), "output": out})["changed"]
