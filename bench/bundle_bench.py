"""Bundle benchmark (issue 13): size, `airgap-bundle create` and `airgap-seed` from a bundle, side by side with skopeo.

N images sharing layers (one base layer in every image, a runtime layer in half of them, an own layer each) are
seeded into a source Distribution registry on this machine; then, in one run:

- size: our bundle (directory and `.tar`) against the sum of the unique blobs (target: under 1% over), the per-image
  tarballs of today (image_save, docker-archive, as `playbooks/bundle.yml` writes them) and `skopeo copy --all` of
  every image into one `oci:` directory;
- create: `airgap-bundle create` from the source registry against `skopeo copy --all docker://... oci:DIR:REF` per
  image into one directory (target: ours at least 2x faster), medians over the rounds, a fresh output each time;
- seed: `airgap-seed BUNDLE` against `skopeo copy --all oci:DIR:REF docker://...` per image, each into a fresh
  registry (target: ours at least 2x faster), and the raw-ingest limit: the same blobs and manifests pushed by a
  bare HTTP client, a few at a time, digests known beforehand (the fraction of that limit reached: limit time / ours);
- memory: peak RSS of create and of seed with one 1 GiB layer against the small set (flat = ~1).

    python bench/bundle_bench.py [--images N] [--base-mib M] [--own-mib K] [--rounds R] [--big-mib B] [--skip-big]
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import seed_bench  # noqa: E402 - bench/seed_bench.py: timed (peak RSS), fresh_registry, write_big_image, make_samples

from ansible_collections.airgap.registry.plugins.module_utils.archive_writer import ImageSaver  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.reference import parse_ref  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient  # noqa: E402

BIN = os.path.dirname(sys.executable)
BUNDLE_CLI = os.path.join(BIN, "airgap-bundle")
SEED_CLI = seed_bench.CLI
MIB = 1024 * 1024
RAW_PARALLEL = 4
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")


def bench_images(count, base_mib, runtime_mib, own_mib):
    """{ref: make_samples layers}: every image has the base layer, even ones the runtime layer, each its own layer."""
    images = {}
    for number in range(count):
        layers = [("base", [("etc/os-release", 0, "os"), ("lib/base.bin", base_mib * 1024, "random")])]
        if number % 2 == 0:
            layers.append(("runtime", [("usr/lib/runtime.bin", runtime_mib * 1024, "random")]))
        layers.append((f"app{number}", [(f"opt/app{number}/app.bin", own_mib * 1024, "random")]))
        images[f"bench/app{number}:1.0"] = layers
    return images


def tree_bytes(path):
    """Bytes of every file under `path` (a file: its size)."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name)) for root, _dirs, files in os.walk(path) for name in files)


def run(cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def seconds(func, *args):
    start = time.monotonic()
    func(*args)
    return time.monotonic() - start


def unique_blob_bytes(layout):
    """Bytes of the distinct blobs (manifests, configs, layers) every image of an OCI layout `layout` reaches."""
    sizes = {}
    with open(os.path.join(layout, "index.json")) as fh:
        todo = list(json.load(fh)["manifests"])
    while todo:
        desc = todo.pop()
        if desc["digest"] in sizes:
            continue
        sizes[desc["digest"]] = desc["size"]
        if desc["mediaType"] in INDEX_TYPES or "manifest" in desc["mediaType"]:
            with open(os.path.join(layout, "blobs", *desc["digest"].split(":", 1)), "rb") as fh:
                doc = json.load(fh)
            todo += doc.get("manifests", []) + doc.get("layers", []) + ([doc["config"]] if "config" in doc else [])
    return sum(sizes.values())


# --- the tools ------------------------------------------------------------------------------------------------------
def skopeo_to_oci(refs, source, out):
    for ref in refs:
        run(["skopeo", "copy", "-q", "--all", "--src-tls-verify=false", f"docker://{source.host}/{ref}", f"oci:{out}:{ref}"])


def skopeo_from_oci(refs, layout, target):
    for ref in refs:
        run(["skopeo", "copy", "-q", "--all", "--dest-tls-verify=false", f"oci:{layout}:{ref}", f"docker://{target.host}/{ref}"])


def create(refs_file, out):
    """(seconds, peak RSS MiB) of `airgap-bundle create` into `out`."""
    return seed_bench.timed([BUNDLE_CLI, "create", "--images-file", refs_file, "--output", out])


def seed(bundle, target):
    """(seconds, peak RSS MiB) of `airgap-seed BUNDLE` into `target`."""
    return seed_bench.timed([SEED_CLI, bundle, "--registry", target.host, "--progress", "none"])


def save_tarballs(refs, source, out):
    """Today's way: one docker-archive tarball per image (image_save from the registry)."""
    os.makedirs(out)
    saver = ImageSaver(out, source="registry", client_for=lambda host: RegistryClient(host, scheme="http"), registry=source.host)
    for ref in refs:
        saver.save(f"{source.host}/{ref}")


# --- the raw-ingest limit -------------------------------------------------------------------------------------------
class RawPusher:
    """Pushes an OCI layout's blobs and manifests with bare http.client requests (one connection per thread): each
    blob once (monolithic POST + PUT from the file), other repositories by mount, then the manifests, children first."""

    def __init__(self, host, layout):
        self.host = host
        self.layout = layout
        self.connections = {}

    def _conn(self):
        key = threading.get_ident()
        if key not in self.connections:
            self.connections[key] = http.client.HTTPConnection(self.host, timeout=300, blocksize=MIB)
        return self.connections[key]

    def _request(self, method, url, body=None, headers=None, ok=(201, 202)):
        conn = self._conn()
        conn.request(method, url, body=body, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        if resp.status not in ok:
            raise RuntimeError(f"raw {method} {url}: {resp.status}")
        return resp

    def blob(self, repo, digest, size):
        location = self._request("POST", f"/v2/{repo}/blobs/uploads/").getheader("Location")
        parts = urllib.parse.urlsplit(location)
        query = (parts.query + "&" if parts.query else "") + "digest=" + urllib.parse.quote(digest)
        with open(os.path.join(self.layout, "blobs", *digest.split(":", 1)), "rb") as fh:
            self._request("PUT", f"{parts.path}?{query}", body=fh,
                          headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"})

    def mount(self, repo, digest, source_repo):
        self._request("POST", f"/v2/{repo}/blobs/uploads/?mount={urllib.parse.quote(digest)}&from={source_repo}")

    def plan(self, refs):
        """(blobs [(repo, digest, size)], mounts [(repo, digest, from)], manifests [(repo, tag or digest, type, path)])."""
        with open(os.path.join(self.layout, "index.json")) as fh:
            tops = {d["annotations"]["org.opencontainers.image.ref.name"]: d for d in json.load(fh)["manifests"]}
        owner, blobs, mounts, manifests = {}, [], [], []
        for ref in refs:
            parsed = parse_ref(ref)
            self._walk(parsed.path, parsed.tag, tops[ref], owner, blobs, mounts, manifests)
        return blobs, mounts, manifests

    def _walk(self, repo, tag, desc, owner, blobs, mounts, manifests):  # noqa: PLR0913, PLR0917 - recursion state
        path = os.path.join(self.layout, "blobs", *desc["digest"].split(":", 1))
        with open(path, "rb") as fh:
            doc = json.load(fh)
        for child in doc.get("manifests", []):
            self._walk(repo, None, child, owner, blobs, mounts, manifests)
        for blob in doc.get("layers", []) + ([doc["config"]] if "config" in doc else []):
            if blob["digest"] not in owner:
                owner[blob["digest"]] = repo
                blobs.append((repo, blob["digest"], blob["size"]))
            elif owner[blob["digest"]] != repo:
                mounts.append((repo, blob["digest"], owner[blob["digest"]]))
        manifests.append((repo, tag or desc["digest"], desc["mediaType"], path))

    def push(self, refs):
        blobs, mounts, manifests = self.plan(refs)
        with ThreadPoolExecutor(RAW_PARALLEL) as pool:
            list(pool.map(lambda b: self.blob(*b), sorted(blobs, key=lambda b: -b[2])))
            list(pool.map(lambda m: self.mount(*m), mounts))
        for repo, reference, media_type, path in manifests:
            with open(path, "rb") as fh:
                self._request("PUT", f"/v2/{repo}/manifests/{reference}", body=fh.read(), headers={"Content-Type": media_type})
        for conn in self.connections.values():
            conn.close()
        self.connections = {}


def raw_limit(refs, layout, target):
    return seconds(RawPusher(target.host, layout).push, refs)


# --- the run --------------------------------------------------------------------------------------------------------
def ratio_line(label, theirs, ours, target):
    print(f"  {label:44} = {theirs / ours:6.2f}x   ({target})")


def main():  # noqa: PLR0914, PLR0915 - one linear report
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8, help="images in the set")
    parser.add_argument("--base-mib", type=int, default=192, help="the base layer every image has (MiB)")
    parser.add_argument("--runtime-mib", type=int, default=96, help="the runtime layer half of the images have (MiB)")
    parser.add_argument("--own-mib", type=int, default=64, help="each image's own layer (MiB)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of create and seed per tool (medians are compared)")
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the big layer for the RSS check")
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    seed_bench.prepare("bundle_bench", ("skopeo", "docker-registry", BUNDLE_CLI, SEED_CLI))
    work = tempfile.mkdtemp(prefix="bundle-bench-")
    pool = seed_bench.RegistryPool(work, "distribution")
    registry, done = pool.start, pool.done

    try:
        tarballs = os.path.join(work, "tarballs")
        os.makedirs(tarballs)
        images = bench_images(args.images, args.base_mib, args.runtime_mib, args.own_mib)
        for ref, layers in images.items():
            seed_bench.make_samples.write_image(tarballs, ref, layers, 1)
        refs = list(images)
        source = registry("source")
        run([SEED_CLI, tarballs, "--registry", source.host, "--progress", "none"])
        shutil.rmtree(tarballs)
        refs_file = os.path.join(work, "images.txt")
        with open(refs_file, "w") as fh:
            fh.write("".join(f"{source.host}/{ref}\n" for ref in refs))
        print(f"{len(refs)} images in a Distribution registry on this machine: base {args.base_mib} MiB in all, runtime "
              f"{args.runtime_mib} MiB in half, own {args.own_mib} MiB each; {args.rounds} rounds", flush=True)

        times = {"create": [], "skopeo-oci": [], "seed": [], "skopeo-seed": [], "raw": []}
        rss = {"create": [], "seed": []}
        for round_no in range(args.rounds):
            ours_dir = os.path.join(work, f"ours-{round_no}") + os.sep
            skopeo_dir = os.path.join(work, f"skopeo-{round_no}")
            elapsed, peak = create(refs_file, ours_dir)
            times["create"].append(elapsed)
            rss["create"].append(peak)
            times["skopeo-oci"].append(seconds(skopeo_to_oci, refs, source, skopeo_dir))
            target = registry(f"seed-{round_no}")
            elapsed, peak = seed(ours_dir, target)
            times["seed"].append(elapsed)
            rss["seed"].append(peak)
            done(target)
            target = registry(f"skopeo-seed-{round_no}")
            times["skopeo-seed"].append(seconds(skopeo_from_oci, refs, skopeo_dir, target))
            done(target)
            target = registry(f"raw-{round_no}")
            times["raw"].append(raw_limit([f"{source.host}/{ref}" for ref in refs], ours_dir, target))
            done(target)
            print(f"  round {round_no + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
            if round_no < args.rounds - 1:
                shutil.rmtree(ours_dir)
                shutil.rmtree(skopeo_dir)

        tar_path = os.path.join(work, "ours.tar")
        create(refs_file, tar_path)
        saved = os.path.join(work, "per-image")
        save_tarballs(refs, source, saved)
        unique = unique_blob_bytes(ours_dir)
        sizes = {"bundle directory": tree_bytes(ours_dir), "bundle .tar": tree_bytes(tar_path),
                 "per-image tarballs (today)": tree_bytes(saved), "skopeo copy --all into one oci: dir": tree_bytes(skopeo_dir)}
        print(f"\nsize (unique blobs {unique / MIB:.1f} MiB):")
        for name, size in sizes.items():
            print(f"  {name:38} {size / MIB:8.1f} MiB   {100 * (size - unique) / unique:+7.2f}% over the unique blobs")
        med = {name: statistics.median(values) for name, values in times.items()}
        print(f"\nmedians over {args.rounds} rounds: " + ", ".join(f"{k} {v:.2f}s" for k, v in med.items()))
        print("ratios (higher = ours faster):")
        ratio_line("create: skopeo copy --all per image / ours", med["skopeo-oci"], med["create"], "target >= 2")
        ratio_line("seed: skopeo copy --all oci: per image / ours", med["skopeo-seed"], med["seed"], "target >= 2")
        print(f"  {'seed: fraction of the limit reached':44} = {med['raw'] / med['seed']:6.2f}    (raw-ingest limit time / ours; "
              "1 = at the limit)")
        print(f"  {'size: per-image tarballs / bundle .tar':44} = {sizes['per-image tarballs (today)'] / sizes['bundle .tar']:6.2f}x")
        if not args.skip_big:
            big_dir = os.path.join(work, "big")
            os.makedirs(big_dir)
            seed_bench.write_big_image(big_dir, args.big_mib)
            run([SEED_CLI, big_dir, "--registry", source.host, "--progress", "none"])
            shutil.rmtree(big_dir)
            big_file = os.path.join(work, "big.txt")
            with open(big_file, "w") as fh:
                fh.write(f"{source.host}/bench/big:1\n")
            big_bundle = os.path.join(work, "big-bundle") + os.sep
            create_s, create_rss = create(big_file, big_bundle)
            target = registry("big")
            seed_s, seed_rss = seed(big_bundle, target)
            done(target)
            small_create, small_seed = max(rss["create"]), max(rss["seed"])
            print(f"\npeak RSS, small set -> one {args.big_mib} MiB layer (flat = ratio ~1):")
            print(f"  create {small_create:5.0f} -> {create_rss:5.0f} MiB (ratio {create_rss / small_create:.2f}; {create_s:.1f}s)")
            print(f"  seed   {small_seed:5.0f} -> {seed_rss:5.0f} MiB (ratio {seed_rss / small_seed:.2f}; {seed_s:.1f}s)")
    finally:
        pool.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
