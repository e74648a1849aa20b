"""registry_tls through real Ansible: files verified by openssl, served by a real Distribution registry over HTTPS."""
import os
import pathlib
import subprocess

import pytest

from tests.helpers.ansible import run_module

MODULE = "airgap.registry.registry_tls"


def tls_args(tmp_path, **kw):
    args = {"ca_cert": str(tmp_path / "ca.crt"), "ca_key": str(tmp_path / "ca.key"),
            "cert": str(tmp_path / "registry.crt"), "key": str(tmp_path / "registry.key"),
            "subject_alt_names": ["localhost", "127.0.0.1", "IP:::1"]}
    args.update(kw)
    return args


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)


def test_generates_verifiable_ca_and_cert_then_is_idempotent(tmp_path):
    args = tls_args(tmp_path)
    out, run = run_module(MODULE, args)
    assert not run.failed, run.stdout
    assert out["changed"] and out["generated"] == ["ca", "key", "cert"]
    verify = openssl("verify", "-CAfile", args["ca_cert"], args["cert"])
    assert verify.returncode == 0 and ": OK" in verify.stdout, verify.stdout + verify.stderr
    fp = openssl("x509", "-in", args["cert"], "-noout", "-fingerprint", "-sha256").stdout.strip()
    assert fp.split("=", 1)[1] == out["fingerprint"]
    text = openssl("x509", "-in", args["cert"], "-noout", "-ext", "subjectAltName").stdout
    assert "DNS:localhost" in text and "IP Address:127.0.0.1" in text and "IP Address:0:0:0:0:0:0:0:1" in text
    assert openssl("pkey", "-in", args["key"], "-noout").returncode == 0
    assert oct(os.stat(args["key"]).st_mode & 0o777) == "0o600"
    assert out["subject_alt_names"] == ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]
    assert "BEGIN" not in run.stdout

    again, _ = run_module(MODULE, args)
    assert again["changed"] is False and again["generated"] == []
    assert again["fingerprint"] == out["fingerprint"]


def test_check_mode_writes_nothing_and_diff_shows_sans(tmp_path):
    args = tls_args(tmp_path)
    out, run = run_module(MODULE, args, check=True, diff=True)
    assert not run.failed, run.stdout
    assert out["changed"] and out["generated"] == ["ca", "key", "cert"]
    assert os.listdir(tmp_path) == []
    assert out["diff"]["before"] == {}
    assert out["diff"]["after"]["subject_alt_names"] == ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]

    run_module(MODULE, args)
    before = {p: pathlib.Path(args[p]).read_bytes() for p in ("cert", "key")}
    changed_sans = tls_args(tmp_path, subject_alt_names=["localhost", "127.0.0.1", "registry.lan"])
    out, _ = run_module(MODULE, changed_sans, check=True, diff=True)
    assert out["changed"] and out["generated"] == ["cert"]
    assert "DNS:registry.lan" in out["diff"]["after"]["subject_alt_names"]
    assert "DNS:registry.lan" not in out["diff"]["before"]["subject_alt_names"]
    assert before == {p: pathlib.Path(args[p]).read_bytes() for p in ("cert", "key")}

    out, _ = run_module(MODULE, changed_sans, diff=True)
    assert out["changed"] and out["generated"] == ["cert"]
    assert pathlib.Path(args["key"]).read_bytes() == before["key"]
    assert pathlib.Path(args["cert"]).read_bytes() != before["cert"]
    assert "PRIVATE" not in str(out["diff"])


def test_bad_san_fails_clearly_and_writes_nothing(tmp_path):
    out, run = run_module(MODULE, tls_args(tmp_path, subject_alt_names=["localhost", "not a host!"]))
    assert out["failed"]
    assert "'not a host!' is neither a DNS name nor an IP address" in out["msg"]
    assert os.listdir(tmp_path) == []


def test_expiring_cert_is_renewed(tmp_path):
    run_module(MODULE, tls_args(tmp_path, valid_days=10, renew_before=5))
    out, _ = run_module(MODULE, tls_args(tmp_path, valid_days=365, renew_before=30))
    assert out["changed"] and out["generated"] == ["cert"] and "within renew_before" in out["reasons"][0]


@pytest.mark.distribution
def test_distribution_serves_the_cert_and_curl_trusts_the_ca(tmp_path, start_registry):
    args = tls_args(tmp_path, key_type="rsa")
    out, run = run_module(MODULE, args)
    assert not run.failed, run.stdout
    reg = start_registry("distribution", config={"http": {"tls": {"certificate": args["cert"], "key": args["key"]}}},
                         cafile=args["ca_cert"])
    for host in (f"127.0.0.1:{reg.port}", f"localhost:{reg.port}"):
        res = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", args["ca_cert"], f"https://{host}/v2/"],
                             capture_output=True, text=True, check=False)
        assert res.stdout == "200", res.stderr
    untrusted = subprocess.run(["curl", "-sS", "-o", "/dev/null", f"https://127.0.0.1:{reg.port}/v2/"], capture_output=True, text=True, check=False)
    assert untrusted.returncode == 60
