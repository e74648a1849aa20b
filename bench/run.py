"""Run every benchmark under bench/ in turn (`make bench`)."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

BENCHES = ("registry_bench.py", "fsync_bench.py", "seed_bench.py", "bundle_serve_bench.py", "swarm_front_bench.py",
           "multiplatform_bench.py", "bundle_bench.py")

if __name__ == "__main__":
    failed = 0
    for name in BENCHES:
        print(f"==> bench/{name}", flush=True)
        failed |= subprocess.call([sys.executable, os.path.join(HERE, name), *sys.argv[1:]])
    sys.exit(failed)
