"""bundle_verify (issue 13): a good bundle in every form has no problem; a flipped byte, a missing blob, a truncated
tarball (plain and zstd), a missing part, an altered part and an airgap-bundle.json that disagrees with index.json are
each named with the file and digest; list_bundle's listing.  Bundles from tests/helpers/bundle_samples.py."""
import hashlib
import json
import os
import tarfile

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import BundleError
from ansible_collections.airgap.registry.plugins.module_utils.bundle_verify import list_bundle, verify_bundle
from ansible_collections.airgap.registry.plugins.module_utils.image_archive import ImageArchive, ImageArchiveError
from ansible_collections.airgap.registry.plugins.module_utils.media_types import OCI_MANIFEST
from tests.helpers import bundle_samples as bs


@pytest.fixture(scope="module")
def sample():
    return bs.sample_layout()


@pytest.fixture
def forms(sample, tmp_path):
    return bs.every_form(sample[0], str(tmp_path))


def _layer_of(lay, names, reference="docker.io/library/plain:1"):
    return json.loads(lay.blobs[names[reference]])["layers"][-1]["digest"]


def test_a_good_bundle_has_no_problem(forms):
    for form, path in forms.items():
        assert verify_bundle(path) == [], form


def test_a_flipped_byte_is_named(forms, sample):
    lay, names = sample
    digest = _layer_of(lay, names)
    blob = os.path.join(forms["directory"], "blobs", "sha256", digest[7:])
    data = bytearray(open(blob, "rb").read())
    data[100] ^= 0x01
    with open(blob, "wb") as fh:
        fh.write(data)
    (problem,) = verify_bundle(forms["directory"])
    assert f"blobs/sha256/{digest[7:]}" in problem and digest in problem and "altered" in problem


def test_a_flipped_byte_inside_a_tarball_is_named(forms, sample):
    lay, names = sample
    digest = _layer_of(lay, names)
    with tarfile.open(forms["tar"]) as tar:
        offset = tar.getmember(f"blobs/sha256/{digest[7:]}").offset_data
    with open(forms["tar"], "r+b") as fh:
        fh.seek(offset + 10)
        byte = fh.read(1)
        fh.seek(offset + 10)
        fh.write(bytes([byte[0] ^ 0xFF]))
    (problem,) = verify_bundle(forms["tar"])
    assert forms["tar"] in problem and digest in problem


def test_a_missing_blob_is_named(forms, sample):
    lay, names = sample
    digest = _layer_of(lay, names)
    os.remove(os.path.join(forms["directory"], "blobs", "sha256", digest[7:]))
    problems = verify_bundle(forms["directory"])
    assert problems and all(digest in p and "not in the bundle" in p for p in problems)
    assert any(f"manifest {names['docker.io/library/plain:1']}" in p for p in problems)


def test_a_delta_may_leave_out_declared_blobs_only(sample, tmp_path):
    lay, names = sample
    digest = _layer_of(lay, names)
    delta = bs.write_dir(lay, str(tmp_path / "delta"), {digest: "plain"})
    assert verify_bundle(delta) == []
    other = _layer_of(lay, names, "quay.io/acme/other:2.0")
    os.remove(os.path.join(delta, "blobs", "sha256", other[7:]))
    (problem,) = verify_bundle(delta)
    assert other in problem and "nor declared in delta.blobs" in problem
    listing = list_bundle(delta)
    assert listing["delta"]["blobs"] == {digest: "plain"}


@pytest.mark.parametrize("form", ["tar", "tar.zst"])
def test_a_truncated_tarball_is_named(forms, form):
    path = forms[form]
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)
    problems = verify_bundle(path)
    assert len(problems) == 1 and path in problems[0]
    assert "truncated" in problems[0] or "not a readable" in problems[0]


def test_a_missing_part_is_named(forms):
    base = forms["split tar"]
    os.remove(base + ".part003")
    assert verify_bundle(base) == [f"{base}.part003: missing (listed in {base}.sha256)"]


def test_an_altered_part_is_named(forms):
    part = forms["split tar.zst"][:-len("001")] + "002"
    with open(part, "r+b") as fh:
        fh.seek(5)
        byte = fh.read(1)
        fh.seek(5)
        fh.write(bytes([byte[0] ^ 0x01]))
    problems = verify_bundle(forms["split tar.zst"])
    assert problems[0].startswith(f"{part}: sha256 ") and "altered" in problems[0]


def test_the_document_must_agree_with_index_json(forms, sample):
    lay, names = sample
    path = os.path.join(forms["directory"], "airgap-bundle.json")
    doc = json.load(open(path))
    doc["images"][0]["digest"] = names["quay.io/acme/other:2.0"]
    doc["images"].append({"reference": "docker.io/library/ghost:1", "digest": names["docker.io/library/plain:1"]})
    with open(path, "w") as fh:
        json.dump(doc, fh)
    problems = verify_bundle(forms["directory"])
    assert len(problems) == 2
    assert "docker.io/library/multi:2" in problems[0] and names["docker.io/library/multi:2"] in problems[0]
    assert "docker.io/library/ghost:1" in problems[1]


def test_list(forms, sample):
    lay, names = sample
    for form, path in forms.items():
        listing = list_bundle(path)
        assert listing["form"] == form
        assert listing["blobs"] == len(lay.blobs)
        assert listing["bytes"] == sum(len(b) for b in lay.blobs.values())
        assert listing["delta"] is None
        assert {i["reference"]: i["digest"] for i in listing["images"]} == names
    (multi,) = [i for i in listing["images"] if i["reference"] == "docker.io/library/multi:2"]
    assert multi["platforms"] == ["linux/amd64", "linux/arm64/v8"]
    (plain,) = [i for i in listing["images"] if i["reference"] == "docker.io/library/plain:1"]
    assert len(plain["referrers"]) == 1


def test_no_bundle_at_all_is_a_problem(tmp_path):
    assert verify_bundle(str(tmp_path / "nothing.tar")) == [f"{tmp_path / 'nothing.tar'}: no such bundle (no file, directory or parts)"]
    assert "oci-layout" in verify_bundle(str(tmp_path))[0]


def test_list_refuses_what_is_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="oci-layout"):
        list_bundle(str(tmp_path))


@pytest.mark.parametrize("name", ["../outside.part001", "/etc/hostname", "sub/s.tar.part001", "other.tar.part001"])
def test_a_checksum_line_naming_a_file_outside_the_parts_is_refused(forms, tmp_path, name):
    """NAME.sha256 names only NAME.partNNN beside it: a line naming another file (`../x`, an absolute path, another
    bundle's part) is a problem naming the line, and that file is neither hashed nor read as a part."""
    base = forms["split tar"]
    outside = tmp_path.parent / "outside.part001"
    outside.write_bytes(b"outside")
    with open(base + ".sha256", "a") as fh:
        fh.write(f"{hashlib.sha256(b'outside').hexdigest()}  {name}\n")
    lines = open(base + ".sha256").read().splitlines()
    problems = verify_bundle(base)
    assert problems == [f"{base}.sha256 line {len(lines)}: names {name}, not a part of {os.path.basename(base)} "
                        f"beside it ({os.path.basename(base)}.partNNN)"]
    with pytest.raises(BundleError, match=r"line \d+: names"):
        list_bundle(base)


def _add_named_blob(directory, doc, reference):
    """A manifest or index `doc` stored under its own digest and named in index.json (so it hashes right)."""
    data = json.dumps(doc).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(directory, "blobs", "sha256", digest[7:]), "wb") as fh:
        fh.write(data)
    index_path = os.path.join(directory, "index.json")
    index = json.load(open(index_path))
    index["manifests"].append({"mediaType": doc["mediaType"], "digest": digest, "size": len(data),
                               "annotations": {"org.opencontainers.image.ref.name": reference}})
    with open(index_path, "w") as fh:
        json.dump(index, fh)
    return digest


def test_descriptors_without_digest_or_with_a_text_size_are_problems_not_a_crash(forms):
    """A well-hashed manifest whose layer has no digest and a text size, and an index whose child has no digest: verify
    names each problem (no exception), list reads the bundle."""
    directory = forms["directory"]
    manifest = _add_named_blob(directory, {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                                      "digest": "sha256:" + "0" * 64, "size": "2"},
                                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": "x"}]},
                               "docker.io/library/odd:1")
    index = _add_named_blob(directory, {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                       "size": 3}]}, "docker.io/library/odd:2")
    problems = verify_bundle(directory)
    assert any(f"manifest {manifest} names a layer with no valid digest (None)" in p for p in problems), problems
    assert any(f"manifest {index} names a manifest with no valid digest (None)" in p for p in problems), problems
    listing = list_bundle(directory)
    assert listing["blobs"] > 0


def test_the_staging_directory_of_an_interrupted_create_is_not_a_part(forms):
    """`NAME.tar.partial/` (create's staging, left by an interrupted run) beside a split bundle is not one of its parts;
    a stray `NAME.tar.part999` is."""
    base = forms["split tar"]
    os.mkdir(base + ".partial")
    assert verify_bundle(base) == []
    open(base + ".part999", "wb").close()
    assert f"{base}.part999: a part {base}.sha256 does not list" in verify_bundle(base)


def _name_blob(directory, data, algorithm, media_type, reference):
    """`data` stored under its `algorithm` digest and named `reference` in index.json; its digest."""
    digest = f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
    os.makedirs(os.path.join(directory, "blobs", algorithm), exist_ok=True)
    with open(os.path.join(directory, "blobs", algorithm, digest.split(":")[1]), "wb") as fh:
        fh.write(data)
    index_path = os.path.join(directory, "index.json")
    index = json.load(open(index_path))
    index["manifests"].append({"mediaType": media_type, "digest": digest, "size": len(data),
                               "annotations": {"org.opencontainers.image.ref.name": reference,
                                               "io.containerd.image.name": reference}})
    with open(index_path, "w") as fh:
        json.dump(index, fh)
    return digest


def test_the_seed_reads_sha512_manifests_and_checks_descriptor_sizes(forms, sample):
    """What airgap-seed reads of a bundle (image_archive.ImageArchive): a manifest stored under its sha512 digest is
    read (hashed with sha512); a layer, or a manifest named in index.json, whose descriptor gives another size than
    the bundle's blob is refused naming it and both sizes (image-spec descriptor.md: size is the exact byte count)."""
    lay, names = sample
    directory = forms["directory"]
    body = lay.blobs[names["docker.io/library/plain:1"]]
    wide = _name_blob(directory, body, "sha512", OCI_MANIFEST, "docker.io/library/wide:1")
    assert wide in [unit.digest for unit in ImageArchive(directory).manifests]
    doc = json.loads(body)
    layer = doc["layers"][-1]
    layer["size"] += 1
    odd = _name_blob(directory, json.dumps(doc).encode(), "sha256", OCI_MANIFEST, "docker.io/library/odd:1")
    with pytest.raises(ImageArchiveError, match=rf"manifest {odd} gives blob {layer['digest']} {layer['size']} bytes; "
                                                rf"the tarball holds {layer['size'] - 1}"):
        ImageArchive(directory)
    index_path = os.path.join(directory, "index.json")
    index = json.load(open(index_path))
    index["manifests"] = [e for e in index["manifests"] if e["digest"] != odd]
    index["manifests"][-1]["size"] += 2
    with open(index_path, "w") as fh:
        json.dump(index, fh)
    with pytest.raises(ImageArchiveError, match=rf"index.json gives manifest {wide} {len(body) + 2} bytes; it has {len(body)}"):
        ImageArchive(directory)


@pytest.mark.parametrize(("key", "repository"), [("sha256:../../x", "library/base"), (f"sha256:{'a' * 64}", "x:pull repository:y:push"),
                                                 (f"sha256:{'a' * 64}", "../up"), (f"sha256:{'a' * 64}", 7)])
def test_a_delta_naming_a_bad_digest_or_repository_is_refused(forms, key, repository):
    """delta.blobs maps digests to site repositories the seed mounts from (they go into URLs and token scopes): a key
    that is not a digest or a value that is not a repository name (distribution-spec) is refused naming it, by the
    seed's reader and by verify."""
    path = os.path.join(forms["directory"], "airgap-bundle.json")
    doc = json.load(open(path))
    doc["delta"] = {"registry": "reg.site:5000", "have_created": "2026-10-30T07:00:00Z", "blobs": {key: repository}}
    with open(path, "w") as fh:
        json.dump(doc, fh)
    with pytest.raises(ImageArchiveError, match="delta.blobs"):
        ImageArchive(forms["directory"])
    (problem,) = verify_bundle(forms["directory"])
    assert "delta.blobs" in problem and repr(key if not key.startswith("sha256:a") else repository) in problem
