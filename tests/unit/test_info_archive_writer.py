"""archive_writer: names, the tar writer, layer decompression, docker-archive / OCI archive from a (fake) registry."""
import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest

from ansible_collections.airgap.registry.plugins.module_utils import archive_writer as aw
from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_atomically
from ansible_collections.airgap.registry.plugins.module_utils.compression import GZIP_MAGIC
from ansible_collections.airgap.registry.plugins.module_utils.media_types import ANNOTATION_REF_NAME, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryError


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class FakeBlob(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FakeRegistry:
    """An in-memory registry with the RegistryClient methods archive_writer uses."""

    host = "fake.local:5000"

    def __init__(self):
        self.blobs = {}
        self.manifests = {}

    def add_blob(self, data):
        self.blobs[sha(data)] = data
        return sha(data)

    def add_manifest(self, repo, tag, manifest, media_type):
        body = json.dumps(manifest).encode()
        self.manifests[(repo, tag)] = self.manifests[(repo, sha(body))] = (body, media_type)
        return sha(body)

    def get_manifest(self, repo, ref, accept=None):
        if (repo, ref) not in self.manifests:
            raise RegistryError(f"manifest {repo}:{ref} unknown", status=404, code="MANIFEST_UNKNOWN")
        body, media_type = self.manifests[(repo, ref)]
        return body, media_type, sha(body)

    def open_blob(self, repo, digest):
        return FakeBlob(self.blobs[digest])


def push_image(reg, repo, tag, layers, *, media_type=DOCKER_MANIFEST, gzip_layers=(0,)):
    """Store an image made of `layers` (uncompressed tars); layers whose index is in gzip_layers are gzipped."""
    descs = []
    for i, raw in enumerate(layers):
        blob = gzip.compress(raw, mtime=0) if i in gzip_layers else raw
        kind = "application/vnd.docker.image.rootfs.diff.tar" + (".gzip" if i in gzip_layers else "")
        descs.append({"mediaType": kind, "digest": reg.add_blob(blob), "size": len(blob)})
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha(raw) for raw in layers]}}).encode()
    config_desc = {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": reg.add_blob(config), "size": len(config)}
    manifest = {"schemaVersion": 2, "mediaType": media_type, "config": config_desc, "layers": descs}
    return reg.add_manifest(repo, tag, manifest, media_type), config_desc["digest"]


@pytest.fixture
def registry():
    reg = FakeRegistry()
    base = layer_tar({"etc/os-release": b"ID=fake\n"})
    app = layer_tar({"app/bin": os.urandom(3000)})
    reg.image = push_image(reg, "tools/app", "1.0", [base, app, base])
    reg.layers = [base, app, base]
    return reg


@pytest.mark.parametrize(("image", "name"), [
    ("registry:2.8.3", "registry_2.8.3.tar"),
    ("a/b:1", "a_b_1.tar"),
    ("reg.local:5000/x/y:2", "reg.local_5000_x_y_2.tar"),
    ("abox", "abox.tar"),
    ("a@sha256:" + "0" * 64, "a_sha256_" + "0" * 64 + ".tar"),
])
def test_archive_filename_is_the_seed_rule(image, name):
    assert aw.archive_filename(image) == name


@pytest.mark.parametrize(("image", "tag"), [
    ("abox", "abox:latest"),
    ("abox:1", "abox:1"),
    ("docker.io/library/nginx:1.25", "nginx:1.25"),
    ("reg.local:5000/a/b:2", "reg.local:5000/a/b:2"),
    ("a@sha256:" + "0" * 64, None),
])
def test_repo_tag_is_what_docker_load_tags(image, tag):
    assert aw.repo_tag(image) == tag


def test_bad_reference_is_an_archive_error():
    with pytest.raises(aw.ArchiveError, match="invalid image reference"):
        aw.split_image("Not Valid")


def test_tar_writer_streams_members_of_unknown_size():
    buf = io.BytesIO()
    writer = aw.TarWriter(buf)
    writer.add_bytes("a/b/small.json", b"{}")
    payload = os.urandom(3 * 1024 * 1024 + 17)
    size = writer.add_stream("a/big/layer.tar", (payload[i:i + 100000] for i in range(0, len(payload), 100000)))
    writer.add_stream("empty", iter(()))
    writer.close()
    assert size == len(payload)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        assert tar.getnames() == ["a", "a/b", "a/b/small.json", "a/big", "a/big/layer.tar", "empty"]
        assert tar.extractfile("a/big/layer.tar").read() == payload
        assert tar.extractfile("a/b/small.json").read() == b"{}"
        assert tar.getmember("empty").size == 0
        assert tar.getmember("a").isdir()


def test_tar_writer_rejects_a_name_too_long_for_one_header():
    with pytest.raises(aw.ArchiveError, match="too long"):
        aw.TarWriter(io.BytesIO()).add_bytes("x" * 120, b"")


def chunked(data, size=7):
    return (data[i:i + size] for i in range(0, len(data), size))


def test_uncompressed_chunks_plain_gzip_multimember_padding():
    raw = os.urandom(50000)
    assert b"".join(aw.uncompressed_chunks(chunked(raw, 1000))) == raw
    assert b"".join(aw.uncompressed_chunks(chunked(gzip.compress(raw), 3))) == raw
    multi = gzip.compress(raw[:20000]) + gzip.compress(raw[20000:])
    assert b"".join(aw.uncompressed_chunks(chunked(multi, 999))) == raw
    assert b"".join(aw.uncompressed_chunks([gzip.compress(raw) + b"\0" * 1024])) == raw
    assert b"".join(aw.uncompressed_chunks([b"ab"])) == b"ab"
    assert b"".join(aw.uncompressed_chunks([])) == b""


def test_uncompressed_chunks_truncated_or_trailing_garbage():
    data = gzip.compress(os.urandom(20000))
    with pytest.raises(aw.ArchiveError, match="compressed data ends early"):
        b"".join(aw.uncompressed_chunks([data[:-100]]))
    with pytest.raises(aw.ArchiveError, match="unexpected data after the end"):
        b"".join(aw.uncompressed_chunks([data + b"garbage"]))
    with pytest.raises(aw.ArchiveError, match="a compressed layer: compressed data is corrupt"):
        b"".join(aw.uncompressed_chunks([data[:10] + b"\xff" * 50]))


def test_uncompressed_chunks_zstd():
    zstandard = pytest.importorskip("zstandard")
    raw = os.urandom(10000) + b"a" * 10000
    assert b"".join(aw.uncompressed_chunks(chunked(zstandard.ZstdCompressor().compress(raw), 500))) == raw


def test_blob_with_wrong_content_is_refused(registry):
    digest = registry.add_blob(b"hello")
    registry.blobs[digest] = b"HELLO"
    with pytest.raises(aw.ArchiveError, match="does not match its digest"):
        b"".join(aw.blob_chunks(registry, "tools/app", digest))


def write(writer, *args):
    buf = io.BytesIO()
    writer(buf, *args)
    buf.seek(0)
    return tarfile.open(fileobj=buf)


def test_docker_archive_layout(registry, tmp_path):
    image = aw.resolve_image(registry, "tools/app", "1.0")
    assert image.config_digest == registry.image[1]
    tar = write(aw.write_docker_archive, registry, image, "tools/app:1.0")
    manifest = json.load(tar.extractfile("manifest.json"))
    config_hex = registry.image[1].split(":")[1]
    diff_ids = [sha(raw) for raw in registry.layers]
    assert manifest == [{"Config": config_hex + ".json", "RepoTags": ["tools/app:1.0"],
                         "Layers": [d.split(":")[1] + "/layer.tar" for d in diff_ids]}]
    for diff_id, raw in zip(diff_ids, registry.layers, strict=True):
        assert tar.extractfile(diff_id.split(":")[1] + "/layer.tar").read() == raw
    assert sum(1 for m in tar.getmembers() if m.name.endswith("layer.tar")) == 2, "a repeated layer (gzip, then plain) is stored once"
    assert sha(tar.extractfile(config_hex + ".json").read()) == registry.image[1]
    path = tmp_path / "app.tar"
    path.write_bytes(tar.fileobj.getvalue())
    assert aw.archive_identity(str(path)) == {"format": "docker-archive", "config_digest": registry.image[1], "refs": ["tools/app:1.0"],
                                              "ids": [registry.image[1]]}


def test_docker_archive_refuses_a_layer_that_does_not_match_its_diff_id(registry):
    bad = layer_tar({"x": b"1"})
    digest, _config = push_image(registry, "bad/img", "1", [bad], gzip_layers=())
    body, media_type, _ = registry.get_manifest("bad/img", "1")
    config_digest = json.loads(body)["config"]["digest"]
    config = json.loads(registry.blobs[config_digest])
    config["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
    data = json.dumps(config).encode()
    manifest = json.loads(body)
    manifest["config"] = {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": registry.add_blob(data), "size": len(data)}
    registry.add_manifest("bad/img", "2", manifest, media_type)
    image = aw.resolve_image(registry, "bad/img", "2")
    with pytest.raises(aw.ArchiveError, match="does not match its digest sha256:0000"):
        write(aw.write_docker_archive, registry, image, "bad/img:2")


def test_oci_archive_layout_converts_a_docker_manifest(registry, tmp_path):
    image = aw.resolve_image(registry, "tools/app", "1.0")
    tar = write(aw.write_oci_archive, registry, image, "tools/app:1.0")
    assert json.loads(tar.extractfile("oci-layout").read()) == {"imageLayoutVersion": "1.0.0"}
    index = json.load(tar.extractfile("index.json"))
    (entry,) = index["manifests"]
    assert entry["mediaType"] == OCI_MANIFEST and entry["annotations"] == {ANNOTATION_REF_NAME: "tools/app:1.0"}
    body = tar.extractfile("blobs/sha256/" + entry["digest"].split(":")[1]).read()
    assert sha(body) == entry["digest"] and len(body) == entry["size"]
    manifest = json.loads(body)
    assert manifest["config"]["digest"] == registry.image[1] and manifest["config"]["mediaType"] == aw.OCI_CONFIG
    assert [lay["mediaType"] for lay in manifest["layers"]] == ["application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar",
                                                                "application/vnd.oci.image.layer.v1.tar"]
    for lay in manifest["layers"]:
        assert sha(tar.extractfile("blobs/sha256/" + lay["digest"].split(":")[1]).read()) == lay["digest"]
    path = tmp_path / "app.tar"
    path.write_bytes(tar.fileobj.getvalue())
    found = aw.archive_identity(str(path))
    assert found == {"format": "oci-archive", "config_digest": registry.image[1], "refs": ["tools/app:1.0"], "ids": [registry.image[1], found["ids"][1]]}
    assert found["ids"][1] == sha(tar.extractfile("blobs/sha256/" + found["ids"][1].split(":")[1]).read())


def test_oci_manifest_is_kept_byte_for_byte(registry):
    digest, _ = push_image(registry, "oci/img", "1", [layer_tar({"a": b"b"})], media_type=OCI_MANIFEST)
    image = aw.resolve_image(registry, "oci/img", "1")
    assert aw.oci_manifest(image) == (image.body, digest)


def test_index_resolves_to_the_wanted_platform(registry):
    amd, _ = push_image(registry, "multi", "amd", [layer_tar({"a": b"amd"})])
    arm, arm_config = push_image(registry, "multi", "arm", [layer_tar({"a": b"arm"})])
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": amd, "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": DOCKER_MANIFEST, "digest": arm, "size": 1, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    ]}
    registry.add_manifest("multi", "1", index, OCI_INDEX)
    assert aw.resolve_image(registry, "multi", "1", "linux/arm64").config_digest == arm_config
    assert aw.resolve_image(registry, "multi", "1", "linux/arm64/v8").digest == arm
    with pytest.raises(aw.ArchiveError, match=r"no image for platform linux/s390x \(available: linux/amd64, linux/arm64/v8\)"):
        aw.resolve_image(registry, "multi", "1", "linux/s390x")


def test_manifest_not_matching_its_digest_is_refused(registry):
    body, media_type = registry.manifests[("tools/app", "1.0")]
    wrong = "sha256:" + "1" * 64
    registry.manifests[("tools/app", wrong)] = (body, media_type)
    with pytest.raises(aw.ArchiveError, match="does not match"):
        aw.resolve_image(registry, "tools/app", wrong)


def test_archive_identity_of_foreign_files(tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    assert aw.archive_identity(str(junk)) is None
    assert aw.archive_identity(str(tmp_path / "absent.tar")) is None


def make_saver(registry, dest, **kwargs):
    return aw.ImageSaver(str(dest), source="registry", client_for=lambda host: registry, registry=registry.host, **kwargs)


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_saver_is_idempotent_and_check_mode_writes_nothing(registry, tmp_path, fmt):
    checked, held = make_saver(registry, tmp_path, fmt=fmt, check_mode=True).save("tools/app:1.0")
    assert checked["changed"] and held is None
    assert os.listdir(tmp_path) == []
    first, _ = make_saver(registry, tmp_path, fmt=fmt).save("tools/app:1.0")
    assert first == {"image": "tools/app:1.0", "path": str(tmp_path / "tools_app_1.0.tar"), "digest": registry.image[1], "format": fmt, "changed": True}
    assert os.listdir(tmp_path) == ["tools_app_1.0.tar"]
    mtime = os.stat(first["path"]).st_mtime_ns
    second, held = make_saver(registry, tmp_path, fmt=fmt).save("tools/app:1.0")
    assert not second["changed"] and held == registry.image[1]
    assert os.stat(first["path"]).st_mtime_ns == mtime
    forced, _ = make_saver(registry, tmp_path, fmt=fmt, force=True).save("tools/app:1.0")
    assert forced["changed"]


def test_saver_rewrites_a_tarball_of_another_format_or_image(registry, tmp_path):
    make_saver(registry, tmp_path, fmt="oci-archive").save("tools/app:1.0")
    result, held = make_saver(registry, tmp_path).save("tools/app:1.0")
    assert result["changed"] and held == registry.image[1]
    assert aw.archive_identity(result["path"])["format"] == "docker-archive"


def test_saver_bad_input_leaves_nothing_behind(registry, tmp_path):
    saver = make_saver(registry, tmp_path)
    with pytest.raises(RegistryError, match="unknown"):
        saver.save("tools/app:9.9")
    with pytest.raises(aw.ArchiveError, match="names registry other.io, but registry is fake.local:5000"):
        saver.save("other.io/tools/app:1.0")
    with pytest.raises(aw.ArchiveError, match="names no registry"):
        aw.ImageSaver(str(tmp_path), source="registry", client_for=lambda host: registry).save("tools/app:1.0")
    with pytest.raises(aw.ArchiveError, match="needs source=registry"):
        aw.ImageSaver(str(tmp_path), source="engine", fmt="oci-archive")
    registry.blobs[registry.image[1]] = b"{}"
    with pytest.raises(aw.ArchiveError, match="does not match"):
        saver.save("tools/app:1.0")
    assert os.listdir(tmp_path) == []


class FakeEngine:
    def __init__(self, chunks, fail_after=None):
        self.chunks = chunks
        self.fail_after = fail_after

    def get_image(self, image, chunk_size):
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_after:
                raise RuntimeError("engine went away")
            yield chunk


def test_engine_archive_streams_and_engine_errors_are_archive_errors(tmp_path):
    path = tmp_path / "x.tar"
    write_atomically(str(path), lambda fh: aw.write_engine_archive(fh, FakeEngine([b"ab", b"cd"]), "x:1"))
    assert path.read_bytes() == b"abcd"
    with pytest.raises(aw.ArchiveError, match="docker save y:1 failed: engine went away"):
        write_atomically(str(tmp_path / "y.tar"), lambda fh: aw.write_engine_archive(fh, FakeEngine([b"ab", b"cd"], fail_after=1), "y:1"))
    assert sorted(os.listdir(tmp_path)) == ["x.tar"], "the failed tarball left nothing behind"


class InspectingEngine(FakeEngine):
    """docker save output as an engine with the containerd image store writes it, and that engine's image ID (the index digest)."""

    def __init__(self, tarball, image_id):
        super().__init__([tarball])
        self.image_id = image_id
        self.saves = 0

    def inspect_image(self, image):
        return {"Id": self.image_id}

    def get_image(self, image, chunk_size):
        self.saves += 1
        yield from super().get_image(image, chunk_size)


def test_engine_save_is_idempotent_when_the_image_id_is_an_index_digest(tmp_path):
    config = b'{"rootfs": {"type": "layers", "diff_ids": []}}'
    index_digest = "sha256:" + "1" * 64
    index = {"schemaVersion": 2, "manifests": [{"mediaType": OCI_INDEX, "digest": index_digest, "size": 1}]}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("blobs/sha256/" + sha(config)[7:], config), ("index.json", json.dumps(index).encode()),
                           ("manifest.json", json.dumps([{"Config": "blobs/sha256/" + sha(config)[7:], "RepoTags": ["app:1"], "Layers": []}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    engine = InspectingEngine(buf.getvalue(), index_digest)
    saver = aw.ImageSaver(str(tmp_path), source="engine", engine_api=engine)
    first, _before = saver.save("app:1")
    again, before = saver.save("app:1")
    assert (first["changed"], again["changed"], before, engine.saves) == (True, False, sha(config), 1)


@pytest.mark.parametrize(("image", "registry", "host", "repo", "reference"), [
    ("docker.io/nginx:1.25", None, "registry-1.docker.io", "library/nginx", "1.25"),
    ("docker.io/bitnami/redis", None, "registry-1.docker.io", "bitnami/redis", "latest"),
    ("nginx@sha256:" + "0" * 64, "docker.io", "registry-1.docker.io", "library/nginx", "sha256:" + "0" * 64),
    ("reg.local:5000/nginx:1.25", None, "reg.local:5000", "nginx", "1.25"),
    ("nginx:1.25", "https://reg.local:5000", "https://reg.local:5000", "nginx", "1.25"),
])
def test_saver_locates_images_docker_hub_included(image, registry, host, repo, reference):
    asked = []
    saver = aw.ImageSaver("/nonexistent", source="registry", client_for=asked.append, registry=registry)
    assert saver._locate(image)[1:] == (repo, reference)
    assert asked == [host]


def test_docker_archive_preserve_keeps_gzip_layers_and_checks_them(registry):
    image = aw.resolve_image(registry, "tools/app", "1.0")
    tar = write(aw.write_docker_archive, registry, image, "tools/app:1.0", "preserve")
    manifest = json.load(tar.extractfile("manifest.json"))[0]
    stored = [tar.extractfile(path).read() for path in manifest["Layers"]]
    assert stored[0] == registry.blobs[image.layers[0]["digest"]] and stored[0].startswith(GZIP_MAGIC)
    assert stored[1] == registry.layers[1], "a plain layer stays plain"
    assert gzip.decompress(stored[0]) == registry.layers[0]
    wrong = gzip.compress(layer_tar({"x": b"other"}), mtime=0)
    registry.blobs[image.layers[0]["digest"]] = wrong
    image.layers[0]["digest"] = sha(wrong)
    registry.blobs[sha(wrong)] = wrong
    with pytest.raises(aw.ArchiveError, match="does not match its diff_id"):
        write(aw.write_docker_archive, registry, image, "tools/app:1.0", "preserve")


def test_corrupt_gzip_layer_names_the_layer(registry):
    corrupt = b"\x1f\x8b\x08\x00" + b"\xff" * 64
    digest = registry.add_blob(corrupt)
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]}}).encode()
    manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": registry.add_blob(config), "size": len(config)},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": digest, "size": len(corrupt)}]}
    registry.add_manifest("bad/gz", "1", manifest, DOCKER_MANIFEST)
    image = aw.resolve_image(registry, "bad/gz", "1")
    for layers in ("uncompressed", "preserve"):
        with pytest.raises(aw.ArchiveError, match=f"layer {digest} of bad/gz: compressed data is corrupt"):
            write(aw.write_docker_archive, registry, image, "bad/gz:1", layers)


def test_manifest_with_a_broken_descriptor_is_refused(registry):
    manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": {"digest": "sha256:" + "2" * 64, "size": 2},
                "layers": [{"mediaType": "x", "digest": "md5:abc", "size": 1}]}
    registry.add_manifest("bad/desc", "1", manifest, DOCKER_MANIFEST)
    with pytest.raises(aw.ArchiveError, match="without a valid sha256 digest and size"):
        aw.resolve_image(registry, "bad/desc", "1")
    registry.add_manifest("bad/schema1", "1", {"schemaVersion": 1, "fsLayers": []}, "application/vnd.docker.distribution.manifest.v1+prettyjws")
    with pytest.raises(aw.ArchiveError, match="unsupported manifest type"):
        aw.resolve_image(registry, "bad/schema1", "1")
