"""airgap-seed, the console script, against the real Distribution registry."""
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient

pytestmark = pytest.mark.distribution
CLI = os.path.join(os.path.dirname(sys.executable), "airgap-seed")


def _cli(*args, stdin=None):
    return subprocess.run([CLI, *args], capture_output=True, text=True, input=stdin, timeout=300, check=False)


def test_seed_report_rerun_and_check(distribution_registry, sample_tarballs, tmp_path):
    report = tmp_path / "report.json"
    first = _cli(str(sample_tarballs), "--registry", distribution_registry.host, "--rename", "nginx=web/nginx", "--report", str(report))
    assert first.returncode == 0, first.stderr
    assert "3 images, 3 pushed" in first.stdout
    assert f"pushed   {distribution_registry.host}/web/nginx:1.25" in first.stderr
    data = json.loads(report.read_text())
    assert data["changed"] is True and data["bytes_sent"] > 0
    assert sorted(i["target"].split("/", 1)[1] for i in data["images"]) == ["abox:1.0.1", "tools/busyish:2.0", "web/nginx:1.25"]
    assert sorted(RegistryClient(distribution_registry.host).catalog()) == ["abox", "tools/busyish", "web/nginx"]
    again = _cli(str(sample_tarballs), "--registry", distribution_registry.host, "--rename", "nginx=web/nginx", "--report", str(report))
    assert again.returncode == 0 and "3 images, 0 pushed, 0 B sent" in again.stdout
    assert f"present  {distribution_registry.host}/web/nginx:1.25" in again.stderr
    assert json.loads(report.read_text())["changed"] is False
    check = _cli(str(sample_tarballs), "--registry", distribution_registry.host, "--check", "--layers", "gzip", "--rename", "abox=other/abox",
                 "--rename", "nginx=web/nginx")
    assert check.returncode == 0 and "1 would push" in check.stdout
    assert f"would push {distribution_registry.host}/other/abox:1.0.1" in check.stderr
    assert "would push other/abox config" in check.stderr
    assert "other/abox" not in RegistryClient(distribution_registry.host).catalog()


def test_password_from_stdin_and_errors(start_registry, sample_tarballs, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(htpasswd), "cli", "cli-pass-9"], check=True, capture_output=True)
    reg = start_registry("distribution", config={"auth": {"htpasswd": {"realm": "seed", "path": str(htpasswd)}}})
    src = str(sample_tarballs / "abox_1.0.1.tar")
    bad = _cli(src, "--registry", reg.host, "--username", "cli", "--password-stdin", stdin="nope-nope\n")
    assert bad.returncode == 1 and "401" in bad.stderr and "nope-nope" not in bad.stderr + bad.stdout
    good = _cli(src, "--registry", reg.host, "--username", "cli", "--password-stdin", "--progress", "none", stdin="cli-pass-9\n")
    assert good.returncode == 0, good.stderr
    assert "1 images, 1 pushed" in good.stdout
    missing = _cli(str(tmp_path / "nope.tar"), "--registry", reg.host)
    assert missing.returncode == 1 and "nope.tar: no such file or directory" in missing.stderr
    usage = _cli(src, "--registry", reg.host, "--username", "cli")
    assert usage.returncode == 2 and "needs a password" in usage.stderr


def test_bars_on_a_terminal(distribution_registry, sample_tarballs):
    proc = subprocess.run(["script", "-qec", f"{CLI} {sample_tarballs} --registry {distribution_registry.host} --parallel 1", "/dev/null"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout
    assert "3 images, 3 pushed" in proc.stdout
