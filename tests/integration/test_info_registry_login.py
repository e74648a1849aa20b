"""registry_login against a Distribution registry with htpasswd auth; the real docker CLI uses what it writes."""
import base64
import datetime
import http.server
import json
import os
import stat
import subprocess
import threading
import time
import urllib.parse
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from tests.helpers.ansible import failed, run_module
from tests.helpers.registries import htpasswd_auth

pytestmark = [pytest.mark.docker, pytest.mark.distribution]

USER = "seeder"
PASSWORD = "S3cret-pass-7f3a"
MODULE = "airgap.registry.registry_login"


@pytest.fixture
def auth_registry(start_registry, tmp_path):
    """A Distribution registry that wants USER/PASSWORD (htpasswd file made by `htpasswd -Bbn`)."""
    return start_registry("distribution", config={"auth": htpasswd_auth(tmp_path, USER, PASSWORD)})


def docker_push(config_dir, reg, sample_images):
    """`docker --config DIR push` of abox:1.0.1 to the registry; the CompletedProcess (the target tag is removed)."""
    target = f"{reg.host}/info-login/abox:1.0.1"
    subprocess.run(["docker", "tag", "abox:1.0.1", target], check=True)
    try:
        return subprocess.run(["docker", "--config", str(config_dir), "push", target], check=False, capture_output=True, text=True)
    finally:
        subprocess.run(["docker", "rmi", target], check=False, capture_output=True)


def test_login_merges_config_and_docker_cli_pushes_with_it(auth_registry, sample_images, tmp_path):
    config_dir = tmp_path / "docker"
    config_dir.mkdir()
    config_path = config_dir / "config.json"
    config_path.write_text(json.dumps({"auths": {"other.example:5000": {"auth": "eDp5"}}, "psFormat": "table {{.ID}}"}))
    denied = docker_push(config_dir, auth_registry, sample_images)
    assert denied.returncode != 0, "the registry must refuse an anonymous push"

    args = {"registry": auth_registry.host, "username": USER, "password": PASSWORD, "config_path": str(config_path)}
    result, run = run_module(MODULE, args, diff=True)
    assert not failed(result), result
    assert result["changed"] is True and result["verified"] is True
    assert result["registry"] == auth_registry.host and result["username"] == USER
    assert result["diff"] == {"before": {}, "after": {"registry": auth_registry.host, "username": USER, "password": "changed"}}
    assert PASSWORD not in run.stdout and base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in run.stdout
    config = json.loads(config_path.read_text())
    assert config["psFormat"] == "table {{.ID}}"
    assert config["auths"] == {"other.example:5000": {"auth": "eDp5"},
                               auth_registry.host: {"auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}
    assert stat.S_IMODE(os.stat(config_path).st_mode) == 0o600

    pushed = docker_push(config_dir, auth_registry, sample_images)
    assert pushed.returncode == 0, pushed.stderr
    assert "digest: sha256:" in pushed.stdout

    again, _ = run_module(MODULE, args)
    assert again["changed"] is False and again["verified"] is False
    reauth, _ = run_module(MODULE, {**args, "reauthorize": True})
    assert reauth["changed"] is False and reauth["verified"] is True


def test_wrong_password_fails_clearly_and_writes_nothing(auth_registry, tmp_path):
    config_path = tmp_path / "docker" / "config.json"
    wrong = "Wr0ng-pass-91c2"
    result, run = run_module(MODULE, {"registry": auth_registry.host, "username": USER, "password": wrong, "config_path": str(config_path)})
    assert failed(result)
    assert result["msg"].startswith(f"login to {auth_registry.host} as {USER} failed: the registry refused the credentials")
    assert wrong not in run.stdout and wrong not in run.stderr
    assert not config_path.exists()


def test_check_mode_verifies_but_writes_nothing(auth_registry, tmp_path):
    config_path = tmp_path / "config.json"
    args = {"registry": auth_registry.host, "username": USER, "password": PASSWORD, "config_path": str(config_path)}
    result, _ = run_module(MODULE, args, check=True, diff=True)
    assert result["changed"] is True and result["verified"] is True
    assert not config_path.exists()
    bad, _ = run_module(MODULE, {**args, "password": "nope-nope"}, check=True)
    assert failed(bad) and "refused the credentials" in bad["msg"]


def test_logout_removes_only_that_entry(auth_registry, sample_images, tmp_path):
    config_dir = tmp_path / "docker"
    config_path = config_dir / "config.json"
    args = {"registry": auth_registry.host, "username": USER, "password": PASSWORD, "config_path": str(config_path)}
    run_module(MODULE, args)
    data = json.loads(config_path.read_text())
    data["auths"]["keep.example"] = {"auth": "a2VlcDptZQ=="}
    config_path.write_text(json.dumps(data))
    check, _ = run_module(MODULE, {"registry": auth_registry.host, "state": "absent", "config_path": str(config_path)}, check=True, diff=True)
    assert check["changed"] is True
    assert check["diff"] == {"before": {"registry": auth_registry.host, "username": USER}, "after": {}}
    assert auth_registry.host in json.loads(config_path.read_text())["auths"], "check mode must not write"
    out, _ = run_module(MODULE, {"registry": f"http://{auth_registry.host}", "state": "absent", "config_path": str(config_path)})
    assert out["changed"] is True and out["username"] == USER
    assert json.loads(config_path.read_text())["auths"] == {"keep.example": {"auth": "a2VlcDptZQ=="}}
    assert docker_push(config_dir, auth_registry, sample_images).returncode != 0
    again, _ = run_module(MODULE, {"registry": auth_registry.host, "state": "absent", "config_path": str(config_path)})
    assert again["changed"] is False
    nothing, _ = run_module(MODULE, {"registry": auth_registry.host, "state": "absent", "config_path": str(tmp_path / "none.json")})
    assert nothing["changed"] is False and nothing["username"] is None
    assert not (tmp_path / "none.json").exists()


def test_registry_info_with_credentials(auth_registry):
    result, _ = run_module("airgap.registry.registry_info", {"registry": auth_registry.host, "username": USER, "password": PASSWORD})
    assert not failed(result), result
    assert result["catalog"] == []
    anonymous, run = run_module("airgap.registry.registry_info", {"registry": auth_registry.host})
    assert failed(anonymous)
    assert "HTTP 401 UNAUTHORIZED" in anonymous["msg"]


def test_credential_helper_config_is_refused(auth_registry, tmp_path):
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({"credsStore": "desktop"}))
    result, _ = run_module(MODULE, {"registry": auth_registry.host, "username": USER, "password": PASSWORD, "config_path": str(config_path)})
    assert failed(result) and "docker-credential-desktop" in result["msg"]
    assert json.loads(config_path.read_text()) == {"credsStore": "desktop"}


class TokenServer:
    """A Docker token service (the Bearer flow): checks Basic credentials, issues ES256 JWTs with an x5c chain."""

    def __init__(self, tmp_path):
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "info token signer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.bundle = tmp_path / "token-signer.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                server.requests.append(query)
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
                    return
                body = json.dumps({"token": server.token(query.get("scope", []))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token(self, scopes):
        def b64(data):
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        access = []
        for scope in scopes:
            kind, rest = scope.split(":", 1)
            name, actions = rest.rsplit(":", 1)
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]}
        claims = {"iss": "info-issuer", "sub": USER, "aud": "info-registry", "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": uuid.uuid4().hex, "access": access}
        signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return signing_input + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def token_registry(start_registry, tmp_path):
    """A Distribution registry with token auth (Bearer flow) backed by TokenServer; (registry, token server)."""
    tokens = TokenServer(tmp_path)
    config = {"auth": {"token": {"realm": tokens.realm, "service": "info-registry", "issuer": "info-issuer", "rootcertbundle": str(tokens.bundle)}}}
    yield start_registry("distribution", config=config), tokens
    tokens.close()


def test_bearer_token_login_and_docker_push(token_registry, sample_images, tmp_path):
    reg, tokens = token_registry
    config_dir = tmp_path / "docker"
    args = {"registry": reg.host, "username": USER, "password": PASSWORD, "config_path": str(config_dir / "config.json")}
    wrong, run = run_module(MODULE, {**args, "password": "Wr0ng-token-pass"})
    assert failed(wrong) and "refused the credentials" in wrong["msg"] and "token service" in wrong["msg"]
    assert "Wr0ng-token-pass" not in run.stdout
    result, _ = run_module(MODULE, args)
    assert not failed(result), result
    assert result["changed"] is True and result["verified"] is True
    assert tokens.requests, "the login went through the token service"
    pushed = docker_push(config_dir, reg, sample_images)
    assert pushed.returncode == 0, pushed.stderr
    scopes = [scope for q in tokens.requests for scope in q.get("scope", [])]
    assert any(s.startswith("repository:info-login/abox:") and "push" in s for s in scopes), scopes
    info, _ = run_module("airgap.registry.registry_info", {"registry": reg.host, "username": USER, "password": PASSWORD,
                                                           "repositories": ["info-login/abox"], "expect": ["info-login/abox:1.0.1"]})
    assert not failed(info), info
    assert info["tags"] == {"info-login/abox": ["1.0.1"]}
    save_args = {"source": "registry", "registry": reg.host, "username": USER, "password": PASSWORD, "images": ["info-login/abox:1.0.1"],
                 "dest": str(tmp_path / "bundle")}
    saved, _ = run_module("airgap.registry.image_save", save_args)
    assert not failed(saved), saved
    source_id = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", "abox:1.0.1"], check=True, capture_output=True, text=True).stdout.strip()
    assert saved["files"][0]["digest"] == source_id
    denied, _ = run_module("airgap.registry.image_save", {**save_args, "password": "nope-nope", "force": True})
    assert failed(denied) and "401" in denied["msg"]


def test_default_config_path_follows_docker_config(auth_registry, tmp_path):
    config_dir = tmp_path / "from-env"
    result, _ = run_module(MODULE, {"registry": auth_registry.host, "username": USER, "password": PASSWORD}, env={"DOCKER_CONFIG": str(config_dir)})
    assert not failed(result), result
    assert result["config_path"] == str(config_dir / "config.json")
    assert json.loads((config_dir / "config.json").read_text())["auths"][auth_registry.host]["auth"] == base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert stat.S_IMODE(os.stat(config_dir).st_mode) == 0o700


def test_tls_registry_needs_its_ca(start_registry, tmp_path):
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    reg = start_registry("distribution", cafile=str(cert), config={
        "http": {"tls": {"certificate": str(cert), "key": str(key)}}, "auth": htpasswd_auth(tmp_path, USER, PASSWORD)})
    args = {"registry": reg.host, "username": USER, "password": PASSWORD, "config_path": str(tmp_path / "docker" / "config.json")}
    untrusted, _ = run_module(MODULE, args)
    assert failed(untrusted) and "not trusted" in untrusted["msg"]
    trusted, _ = run_module(MODULE, {**args, "ca_file": str(cert)})
    assert not failed(trusted), trusted
    assert trusted["changed"] is True and trusted["verified"] is True
    info, _ = run_module("airgap.registry.registry_info", {"registry": f"https://{reg.host}", "username": USER, "password": PASSWORD, "ca_file": str(cert)})
    assert not failed(info) and info["catalog"] == []
