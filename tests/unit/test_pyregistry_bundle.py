"""pyregistry.bundle: what serve-bundle serves from a bundle (repositories by the retag rule, blobs by tar offset) and
the bundles it refuses at start, each with a message naming the problem; `pyregistry serve` needs no collection."""
import json
import os
import subprocess
import sys
import tarfile

import pytest

from pyregistry import cli
from pyregistry.bundle import BundleServeError, BundleStorage
from pyregistry.errors import ManifestUnknown
from tests.helpers.bundles import split_tar, tar_bundle, write_bundle
from tests.helpers.registries import REPO_ROOT

sys.path.insert(0, os.path.join(REPO_ROOT, "scripts"))
import oci_samples  # noqa: E402 - the sample writer, from scripts/


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    out = tmp_path_factory.mktemp("samples")
    return {os.path.basename(p)[:-4]: p for p in oci_samples.write_all(str(out))}


@pytest.fixture
def bundle_dir(samples, tmp_path):
    names = write_bundle(str(tmp_path / "b"), [samples["multi2"], samples["signed"], (samples["helm"], "ghcr.io/acme")])
    return tmp_path / "b", names


def edit_json(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def serve_bundle_cli(capsys, *args):
    """`pyregistry serve-bundle ARGS` that must fail before listening: (exit code, stderr)."""
    code = cli.main(["serve-bundle", *map(str, args), "--addr", "127.0.0.1:1"])
    return code, capsys.readouterr().err


def test_repositories_tags_and_blobs_by_the_retag_rule(bundle_dir):
    path, names = bundle_dir
    store = BundleStorage(str(path))
    assert store.catalog() == ["acme/charts/mychart", "multi", "signed"]
    assert store.tags("signed") == ["1", f"sha256-{names['docker.io/library/signed:1'][7:]}.sig"]
    assert store.tags("library/multi") is None
    digest, data, info = store.get_manifest("multi", "2")
    assert digest == names["docker.io/library/multi:2"] and info.media_type == "application/vnd.oci.image.index.v1+json"
    child = json.loads(data)["manifests"][0]["digest"]
    assert store.get_manifest("multi", child)[0] == child  # an index's child, by digest
    with pytest.raises(ManifestUnknown):
        store.get_manifest("signed", child)  # held by another repository only
    layer = json.loads(store.get_manifest("multi", child)[1])["layers"][0]
    assert store.blob_stat("multi", layer["digest"])[1] == layer["size"]
    assert store.blob_stat("acme/charts/mychart", layer["digest"]) is None
    assert BundleStorage(str(path), hub_library=True).catalog() == ["acme/charts/mychart", "library/multi", "library/signed"]


def read_pieces(pieces):
    data = b""
    for fobj, offset, count in pieces:
        with fobj:
            fobj.seek(offset)
            data += fobj.read(count)
    return data


def test_tar_blobs_are_read_in_place_by_offset(bundle_dir, tmp_path):
    path, names = bundle_dir
    tarball = tar_bundle(str(path), str(tmp_path / "b.tar"))
    store = BundleStorage(tarball)
    digest = json.loads(store.get_manifest("multi", "2")[1])["manifests"][1]["digest"]
    layer = json.loads(store.get_manifest("multi", digest)[1])["layers"][1]["digest"]
    expected = (path / "blobs" / "sha256" / layer[7:]).read_bytes()
    pieces = store.open_blob_range(layer, 0, len(expected))
    assert [(fobj.name, offset > 0) for fobj, offset, _count in pieces] == [(tarball, True)]
    assert read_pieces(pieces) == expected
    assert read_pieces(store.open_blob_range(layer, 100, 50)) == expected[100:150]


def test_split_parts_are_served_in_place_across_part_boundaries(bundle_dir, tmp_path):
    path, _names = bundle_dir
    base = split_tar(tar_bundle(str(path), str(tmp_path / "b.tar")), str(tmp_path / "parts"), 3000)
    parts = sorted(os.listdir(tmp_path / "parts"))
    assert len(parts) > 20 and not os.path.exists(base)
    for name in (base, base + ".part002"):
        store = BundleStorage(name)
        assert store.path == base and store.catalog() == ["acme/charts/mychart", "multi", "signed"]
        spanning = 0
        for digest in store.blobs:
            expected = (path / "blobs" / "sha256" / digest[7:]).read_bytes()
            pieces = store.open_blob_range(digest, 0, len(expected))
            spanning += len(pieces) > 1
            assert read_pieces(pieces) == expected, digest
            if len(expected) > 10:
                assert read_pieces(store.open_blob_range(digest, 5, len(expected) - 10)) == expected[5:-5]
        assert spanning >= 5
    os.remove(tmp_path / "parts" / parts[-3])  # the checksum file sorts last: drop the last-but-one part
    with pytest.raises(BundleServeError, match=f"1 part\\(s\\) listed in {base}.sha256 are missing: {base}.part0"):
        BundleStorage(base)
    os.remove(f"{base}.sha256")
    with pytest.raises(BundleServeError, match="a part is missing or short"):
        BundleStorage(base)


def test_dot_slash_members_and_digest_only_names(bundle_dir, tmp_path):
    path, names = bundle_dir
    index_digest = names["docker.io/library/multi:2"]
    edit_json(path / "index.json", lambda doc: doc["manifests"].append(
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest, "size": 1,
         "annotations": {"io.containerd.image.name": f"registry.k8s.io/pause@{index_digest}"}}))
    tarball = str(tmp_path / "dot.tar")
    with tarfile.open(tarball, "w") as tar:
        tar.add(str(path), arcname=".")
    store = BundleStorage(tarball)
    assert store.tags("pause") == [] and store.get_manifest("pause", index_digest)[0] == index_digest


def test_delta_bundle_is_refused(bundle_dir, capsys):
    path, _names = bundle_dir
    edit_json(path / "airgap-bundle.json", lambda doc: doc.update(
        delta={"registry": "reg.site:5000", "have_created": "2026-10-30T07:00:00Z", "blobs": {"sha256:" + "a" * 64: "library/alpine"}}))
    code, err = serve_bundle_cli(capsys, path)
    assert code == 2 and "delta bundle" in err and "reg.site:5000" in err and "airgap-seed" in err


def test_compressed_and_missing_bundles_are_refused(bundle_dir, tmp_path, capsys):
    path, _names = bundle_dir
    zst = tmp_path / "b.tar.zst"
    zst.write_bytes(b"\x28\xb5\x2f\xfd")
    code, err = serve_bundle_cli(capsys, zst)
    assert code == 2 and "decompress it first" in err and str(zst) in err
    (tmp_path / "s.tar.zst.part001").write_bytes(b"x")
    code, err = serve_bundle_cli(capsys, tmp_path / "s.tar.zst.part001")
    assert code == 2 and f"zstd -d {tmp_path / 's.tar.zst'}, after joining its parts" in err
    code, err = serve_bundle_cli(capsys, tmp_path / "absent.tar")
    assert code == 2 and "no such bundle" in err
    (tmp_path / "empty").mkdir()
    code, err = serve_bundle_cli(capsys, tmp_path / "empty")
    assert code == 2 and "no oci-layout: not an OCI image layout" in err


def test_truncated_tar_and_tampered_manifest_are_refused(bundle_dir, tmp_path):
    path, names = bundle_dir
    tarball = tar_bundle(str(path), str(tmp_path / "b.tar"))
    with open(tarball, "r+b") as fh:
        fh.truncate(os.path.getsize(tarball) // 2)
    with pytest.raises(BundleServeError, match="truncated tar|not an uncompressed tar"):
        BundleStorage(tarball)
    digest = names["docker.io/library/multi:2"]
    blob = path / "blobs" / "sha256" / digest[7:]
    blob.write_bytes(blob.read_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion":  2'))
    with pytest.raises(BundleServeError, match=f"manifest {digest} does not match its digest"):
        BundleStorage(str(path))


def test_two_images_with_one_served_name_are_refused(bundle_dir):
    path, names = bundle_dir
    other = names["docker.io/library/signed:1"]
    edit_json(path / "index.json", lambda doc: doc["manifests"].append(
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": other, "size": 1,
         "annotations": {"org.opencontainers.image.ref.name": "quay.io/library/multi:2"}}))
    edit_json(path / "index.json", lambda doc: doc["manifests"].append(
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": names["docker.io/library/multi:2"], "size": 1,
         "annotations": {"org.opencontainers.image.ref.name": "ghcr.io/library/multi:2"}}))
    with pytest.raises(BundleServeError, match="quay.io/library/multi:2 and ghcr.io/library/multi:2 would both be served as "
                                               "library/multi:2"):
        BundleStorage(str(path))


def test_serve_imports_no_collection_module():
    code = ("import sys; sys.modules['ansible_collections'] = None\n"
            "import pyregistry.cli, pyregistry.server, pyregistry.routes, pyregistry.bundle\n"
            "print(sorted(m for m, mod in sys.modules.items() if m.startswith('ansible') and mod is not None))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT).stdout
    assert out.strip() == "[]"


def test_a_blob_that_is_a_symlink_out_of_the_bundle_is_refused(bundle_dir, tmp_path):
    """A carried bundle directory whose blob file is a symbolic link (to a file outside it) is refused at start,
    naming the link: serve-bundle never serves a file from outside the bundle."""
    path, _names = bundle_dir
    blob = next(p for p in (path / "blobs" / "sha256").iterdir() if p.read_bytes()[:1] != b"{")  # a layer
    outside = tmp_path / "outside"
    outside.write_bytes(b"x" * blob.stat().st_size)
    blob.unlink()
    blob.symlink_to(outside)
    with pytest.raises(BundleServeError, match=f"{blob}: a symbolic link"):
        BundleStorage(str(path))


def test_a_checksum_file_naming_a_file_outside_is_refused(bundle_dir, tmp_path):
    path, _names = bundle_dir
    base = split_tar(tar_bundle(str(path), str(tmp_path / "b.tar")), str(tmp_path / "parts"), 30000)
    with open(base + ".sha256", "a") as fh:
        fh.write(f"{'0' * 64}  ../b.tar\n")
    with pytest.raises(BundleServeError, match=r"b.tar.sha256 line \d+: names ../b.tar, not a part of b.tar"):
        BundleStorage(base)
