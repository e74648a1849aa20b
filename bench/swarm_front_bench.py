#!/usr/bin/env python3
"""Side-by-side benchmark (issue 15): blob GET throughput through the registry_swarm role's NGINX front with 3
replicas, through the front with 1 replica, and from the registry published in host mode with no front, in one run;
ratios front-3/front-1 and front-3/no-front, front-1/no-front.

Three deployments of the role live side by side on the single-node swarm (plain HTTP, no users: the front's own cost,
not TLS's), each with its own storage, seeded with the same blobs. Load: wrk on one blob URL per size (a small blob,
request-bound, and a large one, byte-bound), alternating the three deployments each round; the median is reported.
On a 2-core machine the replicas share the cores wrk and NGINX use, so 3 replicas cannot be 3x one.

    .venv/bin/python bench/swarm_front_bench.py [--seconds 3] [--rounds 3] [--connections 32] [--large-mib 8]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from registry_bench import free_port, make_file, push_monolithic, wrk  # noqa: E402

from tests.helpers.ansible import run_playbook  # noqa: E402

REPO = "bench/front"
HTTP_SECRET = "swarm-front-bench-secret"
# (label, service name, role variables beyond the common ones)
DEPLOYMENTS = (
    ("front-3", "bench-front3", {"registry_swarm_front": True, "registry_swarm_replicas": 3}),
    ("front-1", "bench-front1", {"registry_swarm_front": True, "registry_swarm_replicas": 1}),
    ("no-front", "bench-nofront", {"registry_swarm_publish_mode": "host", "registry_swarm_replicas": 1}),
)


def play(name, port, base, state, extra):
    role_vars = {"registry_swarm_name": name, "registry_swarm_init": True, "registry_swarm_state": state,
                 "registry_swarm_port": port, "registry_http_secret": HTTP_SECRET, "registry_swarm_tls": False,
                 "registry_swarm_htpasswd_users": [], "registry_swarm_health_timeout": 150,
                 "registry_swarm_config_dir": os.path.join(base, name, "etc"), "registry_swarm_storage_dir": os.path.join(base, name, "storage"),
                 **extra}
    return [{"name": name, "hosts": "localhost", "gather_facts": False, "roles": [{"role": "airgap.registry.registry_swarm", "vars": role_vars}]}]


def deploy(base):
    """{label: port} of the three deployments, each answering /v2/ (the role waits for it)."""
    ports = {}
    for label, name, extra in DEPLOYMENTS:
        port = free_port()
        result = run_playbook(play(name, port, base, "present", extra))
        if result.failed:
            raise SystemExit(f"deploying {label} failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
        ports[label] = port
    return ports


def remove(base, ports):
    for label, name, extra in DEPLOYMENTS:
        result = run_playbook(play(name, ports.get(label, 5000), base, "absent", extra))
        if result.failed:
            print(f"removing {label} failed: {result.stdout[-2000:]}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per size (the median is reported)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--large-mib", type=int, default=8, help="size of the large blob (MiB)")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="swarm-front-bench-")
    sizes = {"4 KiB": 4096, f"{args.large_mib} MiB": args.large_mib << 20}
    ports = {}
    try:
        ports = deploy(base)
        blobs = {}
        for label, size in sizes.items():
            path = os.path.join(base, f"blob-{size}")
            digest = make_file(path, size, label)
            for port in ports.values():
                with open(path, "rb") as fh:
                    push_monolithic(port, REPO, fh, size, digest)
            blobs[label] = digest
        print(f"blob GETs, wrk -c{args.connections} {args.seconds}s x {args.rounds} rounds (median); {os.cpu_count()} cores")
        for size_label, digest in blobs.items():
            runs = {label: [] for label in ports}
            for _ in range(args.rounds):
                for label, port in ports.items():
                    runs[label].append(wrk(f"http://127.0.0.1:{port}/v2/{REPO}/blobs/{digest}", args.seconds, args.connections))
            rps = {label: statistics.median(r[0] for r in values) for label, values in runs.items()}
            mbs = {label: statistics.median(r[1] for r in values) / (1 << 20) for label, values in runs.items()}
            line = ", ".join(f"{label} {rps[label]:.1f} req/s {mbs[label]:.1f} MiB/s" for label in ports)
            print(f"{size_label}: {line}")
            print(f"{size_label}: ratios front-3/front-1 {rps['front-3'] / rps['front-1']:.2f}, front-3/no-front {rps['front-3'] / rps['no-front']:.2f}, "
                  f"front-1/no-front {rps['front-1'] / rps['no-front']:.2f}")
    finally:
        remove(base, ports)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
