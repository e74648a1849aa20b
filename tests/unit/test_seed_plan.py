"""seed planning without a registry: sources, targets, conflicts, option checks, deterministic recompression."""
import gzip
import io
import os
import subprocess
import sys
import zlib

import pytest

from ansible_collections.airgap.registry.plugins.module_utils import compression
from ansible_collections.airgap.registry.plugins.module_utils.seed import Seeder, SeedError, expand_sources
from tests.helpers.registries import REPO_ROOT


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan-samples")
    subprocess.run([sys.executable, os.path.join(REPO_ROOT, "scripts", "make_samples.py"), str(out)], check=True, capture_output=True)
    (out / "README.txt").write_text("not an image")
    return out


def test_expand_sources(samples, tmp_path):
    tars = sorted(str(p) for p in samples.glob("*.tar"))
    assert expand_sources([str(samples)]) == tars
    assert expand_sources([str(samples / "n*.tar"), tars[0], tars[0]]) == [str(samples / "nginx_1.25.tar"), tars[0]]
    with pytest.raises(SeedError, match="no such file or directory"):
        expand_sources([str(tmp_path / "missing.tar")])
    with pytest.raises(SeedError, match="matches no file"):
        expand_sources([str(tmp_path / "*.tar")])
    with pytest.raises(SeedError, match="no image tarballs found"):
        expand_sources([str(tmp_path)])


def test_targets_follow_the_retag_rule(samples):
    targets = Seeder({"src": [str(samples)], "registry": "reg.local:5000", "hub_library": True, "rename": {"abox": "tools/abox"}}).load()
    assert sorted(t.target for t in targets) == ["reg.local:5000/library/nginx:1.25", "reg.local:5000/tools/abox:1.0.1",
                                                 "reg.local:5000/tools/busyish:2.0"]
    assert {t.repo for t in targets} == {"library/nginx", "tools/abox", "tools/busyish"}


def test_two_images_onto_one_name_is_an_error(samples):
    with pytest.raises(SeedError, match="would receive two different images"):
        Seeder({"src": [str(samples)], "registry": "reg:5000", "rename": {"abox": "same", "nginx": "same:1.0.1"}}).load()


def test_bad_options():
    for opts, words in [({"layers": "bzip2"}, "layers must be"), ({"transport": "ssh"}, "transport must be"), ({"parallel": 0}, "parallel")]:
        with pytest.raises(SeedError, match=words):
            Seeder({"src": ["x"], "registry": "r:1", **opts})
    with pytest.raises(SeedError, match="invalid target registry"):
        Seeder({"src": ["x"], "registry": "bad registry"})


@pytest.mark.parametrize("want", ["gzip", "zstd"])
def test_recompression_is_deterministic_and_reversible(want, monkeypatch):
    data = b"layer bytes " * 200000
    first = compression.convert(io.BytesIO(data), "none", want).read()
    second_reader = compression.convert(io.BytesIO(data), "none", want)
    second = b"".join(iter(lambda: second_reader.read(4096), b""))
    assert first == second and len(first) < len(data)
    if want == "gzip":
        assert first[4:8] == b"\0\0\0\0" and gzip.decompress(first) == data
    back = compression.convert(io.BytesIO(first), want, "none").read()
    assert back == data
    other = "zstd" if want == "gzip" else "gzip"
    assert compression.convert(compression.convert(io.BytesIO(first), want, other), other, "none").read() == data


def test_zstd_binary_fallback(monkeypatch):
    monkeypatch.setitem(compression._ZSTD, "module", None)
    data = os.urandom(3000) * 100
    packed = compression.convert(io.BytesIO(data), "none", "zstd").read()
    assert packed[:4] == b"\x28\xb5\x2f\xfd"
    assert compression.convert(io.BytesIO(packed), "zstd", "none").read() == data


def test_bad_gzip_layer_is_a_clear_error():
    with pytest.raises(compression.CompressError, match="bad gzip data"):
        compression.convert(io.BytesIO(b"\x1f\x8b\x08\x00" + b"garbage" * 10), "gzip", "none").read()
    assert zlib.decompress(compression.gzip_reader(io.BytesIO(b"")).read(), 31) == b""


def test_gzip_pieces_store_incompressible_data_and_stay_valid_gzip():
    noise = os.urandom(compression.GZIP_CHUNK * 2 + 999)
    text = b"airgap registry layer seed " * 80000
    data = noise + text + noise[:5000]
    reader = compression.gzip_reader(io.BytesIO(data))
    packed = b"".join(iter(lambda: reader.read(65536), b""))
    reader.close()
    assert gzip.decompress(packed) == data
    assert subprocess.run(["gzip", "-t"], input=packed, check=False).returncode == 0
    assert len(noise) < len(packed) < len(noise) + len(text) // 10
    assert packed == compression.gzip_reader(io.BytesIO(data)).read()


def test_gunzip_reads_every_member_of_a_concatenated_gzip():
    data = [b"first member " * 5000, b"second member " * 7000, b"third"]
    joined = b"".join(gzip.compress(part, mtime=0) for part in data)
    reader = compression.convert(io.BytesIO(joined), "gzip", "none")
    out = bytearray()
    for block in iter(lambda: reader.read(4096), b""):
        out += block
    assert bytes(out) == b"".join(data)


def test_zstd_binary_fails_when_its_source_fails(monkeypatch):
    """A source error while the zstd binary compresses fails the read; it never ends the layer early."""
    monkeypatch.setitem(compression._ZSTD, "module", None)

    class Failing(io.RawIOBase):
        sent = 0

        def read(self, n=-1):
            self.sent += 1
            if self.sent > 3:
                raise compression.CompressError("bad gzip data: invalid block type")
            return b"x" * 65536

    reader = compression.convert(Failing(), "none", "zstd")
    with pytest.raises(compression.CompressError, match="invalid block type"):
        while reader.read(65536):
            pass
    reader.close()
