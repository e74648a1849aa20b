"""`pip install` of the built wheel into a fresh virtualenv gives working `pyregistry` and `airgap-seed` commands: no
checkout on the path, no Makefile symlink, the collection's module_utils come from the wheel (issue 11)."""
import json
import subprocess
import urllib.request

import pytest
import yaml

from tests.helpers.package import build_wheel, clean_env, run
from tests.helpers.registries import free_port, wait_http


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh virtualenv with the wheel built from the shipped files installed (dependencies from the package index)."""
    tmp = tmp_path_factory.mktemp("package")
    wheel = build_wheel(tmp)
    run(["python3", "-m", "venv", str(tmp / "venv")])
    run([str(tmp / "venv" / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)])
    return tmp / "venv"


def test_installed_commands_seed_a_pyregistry_they_started(venv, sample_tarballs, tmp_path):
    where = run([str(venv / "bin" / "python"), "-c",
                 "import airgap_cli.seed, pyregistry; from ansible_collections.airgap.registry.plugins.module_utils import seed;"
                 "print(seed.__file__); print(pyregistry.__file__)"], cwd=tmp_path).stdout.split()
    assert all(path.startswith(str(venv)) for path in where), where

    port = free_port()
    config = {"version": 0.1, "log": {"level": "warn"}, "storage": {"filesystem": {"rootdirectory": str(tmp_path / "storage")}},
              "http": {"addr": f"127.0.0.1:{port}"}}
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    with open(tmp_path / "pyregistry.log", "wb") as log:
        server = subprocess.Popen([str(venv / "bin" / "pyregistry"), "serve", str(tmp_path / "config.yml")], stdout=log,
                                  stderr=subprocess.STDOUT, env=clean_env(), cwd=tmp_path)
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/", timeout=30)
        seeded = run([str(venv / "bin" / "airgap-seed"), str(sample_tarballs / "abox_1.0.1.tar"), "--registry", f"127.0.0.1:{port}",
                      "--progress", "none", "--report", str(tmp_path / "report.json")], cwd=tmp_path)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/abox/tags/list", timeout=10) as resp:
            assert "1.0.1" in json.load(resp)["tags"], seeded.stdout
        assert (tmp_path / "report.json").is_file()
    finally:
        server.terminate()
        server.wait(timeout=30)
