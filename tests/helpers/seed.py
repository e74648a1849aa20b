"""airgap.registry.image_seed run for real from the tests."""
from tests.helpers.ansible import run_module


def seed_module(args, check=False, diff=False):
    """Run airgap.registry.image_seed as a real ansible-playbook task; return its result."""
    result, run = run_module("airgap.registry.image_seed", args, check=check, diff=diff)
    assert result, run.stdout[-3000:] + run.stderr[-3000:]
    return result
