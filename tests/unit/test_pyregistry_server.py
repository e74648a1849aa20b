"""pyregistry server pieces: TLS context (minimum version), listening sockets, CLI errors."""
import datetime
import ssl
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pyregistry.config import from_mapping
from pyregistry.server import listen, ssl_context
from tests.helpers.registries import REPO_ROOT, free_port


@pytest.fixture
def cert_pair(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "c.pem", tmp_path / "k.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_tls_minimum_versions(cert_pair):
    cert, key = cert_pair
    assert ssl_context(from_mapping({}, environ={})) is None
    ctx = ssl_context(from_mapping({"http": {"tls": {"certificate": cert, "key": key}}}, environ={}))
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    ctx13 = ssl_context(from_mapping({"http": {"tls": {"certificate": cert, "key": key, "minimumtls": "tls1.3"}}}, environ={}))
    assert ctx13.minimum_version == ssl.TLSVersion.TLSv1_3


def test_listen_and_reuse_port():
    port = free_port()
    cfg = from_mapping({"http": {"addr": f"127.0.0.1:{port}"}}, environ={})
    first = listen(cfg, reuse_port=True)
    second = listen(cfg, reuse_port=True)  # a second worker shares the port
    try:
        assert first.getsockname() == second.getsockname() == ("127.0.0.1", port)
    finally:
        first.close()
        second.close()
    taken = listen(cfg)
    try:
        with pytest.raises(OSError):
            listen(cfg)
    finally:
        taken.close()


def test_serve_with_missing_certificate_fails_clearly(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(f"http:\n  addr: 127.0.0.1:{free_port()}\n  tls:\n    certificate: {tmp_path}/nope.crt\n    key: {tmp_path}/nope.key\n")
    run = subprocess.run([sys.executable, "-m", "pyregistry", "serve", str(config)], capture_output=True, text=True, timeout=30,
                         check=False, cwd=REPO_ROOT)
    assert run.returncode == 1 and "cannot serve" in run.stderr and "nope.crt" not in run.stdout
