"""image_seed when things go wrong, for real: wrong password, unknown CA, corrupt tarballs, a full registry disk,
a registry killed in the middle of a seed."""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient
from ansible_collections.airgap.registry.plugins.module_utils.seed import NullProgress, SeedError, seed
from tests.conftest import require
from tests.helpers.certs import make_self_signed
from tests.helpers.registries import REPO_ROOT
from tests.helpers.seed import seed_module

pytestmark = pytest.mark.distribution


@pytest.fixture(scope="module")
def big_samples(tmp_path_factory):
    """The sample images with ~8 MiB of incompressible data each."""
    out = tmp_path_factory.mktemp("seed-big")
    subprocess.run([sys.executable, os.path.join(REPO_ROOT, "scripts", "make_samples.py"), str(out), "--scale", "16"], check=True, capture_output=True)
    return out


def test_wrong_password_fails_clearly_without_leaking_it(start_registry, sample_tarballs, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(htpasswd), "seeder", "right-pass-1"], check=True, capture_output=True)
    reg = start_registry("distribution", config={"auth": {"htpasswd": {"realm": "seed", "path": str(htpasswd)}}})
    bad = seed_module({"src": [str(sample_tarballs)], "registry": reg.host, "username": "seeder", "password": "Wr0ng-Secret-77"})
    assert bad.get("failed") is True
    assert "401" in bad["msg"] and reg.host in bad["msg"]
    assert "Wr0ng-Secret-77" not in json.dumps(bad)
    good = seed_module({"src": [str(sample_tarballs)], "registry": reg.host, "username": "seeder", "password": "right-pass-1"})
    assert good["changed"] is True and not good.get("failed")
    assert len(RegistryClient(reg.host, username="seeder", password="right-pass-1").catalog()) == 3


def test_unknown_ca_then_ca_file(start_registry, sample_tarballs, tmp_path):
    key, crt = make_self_signed(tmp_path)
    reg = start_registry("distribution", config={"http": {"tls": {"certificate": str(crt), "key": str(key)}}}, cafile=str(crt))
    bad = seed_module({"src": [str(sample_tarballs)], "registry": reg.host})
    assert bad.get("failed") is True
    assert "not trusted" in bad["msg"] and "ca_file" in bad["msg"]
    good = seed_module({"src": [str(sample_tarballs)], "registry": reg.host, "ca_file": str(crt)})
    assert good["changed"] is True and not good.get("failed")


def _truncated(src, dest, keep):
    with open(src, "rb") as fh:
        data = fh.read()
    dest.write_bytes(data[:int(len(data) * keep)])
    return str(dest)


def test_corrupt_tarballs_fail_naming_the_file_and_push_nothing(distribution_registry, sample_tarballs, tmp_path):
    nginx = str(sample_tarballs / "nginx_1.25.tar")
    cases = {
        _truncated(nginx, tmp_path / "truncated.tar", 0.6): "truncated",
        str(tmp_path / "foreign.tar"): "not",
    }
    (tmp_path / "foreign.tar").write_text("this is not a tarball at all\n" * 50)
    gz = tmp_path / "truncated.tar.gz"
    subprocess.run(f"gzip -c {nginx} | head -c 20000 > {gz}", shell=True, check=True)
    cases[str(gz)] = ""
    for path, words in cases.items():
        result = seed_module({"src": [str(sample_tarballs / "abox_1.0.1.tar"), path], "registry": distribution_registry.host})
        assert result.get("failed") is True, path
        assert path in result["msg"] and words in result["msg"]
    assert RegistryClient(distribution_registry.host).catalog() == []


def test_layer_bytes_damaged_inside_tarball(distribution_registry, sample_tarballs, tmp_path):
    damaged = tmp_path / "damaged.tar"
    shutil.copy(sample_tarballs / "abox_1.0.1.tar", damaged)
    with tarfile.open(damaged) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("layer.tar") and m.size > 100000)
    with open(damaged, "r+b") as fh:
        fh.seek(member.offset_data + member.size // 2)
        fh.write(b"\x00" * 64)
    with pytest.raises(SeedError) as err:
        seed({"src": [str(damaged)], "registry": distribution_registry.host, "retries": 1})
    assert str(damaged) in str(err.value) and member.name in str(err.value) and "DIGEST_INVALID" in str(err.value)
    assert RegistryClient(distribution_registry.host).head_manifest("abox", "1.0.1") is None


def test_full_registry_disk(start_registry, big_samples):
    require(os.geteuid() == 0, "mounting a tmpfs needs root")
    reg = start_registry("distribution")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "seed-full", reg.root], check=True)
    try:
        with pytest.raises(SeedError) as err:
            seed({"src": [str(big_samples / "abox_1.0.1.tar")], "registry": reg.host, "retries": 1})
        message = str(err.value)
        assert "abox" in message and "HTTP 500" in message and "disk full" in message, message
    finally:
        reg.stop()
        subprocess.run(["umount", reg.root], check=True)


class _KillAt(NullProgress):
    """Kill the registry once `at` bytes were sent; optionally start it again after `restart_after` seconds."""

    def __init__(self, reg, at, restart_after=None):
        self.reg, self.at, self.restart_after = reg, at, restart_after
        self.sent = 0
        self.killed = threading.Event()
        self.lock = threading.Lock()

    def blob_advance(self, key, n):
        with self.lock:
            self.sent += n
            if self.sent < self.at or self.killed.is_set():
                return
            self.killed.set()
        self.reg.kill()
        if self.restart_after is not None:
            threading.Timer(self.restart_after, self.reg.start).start()


def test_registry_killed_mid_seed_then_rerun_completes(distribution_registry, big_samples, docker_client):
    opts = {"src": [str(big_samples)], "registry": distribution_registry.host, "retries": 1, "parallel": 2}
    killer = _KillAt(distribution_registry, 6 * 1024 * 1024)
    with pytest.raises(SeedError) as err:
        seed(opts, progress=killer)
    assert killer.killed.is_set()
    assert distribution_registry.host in str(err.value)
    distribution_registry.start()
    result = seed(opts)
    assert result["changed"] is True
    assert seed(opts)["changed"] is False
    target = f"{distribution_registry.host}/tools/busyish:2.0"
    try:
        subprocess.run(["docker", "pull", "-q", target], check=True, capture_output=True)
        (busyish,) = [i for i in result["images"] if i["source"] == "tools/busyish:2.0"]
        assert docker_client.images.get(target).id == busyish["config_digest"]
    finally:
        subprocess.run(["docker", "rmi", target], check=False, capture_output=True)


@pytest.mark.parametrize("chunk_size", [None, 1024 * 1024])
def test_registry_restarted_mid_upload_same_run_resumes(distribution_registry, big_samples, chunk_size):
    opts = {"src": [str(big_samples / "nginx_1.25.tar")], "registry": distribution_registry.host, "parallel": 1, "chunk_size": chunk_size}
    killer = _KillAt(distribution_registry, 3 * 1024 * 1024, restart_after=0.5)
    result = seed(opts, progress=killer)
    assert killer.killed.is_set()
    (image,) = result["images"]
    assert image["changed"] is True
    client = RegistryClient(distribution_registry.host)
    manifest = json.loads(client.get_manifest("nginx", "1.25")[0])
    assert all(client.blob_size("nginx", x["digest"]) == x["size"] for x in manifest["layers"])


@pytest.mark.docker
def test_engine_transport_with_credentials_and_check_mode(start_registry, sample_images, sample_tarballs, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(htpasswd), "eng", "eng-pass-3"], check=True, capture_output=True)
    reg = start_registry("distribution", config={"auth": {"htpasswd": {"realm": "seed", "path": str(htpasswd)}}})
    src = [str(sample_tarballs / "abox_1.0.1.tar")]
    checked = seed({"src": src, "registry": reg.host, "transport": "engine", "username": "eng", "password": "eng-pass-3", "check_mode": True})
    assert checked["changed"] is True
    client = RegistryClient(reg.host, username="eng", password="eng-pass-3")
    assert client.catalog() == []
    try:
        result = seed({"src": src, "registry": reg.host, "transport": "engine", "username": "eng", "password": "eng-pass-3"})
        (image,) = result["images"]
        assert image["changed"] is True and client.head_manifest("abox", "1.0.1")["digest"] == image["digest"]
        with pytest.raises(SeedError) as err:
            seed({"src": src, "registry": reg.host, "transport": "engine", "username": "eng", "password": "bad-pass-4"})
        assert "401" in str(err.value) and "bad-pass-4" not in str(err.value)
    finally:
        subprocess.run(["docker", "rmi", f"{reg.host}/abox:1.0.1"], check=False, capture_output=True)
