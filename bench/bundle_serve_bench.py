#!/usr/bin/env python3
"""Side-by-side benchmark: blob GET throughput of `pyregistry serve-bundle` (a bundle directory, its .tar and that
.tar's split parts, all served in place) vs `pyregistry serve` holding the same blobs, in one run; ratios bundle/serve
(target >= 1.0). Then each server's peak resident memory while a 1 GiB layer is downloaded (it must stay flat: blobs
are sent with sendfile).

The same files are pushed to `pyregistry serve` and hard-linked into the bundle directory (blobs/sha256/<hex>); the
.tar is that directory as one tarball, cut in --part-mib parts for the third form. Load: wrk on one blob URL, the
servers in turn (each one first in turn), median reported.

    .venv/bin/python bench/bundle_serve_bench.py [--seconds 3] [--rounds 3] [--big-mib 1024] [--part-mib 100] [--workers 1]
"""
import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from common import MIB, cpu_seconds, download_blob, peak_rss  # noqa: E402
from registry_bench import MANIFEST_TYPE, Server, make_file, push_manifest, push_monolithic, wrk  # noqa: E402

from tests.helpers.bundles import split_tar, tar_bundle  # noqa: E402

REPO = "bench/app"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"


def write_bundle_dir(bundle_dir, files, manifests):
    """A bundle directory holding `files` (hard links) and the manifests pushed to `serve`, each image named
    `registry.bench/bench/app:TAG`."""
    os.makedirs(os.path.join(bundle_dir, "blobs", "sha256"))
    for path, _size, digest in files.values():
        os.link(path, os.path.join(bundle_dir, "blobs", "sha256", digest[7:]))
    entries, images = [], []
    for tag, data in manifests.items():
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with open(os.path.join(bundle_dir, "blobs", "sha256", digest[7:]), "wb") as fh:
            fh.write(data)
        reference = f"registry.bench/{REPO}:{tag}"
        entries.append({"mediaType": MANIFEST_TYPE, "digest": digest, "size": len(data),
                        "annotations": {"org.opencontainers.image.ref.name": reference, "io.containerd.image.name": reference}})
        images.append({"reference": reference, "digest": digest, "mediaType": MANIFEST_TYPE, "platforms": [], "size": 0, "referrers": []})
    for name, doc in (("oci-layout", {"imageLayoutVersion": "1.0.0"}),
                      ("index.json", {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}),
                      ("airgap-bundle.json", {"bundleVersion": 1, "created": "2026-11-30T07:00:00Z", "images": images, "delta": None})):
        with open(os.path.join(bundle_dir, name), "w") as fh:
            json.dump(doc, fh)


def manifest(config, layer):
    """The bytes push_manifest sends for (config, layer) (digest, size) pairs."""
    return json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                       "config": {"mediaType": CONFIG_TYPE, "digest": config[0], "size": config[1]},
                       "layers": [{"mediaType": LAYER_TYPE, "digest": layer[0], "size": layer[1]}]}).encode()


def measure(server, url, seconds, connections, field):
    """(throughput, throughput per server CPU second) of one wrk run: field 0 requests, 1 bytes (as MB)."""
    before = cpu_seconds(server.proc.pid)
    value = wrk(url, seconds, connections=connections)[field]
    used = max(cpu_seconds(server.proc.pid) - before, 1e-3)
    value = value / 1e6 if field else value
    return value, value * seconds / used


def download_peak(server, digest, size):
    """(baseline RSS MiB, peak RSS MiB, MB/s) while one client downloads blob `digest` and checks its hash."""
    with peak_rss(server.rss_mb) as rss:
        seconds = download_blob(server.port, REPO, digest, f"{server.kind}: the large blob")
    return rss[0], rss[1], size / seconds / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per workload (the median is reported)")
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the large layer for the memory check (MiB)")
    parser.add_argument("--part-mib", type=int, default=100, help="part size of the split .tar served as parts (MiB)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of every server (pyregistry.workers)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is required")
    workdir = tempfile.mkdtemp(prefix="bundle-bench-")
    servers = {}
    try:
        files = {}
        for key, size in (("config", 4096), ("small", 64 * 1024), ("mid", 40 * 10**6), ("big", args.big_mib * MIB)):
            path = os.path.join(workdir, key)
            files[key] = (path, size, make_file(path, size, key))
        servers["serve"] = Server("pyregistry", workdir, args.workers)
        for path, size, digest in files.values():
            with open(path, "rb") as fh:
                push_monolithic(servers["serve"].port, REPO, fh, size, digest)
        manifests = {}
        for tag, key in (("small", "small"), ("mid", "mid"), ("big", "big")):
            pair = ((files["config"][2], files["config"][1]), (files[key][2], files[key][1]))
            push_manifest(servers["serve"].port, REPO, tag, *pair)
            manifests[tag] = manifest(*pair)
        bundle_dir = os.path.join(workdir, "bundle")
        write_bundle_dir(bundle_dir, files, manifests)
        bundle_tar = tar_bundle(bundle_dir, os.path.join(workdir, "bundle.tar"))
        bundle_cmd = [sys.executable, "-m", "pyregistry", "serve-bundle"]
        servers["bundle dir"] = Server("pyregistry-bundle-dir", workdir, args.workers, command=[*bundle_cmd, bundle_dir, "--config"])
        servers["bundle tar"] = Server("pyregistry-bundle-tar", workdir, args.workers, command=[*bundle_cmd, bundle_tar, "--config"])
        parts = split_tar(bundle_tar, os.path.join(workdir, "parts"), args.part_mib * MIB)
        servers["bundle parts"] = Server("pyregistry-bundle-parts", workdir, args.workers, command=[*bundle_cmd, parts, "--config"])
        workloads = [("64 KiB blob GET (req/s)", "requests per server CPU s", files["small"][2], 32, 0),
                     ("40 MB blob GET (MB/s)", "MB per server CPU s", files["mid"][2], 4, 1)]
        results = {name: {} for name in servers}
        for metric, per_cpu, digest, connections, field in workloads:
            samples = {name: [] for name in servers}
            names = list(servers)
            for rnd in range(args.rounds):  # alternate, each server first in turn, so load noise hits all alike
                for name in names[rnd % len(names):] + names[:rnd % len(names)]:
                    url = f"{servers[name].url}/v2/{REPO}/blobs/{digest}"
                    samples[name].append(measure(servers[name], url, args.seconds, connections, field))
            for name in servers:
                results[name][metric] = statistics.median(value for value, _eff in samples[name])
                results[name][f"  {per_cpu}"] = statistics.median(eff for _value, eff in samples[name])
        memory = {name: download_peak(server, files["big"][2], files["big"][1]) for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\npyregistry serve-bundle vs pyregistry serve, same blobs, {args.workers} worker(s) each, {os.cpu_count()} CPUs, "
          f"median of {args.rounds} alternating rounds, higher is better; per server CPU second: the same work divided by the\n"
          "CPU time the server used for it, which a busy machine disturbs less than throughput\n")
    bundles = [name for name in results if name != "serve"]
    print(f"{'workload':30} {'serve':>10}" + "".join(f" {name:>12} {'ratio':>6}" for name in bundles))
    for metric, base in results["serve"].items():
        print(f"{metric:30} {base:10.1f}" + "".join(f" {results[name][metric]:12.1f} {results[name][metric] / base:6.2f}"
                                                     for name in bundles))
    print(f"\n{args.big_mib} MiB layer GET, server resident memory in MiB (baseline -> peak) and MB/s:")
    for name, (base, peak, rate) in memory.items():
        print(f"  {name:12} {base:7.1f} -> {peak:7.1f} (+{peak - base:.1f})  {rate:8.1f} MB/s")
    flat = all(peak - base < 64 for base, peak, _rate in memory.values())
    print(f"memory flat (peak within 64 MiB of baseline): {'yes' if flat else 'NO'}")
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
