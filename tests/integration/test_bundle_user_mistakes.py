"""A new user's mistakes with bundles (issue 13), through the real commands against real registries (pyregistry as the
source, Distribution 2.8 as the site): each fails (or warns) without a traceback, naming the option, file, image or
digest at fault and what to do, as docs/bundles.md "When something goes wrong" lists them."""
import json
import os
import subprocess
import sys
import urllib.request

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.seed import seed
from tests.helpers.docs import BIN
from tests.helpers.registries import REPO_ROOT, free_port

sys.path.insert(0, os.path.join(REPO_ROOT, "scripts"))
import oci_samples  # noqa: E402 - scripts/ is not a package

pytestmark = [pytest.mark.distribution, pytest.mark.timeout(600)]


def run(*argv, stdin=None):
    """One of the commands (airgap-bundle, airgap-seed, pyregistry) with `argv`; its CompletedProcess."""
    return subprocess.run([os.path.join(BIN, argv[0]), *argv[1:]], input=stdin, capture_output=True, text=True,
                          timeout=120, check=False)


def fails(*argv, expect, status=1):
    """Run a command that must fail with `status`, no traceback, and every string of `expect` in its error; the error."""
    proc = run(*argv)
    assert proc.returncode == status, (argv, proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    for text in expect:
        assert text in proc.stderr, (argv, text, proc.stderr)
    return proc.stderr


def catalog(reg):
    with urllib.request.urlopen(f"http://{reg.host}/v2/_catalog", timeout=10) as resp:
        return json.load(resp)["repositories"]


def flip_byte(path, offset):
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.fixture
def source(tmp_path, pyregistry_server, sample_tarballs):
    """A pyregistry holding abox:1.0.1, nginx:1.25 (single-platform) and multi:3 (linux/amd64, arm64/v8, arm/v7)."""
    oci = tmp_path / "oci"
    oci.mkdir()
    oci_samples.write_all(str(oci))
    seed({"src": [str(sample_tarballs / "abox_1.0.1.tar"), str(sample_tarballs / "nginx_1.25.tar"), str(oci / "multi3.tar")],
          "registry": pyregistry_server.host, "retries": 1})
    return pyregistry_server


def test_create_mistakes(tmp_path, source):
    nginx, multi = f"{source.host}/nginx:1.25", f"{source.host}/multi:3"
    fails("airgap-bundle", "create", nginx, "--output", str(tmp_path / "b.zip"),
          expect=["--output", "b.zip", "name a directory (ending in /), a .tar or a .tar.zst"])
    fails("airgap-bundle", "create", "--images-file", str(tmp_path / "images.tx"), "--output", str(tmp_path / "b.tar"),
          expect=["--images-file", "images.tx", "No such file"])
    fails("airgap-bundle", "create", nginx, "--output", str(tmp_path / "nowhere" / "b.tar"),
          expect=["--output", "nowhere", "does not exist"])
    fails("airgap-bundle", "create", f"{source.host}/nginx:9.9", "--output", str(tmp_path / "b.tar"),
          expect=[f"{source.host}/nginx:9.9: no such image", "check the image's repository and tag"])
    fails("airgap-bundle", "create", nginx, "--output", str(tmp_path / "b.tar"), "--split-size", "0",
          expect=["--split-size 0", "500M"])
    fails("airgap-bundle", "create", multi, "--output", str(tmp_path / "b.tar"), "--platform", "linux/s390x",
          expect=[multi, "linux/s390x", "linux/amd64", "linux/arm/v7"])
    assert not list(tmp_path.glob("b.*")), "a failed create left a file"
    # A single-platform image of another platform goes as it is, with a warning naming it.
    proc = run("airgap-bundle", "create", nginx, multi, "--output", str(tmp_path / "arm.tar"), "--platform", "linux/arm64",
               "--progress", "none")
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {nginx}: a single-platform image for linux/amd64" in proc.stderr, proc.stderr
    assert f"warning: {multi}" not in proc.stderr, proc.stderr


def test_damaged_bundle_and_wrong_registry(tmp_path, source, start_registry):
    images = [f"{source.host}/abox:1.0.1", f"{source.host}/nginx:1.25", f"{source.host}/multi:3"]
    bundle = tmp_path / "b.tar"
    assert run("airgap-bundle", "create", *images, "--output", str(bundle), "--split-size", "300K",
               "--progress", "none").returncode == 0
    parts = sorted(tmp_path.glob("b.tar.part*"))
    assert len(parts) >= 3, parts

    for path in (tmp_path / "missing.tar", tmp_path / "missing"):
        fails("airgap-bundle", "verify", str(path), expect=[str(path), "no such bundle"])
        fails("airgap-bundle", "list", str(path), expect=[str(path)])
        fails("airgap-seed", str(path), "--registry", source.host, expect=[str(path)])
        fails("pyregistry", "serve-bundle", str(path), "--addr", f"127.0.0.1:{free_port()}", status=2,
              expect=[str(path), "no such bundle"])

    flip_byte(parts[1], 100_000)
    fails("airgap-bundle", "verify", str(bundle), expect=[f"{parts[1]}: sha256", "b.tar.sha256 says", "(altered"])
    site = start_registry("distribution")
    error = fails("airgap-seed", str(bundle), "--registry", site.host,
                  expect=["DIGEST_INVALID", "the file is damaged", f"airgap-bundle verify {bundle}"])
    assert "sha256:" in error, error
    flip_byte(parts[1], 100_000)  # repaired: the same bytes as written
    assert run("airgap-bundle", "verify", str(bundle)).returncode == 0

    # A delta made from the site's HAVE file, seeded into another registry: refused before anything is pushed.
    assert run("airgap-seed", str(bundle), "--registry", site.host).returncode == 0
    have = tmp_path / "have.json"
    assert run("airgap-bundle", "have", "--registry", site.host, "--output", str(have)).returncode == 0
    delta = tmp_path / "delta.tar"
    assert run("airgap-bundle", "create", *images, "--have", str(have), "--output", str(delta),
               "--progress", "none").returncode == 0
    wrong = start_registry("distribution")
    fails("airgap-seed", str(delta), "--registry", wrong.host,
          expect=["the delta bundle relies on", wrong.host, "seed the base bundle first"])
    assert catalog(wrong) == []
    fails("pyregistry", "serve-bundle", str(delta), "--addr", f"127.0.0.1:{free_port()}", status=2,
          expect=[str(delta), "delta", site.host, "airgap-seed"])

    zst = tmp_path / "b.tar.zst"
    assert run("airgap-bundle", "create", images[1], "--output", str(zst), "--progress", "none").returncode == 0
    fails("pyregistry", "serve-bundle", str(zst), "--addr", f"127.0.0.1:{free_port()}", status=2,
          expect=[str(zst), f"zstd -d {zst}", "airgap-seed"])
