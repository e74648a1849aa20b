"""Debian 12's own Python libraries for Debian's /usr/bin/python3, unpacked from the Debian archive (not installed).

`apt-get download` fetches the .deb files and `dpkg-deb -x` unpacks them under a directory; the returned
dist-packages path goes into PYTHONPATH of a run whose ansible_python_interpreter is /usr/bin/python3, so the
modules run with exactly what `apt-get install` would give a Debian 12 host, and the test machine stays unchanged.
"""
import os
import subprocess

from tests.conftest import require

DEBIAN_PYTHON = "/usr/bin/python3"
# python3-docker 5.0.3 and what it depends on in Debian 12.
DOCKER_SDK = ["python3-docker", "python3-websocket", "python3-requests", "python3-urllib3", "python3-certifi",
              "python3-chardet", "python3-charset-normalizer", "python3-idna", "python3-six"]
# registry_tls (cryptography) and registry_htpasswd (passlib, bcrypt).
TLS_AND_USERS = ["python3-cryptography", "python3-cffi-backend", "python3-passlib", "python3-bcrypt"]


def unpack_debian_packages(where, packages):
    """Download `packages` into directory `where` and unpack them; return the dist-packages path (str).

    A missing Debian python3 or apt-get, or a failed download, is a failed precondition (conftest.require).
    """
    require(os.path.exists(DEBIAN_PYTHON) and os.path.exists("/usr/bin/apt-get"), "not a Debian host")
    got = subprocess.run(["apt-get", "download", *packages], cwd=where, capture_output=True, text=True, check=False)
    require(got.returncode == 0, f"apt-get download {' '.join(packages)} failed: {got.stderr[-1000:]}")
    root = os.path.join(where, "root")
    for deb in sorted(os.listdir(where)):
        if deb.endswith(".deb"):
            subprocess.run(["dpkg-deb", "-x", os.path.join(where, deb), root], check=True)
    return os.path.join(root, "usr", "lib", "python3", "dist-packages")


def module_version(path, module):
    """`module.__version__` as Debian's python3 imports it with PYTHONPATH=`path` (str)."""
    return subprocess.run([DEBIAN_PYTHON, "-c", f"import {module}; print({module}.__version__)"], env={"PYTHONPATH": path},
                          capture_output=True, text=True, check=True).stdout.strip()
