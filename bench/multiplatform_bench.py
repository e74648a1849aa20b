"""Multi-platform seeding benchmark (issue 12): a set of 3-platform images into pyregistry, ours vs skopeo, one run.

N images (OCI archives as `skopeo copy --all ... oci-archive:` writes them: an index of linux/amd64, linux/arm64/v8
and linux/arm/v7), each platform image with a base layer shared by every image of that platform and a layer of its
own, all of `--layer-mib` MiB of random (incompressible) data, gzip.  Then, side by side:

- cold: `airgap-seed DIR` (every archive, one call) against `skopeo copy --all --preserve-digests
  oci-archive:FILE:REF docker://...`, one call per image as users script it, each into a fresh pyregistry
  (target: ours at least 2x faster); tags checked to carry the source index digests;
- warm: the same again into the now full registry (target: ours no slower than skopeo's warm, and 0 bytes sent);
- the raw-ingest limit: the same blobs and manifests pushed by a bare HTTP client a few at a time, digests known
  beforehand (bench/bundle_bench.py's RawPusher); the fraction of that limit reached (limit time / ours, 1 = at it);
- memory: airgap-seed's peak RSS with `--layer-mib` layers and with `--big-layer-mib` layers (flat = ~1).

    python bench/multiplatform_bench.py [--images N] [--layer-mib M] [--big-layer-mib B] [--rounds R]
"""
import argparse
import gzip
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import bundle_bench  # noqa: E402 - bench/bundle_bench.py: RawPusher (the raw-ingest limit)
import seed_bench  # noqa: E402 - bench/seed_bench.py: timed (peak RSS), fresh_registry

from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient  # noqa: E402

MIB = 1024 * 1024
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
PLATFORMS = ({"os": "linux", "architecture": "amd64"}, {"os": "linux", "architecture": "arm64", "variant": "v8"},
             {"os": "linux", "architecture": "arm", "variant": "v7"})


# --- the sample set: one OCI layout directory (for the raw limit) and one oci-archive per image -------------------------
class LayoutWriter:
    """Blobs written straight into `root`/blobs/sha256 (never held whole in memory); index.json entries."""

    def __init__(self, root):
        self.root = root
        self.entries = []
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "w") as fh:
            fh.write('{"imageLayoutVersion":"1.0.0"}')

    def path(self, digest):
        return os.path.join(self.root, "blobs", "sha256", digest[7:])

    def blob(self, data, media_type, **extra):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with open(self.path(digest), "wb") as fh:
            fh.write(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data), **extra}

    def random_layer(self, name, mib):
        """A gzip layer holding one file of `mib` MiB of random bytes; (descriptor, diff_id)."""
        tar_path, gz_path = os.path.join(self.root, "layer.tar.tmp"), os.path.join(self.root, "layer.gz.tmp")
        with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo(f"data/{name}.bin")
            info.size, info.mtime = mib * MIB, 0
            tar.addfile(info, _RandomReader(info.size))
        with open(tar_path, "rb") as src, gzip.GzipFile(gz_path, "wb", compresslevel=1, mtime=0) as out:
            shutil.copyfileobj(src, out, MIB)
        diff_id, digest = _file_digest(tar_path), _file_digest(gz_path)
        os.remove(tar_path)
        os.replace(gz_path, self.path(digest))
        return {"mediaType": OCI_LAYER_GZIP, "digest": digest, "size": os.path.getsize(self.path(digest))}, diff_id

    def write_index_json(self, entries):
        with open(os.path.join(self.root, "index.json"), "w") as fh:
            json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, fh)


def _file_digest(path):
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(MIB), b""):
            sha.update(block)
    return "sha256:" + sha.hexdigest()


class _RandomReader:
    def __init__(self, size):
        self.left = size

    def read(self, n=-1):
        n = min(n if n and n > 0 else MIB, self.left)
        self.left -= n
        return os.urandom(n)


def _platform_name(platform):
    return "-".join(platform.values())


def write_samples(work, count, layer_mib):
    """Write `count` 3-platform images into work/layout (one layout, every ref) and work/archives/mpN.tar (one
    oci-archive each); returns (archives dir, layout dir, {ref: index digest}, {ref: archive path})."""
    layout = LayoutWriter(os.path.join(work, "layout"))
    bases = {_platform_name(p): layout.random_layer(f"base-{_platform_name(p)}", layer_mib) for p in PLATFORMS}
    members, digests, entries = {}, {}, []
    for number in range(count):
        ref = f"bench/mp{number}:1"
        used, children = [], []
        for platform in PLATFORMS:
            base, base_diff = bases[_platform_name(platform)]
            own, own_diff = layout.random_layer(f"mp{number}-{_platform_name(platform)}", layer_mib)
            config = layout.blob(json.dumps({**platform, "config": {"Cmd": ["/bin/true"]}, "created": "2023-11-14T22:13:20Z",
                                             "rootfs": {"type": "layers", "diff_ids": [base_diff, own_diff]}}).encode(), OCI_CONFIG)
            manifest = layout.blob(json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                                               "layers": [base, own]}).encode(), OCI_MANIFEST, platform=platform)
            children.append(manifest)
            used += [base, own, config, manifest]
        index = layout.blob(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}).encode(), OCI_INDEX)
        used.append(index)
        entry = {**index, "annotations": {REF_NAME: ref}}
        entries.append(entry)
        members[ref] = (used, entry)
        digests[ref] = index["digest"]
    layout.write_index_json(entries)
    archives = os.path.join(work, "archives")
    os.makedirs(archives)
    paths = {}
    for ref, (used, entry) in members.items():
        paths[ref] = os.path.join(archives, ref.split("/")[1].split(":")[0] + ".tar")
        with tarfile.open(paths[ref], "w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(os.path.join(layout.root, "oci-layout"), arcname="oci-layout")
            index_json = os.path.join(work, "index.json.tmp")
            with open(index_json, "w") as fh:
                json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}, fh)
            tar.add(index_json, arcname="index.json")
            for digest in sorted({d["digest"] for d in used}):
                tar.add(layout.path(digest), arcname=f"blobs/sha256/{digest[7:]}")
    return archives, layout.root, digests, paths


# --- the tools ------------------------------------------------------------------------------------------------------
def run_ours(archives, reg, report):
    """(seconds, peak RSS MiB, bytes sent) of one airgap-seed call over every archive."""
    elapsed, rss = seed_bench.timed([seed_bench.CLI, archives, "--registry", reg.host, "--progress", "none", "--report", report])
    with open(report) as fh:
        return elapsed, rss, json.load(fh)["bytes_sent"]


def run_skopeo(paths, reg):
    """Seconds of `skopeo copy --all --preserve-digests oci-archive:FILE:REF docker://REG/REF`, one call per image."""
    start = time.monotonic()
    for ref, path in paths.items():
        subprocess.run(["skopeo", "copy", "-q", "--all", "--preserve-digests", "--dest-tls-verify=false",
                        f"oci-archive:{path}:{ref}", f"docker://{reg.host}/{ref}"], check=True, capture_output=True)
    return time.monotonic() - start


def run_raw(layout, refs, reg):
    start = time.monotonic()
    bundle_bench.RawPusher(reg.host, layout).push(refs)
    return time.monotonic() - start


def check_digests(reg, digests, who):
    client = RegistryClient(reg.host, scheme="http")
    for ref, digest in digests.items():
        repo, tag = ref.split(":")
        got = (client.head_manifest(repo, tag) or {}).get("digest")
        if got != digest:
            raise RuntimeError(f"{who}: {reg.host}/{ref} has digest {got}, the source index is {digest}")


def main():  # noqa: PLR0914, PLR0915 - one linear report
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3, help="3-platform images in the set")
    parser.add_argument("--layer-mib", type=int, default=96, help="size of every layer (MiB)")
    parser.add_argument("--big-layer-mib", type=int, default=192, help="layer size of the memory comparison (MiB)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of cold + warm runs per tool (medians compared)")
    args = parser.parse_args()
    seed_bench.prepare("multiplatform_bench", ("skopeo", seed_bench.CLI))
    work = tempfile.mkdtemp(prefix="multiplatform-bench-")
    pool = seed_bench.RegistryPool(work, "pyregistry")
    registry, done = pool.start, pool.done

    try:
        archives, layout, digests, paths = write_samples(os.path.join(work, "small"), args.images, args.layer_mib)
        total = sum(os.path.getsize(p) for p in paths.values())
        print(f"registry: pyregistry; {args.images} images x {len(PLATFORMS)} platforms, {args.layer_mib} MiB layers "
              f"(a base per platform shared by every image + one own layer); archives {total / MIB:.0f} MiB")
        times = {"ours": [], "skopeo": [], "ours-warm": [], "skopeo-warm": [], "raw": []}
        rss, warm_sent = [], []
        for round_no in range(args.rounds):
            reg = registry(f"ours-{round_no}")
            cold, peak, _sent = run_ours(archives, reg, os.path.join(work, "report.json"))
            check_digests(reg, digests, "airgap-seed")
            warm, _peak, sent = run_ours(archives, reg, os.path.join(work, "report.json"))
            times["ours"].append(cold)
            times["ours-warm"].append(warm)
            rss.append(peak)
            warm_sent.append(sent)
            done(reg)
            reg = registry(f"skopeo-{round_no}")
            times["skopeo"].append(run_skopeo(paths, reg))
            check_digests(reg, digests, "skopeo")
            times["skopeo-warm"].append(run_skopeo(paths, reg))
            done(reg)
            reg = registry(f"raw-{round_no}")
            times["raw"].append(run_raw(layout, list(digests), reg))
            check_digests(reg, digests, "raw")
            done(reg)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"medians over {args.rounds} rounds (seconds): " + ", ".join(f"{k} {v:.2f}" for k, v in med.items()))
        print(f"  {'cold: skopeo / ours':44} = {med['skopeo'] / med['ours']:6.2f}x   (target >= 2)")
        print(f"  {'warm: skopeo / ours':44} = {med['skopeo-warm'] / med['ours-warm']:6.2f}x   (target >= 1)")
        print(f"  {'warm: bytes sent by ours':44} = {max(warm_sent):6d}     (target 0)")
        print(f"  {'cold: fraction of the limit reached':44} = {med['raw'] / med['ours']:6.2f}    (raw-ingest limit time / ours; "
              "1 = at the limit)")
        big_archives, _layout, big_digests, _paths = write_samples(os.path.join(work, "big"), 1, args.big_layer_mib)
        reg = registry("big")
        _t, big_rss, _s = run_ours(big_archives, reg, os.path.join(work, "report.json"))
        check_digests(reg, big_digests, "airgap-seed (big)")
        done(reg)
        small_rss = statistics.median(rss)
        print(f"  {'peak RSS MiB, ' + str(args.layer_mib) + ' vs ' + str(args.big_layer_mib) + ' MiB layers':44} = "
              f"{small_rss:.0f} vs {big_rss:.0f}  ({big_rss / small_rss:.2f}x; flat = ~1)")
    finally:
        pool.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
