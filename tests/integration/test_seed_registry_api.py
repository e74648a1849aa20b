"""registry_api.RegistryClient against the real Distribution registry (plain HTTP, htpasswd, TLS)."""
import hashlib
import io
import json
import os
import subprocess

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.media_types import DOCKER_MANIFEST
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import (
    RegistryAuthError,
    RegistryClient,
    RegistryError,
)
from tests.helpers.certs import make_self_signed

pytestmark = pytest.mark.distribution


def _blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_image(client, repo, tag, layer, config=b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'):
    for data in (layer, config):
        client.upload_blob(repo, _blob(data), len(data), lambda off, d=data: io.BytesIO(d[off:]))
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": _blob(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar", "digest": _blob(layer), "size": len(layer)}],
    }).encode()
    return client.put_manifest(repo, tag, manifest, DOCKER_MANIFEST), manifest


def test_roundtrip_monolithic_chunked_mount_catalog_tags(distribution_registry):
    client = RegistryClient(distribution_registry.host)
    assert client.ping() == 200
    assert client.scheme == "http"
    layer = os.urandom(300_000)
    digest, manifest = _push_image(client, "seed/one", "v1", layer)
    assert digest == _blob(manifest)
    assert client.head_manifest("seed/one", "v1") == {"digest": digest, "media_type": DOCKER_MANIFEST, "size": len(manifest)}
    body, media_type, got = client.get_manifest("seed/one", digest)
    assert (body, media_type, got) == (manifest, DOCKER_MANIFEST, digest)
    assert client.blob_size("seed/one", _blob(layer)) == len(layer)
    with client.open_blob("seed/one", _blob(layer)) as stream:
        assert stream.read() == layer

    chunked = os.urandom(250_000)
    sent = client.upload_blob("seed/two", _blob(chunked), len(chunked), lambda off: io.BytesIO(chunked[off:]), chunk_size=64 * 1024)
    assert sent == len(chunked)
    assert client.blob_size("seed/two", _blob(chunked)) == len(chunked)

    assert client.blob_size("seed/three", _blob(layer)) is None
    assert client.mount_blob("seed/three", _blob(layer), from_repo="seed/one") is True
    assert client.blob_size("seed/three", _blob(layer)) == len(layer)
    assert client.mount_blob("seed/three", _blob(b"nowhere"), from_repo="seed/one") is False

    for i in range(5):
        client.put_manifest("seed/one", f"t{i}", manifest, DOCKER_MANIFEST)
    assert sorted(client.tags("seed/one", page_size=2)) == sorted(["v1"] + [f"t{i}" for i in range(5)])
    assert client.tags("seed/unknown") == []
    assert client.catalog(page_size=1) == ["seed/one", "seed/three", "seed/two"]
    assert client.head_manifest("seed/one", "nope") is None
    with pytest.raises(RegistryError) as err:
        client.get_manifest("seed/one", "nope")
    assert err.value.status == 404 and err.value.code == "MANIFEST_UNKNOWN"

    client.delete_manifest("seed/one", digest)
    assert client.head_manifest("seed/one", "v1") is None


def test_upload_digest_mismatch_is_a_clear_error(distribution_registry):
    client = RegistryClient(distribution_registry.host)
    data = b"x" * 1000
    with pytest.raises(RegistryError) as err:
        client.upload_blob("seed/bad", _blob(b"other"), len(data), lambda off: io.BytesIO(data[off:]))
    assert err.value.code == "DIGEST_INVALID"
    assert "seed/bad" in str(err.value)


def test_basic_auth_htpasswd(start_registry, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(htpasswd), "seeder", "s3cret-pw"], check=True, capture_output=True)
    reg = start_registry("distribution", config={"auth": {"htpasswd": {"realm": "seed", "path": str(htpasswd)}}})
    good = RegistryClient(reg.host, username="seeder", password="s3cret-pw")
    assert good.ping() == 200
    _push_image(good, "seed/auth", "v1", b"layer-bytes")
    assert good.tags("seed/auth") == ["v1"]
    bad = RegistryClient(reg.host, username="seeder", password="wrong-pw-value")
    with pytest.raises(RegistryAuthError) as err:
        bad.ping()
    assert err.value.status == 401
    assert "wrong-pw-value" not in str(err.value)
    anonymous = RegistryClient(reg.host)
    with pytest.raises(RegistryAuthError):
        anonymous.catalog()


def test_tls_ca_file_and_unknown_ca(start_registry, tmp_path):
    key, crt = make_self_signed(tmp_path)
    reg = start_registry("distribution", config={"http": {"tls": {"certificate": crt, "key": key}}}, cafile=crt)
    client = RegistryClient(reg.host, ca_file=crt)
    assert client.ping() == 200 and client.scheme == "https"
    _push_image(client, "seed/tls", "v1", b"tls-layer")
    with pytest.raises(RegistryError) as err:
        RegistryClient(reg.host).ping()
    assert "not trusted" in str(err.value)
    assert RegistryClient(reg.host, validate_certs=False).tags("seed/tls") == ["v1"]


def test_connection_refused_is_reported_after_retries(port):
    client = RegistryClient(f"127.0.0.1:{port}", scheme="http", retries=1)
    with pytest.raises(RegistryError) as err:
        client.ping()
    assert "after 1 retries" in str(err.value)


def test_upload_locations_naming_another_host(start_registry):
    reg = start_registry("distribution", config={"http": {"host": "http://registry.invalid:5000"}})
    client = RegistryClient(reg.host)
    data = os.urandom(100_000)
    for chunk_size in (None, 30_000):
        digest = _blob(data + bytes([chunk_size is None]))
        payload = data + bytes([chunk_size is None])
        assert client.upload_blob("seed/proxy", digest, len(payload), lambda off, p=payload: io.BytesIO(p[off:]), chunk_size=chunk_size) == len(payload)
        assert client.blob_size("seed/proxy", digest) == len(payload)


def test_plain_http_registry_on_a_non_loopback_name_needs_scheme_http(distribution_registry):
    client = RegistryClient(f"localhost.seed-test.invalid:{distribution_registry.port}", retries=0, timeout=5)
    with pytest.raises(RegistryError) as err:
        client.ping()
    assert "cannot reach https://localhost.seed-test.invalid" in str(err.value)
