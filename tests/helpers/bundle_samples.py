"""Test bundles (docs/bundles.md) without `airgap-bundle create`: scripts/oci_samples.py content (indexes, a Docker
manifest list, a BuildKit attestation, a signed index with referrers and a cosign tag, a Helm chart, plain images
sharing layers, a plain image with a signature by subject) put in one OCI layout directory with airgap-bundle.json,
and its tarball, zstd and split forms.  The document's sizes and platforms are computed here from the JSON, apart
from the module code that reads them."""
import hashlib
import json
import os
import shutil
import sys
import tarfile

from ansible_collections.airgap.registry.plugins.module_utils import compression
from tests.helpers.registries import REPO_ROOT

sys.path.insert(0, os.path.join(REPO_ROOT, "scripts"))
import oci_samples as oci  # noqa: E402 - scripts/ is not a package

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
MTIME = 1700000000


def _named(lay, desc, reference):
    lay.entries.append({**{k: v for k, v in desc.items() if k != "platform"},
                        "annotations": {REF_NAME: reference, CONTAINERD_NAME: reference}})


def sample_layout():
    """An oci_samples.Layout holding every kind of content, named by full references; (layout, {reference: digest})."""
    lay = oci.Layout()
    multi = oci.index(lay, [oci.image(lay, "multi", p) for p in oci.PLATFORMS[:2]])
    _named(lay, multi, "docker.io/library/multi:2")
    dlist = oci.index(lay, [oci.image(lay, "dlist", {k: v for k, v in p.items() if k != "variant"}, docker=True)
                            for p in oci.PLATFORMS[:2]], media_type=oci.DOCKER_LIST)
    _named(lay, dlist, "ghcr.io/acme/dlist:1")
    signed = oci.index(lay, [oci.image(lay, "signed", p) for p in oci.PLATFORMS[:2]])
    _named(lay, signed, "docker.io/acme/signed:1")
    lay.entries.append(oci.artifact(lay, "application/vnd.dev.cosign.artifact.sig.v1+json", b"signature-bytes",
                                    "application/vnd.dev.cosign.simplesigning.v1+json", subject=signed))
    lay.entries.append(oci.artifact(lay, "application/spdx+json", oci.dumps({"spdxVersion": "SPDX-2.3"}),
                                    "application/spdx+json", subject=signed))
    chart = oci.artifact(lay, "", b"\x1f\x8bchart", "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                         config_type="application/vnd.cncf.helm.config.v1+json", config=oci.dumps({"name": "mychart"}))
    _named(lay, chart, "registry.example.com/charts/mychart:0.1.0")
    # Plain images sharing the "base" layer (the multi-platform images have it too); one with a signature by subject.
    plain = oci.image(lay, "plain", oci.PLATFORMS[0])
    _named(lay, plain, "docker.io/library/plain:1")
    other = oci.image(lay, "other", oci.PLATFORMS[0], docker=True)
    _named(lay, other, "quay.io/acme/other:2.0")
    lay.entries.append(oci.artifact(lay, "application/vnd.dev.cosign.artifact.sig.v1+json", b"plain-signature",
                                    "application/vnd.dev.cosign.simplesigning.v1+json", subject=plain))
    names = {e["annotations"][REF_NAME]: e["digest"] for e in lay.entries if e.get("annotations", {}).get(REF_NAME)}
    return lay, names


def _children(lay, digest):
    doc = json.loads(lay.blobs[digest])
    if isinstance(doc.get("manifests"), list):
        return [(m["digest"], m.get("platform")) for m in doc["manifests"]]
    return []


def _image_entry(lay, desc, referrers):
    """airgap-bundle.json's entry for the named descriptor `desc`."""
    digest = desc["digest"]
    blobs, platforms, todo = {}, [], [digest, *referrers]
    for child, platform in _children(lay, digest):
        todo.append(child)
        if platform:
            platforms.append("/".join(platform[k] for k in ("os", "architecture", "variant") if k in platform))
    for manifest in todo:
        blobs[manifest] = len(lay.blobs[manifest])
        doc = json.loads(lay.blobs[manifest])
        for blob in [doc.get("config"), *(doc.get("layers") or [])]:
            if blob:
                blobs[blob["digest"]] = blob["size"]
    return {"reference": desc["annotations"][REF_NAME], "digest": digest, "mediaType": desc["mediaType"],
            "platforms": platforms, "size": sum(blobs.values()), "referrers": referrers}


def bundle_doc(lay, delta=None):
    """The airgap-bundle.json document of `lay` (delta: None or {registry, have_created, blobs})."""
    subjects = {}
    for entry in lay.entries:
        doc = json.loads(lay.blobs[entry["digest"]])
        if isinstance(doc.get("subject"), dict):
            subjects.setdefault(doc["subject"]["digest"], []).append(entry["digest"])
    images = [_image_entry(lay, e, subjects.get(e["digest"], [])) for e in lay.entries if e.get("annotations", {}).get(REF_NAME)]
    return {"bundleVersion": 1, "created": "2026-11-30T07:00:00Z", "images": images, "delta": delta}


def write_dir(lay, path, delta_blobs=None, registry="reg.site:5000"):
    """Write `lay` as a bundle directory at `path`; `delta_blobs` {digest: repository} are left out and declared."""
    delta = {"registry": registry, "have_created": "2026-10-30T07:00:00Z", "blobs": dict(delta_blobs)} if delta_blobs else None
    os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
             "index.json": oci.dumps({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": lay.entries}),
             "airgap-bundle.json": json.dumps(bundle_doc(lay, delta), indent=2).encode()}
    files.update({f"blobs/sha256/{d[7:]}": b for d, b in lay.blobs.items() if d not in (delta_blobs or {})})
    for name, data in files.items():
        with open(os.path.join(path, name), "wb") as fh:
            fh.write(data)
    return str(path)


def tar_dir(directory, out):
    """The layout directory as `out` (.tar, or .tar.zst compressed), member names without `./`; returns out."""
    plain = out + ".plain" if out.endswith(".zst") else out
    with tarfile.open(plain, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in ["oci-layout", "index.json", "airgap-bundle.json"] + sorted(
                f"blobs/sha256/{n}" for n in os.listdir(os.path.join(directory, "blobs", "sha256"))):
            info = tar.gettarinfo(os.path.join(directory, name), arcname=name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "", ""
            with open(os.path.join(directory, name), "rb") as fh:
                tar.addfile(info, fh)
    if out.endswith(".zst"):
        with open(plain, "rb") as src, open(out, "wb") as dst:
            reader = compression.convert(src, "none", "zstd")
            shutil.copyfileobj(reader, dst)
            reader.close()
        os.remove(plain)
    return out


def split(path, size):
    """Cut `path` into `path.part001`... of `size` bytes with `path.sha256` (sha256sum's format), removing `path`;
    the part paths."""
    parts, lines = [], []
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(size), b""):
            parts.append(f"{path}.part{len(parts) + 1:03d}")
            with open(parts[-1], "wb") as out:
                out.write(block)
            lines.append(f"{hashlib.sha256(block).hexdigest()}  {os.path.basename(parts[-1])}\n")
    with open(path + ".sha256", "w") as fh:
        fh.writelines(lines)
    os.remove(path)
    return parts


def every_form(lay, root, delta_blobs=None):
    """The bundle of `lay` in every form under `root`: {directory, tar, tar.zst, split tar, split tar.zst: path given
    to the seed}."""
    directory = write_dir(lay, os.path.join(root, "dir"), delta_blobs)
    forms = {"directory": directory, "tar": tar_dir(directory, os.path.join(root, "b.tar")),
             "tar.zst": tar_dir(directory, os.path.join(root, "b.tar.zst"))}
    split(tar_dir(directory, os.path.join(root, "s.tar")), 7000)
    forms["split tar"] = os.path.join(root, "s.tar")
    split(tar_dir(directory, os.path.join(root, "z.tar.zst")), 3000)
    forms["split tar.zst"] = os.path.join(root, "z.tar.zst.part001")
    return forms
