#!/usr/bin/env python3
"""Side-by-side benchmark: pyregistry vs Debian's docker-registry (CNCF Distribution), same machine, same load.

Each registry gets its own storage directory and port; every workload runs against both in the same run and
the table prints ours/theirs ratios (higher = better for pyregistry). Also checks that pyregistry's resident
memory stays flat while a large blob is uploaded and downloaded (streamed, never held in memory).

    .venv/bin/python bench/registry_bench.py [--seconds 4] [--big-mb 1024] [--workers 2]
"""
import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import download_blob, peak_rss, rss_mib  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One registry process with its own storage, started from a Distribution config.yml."""

    def __init__(self, kind, workdir, workers, command=None):
        """`command`: argv before the config path (default: the kind's own); pyregistry variants keep kind's config."""
        self.kind = kind
        self.port = free_port()
        self.root = os.path.join(workdir, kind)
        os.makedirs(self.root)
        config = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": self.root}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{self.port}"},
        }
        if kind.startswith("pyregistry"):
            config["pyregistry"] = {"workers": workers}
        self.config_path = os.path.join(workdir, f"{kind}.yml")
        with open(self.config_path, "w") as fh:
            json.dump(config, fh)  # JSON is YAML
        if command is not None:
            cmd = [*command, self.config_path]
        else:
            cmd = ["docker-registry", "serve", self.config_path] if kind == "distribution" else [sys.executable, "-m", "pyregistry", "serve", self.config_path]
        env = {**os.environ, "PYTHONPATH": REPO_ROOT}
        self.log = open(os.path.join(workdir, f"{kind}.log"), "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{kind} did not start") from None
                time.sleep(0.1)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self):
        """Resident memory of the server and its worker processes, in MiB."""
        return rss_mib(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def request(port, method, path, headers=None, *, body=None, file=None, offset=0, count=None):
    """One HTTP/1.1 request; a `file` body is sent with sendfile. Returns (status, headers, body)."""
    sock = socket.create_connection(("127.0.0.1", port))
    try:
        headers = dict(headers or {})
        length = len(body) if body is not None else (count if file is not None else 0)
        headers.setdefault("Content-Length", str(length))
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        if body:
            sock.sendall(body)
        elif file is not None and count:
            sock.sendfile(file, offset, count)
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        data = resp.read()
        return resp.status, resp.headers, data
    finally:
        sock.close()


def path_of(location):
    return re.sub(r"^https?://[^/]+", "", location)


def push_monolithic(port, repo, fh, size, digest):
    status, headers, _ = request(port, "POST", f"/v2/{repo}/blobs/uploads/")
    assert status == 202, status
    loc = path_of(headers["Location"])
    sep = "&" if "?" in loc else "?"
    status, _, body = request(port, "PUT", f"{loc}{sep}digest={digest}", {"Content-Type": "application/octet-stream"}, file=fh, count=size)
    assert status == 201, (status, body)


def push_chunked(port, repo, fh, size, digest, *, chunk):
    status, headers, _ = request(port, "POST", f"/v2/{repo}/blobs/uploads/")
    assert status == 202, status
    loc = path_of(headers["Location"])
    offset = 0
    while offset < size:
        count = min(chunk, size - offset)
        status, headers, body = request(port, "PATCH", loc, {"Content-Range": f"{offset}-{offset + count - 1}", "Content-Type": "application/octet-stream"},
                                        file=fh, offset=offset, count=count)
        assert status == 202, (status, body)
        loc = path_of(headers["Location"])
        offset += count
    sep = "&" if "?" in loc else "?"
    status, _, body = request(port, "PUT", f"{loc}{sep}digest={digest}")
    assert status == 201, (status, body)


def push_manifest(port, repo, tag, config, layer):
    doc = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config[0], "size": config[1]},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer[0], "size": layer[1]}]}).encode()
    status, _, body = request(port, "PUT", f"/v2/{repo}/manifests/{tag}", {"Content-Type": MANIFEST_TYPE}, body=doc)
    assert status == 201, (status, body)


def wrk(url, seconds, connections=32, header=None):
    """(requests/s, bytes/s) from wrk."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url]
    if header:
        cmd[1:1] = ["-H", header]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    num, unit = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?B)", out).groups()
    return rps, float(num) * UNITS[unit]


def make_file(path, size, seed):
    """A file of `size` bytes (a random 1 MiB block repeated, varied by `seed`); returns its digest."""
    block = hashlib.sha256(seed.encode()).digest() * 32768
    hasher = hashlib.sha256()
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            part = block[: min(len(block), size - written)]
            fh.write(part)
            hasher.update(part)
            written += len(part)
    return "sha256:" + hasher.hexdigest()


def timed(func, *args):
    """Seconds `func(*args)` takes."""
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


def seed(server, files):
    """The image the read workloads fetch: a 4 KiB config, a 40 MB layer, tag `latest`."""
    small, mid = files["small"], files["mid"]
    for path, size, digest in (small, mid):
        with open(path, "rb") as fh:
            push_monolithic(server.port, "bench/app", fh, size, digest)
    push_manifest(server.port, "bench/app", "latest", (small[2], small[1]), (mid[2], mid[1]))


def workloads(args, files):
    """(metric, function(server, round) -> value, higher is better)."""
    small, mid, big_push = files["small"], files["mid"], files["push"]

    def mono(server, rnd):
        with open(big_push[0], "rb") as fh:
            return big_push[1] / timed(push_monolithic, server.port, f"bench/mono{rnd}", fh, big_push[1], big_push[2]) / 1e6

    def chunked(server, rnd):
        with open(big_push[0], "rb") as fh:
            return big_push[1] / timed(lambda: push_chunked(server.port, f"bench/chunk{rnd}", fh, big_push[1], big_push[2], chunk=8 * 1024 * 1024)) / 1e6

    def concurrent(server, rnd):
        def one_push(i):
            path, size, digest = files["concurrent"][i]
            repo = f"bench/conc{rnd}-{i}"
            with open(path, "rb") as fh:
                push_chunked(server.port, repo, fh, size, digest, chunk=2 * 1024 * 1024)
            with open(small[0], "rb") as fh:
                push_monolithic(server.port, repo, fh, small[1], small[2])
            push_manifest(server.port, repo, "v1", (small[2], small[1]), (digest, size))

        threads = [threading.Thread(target=one_push, args=(i,)) for i in range(16)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return 16 / (time.perf_counter() - start)

    return [
        ("GET /v2/ (req/s)", lambda server, rnd: wrk(f"{server.url}/v2/", args.seconds)[0]),
        ("manifest GET by tag (req/s)",
         lambda server, rnd: wrk(f"{server.url}/v2/bench/app/manifests/latest", args.seconds, header=f"Accept: {MANIFEST_TYPE}")[0]),
        ("small blob GET 4 KiB (req/s)", lambda server, rnd: wrk(f"{server.url}/v2/bench/app/blobs/{small[2]}", args.seconds)[0]),
        ("40 MB blob GET (MB/s)", lambda server, rnd: wrk(f"{server.url}/v2/bench/app/blobs/{mid[2]}", args.seconds, connections=4)[1] / 1e6),
        ("monolithic push 64 MiB (MB/s)", mono),
        ("chunked push 8 MiB chunks (MB/s)", chunked),
        ("16 concurrent image pushes (pushes/s)", concurrent),
    ]


def memory_check(server, big):
    """Peak RSS (MiB) over baseline while a large blob is pushed and pulled; returns (baseline, peak, push s, pull s)."""
    path, size, digest = big
    with peak_rss(server.rss_mb) as rss:
        with open(path, "rb") as fh:
            push_seconds = timed(push_monolithic, server.port, "bench/big", fh, size, digest)
        pull_seconds = download_blob(server.port, "bench/big", digest)
    return rss[0], rss[1], push_seconds, pull_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per workload (the median is reported)")
    parser.add_argument("--big-mb", type=int, default=1024, help="size of the large blob for the memory check (MiB)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="pyregistry worker processes (pyregistry.workers); default: one per CPU")
    args = parser.parse_args()
    for tool in ("docker-registry", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is required")
    workdir = tempfile.mkdtemp(prefix="pyreg-bench-")
    try:
        mib = 1024 * 1024
        files = {}
        for key, size in (("small", 4096), ("mid", 40 * 10**6), ("push", 64 * mib)):
            path = os.path.join(workdir, key)
            files[key] = (path, size, make_file(path, size, key))
        files["concurrent"] = []
        for i in range(16):
            path = os.path.join(workdir, f"conc{i}")
            files["concurrent"].append((path, 4 * mib, make_file(path, 4 * mib, f"conc{i}")))
        big_path = os.path.join(workdir, "big")
        big = (big_path, args.big_mb * mib, make_file(big_path, args.big_mb * mib, "big"))

        servers = {kind: Server(kind, workdir, args.workers) for kind in ("pyregistry", "distribution")}
        results = {kind: {} for kind in servers}
        memory = {}
        try:
            for server in servers.values():
                seed(server, files)
            for metric, func in workloads(args, files):
                samples = {kind: [] for kind in servers}
                for rnd in range(args.rounds):  # alternate the two servers so load noise hits both alike
                    for kind, server in servers.items():
                        samples[kind].append(func(server, rnd))
                for kind in servers:
                    results[kind][metric] = statistics.median(samples[kind])
            for kind, server in servers.items():
                memory[kind] = memory_check(server, big)
        finally:
            for server in servers.values():
                server.stop()
        ours, theirs = results["pyregistry"], results["distribution"]
        print(f"\npyregistry ({args.workers} worker(s)) vs Distribution (docker-registry), {os.cpu_count()} CPUs, "
              f"median of {args.rounds} alternating rounds, higher is better\n")
        print(f"{'workload':40} {'pyregistry':>12} {'distribution':>13} {'ratio':>7}")
        for metric in ours:
            print(f"{metric:40} {ours[metric]:12.1f} {theirs[metric]:13.1f} {ours[metric] / theirs[metric]:7.2f}")
        print(f"\nlarge blob ({args.big_mb} MiB) push + pull, resident memory in MiB:")
        for kind, (base, peak, push_s, pull_s) in memory.items():
            mb = args.big_mb * mib / 1e6
            print(f"  {kind:13} baseline {base:7.1f}  peak {peak:7.1f}  (+{peak - base:6.1f})  push {mb / push_s:7.1f} MB/s  pull {mb / pull_s:7.1f} MB/s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
