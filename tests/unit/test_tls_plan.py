"""registry_tls logic: SAN parsing, what is (re)generated and why, file modes, atomic writes."""
import datetime
import ipaddress
import os
import pathlib
import stat

import pytest
from cryptography import x509

from ansible_collections.airgap.registry.plugins.module_utils import tls
from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_bytes_atomically
from ansible_collections.airgap.registry.plugins.module_utils.tls import TLSError, TLSPlan, parse_san


def params(tmp_path, **kw):
    base = {
        "ca_cert": str(tmp_path / "ca.crt"), "ca_key": str(tmp_path / "ca.key"), "ca_common_name": "test CA",
        "cert": str(tmp_path / "reg.crt"), "key": str(tmp_path / "reg.key"), "common_name": None,
        "subject_alt_names": ["registry.internal", "127.0.0.1"], "valid_days": 365, "ca_valid_days": 3650,
        "renew_before": 30, "key_type": "ec",
    }
    base.update(kw)
    return base


def converge(p):
    plan = TLSPlan(p)
    plan.apply()
    return plan


@pytest.mark.parametrize(("value", "expected"), [
    ("DNS:Registry.Internal", ("DNS", "registry.internal")),
    ("IP:10.0.0.5", ("IP", ipaddress.ip_address("10.0.0.5"))),
    ("IP:::1", ("IP", ipaddress.ip_address("::1"))),
    ("192.168.1.2", ("IP", ipaddress.ip_address("192.168.1.2"))),
    ("fd00::2", ("IP", ipaddress.ip_address("fd00::2"))),
    ("localhost", ("DNS", "localhost")),
    ("*.reg.example", ("DNS", "*.reg.example")),
    ("registry_host", ("DNS", "registry_host")),
])
def test_parse_san_accepts_names_and_addresses(value, expected):
    assert parse_san(value) == expected


@pytest.mark.parametrize("value", ["IP:registry.internal", "bad name", "-lead.example", "a..b", "DNS:", "URI:http://x", "a/b", "x" * 64 + ".example"])
def test_parse_san_rejects_what_is_neither(value):
    with pytest.raises(TLSError, match="subject_alt_names"):
        parse_san(value)


def test_no_sans_is_an_error(tmp_path):
    with pytest.raises(TLSError, match="at least one"):
        TLSPlan(params(tmp_path, subject_alt_names=[]))


def test_long_first_name_is_cut_for_the_cn_and_long_explicit_names_are_errors(tmp_path):
    long_name = "registry." + "a" * 60 + ".internal"
    p = params(tmp_path, subject_alt_names=[long_name])
    converge(p)
    cert = tls.read_cert(p["cert"])
    assert tls.common_name_of(cert) == long_name[:64] and ("DNS", long_name) in tls.cert_sans(cert)
    for kw in ({"common_name": "c" * 65}, {"ca_common_name": "c" * 65}, {"ca_common_name": ""}):
        with pytest.raises(TLSError, match="1 to 64 characters"):
            TLSPlan(params(tmp_path / "x", **kw))


def test_first_run_generates_everything_with_safe_modes(tmp_path):
    p = params(tmp_path)
    plan = converge(p)
    assert plan.generated == ["ca", "key", "cert"]
    for name in ("ca_key", "key"):
        assert stat.S_IMODE(os.stat(p[name]).st_mode) == 0o600
    for name in ("ca_cert", "cert"):
        assert stat.S_IMODE(os.stat(p[name]).st_mode) == 0o644
    cert = tls.read_cert(p["cert"])
    assert set(tls.cert_sans(cert)) == {("DNS", "registry.internal"), ("IP", ipaddress.ip_address("127.0.0.1"))}
    assert tls.common_name_of(cert) == "registry.internal"
    assert tls.signed_by(cert, tls.read_cert(p["ca_cert"]))
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]


def test_second_run_changes_nothing(tmp_path):
    p = params(tmp_path)
    converge(p)
    mtimes = {n: os.stat(p[n]).st_mtime_ns for n in ("ca_cert", "ca_key", "cert", "key")}
    plan = TLSPlan(p)
    assert not plan.changed and plan.reasons == []
    assert mtimes == {n: os.stat(p[n]).st_mtime_ns for n in ("ca_cert", "ca_key", "cert", "key")}


def test_san_order_and_spelling_do_not_matter(tmp_path):
    converge(params(tmp_path))
    assert not TLSPlan(params(tmp_path, subject_alt_names=["IP:127.0.0.1", "DNS:registry.internal"],
                              common_name="registry.internal")).changed


def test_san_change_reissues_cert_only(tmp_path):
    p = params(tmp_path)
    converge(p)
    key_before = pathlib.Path(p["key"]).read_bytes()
    plan = converge(params(tmp_path, subject_alt_names=["registry.internal", "127.0.0.1", "10.1.2.3"]))
    assert plan.generated == ["cert"]
    assert plan.reasons == ["the subject alt names changed"]
    assert pathlib.Path(p["key"]).read_bytes() == key_before
    assert ("IP", ipaddress.ip_address("10.1.2.3")) in tls.cert_sans(tls.read_cert(p["cert"]))


def test_replaced_key_reissues_cert(tmp_path):
    p = params(tmp_path)
    converge(p)
    write_bytes_atomically(p["key"], tls.key_pem(tls.new_key("ec")), 0o600)
    plan = TLSPlan(p)
    assert plan.generated == ["cert"] and plan.reasons == ["the server key changed"]


def test_key_type_change_replaces_key_and_cert(tmp_path):
    p = params(tmp_path)
    converge(p)
    plan = converge(params(tmp_path, key_type="rsa"))
    assert plan.generated == ["key", "cert"]
    assert tls.key_kind(tls.read_key(p["key"])) == "rsa"


def test_other_ca_reissues_cert(tmp_path):
    p = params(tmp_path)
    converge(p)
    other = tmp_path / "other"
    other.mkdir()
    converge(params(other))
    plan = TLSPlan(params(tmp_path, ca_cert=str(other / "ca.crt"), ca_key=str(other / "ca.key")))
    assert plan.generated == ["cert"] and plan.reasons == ["the CA changed"]


def test_expiry_within_renew_before_reissues(tmp_path):
    p = params(tmp_path, valid_days=20, renew_before=10)
    converge(p)
    assert not TLSPlan(p).changed
    plan = TLSPlan(params(tmp_path, valid_days=40, renew_before=25))
    assert plan.generated == ["cert"] and "within renew_before" in plan.reasons[0]


def test_half_a_ca_is_an_error(tmp_path):
    p = params(tmp_path)
    converge(p)
    os.unlink(p["ca_key"])
    with pytest.raises(TLSError, match="ca_cert .* exists but ca_key"):
        TLSPlan(p)


def test_mismatched_ca_key_is_an_error(tmp_path):
    p = params(tmp_path)
    converge(p)
    write_bytes_atomically(p["ca_key"], tls.key_pem(tls.new_key("ec")), 0o600)
    with pytest.raises(TLSError, match="does not belong"):
        TLSPlan(p)


def test_garbage_key_file_is_an_error(tmp_path):
    p = params(tmp_path)
    converge(p)
    with open(p["key"], "w") as fh:
        fh.write("not a key")
    with pytest.raises(TLSError, match="not an unencrypted PEM private key"):
        TLSPlan(p)


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(TLSError, match="directory .* does not exist"):
        TLSPlan(params(tmp_path, cert=str(tmp_path / "nope" / "reg.crt")))


def test_renew_before_must_be_below_validity(tmp_path):
    with pytest.raises(TLSError, match="renew_before"):
        TLSPlan(params(tmp_path, valid_days=10, renew_before=10))


def test_server_cert_extensions_suit_a_tls_server(tmp_path):
    p = params(tmp_path, key_type="rsa")
    converge(p)
    cert = tls.read_cert(p["cert"])
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_encipherment is True
    ca = tls.read_cert(p["ca_cert"])
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    left = tls.not_after(cert) - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(days=364) < left <= datetime.timedelta(days=365)


def test_predicted_summary_matches_what_is_issued(tmp_path):
    p = params(tmp_path, subject_alt_names=["127.0.0.1", "reg"])
    plan = TLSPlan(p)
    predicted = plan.predicted_summary()
    plan.apply()
    actual = tls.cert_summary(plan.cert)
    assert predicted["subject"] == actual["subject"] == "CN=127.0.0.1"
    assert predicted["subject_alt_names"] == actual["subject_alt_names"] == ["DNS:reg", "IP:127.0.0.1"]


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_bytes_atomically(str(target), "not bytes", 0o600)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]


def test_check_mode_tolerates_a_missing_directory(tmp_path):
    plan = TLSPlan(params(tmp_path, cert=str(tmp_path / "later" / "reg.crt"), key=str(tmp_path / "later" / "reg.key")), check_mode=True)
    assert plan.generated == ["ca", "key", "cert"]
