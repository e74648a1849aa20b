"""Measuring code shared by the benchmarks: a server process tree's resident memory and CPU time (from /proc), its
peak memory while something runs, and a blob download checked against its digest."""
import contextlib
import hashlib
import http.client
import os
import threading
import time

MIB = 1024 * 1024


def process_tree(pid):
    """`pid` and its direct children (a server's worker processes), from /proc/PID/task/PID/children."""
    pids = [pid]
    children = f"/proc/{pid}/task/{pid}/children"
    if os.path.exists(children):
        with open(children) as fh:
            pids += [int(p) for p in fh.read().split()]
    return pids


def rss_mib(pid):
    """Resident memory (VmRSS) of `pid` and its worker processes, in MiB; a process gone meanwhile counts 0."""
    total = 0
    for one in process_tree(pid):
        try:
            with open(f"/proc/{one}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total / 1024


def cpu_seconds(pid):
    """User + system CPU seconds used so far by `pid` and its worker processes (every thread's)."""
    total = 0
    for one in process_tree(pid):
        try:
            with open(f"/proc/{one}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def peak_rss(sample, every=0.05):
    """Samples `sample()` (MiB) every `every` seconds while the block runs; yields [baseline, peak] (peak filled in)."""
    baseline = sample()
    result, done = [baseline, baseline], threading.Event()

    def run():
        while not done.is_set():
            result[1] = max(result[1], sample())
            time.sleep(every)

    sampler = threading.Thread(target=run)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()


def download_blob(port, repo, digest, what="the large blob"):
    """Seconds one GET of /v2/`repo`/blobs/`digest` on 127.0.0.1:`port` takes, the body hashed in 4 MiB reads;
    AssertionError naming `what` when it comes back different."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("GET", f"/v2/{repo}/blobs/{digest}")
    resp = conn.getresponse()
    hasher = hashlib.sha256()
    while chunk := resp.read(4 * MIB):
        hasher.update(chunk)
    conn.close()
    seconds = time.perf_counter() - start
    assert "sha256:" + hasher.hexdigest() == digest, f"{what} came back different"
    return seconds
