"""Build the airgap-registry wheel from the files it ships (a copy, so the checkout gets no build/ or egg-info)."""
import os
import shutil
import subprocess
import sys

from tests.helpers.registries import REPO_ROOT

SHIPPED = ("pyproject.toml", "README.md", "COPYING", "pyregistry", "airgap_cli", "plugins/module_utils")


def clean_env():
    """The environment without this checkout's Python paths or venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(os.path.join(REPO_ROOT, ".venv")))
    return env


def run(cmd, **kwargs):
    """Run `cmd` in the clean environment; its CompletedProcess, or an AssertionError with its output."""
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=clean_env(), timeout=300, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def build_wheel(tmp):
    """The path of airgap_registry-*.whl built under `tmp` (pip wheel, dependencies not built)."""
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
    return wheels[0]
