#!/usr/bin/env python3
"""What durability costs: push throughput of pyregistry (data and directory entries fsynced before a blob, link or
tag is published) against Distribution's push (docker-registry, which syncs a file before it is committed), same
blobs, same machine, same run; plus pyregistry with fsync turned into a no-op, a bench-only variant (patched in
this process's child, no setting of pyregistry's own), to show the cost of the syncs alone.

    .venv/bin/python bench/fsync_bench.py [--rounds 3] [--workers 2] [--dir /var/tmp]

The storage directories go under --dir (default: the system temp dir); use a disk-backed filesystem, not tmpfs,
or fsync costs nothing and the comparison says nothing.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry_bench import Server, make_file, push_chunked, push_manifest, push_monolithic, timed  # noqa: E402

NO_FSYNC = ("import sys; from pyregistry import driver; driver.fsync = lambda fd: None; "
            "from pyregistry.cli import main; sys.argv[0] = 'pyregistry'; sys.exit(main())")
KINDS = ("pyregistry", "distribution", "pyregistry-nofsync")


def commands():
    """argv (before the config path) of each server kind."""
    return {
        "pyregistry": [sys.executable, "-m", "pyregistry", "serve"],
        "distribution": ["docker-registry", "serve"],
        "pyregistry-nofsync": [sys.executable, "-c", NO_FSYNC, "serve"],
    }


def workloads(files):
    """(metric, function(server, round) -> value, higher is better): pushes only, where the syncs happen."""
    small, big = files["small"], files["push"]

    def mono(server, rnd):
        with open(big[0], "rb") as fh:
            return big[1] / timed(push_monolithic, server.port, f"bench/mono{rnd}", fh, big[1], big[2]) / 1e6

    def small_blobs(server, rnd):
        start = time.perf_counter()
        for path, size, digest in files["tiny"]:
            with open(path, "rb") as fh:
                push_monolithic(server.port, f"bench/tiny{rnd}", fh, size, digest)
        return len(files["tiny"]) / (time.perf_counter() - start)

    def images(server, rnd, parallel):
        def one_push(i):
            path, size, digest = files["concurrent"][i]
            repo = f"bench/img{parallel}-{rnd}-{i}"
            with open(path, "rb") as fh:
                push_chunked(server.port, repo, fh, size, digest, chunk=512 * 1024)
            with open(small[0], "rb") as fh:
                push_monolithic(server.port, repo, fh, small[1], small[2])
            push_manifest(server.port, repo, "v1", (small[2], small[1]), (digest, size))

        start = time.perf_counter()
        for first in range(0, len(files["concurrent"]), parallel):
            threads = [threading.Thread(target=one_push, args=(i,)) for i in range(first, min(first + parallel, len(files["concurrent"])))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        return len(files["concurrent"]) / (time.perf_counter() - start)

    return [
        ("monolithic push 64 MiB (MB/s)", mono),
        ("4 KiB blob pushes, one by one (blobs/s)", small_blobs),
        ("image pushes, one by one (pushes/s)", lambda server, rnd: images(server, rnd, 1)),
        ("image pushes, 16 at once (pushes/s)", lambda server, rnd: images(server, rnd, 16)),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per workload (the median is reported)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="pyregistry worker processes")
    parser.add_argument("--dir", default=None, help="where the storage directories go (a disk, not tmpfs)")
    args, _ = parser.parse_known_args()
    if not shutil.which("docker-registry"):
        sys.exit("docker-registry is required")
    workdir = tempfile.mkdtemp(prefix="pyreg-fsync-bench-", dir=args.dir)
    fstype = subprocess.run(["stat", "-f", "-c", "%T", workdir], capture_output=True, text=True, check=False).stdout.strip()
    try:
        mib = 1024 * 1024
        files = {}
        for key, size in (("small", 4096), ("push", 64 * mib)):
            path = os.path.join(workdir, key)
            files[key] = (path, size, make_file(path, size, key))
        files["tiny"] = []
        for i in range(100):
            path = os.path.join(workdir, f"tiny{i}")
            files["tiny"].append((path, 4096, make_file(path, 4096, f"tiny{i}")))
        files["concurrent"] = []
        for i in range(16):
            path = os.path.join(workdir, f"img{i}")
            files["concurrent"].append((path, 2 * mib, make_file(path, 2 * mib, f"img{i}")))
        servers = {}
        try:
            for kind, command in commands().items():
                servers[kind] = Server(kind, workdir, args.workers, command=command)
            results = {kind: {} for kind in KINDS}
            for metric, func in workloads(files):
                samples = {kind: [] for kind in KINDS}
                for rnd in range(args.rounds):  # alternate the servers so load noise hits them alike
                    for kind in KINDS:
                        samples[kind].append(func(servers[kind], rnd))
                for kind in KINDS:
                    results[kind][metric] = statistics.median(samples[kind])
        finally:
            for server in servers.values():
                server.stop()
        ours, theirs, unsynced = (results[kind] for kind in KINDS)
        print(f"\npush with fsync: pyregistry ({args.workers} worker(s)) vs Distribution (docker-registry), storage on {fstype}, "
              f"{os.cpu_count()} CPUs, median of {args.rounds} alternating rounds, higher is better\n")
        print(f"{'workload':42} {'pyregistry':>11} {'distribution':>13} {'ratio':>6} {'no-fsync':>9} {'fsync/no-fsync':>15}")
        for metric in ours:
            print(f"{metric:42} {ours[metric]:11.1f} {theirs[metric]:13.1f} {ours[metric] / theirs[metric]:6.2f} "
                  f"{unsynced[metric]:9.1f} {ours[metric] / unsynced[metric]:15.2f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
