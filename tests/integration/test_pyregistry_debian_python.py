"""pyregistry on a Debian 12 host's own Python (python3-aiohttp 3.8, python3-yaml, python3-bcrypt): what the
registry role's `copy` install runs on fleet hosts."""
import json
import subprocess
import urllib.request

from tests.conftest import require

DEBIAN_PYTHON = "/usr/bin/python3"


def debian_python_has_deps():
    probe = subprocess.run([DEBIAN_PYTHON, "-c", "import aiohttp, yaml, bcrypt"], capture_output=True, check=False)
    return probe.returncode == 0


def test_push_and_pull_with_debian_aiohttp(start_registry, sample_tarballs, tmp_path):
    require(debian_python_has_deps(), "Debian's python3-aiohttp, python3-yaml, python3-bcrypt are not installed")
    reg = start_registry("pyregistry", python=DEBIAN_PYTHON)
    src = f"docker-archive:{sample_tarballs / 'abox_1.0.1.tar'}"
    subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", src, f"docker://{reg.host}/abox:1.0.1"], check=True, timeout=120)
    with urllib.request.urlopen(f"{reg.url}/v2/_catalog") as resp:
        assert json.load(resp)["repositories"] == ["abox"]
    out = tmp_path / "back"
    subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{reg.host}/abox:1.0.1", f"dir:{out}"], check=True, timeout=120)
    assert (out / "manifest.json").is_file()
