#!/usr/bin/env python3
"""Write deterministic sample images as `docker save` tarballs, with no Docker engine.

Each image has several uncompressed layers; the base layer is shared by every image, so seeding
exercises blob de-duplication and cross-repository mounts.  Usage:

    make_samples.py OUT_DIR [--scale N] [--oci DIR]

--oci DIR also writes multi-platform indexes, a manifest list, attestations, artifacts and referrers as OCI archives
(see scripts/oci_samples.py).  --scale multiplies the size of the incompressible layers (1 = about 1 MiB per image).
"""
import argparse
import hashlib
import io
import json
import os
import random
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sample_tar import add_dir, add_file, write_tar  # noqa: E402 - scripts/ is not a package

# name:tag -> list of layers; each layer is a list of (path, size, kind) with kind "random" or "text".
SAMPLES = {
    "abox:1.0.1": [("base", [("etc/os-release", 0, "os"), ("lib/base.bin", 256, "random")]),
                   ("abox", [("opt/abox/abox.bin", 512, "random"), ("opt/abox/README", 64, "text")])],
    "tools/busyish:2.0": [("base", [("etc/os-release", 0, "os"), ("lib/base.bin", 256, "random")]),
                          ("busyish", [("usr/bin/busyish", 384, "random")]),
                          ("busyish-docs", [("usr/share/doc/busyish.txt", 128, "text")])],
    "nginx:1.25": [("base", [("etc/os-release", 0, "os"), ("lib/base.bin", 256, "random")]),
                   ("nginx", [("usr/share/nginx/html/index.html", 32, "text"), ("usr/sbin/nginx.bin", 256, "random")])],
}


def _content(name, path, size_kib, kind, scale):
    if kind == "os":
        return b'PRETTY_NAME="airgap sample"\nID=airgap\n'
    rng = random.Random(f"{name}:{path}")
    if kind == "text":
        words = [b"registry", b"airgap", b"layer", b"image", b"seed", b"fleet", b"blob", b"tag"]
        out = bytearray()
        while len(out) < size_kib * 1024:
            out += b" ".join(rng.choice(words) for _ in range(12)) + b"\n"
        return bytes(out)
    return rng.randbytes(size_kib * 1024 * scale)


def layer_tar(layer_name, files, scale):
    """Return the bytes of one uncompressed layer tar (directories first, fixed mtimes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({os.path.dirname(p) for p, _, _ in files} - {""})
        for d in dirs:
            parts = d.split("/")
            for i in range(1, len(parts) + 1):
                sub = "/".join(parts[:i])
                if sub in tar.getnames():
                    continue
                add_dir(tar, sub)
        for path, size, kind in files:
            add_file(tar, path, _content(layer_name, path, size, kind, scale))
    return buf.getvalue()


def write_image(out_dir, ref, layers, scale):
    """Write one image as a legacy `docker save` tarball; return its path."""
    layer_blobs = [layer_tar(n, f, scale) for n, f in layers]
    diff_ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in layer_blobs]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/true"], "Labels": {"org.airgap.sample": ref}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": f"airgap sample layer {n}"} for n, _ in layers],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    repo, tag = ref.rsplit(":", 1)
    manifest = [{"Config": f"{config_hex}.json", "RepoTags": [ref], "Layers": [f"{d[7:]}/layer.tar" for d in diff_ids]}]
    members = [(f"{config_hex}.json", config_bytes)]
    for d, blob in zip(diff_ids, layer_blobs, strict=True):
        members += [(f"{d[7:]}/VERSION", b"1.0"), (f"{d[7:]}/layer.tar", blob)]
    members += [("manifest.json", json.dumps(manifest).encode()),
                ("repositories", json.dumps({repo: {tag: diff_ids[-1][7:]}}).encode())]
    path = os.path.join(out_dir, ref.replace("/", "_").replace(":", "_") + ".tar")
    return write_tar(path, members)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--oci", metavar="DIR", help="also write the multi-platform, artifact and referrer OCI archives "
                        "of scripts/oci_samples.py into DIR")
    args = parser.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    if args.oci:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import oci_samples  # noqa: PLC0415 - next to this script
        for path in oci_samples.write_all(args.oci):
            print(path)
    for ref, layers in SAMPLES.items():
        print(write_image(args.out_dir, ref, layers, args.scale))


if __name__ == "__main__":
    main()
