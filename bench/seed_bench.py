"""Seeding benchmark: the same tarballs into a fresh Distribution registry with each tool, side by side.

Tools: `docker load` + `docker tag` + `docker push`; `skopeo copy docker-archive:`; airgap-seed direct with
`--layers preserve` and `--layers gzip`.  Each round gives every tool, in turn, a fresh registry: one cold run (empty
registry), then three warm runs (everything present).  Medians over the rounds are compared; ratios printed.
Then airgap-seed's peak RSS for the small set and for an image with a 1 GiB layer (it must stay flat).
Our packages are byte-compiled first, as an installed package is.

    python bench/seed_bench.py [--rounds R] [--scale N] [--text-mib M] [--big-mib B] [--skip-big] [--kind pyregistry]
"""
import argparse
import compileall
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.join(REPO_ROOT, "scripts"))

import make_samples  # noqa: E402 - the harness's sample writer, from scripts/

from tests.helpers.registries import RegistryProcess  # noqa: E402

CLI = os.path.join(os.path.dirname(sys.executable), "airgap-seed")
MIB = 1024 * 1024
WARM_RUNS = 3  # per round and tool
TOOLS = ("docker", "skopeo", "preserve", "gzip")


def bench_images(scale, text_mib):
    """The sample images renamed under bench/, plus a text-heavy one (compressible layers)."""
    images = {f"bench/{ref}": layers for ref, layers in make_samples.SAMPLES.items()}
    images["bench/docs:1.0"] = [("base", [("etc/os-release", 0, "os"), ("lib/base.bin", 256, "random")]),
                                ("docs", [("usr/share/doc/manual.txt", text_mib * 1024, "text")]),
                                ("docs-extra", [("usr/share/doc/extra.txt", text_mib * 512, "text")])]
    return images


def write_big_image(out_dir, size_mib):
    """An image with one layer of `size_mib` MiB of random data, written without holding it in memory."""
    layer_path = os.path.join(out_dir, "big-layer.tar")
    with open(layer_path, "wb") as fh, tarfile.open(fileobj=fh, mode="w") as tar:
        info = tarfile.TarInfo("data/big.bin")
        info.size = size_mib * MIB

        class Random(io.RawIOBase):
            left = info.size

            def read(self, n=-1):
                n = min(n if n and n > 0 else MIB, self.left)
                self.left -= n
                return os.urandom(n)
        tar.addfile(info, Random())
    sha = hashlib.sha256()
    with open(layer_path, "rb") as fh:
        for block in iter(lambda: fh.read(MIB), b""):
            sha.update(block)
    diff_id = "sha256:" + sha.hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    path = os.path.join(out_dir, "big.tar")
    with tarfile.open(path, "w") as tar:
        for name, data in ((f"{config_hex}.json", config),):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        tar.add(layer_path, arcname=f"{diff_id[7:]}/layer.tar")
        manifest = json.dumps([{"Config": f"{config_hex}.json", "RepoTags": ["bench/big:1"], "Layers": [f"{diff_id[7:]}/layer.tar"]}]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    os.remove(layer_path)
    return path


def _hwm_mib(pid):
    """VmHWM (peak resident set of the process's own address space, so not its parent's before exec) in MiB."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def timed(cmd, **kw):
    """Run cmd; return (seconds, peak RSS of the process in MiB, sampled from /proc until it exits)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    peak = [0.0]

    def sample():
        while proc.returncode is None:
            peak[0] = max(peak[0], _hwm_mib(proc.pid) or 0.0)
            time.sleep(0.02)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _out, err = proc.communicate()
    elapsed = time.monotonic() - start
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.decode(errors='replace')[-2000:]}")
    return elapsed, peak[0]


def fresh_registry(work, name, kind):
    path = os.path.join(work, "registry-" + name)
    os.makedirs(path)
    return RegistryProcess(kind, path).start()


def prepare(bench, tools):
    """Exit naming the first of `tools` not installed; compile the code under test so no run pays for it."""
    for tool in tools:
        if not shutil.which(tool):
            sys.exit(f"{bench}: {tool} is not installed")
    compileall.compile_dir(os.path.join(REPO_ROOT, "plugins"), quiet=1)
    compileall.compile_dir(os.path.join(REPO_ROOT, "airgap_cli"), quiet=1)


class RegistryPool:
    """Fresh registries of one kind under `work`: `start(name)` one, `done(reg)` stops and removes it, `close()` stops
    those still running."""

    def __init__(self, work, kind):
        self.work = work
        self.kind = kind
        self.running = []

    def start(self, name):
        reg = fresh_registry(self.work, name, self.kind)
        self.running.append(reg)
        return reg

    def done(self, reg):
        reg.stop()
        self.running.remove(reg)
        shutil.rmtree(reg.workdir, ignore_errors=True)

    def close(self):
        for reg in self.running:
            reg.stop()
        self.running = []


def forget_images(refs, regs):
    """Remove the bench images and their registry tags from the engine (docker's cold run loads them afresh)."""
    for ref in refs:
        for name in [ref] + [f"{reg.host}/{ref}" for reg in regs]:
            subprocess.run(["docker", "rmi", name], check=False, capture_output=True)


def run_docker(tarballs, refs, reg):
    start = time.monotonic()
    for tarball in tarballs:
        subprocess.run(["docker", "load", "-q", "-i", tarball], check=True, capture_output=True)
    for ref in refs:
        subprocess.run(["docker", "tag", ref, f"{reg.host}/{ref}"], check=True, capture_output=True)
        subprocess.run(["docker", "push", "-q", f"{reg.host}/{ref}"], check=True, capture_output=True)
    return time.monotonic() - start


def run_skopeo(tarballs, refs, reg):
    start = time.monotonic()
    for tarball, ref in zip(tarballs, refs, strict=True):
        subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", f"docker-archive:{tarball}", f"docker://{reg.host}/{ref}"],
                       check=True, capture_output=True)
    return time.monotonic() - start


def run_ours(src, reg, layers, report):
    elapsed, rss = timed([CLI, src, "--registry", reg.host, "--layers", layers, "--progress", "none", "--report", report])
    with open(report) as fh:
        return elapsed, rss, json.load(fh)["bytes_sent"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of cold + warm runs per tool (medians are compared)")
    parser.add_argument("--scale", type=int, default=150, help="make_samples scale (MiB-ish of random data per image)")
    parser.add_argument("--text-mib", type=int, default=24, help="size of the text layer of bench/docs")
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the big layer for the RSS check")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--kind", choices=["distribution", "pyregistry"], default="distribution",
                        help="the registry seeded (the targets are set against Distribution)")
    args = parser.parse_args()
    prepare("seed_bench", ("docker", "skopeo", "docker-registry"))
    work = tempfile.mkdtemp(prefix="seed-bench-")
    regs = []
    refs = []
    try:
        src = os.path.join(work, "tarballs")
        os.makedirs(src)
        tarballs = []
        for ref, layers in bench_images(args.scale, args.text_mib).items():
            tarballs.append(make_samples.write_image(src, ref, layers, args.scale))
            refs.append(ref)
        total = sum(os.path.getsize(t) for t in tarballs)
        print(f"registry: {args.kind}; tarballs: {len(tarballs)} images, {total / MIB:.0f} MiB (incompressible and text layers, shared base layer)")
        runs = {name: {"cold": [], "warm": [], "rss": [], "sent": [], "warm_sent": []} for name in TOOLS}
        for round_no in range(args.rounds):
            for name in TOOLS:
                reg = fresh_registry(work, f"{name}-{round_no}", args.kind)
                regs.append(reg)
                run = runs[name]
                if name == "docker":
                    forget_images(refs, regs)
                    run["cold"].append(run_docker(tarballs, refs, reg))
                    run["warm"] += [run_docker(tarballs, refs, reg) for _ in range(WARM_RUNS)]
                elif name == "skopeo":
                    run["cold"].append(run_skopeo(tarballs, refs, reg))
                    run["warm"] += [run_skopeo(tarballs, refs, reg) for _ in range(WARM_RUNS)]
                else:
                    report = os.path.join(work, f"{name}.json")
                    cold, rss, sent = run_ours(src, reg, name, report)
                    run["cold"].append(cold)
                    run["rss"].append(rss)
                    run["sent"].append(sent)
                    for _ in range(WARM_RUNS):
                        warm, _rss, warm_sent = run_ours(src, reg, name, report)
                        run["warm"].append(warm)
                        run["warm_sent"].append(warm_sent)
                reg.stop()
                shutil.rmtree(reg.workdir, ignore_errors=True)
                print(f"  round {round_no + 1}  {name:9} cold {run['cold'][-1]:7.2f}s  warm {min(run['warm'][-WARM_RUNS:]):6.2f}s", flush=True)
        results = {name: {"cold": statistics.median(run["cold"]), "warm": statistics.median(run["warm"]),
                          "rss": max(run["rss"], default=0), "sent": max(run["sent"], default=0), "warm_sent": max(run["warm_sent"], default=0)}
                   for name, run in runs.items()}
        print(f"\nmedians over {args.rounds} rounds (cold: one run per round; warm: {WARM_RUNS} runs per round):")
        for name in TOOLS:
            print(f"  {name:9} cold {results[name]['cold']:7.2f}s  warm {results[name]['warm']:6.3f}s")
        ours = results["preserve"]
        print("\nratios (higher = ours faster):")
        print(f"  cold  skopeo/ours(preserve) = {results['skopeo']['cold'] / ours['cold']:.2f}x   (target >= 2)")
        print(f"  cold  docker/ours(preserve) = {results['docker']['cold'] / ours['cold']:.2f}x   (target >= 4)")
        print(f"  cold  skopeo/ours(gzip)     = {results['skopeo']['cold'] / results['gzip']['cold']:.2f}x")
        print(f"  cold  docker/ours(gzip)     = {results['docker']['cold'] / results['gzip']['cold']:.2f}x")
        print(f"  warm  skopeo/ours(preserve) = {results['skopeo']['warm'] / ours['warm']:.2f}x   (target >= 1)")
        print(f"  warm  docker/ours(preserve) = {results['docker']['warm'] / ours['warm']:.2f}x")
        print(f"  warm  bytes sent by ours: preserve {ours['warm_sent']}, gzip {results['gzip']['warm_sent']}   (target 0)")
        print(f"  cold  bytes sent by ours: preserve {ours['sent'] / MIB:.0f} MiB, gzip {results['gzip']['sent'] / MIB:.0f} MiB")
        if not args.skip_big:
            big_dir = os.path.join(work, "big")
            os.makedirs(big_dir)
            write_big_image(big_dir, args.big_mib)
            reg = fresh_registry(work, "big", args.kind)
            regs.append(reg)
            elapsed, rss, _sent = run_ours(big_dir, reg, "preserve", os.path.join(work, "big.json"))
            reg.stop()
            print(f"\npeak RSS of airgap-seed: small set {ours['rss']:.0f} MiB, {args.big_mib} MiB layer {rss:.0f} MiB "
                  f"(ratio {rss / ours['rss']:.2f}, flat = ~1); {args.big_mib} MiB pushed in {elapsed:.1f}s")
    finally:
        for reg in regs:
            reg.stop()
        forget_images(refs, regs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
