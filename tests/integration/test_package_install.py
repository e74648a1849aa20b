"""`pip install` of the built wheel into a fresh virtualenv gives working `pyregistry` and `airgap-seed` commands: no
checkout on the path, no Makefile symlink, the collection's module_utils come from the wheel (issue 11)."""
import json
import os
import shutil
import subprocess
import sys
import urllib.request

import pytest
import yaml

from tests.helpers.registries import REPO_ROOT, free_port, wait_http

SHIPPED = ("pyproject.toml", "README.md", "COPYING", "pyregistry", "airgap_cli", "plugins/module_utils")


def clean_env():
    """The environment without this checkout's Python paths or venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(os.path.join(REPO_ROOT, ".venv")))
    return env


def run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=clean_env(), timeout=300, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh virtualenv with the wheel built from the shipped files installed (dependencies from the package index)."""
    tmp = tmp_path_factory.mktemp("package")
    src = tmp / "src"
    for name in SHIPPED:
        path = os.path.join(REPO_ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, src / name)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps", "-w", str(tmp / "dist"), str(src)])
    wheels = list((tmp / "dist").glob("airgap_registry-*.whl"))
    assert len(wheels) == 1, wheels
    run(["python3", "-m", "venv", str(tmp / "venv")])
    run([str(tmp / "venv" / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheels[0])])
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
