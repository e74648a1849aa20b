"""airgap.registry.image_seed run for real from the tests, and registries seeded for them."""
import contextlib
import shutil

from ansible_collections.airgap.registry.plugins.module_utils.seed import seed
from tests.conftest import require
from tests.helpers.ansible import run_module
from tests.helpers.registries import RegistryProcess


def seed_module(args, check=False, diff=False):
    """Run airgap.registry.image_seed as a real ansible-playbook task; return its result."""
    result, run = run_module("airgap.registry.image_seed", args, check=check, diff=diff)
    assert result, run.stdout[-3000:] + run.stderr[-3000:]
    return result


def start_kind(kind, workdir, config=None):
    """A running RegistryProcess of `kind` ("pyregistry" or "distribution") storing in `workdir`; the caller stops it.
    A missing docker-registry binary is a failed precondition (conftest.require)."""
    if kind == "distribution":
        require(shutil.which("docker-registry"), "Debian's docker-registry binary is not installed")
    return RegistryProcess(kind, str(workdir), config=config).start()


@contextlib.contextmanager
def seeded_registry(kind, workdir, src):
    """Yields (registry, seed result): a registry of `kind` in `workdir` with the archives `src` (paths) seeded once
    (retries 1); stopped on exit.  SeedError when the seed fails."""
    reg = start_kind(kind, workdir)
    try:
        yield reg, seed({"src": [str(path) for path in src], "registry": reg.host, "retries": 1})
    finally:
        reg.stop()
