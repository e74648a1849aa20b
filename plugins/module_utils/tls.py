# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A private CA and a registry server certificate signed by it (cryptography), kept up to date on disk.

Backends are passed explicitly so that the cryptography 2.x of older managed hosts works too.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import re
from typing import Any

from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_bytes_atomically

try:
    from cryptography import x509
    from cryptography.hazmat.backends import default_backend
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_ERROR = exc

# Letters, digits, hyphens (not at the ends) and, as Go and OpenSSL tolerate them in host names, underscores.
DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
RSA_KEY_SIZE = 2048


class TLSError(Exception):
    """Bad input or unusable files; the message is meant for the user."""


def parse_san(value: object) -> tuple[str, Any]:
    """'DNS:x', 'IP:y' or a bare name/address -> ('DNS', name) or ('IP', ip_address); TLSError otherwise."""
    text = str(value).strip()
    kind = None
    if ":" in text and text.split(":", 1)[0].upper() in ("DNS", "IP"):
        kind, text = text.split(":", 1)
        kind = kind.upper()
        text = text.strip()
    if kind in (None, "IP"):
        try:
            return "IP", ipaddress.ip_address(text)
        except ValueError:
            if kind == "IP":
                raise TLSError(f"subject_alt_names: {value!r} is not an IP address") from None
    if is_dns_name(text):
        return "DNS", text.lower()
    raise TLSError(f"subject_alt_names: {value!r} is neither a DNS name nor an IP address")


def is_dns_name(text: str) -> bool:
    """A host name (optionally a leading '*.' wildcard) made of valid DNS labels."""
    name = text[2:] if text.startswith("*.") else text
    if not name or len(name) > 253:
        return False
    return all(DNS_LABEL.match(label) for label in name.rstrip(".").split("."))


def san_strings(sans: list[tuple[str, Any]]) -> list[str]:
    """[('DNS', x), ('IP', y)] -> ['DNS:x', 'IP:y'] (the form returned to the user)."""
    return [f"{kind}:{value}" for kind, value in sans]


def normalize_sans(values: list | None) -> list[tuple[str, Any]]:
    """User SANs -> de-duplicated [(kind, value)] in the given order; at least one is required."""
    out = []
    for value in values or []:
        san = parse_san(value)
        if san not in out:
            out.append(san)
    if not out:
        raise TLSError("subject_alt_names: give at least one DNS name or IP address (clients ignore the common name)")
    return out


def utcnow() -> datetime.datetime:
    """The current time as an aware UTC datetime."""
    return datetime.datetime.now(datetime.timezone.utc)


def not_after(cert: Any) -> datetime.datetime:
    """The certificate's expiry as an aware UTC datetime (works with old and new cryptography)."""
    value = getattr(cert, "not_valid_after_utc", None)
    if value is None:
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def iso(when: datetime.datetime) -> str:
    """`when` (UTC) as YYYY-MM-DDTHH:MM:SSZ."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint(cert: Any) -> str:
    """SHA-256 fingerprint as openssl prints it (AA:BB:...)."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def cert_sans(cert: Any) -> list[tuple[str, Any]]:
    """The certificate's SANs as [(kind, value)]; [] when it has none."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    sans = [("DNS", name.lower()) for name in ext.get_values_for_type(x509.DNSName)]
    sans += [("IP", ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return sans


def common_name_of(cert: Any) -> str | None:
    """The subject's common name of a certificate, or None when it has none."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attrs[0].value if attrs else None


def new_key(key_type: str) -> Any:
    """A new private key: RSA 2048 for 'rsa', else EC P-256."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE, backend=default_backend())
    return ec.generate_private_key(ec.SECP256R1(), default_backend())


def key_kind(key: Any) -> str:
    """'rsa' or 'ec' for a private key, else its class name."""
    if isinstance(key, rsa.RSAPrivateKey):
        return "rsa"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ec"
    return type(key).__name__


def public_bytes(public_key: Any) -> bytes:
    """A public key as DER SubjectPublicKeyInfo bytes (to compare keys)."""
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_pem(key: Any) -> bytes:
    """A private key as unencrypted PKCS#8 PEM bytes."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def cert_pem(cert: Any) -> bytes:
    """A certificate as PEM bytes."""
    return cert.public_bytes(serialization.Encoding.PEM)


def read_key(path: str) -> Any:
    """The unencrypted PEM private key at `path`; TLSError when it is not one, OSError when unreadable."""
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        return serialization.load_pem_private_key(data, password=None, backend=default_backend())
    except (ValueError, TypeError) as exc:
        raise TLSError(f"{path}: not an unencrypted PEM private key ({exc})") from None


def read_cert(path: str) -> Any:
    """The PEM certificate at `path`; TLSError when it is not one, OSError when unreadable."""
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        return x509.load_pem_x509_certificate(data, default_backend())
    except ValueError as exc:
        raise TLSError(f"{path}: not a PEM certificate ({exc})") from None


def signed_by(cert: Any, ca_cert: Any) -> bool:
    """True when `cert` names `ca_cert` as issuer and its signature verifies with the CA's public key."""
    if cert.issuer != ca_cert.subject:
        return False
    public = ca_cert.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        else:
            public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    except Exception:  # noqa: BLE001 - cryptography raises InvalidSignature or a type error for a mismatched key
        return False
    return True


def build_ca(key: Any, common_name: str, valid_days: int) -> Any:
    """A self-signed CA certificate (path length 0) for `key`, valid `valid_days` days."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = utcnow()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256(), default_backend())
    )


def build_server_cert(key: Any, common_name: str, sans: list[tuple[str, Any]], valid_days: int, *, ca_cert: Any, ca_key: Any) -> Any:
    """A server-auth certificate for `key` with `sans` [(kind, value)], signed by the CA."""
    now = utcnow()
    general = [x509.DNSName(v) if kind == "DNS" else x509.IPAddress(v) for kind, v in sans]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(general), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256(), default_backend())
    )


def cert_summary(cert: Any) -> dict:
    """What diff mode shows about a certificate (never key material)."""
    if cert is None:
        return {}
    return {"subject": cert.subject.rfc4514_string(), "subject_alt_names": sorted(san_strings(cert_sans(cert))), "not_after": iso(not_after(cert))}


MAX_COMMON_NAME = 64  # X.509 upper bound of a CN; a longer first SAN is cut to it, the SAN itself stays whole


class TLSPlan:
    """What must be (re)generated for the requested CA and server certificate, and why."""

    def __init__(self, params: dict, check_mode: bool = False) -> None:
        """`check_mode` tolerates missing directories (an earlier task of the same check run would create them)."""
        self.p = params
        self.sans = normalize_sans(params["subject_alt_names"])
        self.common_name = params.get("common_name") or str(self.sans[0][1])[:MAX_COMMON_NAME]
        for name, value in (("common_name", self.common_name), ("ca_common_name", params["ca_common_name"])):
            if not 0 < len(value) <= MAX_COMMON_NAME:
                raise TLSError(f"{name} must be 1 to {MAX_COMMON_NAME} characters (X.509 ub-common-name), not {len(value)}")
        self.reasons = []
        self.ca_cert = self.ca_key = self.cert = self.key = None
        self.new_ca = self.new_key = self.new_cert = False
        for name in ("valid_days", "ca_valid_days"):
            if params[name] < 1:
                raise TLSError(f"{name} must be at least 1")
        if params["renew_before"] < 0 or params["renew_before"] >= params["valid_days"]:
            raise TLSError("renew_before must be at least 0 and less than valid_days")
        for name in ("ca_cert", "ca_key", "cert", "key"):
            directory = os.path.dirname(os.path.abspath(params[name]))
            if not os.path.isdir(directory) and not check_mode:
                raise TLSError(f"{name}: directory {directory} does not exist")
        self._plan_ca()
        self._plan_server()

    def _plan_ca(self) -> None:
        have_cert, have_key = os.path.exists(self.p["ca_cert"]), os.path.exists(self.p["ca_key"])
        if have_cert != have_key:
            present, missing = ("ca_cert", "ca_key") if have_cert else ("ca_key", "ca_cert")
            raise TLSError(f"{present} {self.p[present]} exists but {missing} {self.p[missing]} does not: "
                           "give both files of the CA, or neither to generate one")
        if not have_cert:
            self.new_ca = True
            self.reasons.append("no CA yet: generating one")
            return
        self.ca_cert, self.ca_key = read_cert(self.p["ca_cert"]), read_key(self.p["ca_key"])
        if public_bytes(self.ca_cert.public_key()) != public_bytes(self.ca_key.public_key()):
            raise TLSError(f"ca_key {self.p['ca_key']} does not belong to ca_cert {self.p['ca_cert']}")
        if not_after(self.ca_cert) <= utcnow():
            raise TLSError(f"the CA {self.p['ca_cert']} expired on {iso(not_after(self.ca_cert))}; replace it (remove both CA files to generate a new one)")

    def _plan_server(self) -> None:
        if os.path.exists(self.p["key"]):
            self.key = read_key(self.p["key"])
            if key_kind(self.key) != self.p["key_type"]:
                self.new_key = True
                self.reasons.append(f"key type {key_kind(self.key)} differs from {self.p['key_type']}")
        else:
            self.new_key = True
            self.reasons.append("no server key yet")
        if os.path.exists(self.p["cert"]):
            self.cert = read_cert(self.p["cert"])
        reason = self._cert_stale()
        if reason:
            self.new_cert = True
            self.reasons.append(reason)

    def _cert_stale(self) -> str | None:
        """Why the server certificate must be reissued, or None when it is current."""
        if self.cert is None:
            return "no server certificate yet"
        if self.new_key:
            return "new server key"
        if public_bytes(self.cert.public_key()) != public_bytes(self.key.public_key()):
            return "the server key changed"
        if self.new_ca or not signed_by(self.cert, self.ca_cert):
            return "the CA changed"
        if set(cert_sans(self.cert)) != set(self.sans):
            return "the subject alt names changed"
        if common_name_of(self.cert) != self.common_name:
            return "the common name changed"
        if not_after(self.cert) - utcnow() < datetime.timedelta(days=self.p["renew_before"]):
            return f"the certificate expires on {iso(not_after(self.cert))}, within renew_before ({self.p['renew_before']} days)"
        return None

    @property
    def changed(self) -> bool:
        """True when anything must be generated."""
        return self.new_ca or self.new_key or self.new_cert

    @property
    def generated(self) -> list[str]:
        """What the plan generates, among 'ca', 'key' and 'cert'."""
        return [name for name, flag in (("ca", self.new_ca), ("key", self.new_key), ("cert", self.new_cert)) if flag]

    def apply(self) -> None:
        """Generate and write what the plan needs; keys 0600, certificates 0644, each atomically."""
        if self.new_ca:
            self.ca_key = new_key(self.p["key_type"])
            self.ca_cert = build_ca(self.ca_key, self.p["ca_common_name"], self.p["ca_valid_days"])
            write_bytes_atomically(self.p["ca_key"], key_pem(self.ca_key), 0o600)
            write_bytes_atomically(self.p["ca_cert"], cert_pem(self.ca_cert), 0o644)
        if self.new_key:
            self.key = new_key(self.p["key_type"])
            write_bytes_atomically(self.p["key"], key_pem(self.key), 0o600)
        if self.new_cert:
            self.cert = build_server_cert(self.key, self.common_name, self.sans, self.p["valid_days"], ca_cert=self.ca_cert, ca_key=self.ca_key)
            write_bytes_atomically(self.p["cert"], cert_pem(self.cert), 0o644)

    def predicted_summary(self) -> dict:
        """The diff 'after' of the server certificate without generating it (check mode)."""
        if not self.new_cert:
            return cert_summary(self.cert)
        expires = utcnow() + datetime.timedelta(days=self.p["valid_days"])
        return {"subject": f"CN={self.common_name}", "subject_alt_names": sorted(san_strings(self.sans)), "not_after": iso(expires)}
