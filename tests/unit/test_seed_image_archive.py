"""image_archive on synthetic tarballs: formats, compression, multi-image/multi-tag, streaming, broken files."""
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from ansible_collections.airgap.registry.plugins.module_utils import compression as compression_module
from ansible_collections.airgap.registry.plugins.module_utils import media_types
from ansible_collections.airgap.registry.plugins.module_utils.image_archive import ImageArchiveError, read_archive
from tests.helpers.registries import REPO_ROOT


def _digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(seed, size=50000):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = (seed.encode() * (size // len(seed) + 1))[:size]
        info = tarfile.TarInfo(f"{seed}.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _write_tar(path, members):
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def _config(layers):
    return json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [_digest(x) for x in layers]}}).encode()


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    out = tmp_path_factory.mktemp("archive-samples")
    subprocess.run([sys.executable, os.path.join(REPO_ROOT, "scripts", "make_samples.py"), str(out)], check=True, capture_output=True)
    return out


def _legacy_two_images(path):
    base, app, other = _layer("base"), _layer("app"), _layer("other")
    c1, c2 = _config([base, app]), _config([base, other])
    members = [(f"{_digest(c1)[7:]}.json", c1), (f"{_digest(c2)[7:]}.json", c2)]
    for blob in (base, app, other):
        members.append((f"{_digest(blob)[7:]}/layer.tar", blob))
    manifest = [{"Config": f"{_digest(c1)[7:]}.json", "RepoTags": ["app:1", "app:latest", "ghcr.io/o/app:1"],
                 "Layers": [f"{_digest(base)[7:]}/layer.tar", f"{_digest(app)[7:]}/layer.tar"]},
                {"Config": f"{_digest(c2)[7:]}.json", "RepoTags": None,
                 "Layers": [f"{_digest(base)[7:]}/layer.tar", f"{_digest(other)[7:]}/layer.tar"]}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    return _write_tar(path, members), (base, app, other), (c1, c2)


def test_legacy_multi_image_multi_tag_manifest_last(tmp_path):
    path, (base, app, _other), (c1, c2) = _legacy_two_images(tmp_path / "two.tar")
    archive = read_archive(path)
    assert archive.compression == "none" and archive.seekable
    first, second = archive.images
    assert first.refs == ["app:1", "app:latest", "ghcr.io/o/app:1"] and second.refs == []
    assert (first.config, first.config_digest) == (c1, _digest(c1))
    assert [x.digest for x in first.layers] == [_digest(base), _digest(app)] == [x.diff_id for x in first.layers]
    assert all(x.compression == "none" and x.size == len(base) for x in first.layers)
    with archive.open_member(first.layers[1].member, 100) as fh:
        assert fh.read() == app[100:]
    names = [first.layers[1].member, first.layers[0].member]
    assert [n for n, _ in archive.stream_members(names)] == names[::-1]


@pytest.mark.parametrize("compression", ["gzip", "zstd", "zstd-binary"])
def test_compressed_tarballs_stream_without_seeking(tmp_path, compression, monkeypatch):
    path, (base, app, other), _ = _legacy_two_images(tmp_path / "two.tar")
    raw = open(path, "rb").read()
    if compression == "gzip":
        packed = gzip.compress(raw)
    else:
        packed = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
    if compression == "zstd-binary":
        monkeypatch.setitem(compression_module._ZSTD, "module", None)
    target = tmp_path / "two.tar.x"
    target.write_bytes(packed)
    archive = read_archive(str(target))
    assert archive.compression == compression.split("-")[0] and not archive.seekable
    assert [len(i.layers) for i in archive.images] == [2, 2]
    got = {name: fh.read() for name, fh in archive.stream_members([x.member for x in archive.images[1].layers])}
    assert sorted(got.values()) == sorted([base, other])
    with archive.open_member(archive.images[0].layers[1].member, 7) as fh:
        assert fh.read() == app[7:]


def test_gzip_layers_in_legacy_save_are_hashed(tmp_path):
    plain = _layer("zipped")
    zipped = gzip.compress(plain, mtime=0)
    config = _config([plain])
    path = _write_tar(tmp_path / "gz.tar", [("c.json", config), ("abc/layer.tar", zipped),
                                            ("manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["z:1"], "Layers": ["abc/layer.tar"]}]).encode())])
    (layer,) = read_archive(path).images[0].layers
    assert (layer.compression, layer.digest, layer.diff_id, layer.size) == ("gzip", _digest(zipped), _digest(plain), len(zipped))
    packed = tmp_path / "gz.tar.gz"
    packed.write_bytes(gzip.compress(open(path, "rb").read()))
    (layer,) = read_archive(str(packed)).images[0].layers
    assert layer.digest == _digest(zipped)


def test_oci_archive_ref_names(tmp_path):
    layer = gzip.compress(_layer("oci"), mtime=0)
    config = _config([_layer("oci")])
    manifest = json.dumps({"schemaVersion": 2, "mediaType": media_types.OCI_MANIFEST,
                           "config": {"mediaType": media_types.OCI_CONFIG, "digest": _digest(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _digest(layer), "size": len(layer)}]}).encode()

    def index(annotations):
        return json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": media_types.OCI_MANIFEST, "digest": _digest(manifest),
                                                                "size": len(manifest), "annotations": annotations}]}).encode()
    blobs = [(f"blobs/sha256/{_digest(b)[7:]}", b) for b in (layer, config, manifest)]
    for annotations, refs in [({"org.opencontainers.image.ref.name": "2.1"}, ["my-app:2.1"]),
                              ({"org.opencontainers.image.ref.name": "ghcr.io/o/a:3"}, ["ghcr.io/o/a:3"]),
                              ({"io.containerd.image.name": "docker.io/library/x:1", "org.opencontainers.image.ref.name": "1"}, ["docker.io/library/x:1"])]:
        path = _write_tar(tmp_path / "My App.tar", [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index(annotations)), *blobs])
        (image,) = read_archive(path).images
        assert image.refs == refs
        assert image.source_manifest == (manifest, media_types.OCI_MANIFEST)
        assert image.layers[0].media_type == "application/vnd.oci.image.layer.v1.tar+gzip"


def test_broken_files_name_the_file_and_the_problem(tmp_path, samples):
    nginx = samples / "nginx_1.25.tar"
    data = nginx.read_bytes()
    cases = {}
    cases[_put(tmp_path / "empty.tar", b"")] = "empty file"
    cases[_put(tmp_path / "text.tar", b"hello, not a tar\n" * 100)] = "not"
    cases[_put(tmp_path / "cut.tar", data[: len(data) * 2 // 3])] = "truncated"
    cases[_put(tmp_path / "cut.tar.gz", gzip.compress(data)[:5000])] = "gzip"
    cases[_write_tar(tmp_path / "nomanifest.tar", [("hello.txt", b"hi")])] = "holds no image"
    cases[_write_tar(tmp_path / "badjson.tar", [("manifest.json", b"{not json")])] = "manifest.json is not valid JSON"
    config = _config([b"x"])
    missing_layer = json.dumps([{"Config": "c.json", "Layers": ["l/layer.tar"]}]).encode()
    no_layers = json.dumps([{"Config": "c.json", "Layers": []}]).encode()
    cases[_write_tar(tmp_path / "nolayer.tar", [("c.json", config), ("manifest.json", missing_layer)])] = "layer l/layer.tar is missing"
    cases[_write_tar(tmp_path / "count.tar", [("c.json", config), ("manifest.json", no_layers)])] = "lists 1 layers"
    cases[_write_tar(tmp_path / "noconfig.tar", [("manifest.json", json.dumps([{"Config": "c.json", "Layers": []}]).encode())])] = "config c.json"
    for path, words in cases.items():
        with pytest.raises(ImageArchiveError) as err:
            read_archive(path)
        assert str(path) in str(err.value) and words in str(err.value), str(err.value)
    with pytest.raises(ImageArchiveError, match="cannot read"):
        read_archive(str(tmp_path / "missing.tar"))


def _put(path, data):
    path.write_bytes(data)
    return str(path)


def test_compressed_tarball_that_changes_during_a_run_is_an_error(tmp_path):
    """A member read in the first pass but gone in the second names the tarball, and a damaged stream is an ImageArchiveError."""
    path, _blobs, _configs = _legacy_two_images(tmp_path / "two.tar")
    packed = tmp_path / "two.tar.gz"
    packed.write_bytes(gzip.compress(open(path, "rb").read()))
    archive = read_archive(str(packed))
    members = [x.member for x in archive.images[0].layers]
    packed.write_bytes(gzip.compress(open(_write_tar(tmp_path / "other.tar", [("x.txt", b"x")]), "rb").read()))
    with pytest.raises(ImageArchiveError, match=r"two\.tar\.gz: .* no longer in the tarball"):
        list(archive.stream_members(members))
    packed.write_bytes(gzip.compress(open(path, "rb").read())[:-4096])
    with pytest.raises(ImageArchiveError, match=r"two\.tar\.gz"):
        for _name, stream in archive.stream_members(members):
            while stream.read(65536):
                pass
