"""bundle_create, bundle_store and bundle_options without a registry: names, images files, the blob store and its
resume rule, tarball member order and split parts, delta selection and platform policy over an in-memory registry
(the only faked I/O)."""
import hashlib
import io
import json
import os
import signal
import tarfile
import time

import pytest

from ansible_collections.airgap.registry.plugins.module_utils import bundle_store
from ansible_collections.airgap.registry.plugins.module_utils.bundle_create import (
    Need,
    Plan,
    Planner,
    Source,
    create_bundle,
    fetch,
    image_list,
    read_images_file,
)
from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import BundleError
from ansible_collections.airgap.registry.plugins.module_utils.bundle_options import CREATE_OPTIONS, HAVE_OPTIONS
from ansible_collections.airgap.registry.plugins.module_utils.bundle_store import BlobStore, member_names, write_tarball
from ansible_collections.airgap.registry.plugins.module_utils.media_types import DOCKER_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST
from ansible_collections.airgap.registry.plugins.module_utils.referrers import Referrers
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import CONNECTION_ARGUMENT_SPEC
from ansible_collections.airgap.registry.plugins.module_utils.seed_options import argument_spec
from ansible_collections.airgap.registry.plugins.module_utils.seed_report import NullProgress
from airgap_cli.bundle import build_parser


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- names and image lists ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("ref", "name", "host", "repo", "reference"), [
    ("alpine", "docker.io/library/alpine:latest", "registry-1.docker.io", "library/alpine", "latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25", "registry-1.docker.io", "library/nginx", "1.25"),
    ("index.docker.io/acme/api:1", "docker.io/acme/api:1", "registry-1.docker.io", "acme/api", "1"),
    ("127.0.0.1:5000/a/b:2", "127.0.0.1:5000/a/b:2", "127.0.0.1:5000", "a/b", "2"),
    ("ghcr.io/x/y@sha256:" + "a" * 64, "ghcr.io/x/y@sha256:" + "a" * 64, "ghcr.io", "x/y", "sha256:" + "a" * 64),
])
def test_source_names(ref, name, host, repo, reference):
    source = Source(ref)
    assert (source.name, source.host, source.repo, source.reference) == (name, host, repo, reference)


def test_bad_reference_names_it():
    with pytest.raises(BundleError, match="Not/Valid"):
        Source("host:5000/Not/Valid:1")


def test_images_file_plain_and_yaml(tmp_path):
    plain = tmp_path / "images.txt"
    plain.write_text("# comment\nalpine:3.19\n\n  ghcr.io/acme/api:1.4   # trailing\n")
    assert read_images_file(str(plain)) == [("alpine:3.19", None), ("ghcr.io/acme/api:1.4", None)]
    yaml_file = tmp_path / "images.yml"
    yaml_file.write_text("images:\n  - alpine:3.19\n  - reference: ghcr.io/acme/api:1.4\n    platforms: [linux/amd64]\n")
    assert read_images_file(str(yaml_file)) == [("alpine:3.19", None), ("ghcr.io/acme/api:1.4", ["linux/amd64"])]
    bad = tmp_path / "bad.yml"
    bad.write_text("- reference: x\n  platforms: linux/amd64\n")
    with pytest.raises(BundleError, match=r"bad\.yml: image 1: platforms"):
        read_images_file(str(bad))
    with pytest.raises(BundleError, match="missing.txt: cannot read"):
        read_images_file(str(tmp_path / "missing.txt"))


def test_image_list_platforms_and_empty(tmp_path):
    yaml_file = tmp_path / "images.yml"
    yaml_file.write_text("- a:1\n- reference: b:1\n  platforms: [linux/arm64]\n")
    got = image_list({"images": ["c:1"], "images_file": str(yaml_file), "platforms": ["linux/amd64"]})
    assert got == [("c:1", ["linux/amd64"]), ("a:1", ["linux/amd64"]), ("b:1", ["linux/arm64"])]
    with pytest.raises(BundleError, match="no image given"):
        image_list({"images": [], "images_file": None})


# --- options --------------------------------------------------------------------------------------------------------
def test_options_give_flags_and_argument_spec():
    spec = argument_spec(CREATE_OPTIONS)
    assert spec["output"]["required"] and spec["platform_policy"]["choices"] == ["filter", "sparse"]
    assert set(CONNECTION_ARGUMENT_SPEC) <= set(spec) and set(CONNECTION_ARGUMENT_SPEC) <= set(argument_spec(HAVE_OPTIONS))
    args = build_parser().parse_args(["create", "a:1", "b:1", "--output", "x.tar", "--platform", "linux/amd64",
                                      "--platform", "linux/arm64", "--split-size", "4G", "--insecure"])
    assert (args.images, args.platforms, args.split_size, args.validate_certs) == (["a:1", "b:1"], ["linux/amd64", "linux/arm64"], "4G", True)
    assert build_parser().parse_args(["create", "--images-file", "f", "--output", "d/"]).images == []
    with pytest.raises(SystemExit):
        build_parser().parse_args(["create", "a:1", "--output", "x.tar", "--platform-policy", "full"])


# --- the blob store ------------------------------------------------------------------------------------------------
def test_blob_store_verifies_and_leaves_nothing_on_mismatch(tmp_path):
    store = BlobStore(str(tmp_path))
    data = os.urandom(3 * bundle_store.CHUNK + 17)
    digest = digest_of(data)
    assert store.put_stream(digest, len(data), io.BytesIO(data), "blob x") == len(data)
    assert store.has(digest, len(data)) and not store.has(digest, len(data) + 1)
    other = digest_of(b"other")
    with pytest.raises(BundleError, match=f"blob y: got 5 bytes with digest {digest_of(b'wrong')}"):
        store.put_stream(other, 5, io.BytesIO(b"wrong"), "blob y")
    with pytest.raises(BundleError, match="more than the 2 bytes"):
        store.put_stream(other, 2, io.BytesIO(b"other"), "blob z")
    assert os.listdir(tmp_path / "blobs" / "sha256") == [digest[7:]]
    with pytest.raises(BundleError, match="content does not match"):
        store.put_bytes(other, b"nope", "manifest m")


def test_prune_keeps_only_the_plan(tmp_path):
    store = BlobStore(str(tmp_path))
    keep, drop = b"keep", b"drop"
    store.put_bytes(digest_of(keep), keep, "k")
    store.put_bytes(digest_of(drop), drop, "d")
    (tmp_path / "blobs" / "sha256" / ".abc.tmp").write_bytes(b"half")
    assert store.prune({digest_of(keep)}) == 1
    assert os.listdir(tmp_path / "blobs" / "sha256") == [digest_of(keep)[7:]]


class Counted:
    """Blobs as in-memory streams; `opened` counts the downloads; `fail_on` raises while reading that digest."""

    def __init__(self, blobs, fail_on=None):
        self.blobs = blobs
        self.opened = []
        self.fail_on = fail_on

    def need(self, data):
        digest = digest_of(data)

        def opener():
            self.opened.append(digest)
            if digest == self.fail_on:
                raise ConnectionError("registry went away")
            return io.BytesIO(data)
        return Need(digest, len(data), opener, f"blob {digest}")


def test_fetch_resumes_without_fetching_twice(tmp_path):
    blobs = [os.urandom(1000 + i) for i in range(6)]
    store = BlobStore(str(tmp_path))
    source = Counted(blobs, fail_on=digest_of(blobs[3]))
    plan = Plan()
    plan.blobs = {digest_of(b): source.need(b) for b in blobs}
    plan.manifests = {digest_of(b"{}"): b"{}"}
    with pytest.raises(ConnectionError):
        fetch(plan, store, 1, NullProgress())
    first = list(source.opened)
    assert first == [digest_of(b) for b in blobs[:4]]  # stopped at the failure, nothing started after it
    source.fail_on = None
    source.opened.clear()
    assert fetch(plan, store, 3, NullProgress()) == (3, sum(len(b) for b in blobs[3:]))
    assert sorted(source.opened) == sorted(digest_of(b) for b in blobs[3:])
    assert fetch(plan, store, 3, NullProgress()) == (0, 0)


# --- tarballs and parts ----------------------------------------------------------------------------------------------
def _layout(root):
    store = BlobStore(str(root))
    digests = []
    for i in range(5):
        data = os.urandom(20000 + i)
        store.put_bytes(digest_of(data), data, "b")
        digests.append(digest_of(data))
    for name in ("oci-layout", "airgap-bundle.json", "index.json"):
        (root / name).write_bytes(b"{}\n")
    return digests


def test_member_order():
    names = member_names(["sha256:" + "b" * 64, "sha256:" + "a" * 64])
    assert names == ["oci-layout", "airgap-bundle.json", "blobs/", "blobs/sha256/", "blobs/sha256/" + "a" * 64,
                     "blobs/sha256/" + "b" * 64, "index.json"]


def test_tarball_is_deterministic_and_parts_join_to_it(tmp_path):
    root = tmp_path / "layout"
    digests = _layout(root)
    names = member_names(digests)
    one, two = tmp_path / "one.tar", tmp_path / "two.tar"
    assert write_tarball(str(one), str(root), names, False, None) == []
    write_tarball(str(two), str(root), names, False, None)
    assert one.read_bytes() == two.read_bytes()
    with tarfile.open(one) as tar:
        assert [m.name for m in tar.getmembers()] == [n.rstrip("/") for n in names]
        assert {m.mtime for m in tar.getmembers()} == {0}
    parts = write_tarball(str(two), str(root), names, False, 16 * 1024)
    assert not two.exists() and len(parts) == -(-one.stat().st_size // (16 * 1024))
    assert b"".join(open(p, "rb").read() for p in parts) == one.read_bytes()
    sums = (tmp_path / "two.tar.sha256").read_text().splitlines()
    assert sums == [f"{hashlib.sha256(open(p, 'rb').read()).hexdigest()}  {os.path.basename(p)}" for p in parts]
    # Fewer, larger parts: the stale ones go; the whole tarball again: parts and checksum go.
    fewer = write_tarball(str(two), str(root), names, False, 64 * 1024)
    assert sorted(p.name for p in tmp_path.glob("two.tar.part*")) == [os.path.basename(p) for p in fewer]
    write_tarball(str(two), str(root), names, False, None)
    assert two.read_bytes() == one.read_bytes() and not list(tmp_path.glob("two.tar.*"))


def test_tar_zst_without_zstandard_says_what_to_install(tmp_path, monkeypatch):
    root = tmp_path / "layout"
    digests = _layout(root)
    monkeypatch.setattr(bundle_store, "zstd_module", lambda: None)
    with pytest.raises(BundleError, match="pip install zstandard"):
        write_tarball(str(tmp_path / "b.tar.zst"), str(root), member_names(digests), True, None)
    assert not list(tmp_path.glob("*.zst*")) and not list(tmp_path.glob(".b.tar.zst*"))


# --- planning over an in-memory registry -------------------------------------------------------------------------------
class MemoryRegistry:
    """The manifest and blob calls of RegistryClient over dicts (no referrers API, as Distribution 2.8)."""

    host = "reg.test:5000"

    def __init__(self):
        self.manifests = {}  # (repo, ref) -> body
        self.blobs = {}
        self.tag_lists = {}

    def add_blob(self, data):
        self.blobs[digest_of(data)] = data
        return {"mediaType": OCI_LAYER, "digest": digest_of(data), "size": len(data)}

    def add_manifest(self, repo, body, tag=None):
        self.manifests[(repo, digest_of(body))] = body
        if tag:
            self.manifests[(repo, tag)] = body
            self.tag_lists.setdefault(repo, []).append(tag)
        return digest_of(body)

    def image(self, repo, tag, layers, arch="amd64"):
        config = json.dumps({"os": "linux", "architecture": arch, "rootfs": {"type": "layers"}}).encode()
        cfg = self.add_blob(config)
        cfg["mediaType"] = DOCKER_CONFIG
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg,
                           "layers": [self.add_blob(layer) for layer in layers]}).encode()
        return self.add_manifest(repo, body, tag), len(body)

    def tags(self, repo):
        return list(self.tag_lists.get(repo, []))

    def head_manifest(self, repo, ref, accept=None):
        body = self.manifests.get((repo, ref))
        return {"digest": digest_of(body), "media_type": None, "size": len(body)} if body else None

    def get_manifest(self, repo, ref, accept=None):
        body = self.manifests[(repo, ref)]
        return body, json.loads(body).get("mediaType"), digest_of(body)

    def open_blob(self, repo, digest):
        return io.BytesIO(self.blobs[digest])


def _planner(tmp_path, registry, **opts):
    planner = Planner({"platform_policy": "filter", **opts}, BlobStore(str(tmp_path / "b")), opts.get("have_doc"))
    planner.clients[registry.host] = registry
    planner.referrers[registry.host] = Referrers(registry)
    return planner


def test_delta_carries_manifests_and_only_new_blobs(tmp_path):
    reg = MemoryRegistry()
    base, app, new = b"base layer" * 100, b"app layer" * 100, b"new layer" * 100
    reg.image("app", "1", [base, app])
    reg.image("other", "2", [base, new])
    have = {"blobs": {digest_of(base): "library/base", digest_of(app): "app"}}
    planner = _planner(tmp_path, reg, have_doc=have)
    planner.add_image(f"{reg.host}/app:1", None)
    planner.add_image(f"{reg.host}/other:2", None)
    plan = planner.plan
    assert set(plan.delta) == {digest_of(base), digest_of(app)} and plan.delta[digest_of(base)] == "library/base"
    assert digest_of(new) in plan.blobs and not set(plan.delta) & set(plan.blobs)
    assert {reg.head_manifest("app", "1")["digest"], reg.head_manifest("other", "2")["digest"]} <= set(plan.manifests)
    assert [i["platforms"] for i in plan.images] == [["linux/amd64"], ["linux/amd64"]]


def _index(reg):
    entries = []
    for arch, layer in (("amd64", b"amd"), ("arm64", b"arm"), ("ppc64le", b"ppc")):
        digest, size = reg.image("multi", None, [layer * 50], arch)
        entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
                        "platform": {"os": "linux", "architecture": arch}})
    return reg.add_manifest("multi", json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode(), "1")


def test_platform_filter_records_the_source_digest(tmp_path):
    reg = MemoryRegistry()
    source_digest = _index(reg)
    planner = _planner(tmp_path, reg)
    planner.add_image(f"{reg.host}/multi:1", ["linux/arm64"])
    image = planner.plan.images[0]
    assert image["platforms"] == ["linux/arm64"] and image["sourceDigest"] == source_digest != image["digest"]
    assert digest_of(b"arm" * 50) in planner.plan.blobs and digest_of(b"amd" * 50) not in planner.plan.blobs
    sparse = _planner(tmp_path, reg, platform_policy="sparse")
    sparse.add_image(f"{reg.host}/multi:1", ["linux/arm64"])
    assert sparse.plan.images[0]["digest"] == source_digest and "sourceDigest" not in sparse.plan.images[0]


def test_platform_policy_that_cannot_hold_writes_nothing(tmp_path):
    reg = MemoryRegistry()
    _index(reg)
    planner = _planner(tmp_path, reg)
    with pytest.raises(BundleError, match=r"reg\.test:5000/multi:1: .*s390x"):
        planner.add_image(f"{reg.host}/multi:1", ["linux/s390x"])
    assert not (tmp_path / "b").exists()


def test_split_size_needs_a_tarball(tmp_path):
    with pytest.raises(BundleError, match="--split-size needs a .tar"):
        create_bundle({"images": ["a:1"], "output": str(tmp_path) + "/", "split_size": "1M"})
    with pytest.raises(BundleError, match="--split-size 0"):
        create_bundle({"images": ["a:1"], "output": str(tmp_path / "b.tar"), "split_size": "0"})


def test_a_digest_that_is_not_a_digest_never_becomes_a_path(tmp_path):
    """A source registry's manifest naming a layer `sha256:../../secret` (with the size of a file outside the bundle)
    fails planning naming the image and the digest; the blob store refuses such a digest before touching any path,
    so the file is neither taken for a stored blob nor copied into the bundle, and no directory is made outside."""
    secret = tmp_path / "secret"
    secret.write_bytes(b"not for the bundle")
    store = BlobStore(str(tmp_path / "b"))
    evil = "sha256:../../secret"
    for call in (lambda: store.has(evil, secret.stat().st_size), lambda: store.put_bytes(evil, b"x", "manifest m"),
                 lambda: store.put_stream("sha256:../../../made/x", 1, io.BytesIO(b"x"), "blob b")):
        with pytest.raises(BundleError, match=r"not a valid digest"):
            call()
    assert not (tmp_path / "made").exists()
    reg = MemoryRegistry()
    config = reg.add_blob(b"{}")
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                       "layers": [{"mediaType": OCI_LAYER, "digest": evil, "size": secret.stat().st_size}]}).encode()
    reg.add_manifest("evil", body, "1")
    with pytest.raises(BundleError, match=rf"{reg.host}/evil:1: .*'sha256:\.\./\.\./secret'.*not a valid digest"):
        _planner(tmp_path, reg).add_image(f"{reg.host}/evil:1", None)


def test_an_index_child_with_a_bad_digest_or_size_is_named(tmp_path):
    """An index child `sha512:../x` is refused before it is asked of the registry; a child whose descriptor size is
    not its manifest's (image-spec descriptor.md: size is the exact byte count) fails naming index and child."""
    reg = MemoryRegistry()
    child, size = reg.image("multi", None, [b"layer"])
    for entry, message in (({"digest": "sha512:../x", "size": 1}, r"'sha512:\.\./x' is not a valid digest"),
                           ({"digest": child, "size": size + 1}, rf"child {child} {size + 1} bytes, the registry sent {size}")):
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                           "manifests": [{"mediaType": OCI_MANIFEST, **entry}]}).encode()
        reg.add_manifest("multi", body, "1")
        with pytest.raises(BundleError, match=rf"{reg.host}/multi:1: index {digest_of(body)}.*{message}"):
            _planner(tmp_path, reg).add_image(f"{reg.host}/multi:1", None)


class Slow(io.BytesIO):
    """A blob stream that takes `delay` seconds a read."""

    def __init__(self, data, delay):
        super().__init__(data)
        self.delay = delay

    def read(self, n=-1):
        time.sleep(self.delay)
        return super().read(n)


def test_an_interrupt_stops_the_fetch_and_leaves_no_temp_file(tmp_path):
    """Ctrl-C (KeyboardInterrupt in the main thread) while blobs are fetched: no further blob starts, the one in
    flight finishes or is removed, no temp file stays, and a rerun fetches only the rest."""
    blobs = [os.urandom(100 + i) for i in range(20)]
    opened = []

    def need(data):
        def opener():
            opened.append(digest_of(data))
            return Slow(data, 0.05)
        return Need(digest_of(data), len(data), opener, "blob")
    plan = Plan()
    plan.blobs = {digest_of(b): need(b) for b in blobs}
    store = BlobStore(str(tmp_path))

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt
    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.25)
        with pytest.raises(KeyboardInterrupt):
            fetch(plan, store, 2, NullProgress())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert 0 < len(opened) <= 6, len(opened)
    assert not [n for n in os.listdir(tmp_path / "blobs" / "sha256") if n.endswith(bundle_store.TEMP_SUFFIX)]
    first = set(opened)
    opened.clear()
    assert fetch(plan, store, 2, NullProgress())[0] == len(blobs) - len(first)
    assert not first & set(opened)


def test_platform_filter_leaves_out_the_source_index_referrers_with_a_warning(tmp_path):
    """platform_policy filter bundles a new index: a signature of the source index (tag scheme) names a subject that
    is not in the bundle, so it is not carried (verify would call the bundle broken), and a warning says so, as the
    seed does; a referrer of a kept child still goes."""
    reg = MemoryRegistry()
    source_digest = _index(reg)
    arm_child = next(e["digest"] for e in json.loads(reg.manifests[("multi", "1")])["manifests"]
                     if e["platform"]["architecture"] == "arm64")
    signatures = {}
    for subject in (source_digest, arm_child):
        config = reg.add_blob(b"{}")
        config["mediaType"] = "application/vnd.oci.empty.v1+json"
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x-sig",
                           "config": config, "layers": [reg.add_blob(b"sig of " + subject.encode())],
                           "subject": {"mediaType": OCI_INDEX, "digest": subject, "size": 1}}).encode()
        signatures[subject] = reg.add_manifest("multi", body)
        listing = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": signatures[subject], "size": len(body)}]}).encode()
        reg.add_manifest("multi", listing, subject.replace(":", "-"))
    planner = _planner(tmp_path, reg)
    planner.add_image(f"{reg.host}/multi:1", ["linux/arm64"])
    plan = planner.plan
    carried = [e["digest"] for e in plan.entries if "annotations" not in e]
    assert carried == [signatures[arm_child]] and plan.images[0]["referrers"] == [signatures[arm_child]]
    assert signatures[source_digest] not in plan.manifests
    assert [w for w in plan.warnings if f"1 referrer(s) of index {source_digest}" in w and "not carried" in w]


def test_sha512_configs_and_manifests_are_checked_by_their_algorithm(tmp_path):
    """A manifest pulled by a sha512 digest and a sha512 config (image-spec descriptor.md "Registered algorithms") are
    hashed with sha512: a good one is planned with its platform, a wrong manifest body is named."""
    reg = MemoryRegistry()
    config = json.dumps({"os": "linux", "architecture": "riscv64", "rootfs": {"type": "layers"}}).encode()
    config_digest = "sha512:" + hashlib.sha512(config).hexdigest()
    reg.blobs[config_digest] = config
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": DOCKER_CONFIG, "digest": config_digest, "size": len(config)},
                       "layers": [reg.add_blob(b"layer")]}).encode()
    digest = "sha512:" + hashlib.sha512(body).hexdigest()
    reg.manifests[("r", digest)] = body
    planner = _planner(tmp_path, reg)
    planner.add_image(f"{reg.host}/r@{digest}", None)
    assert planner.plan.images[0]["platforms"] == ["linux/riscv64"] and config_digest in planner.plan.prefetched
    other = "sha512:" + "0" * 128
    reg.manifests[("r", other)] = body
    with pytest.raises(BundleError, match=rf"r@{other}: the registry sent a manifest of another digest \({digest}\)"):
        _planner(tmp_path, reg).add_image(f"{reg.host}/r@{other}", None)


def test_temp_parts_of_a_killed_run_are_removed_by_the_next(tmp_path):
    """A run killed while writing parts (SIGKILL, power loss) leaves `.NAME.partNNN.*.tmp` files; the next write of
    that tarball removes them (a whole tarball's, too), and no other file."""
    root = tmp_path / "layout"
    names = member_names(_layout(root))
    out = tmp_path / "b.tar"
    stale = [tmp_path / ".b.tar.part001.abc123.tmp", tmp_path / ".b.tar.part017.x.tmp"]
    kept = [tmp_path / ".c.tar.part001.abc.tmp", tmp_path / "b.tar.part001.txt"]
    for path in stale + kept:
        path.write_bytes(b"half")
    write_tarball(str(out), str(root), names, False, 16 * 1024)
    assert not [p for p in stale if p.exists()] and all(p.exists() for p in kept)
    stale[0].write_bytes(b"half")
    write_tarball(str(out), str(root), names, False, None)
    assert not stale[0].exists() and all(p.exists() for p in kept)
