"""Shared fixtures: the real Docker engine, registry processes (Distribution and pyregistry), sample tarballs.

`make test` sets AIRGAP_REQUIRE_ALL=1: there a missing precondition (no engine, no docker-registry binary)
fails the test instead of skipping it, so CI can never pass by skipping.
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from tests.helpers.registries import REPO_ROOT, RegistryProcess, free_port

SAMPLES_SCRIPT = os.path.join(REPO_ROOT, "scripts", "make_samples.py")
OCI_SAMPLES_SCRIPT = os.path.join(REPO_ROOT, "scripts", "oci_samples.py")


def require(condition, reason):
    """Skip when a precondition is absent, or fail when the run demands every precondition."""
    if condition:
        return
    if os.environ.get("AIRGAP_REQUIRE_ALL"):
        pytest.fail(f"precondition missing (AIRGAP_REQUIRE_ALL is set): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client():
    """A Docker SDK client for the real engine (started by scripts/dockerd.sh)."""
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no engine
        require(False, f"no Docker engine answers: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def sample_tarballs(tmp_path_factory):
    """Directory of `docker save` tarballs of the sample images (abox:1.0.1, tools/busyish:2.0, nginx:1.25)."""
    out = tmp_path_factory.mktemp("samples")
    subprocess.run([sys.executable, SAMPLES_SCRIPT, str(out)], check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def oci_dir(tmp_path_factory):
    """Directory of scripts/oci_samples.py's good OCI archives (multi2.tar, multi3.tar, dlist.tar, attest.tar, signed.tar,
    helm.tar, docker25.tar); read only."""
    out = tmp_path_factory.mktemp("oci-samples")
    subprocess.run([sys.executable, OCI_SAMPLES_SCRIPT, str(out)], check=True, capture_output=True)
    return out


@pytest.fixture
def sample_images(docker_client, sample_tarballs):
    """The sample images, present in the engine under their names (reloaded when something removed them); returns the names."""
    from docker.errors import ImageNotFound  # noqa: PLC0415 - docker_client has checked the SDK is there

    names = []
    for tarball in sorted(sample_tarballs.glob("*.tar")):
        with tarfile.open(tarball) as tar:
            wanted = json.load(tar.extractfile("manifest.json"))[0]
        expected_id = "sha256:" + wanted["Config"].split(".")[0]
        for name in wanted["RepoTags"]:
            try:
                present = docker_client.images.get(name).id == expected_id
            except ImageNotFound:
                present = False
            if not present:
                with open(tarball, "rb") as fh:
                    docker_client.images.load(fh.read())
            names.append(name)
    return names


@pytest.fixture
def engine_tags():
    """Image references a test tags in the engine (append them); removed (docker rmi -f) at teardown."""
    tags = []
    yield tags
    for tag in tags:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


@pytest.fixture
def start_registry(tmp_path):
    """Factory: start_registry(kind, config=None, env=None, python=...) -> a running RegistryProcess, stopped at teardown.

    kind is "distribution" (Debian's docker-registry binary) or "pyregistry" (the bundled one).
    """
    started = []

    def start(kind, config=None, env=None, cafile=None, port=None, *, python=sys.executable):
        if kind == "distribution":
            require(shutil.which("docker-registry"), "Debian's docker-registry binary is not installed")
        workdir = tmp_path / f"{kind}-{len(started)}"
        workdir.mkdir()
        reg = RegistryProcess(kind, str(workdir), config=config, env=env, port=port, python=python)
        started.append(reg)
        return reg.start(cafile=cafile)

    yield start
    for reg in started:
        reg.stop()


@pytest.fixture
def distribution_registry(start_registry):
    """A plain-HTTP Distribution registry on a free loopback port, with its own storage."""
    return start_registry("distribution")


@pytest.fixture
def pyregistry_server(start_registry):
    """A plain-HTTP bundled pyregistry on a free loopback port, with its own storage."""
    return start_registry("pyregistry")


@pytest.fixture
def port():
    return free_port()
