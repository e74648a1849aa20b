"""Bundles for the serve-bundle tests and bench, written per docs/bundles.md from OCI archives (scripts/oci_samples.py),
and a `pyregistry serve-bundle` process. (Until `airgap-bundle create` exists, this is how a bundle is made.)"""
import hashlib
import json
import os
import shutil
import tarfile

from tests.helpers.registries import RegistryProcess

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _blob(root, digest):
    return os.path.join(root, "blobs", "sha256", digest.split(":", 1)[1])


def _platforms(root, entry):
    """The os/arch[/variant] of an index's children (an image's config says nothing more: [])."""
    if entry["mediaType"] not in (OCI_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json"):
        return []
    with open(_blob(root, entry["digest"]), "rb") as fh:
        children = json.load(fh)["manifests"]
    plats = [c.get("platform") or {} for c in children]
    return ["/".join(p[k] for k in ("os", "architecture", "variant") if p.get(k)) for p in plats if p.get("os") != "unknown"]


def write_bundle(out_dir, archives, delta=None, registry="docker.io/library"):
    """A bundle directory at `out_dir` merging the OCI archives `archives` (paths, or (path, registry) pairs): each
    named index.json entry (`multi:2`) becomes `REGISTRY/multi:2`; unnamed entries (referrers) stay unnamed.
    Returns {full reference: digest}."""
    os.makedirs(os.path.join(out_dir, "blobs", "sha256"), exist_ok=True)
    entries, images, named = [], [], {}
    for item in archives:
        archive, prefix = item if isinstance(item, tuple) else (item, registry)
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if member.name.startswith("blobs/sha256/") and member.isreg():
                    target = os.path.join(out_dir, member.name)
                    if not os.path.exists(target):
                        with tar.extractfile(member) as src, open(target, "wb") as dst:
                            shutil.copyfileobj(src, dst)
            index = json.load(tar.extractfile("index.json"))
        for source in index["manifests"]:
            name = (source.get("annotations") or {}).get(REF_NAME)
            entry = {k: v for k, v in source.items() if k != "annotations"}
            if name is not None:
                reference = f"{prefix}/{name}"
                entry["annotations"] = {REF_NAME: reference, CONTAINERD_NAME: reference}
                named[reference] = entry["digest"]
                images.append({"reference": reference, "digest": entry["digest"], "mediaType": entry["mediaType"],
                               "platforms": _platforms(out_dir, entry), "size": entry["size"], "referrers": []})
            entries.append(entry)
    with open(os.path.join(out_dir, "oci-layout"), "w") as fh:
        json.dump({"imageLayoutVersion": "1.0.0"}, fh)
    with open(os.path.join(out_dir, "index.json"), "w") as fh:
        json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, fh)
    with open(os.path.join(out_dir, "airgap-bundle.json"), "w") as fh:
        json.dump({"bundleVersion": 1, "created": "2026-11-30T07:00:00Z", "images": images, "delta": delta}, fh)
    return named


def tar_bundle(bundle_dir, tar_path):
    """The bundle directory as one uncompressed tarball, member names without `./`; returns tar_path."""
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(bundle_dir)):
            tar.add(os.path.join(bundle_dir, name), arcname=name)
    return tar_path


def split_tar(tar_path, out_dir, part_size):
    """The tarball's bytes cut in parts of `part_size` bytes as `out_dir/NAME.partNNN` plus `NAME.sha256`
    (docs/bundles.md, split parts); returns `out_dir/NAME` (which does not exist: only its parts do)."""
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, os.path.basename(tar_path))
    lines, total = [], os.path.getsize(tar_path)
    with open(tar_path, "rb") as src:
        while src.tell() < total:
            part, sha, left = f"{base}.part{len(lines) + 1:03d}", hashlib.sha256(), part_size
            with open(part, "wb") as fh:
                while left and (data := src.read(min(left, 1 << 20))):
                    fh.write(data)
                    sha.update(data)
                    left -= len(data)
            lines.append(f"{sha.hexdigest()}  {os.path.basename(part)}\n")
    with open(base + ".sha256", "w") as fh:
        fh.writelines(lines)
    return base


class BundleServer(RegistryProcess):
    """`pyregistry serve-bundle PATH --config config.yml [extra args]` on a free loopback port."""

    def __init__(self, workdir, bundle, config=None, args=(), **kwargs):
        os.makedirs(workdir, exist_ok=True)
        super().__init__("pyregistry", workdir, config=config, **kwargs)
        self.bundle = str(bundle)
        self.args = list(args)

    def command(self):
        return [self.python, "-m", "pyregistry", "serve-bundle", self.bundle, "--config", self.config_path, *self.args]
