"""The OCI core: reference addresses and Hub names, the retry policy, descriptors, the shared decoder, the token cache."""
import gzip
import threading
import time

import pytest

from ansible_collections.airgap.registry.plugins.module_utils import compression, reference
from ansible_collections.airgap.registry.plugins.module_utils.descriptor import DescriptorError, Index, Manifest, Platform
from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient, RegistryError
from ansible_collections.airgap.registry.plugins.module_utils.registry_transport import Response
from ansible_collections.airgap.registry.plugins.module_utils.retry import RetryPolicy, parse_retry_after

DIGEST = "sha256:" + "a" * 64


def test_registry_addresses_and_hub_names():
    assert reference.split_address(" https://Reg.local:5000/v1/ ") == ("https", "Reg.local:5000", "/v1/")
    assert reference.registry_host("reg.local:5000") == "reg.local:5000"
    assert all(reference.is_hub(name) for name in ("docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"))
    assert not reference.is_hub("ghcr.io")
    assert reference.check_registry("http://reg:5000/") == "reg:5000"
    with pytest.raises(reference.RetagError, match="expected HOST or HOST:PORT"):
        reference.check_registry("reg:5000/path")


def test_retry_policy_is_bounded_jittered_and_honours_retry_after():
    policy = RetryPolicy(retries=3, base=0.25, cap=8, jitter=0.25, max_retry_after=30)
    assert policy.allows(3) and not policy.allows(4)
    delays = [policy.delay(10) for _n in range(50)]
    assert all(6 <= d <= 8 for d in delays) and len(set(delays)) > 1
    assert policy.delay(1, "5") == 5
    assert policy.delay(1, "3600") == 30, "a Retry-After is bounded"
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_descriptors_parse_with_clear_errors():
    manifest = Manifest.parse({"schemaVersion": 2, "config": {"digest": DIGEST, "size": 3},
                               "layers": [{"mediaType": "x", "digest": DIGEST, "size": 7}]})
    assert (manifest.config.size, manifest.layers[0].media_type) == (3, "x")
    with pytest.raises(DescriptorError, match="layer 0 has no valid size"):
        Manifest.parse({"schemaVersion": 2, "config": {"digest": DIGEST, "size": 3}, "layers": [{"digest": DIGEST, "size": "7"}]})
    with pytest.raises(DescriptorError, match="schemaVersion 1"):
        Manifest.parse({"schemaVersion": 1})
    index = Index.parse({"schemaVersion": 2, "manifests": [
        {"digest": DIGEST, "size": 1, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"digest": DIGEST, "size": 1}]})
    assert [d.platform.variant for d in index.for_platform(Platform.from_string("linux/arm64"))] == ["v8"]
    assert index.platforms() == ["linux/arm64/v8", "unknown"]
    assert issubclass(DescriptorError, AirgapError)


def test_decoder_reads_gzip_members_and_refuses_what_it_was_not_promised():
    data = gzip.compress(b"one", mtime=0) + gzip.compress(b"two", mtime=0) + b"\0" * 512
    assert b"".join(compression.decompress_chunks([data[:2], data[2:]])) == b"onetwo"
    with pytest.raises(compression.CompressError, match="bad gzip data: not gzip-compressed"):
        compression.decompressed_reader(_Bytes(b"plain tar bytes"), "gzip").read()


def test_token_cache_is_shared_by_threads_under_a_lock(monkeypatch):
    client = RegistryClient("reg.example:5000", scheme="https")
    challenge = Response(401, {"WWW-Authenticate": 'Bearer realm="https://auth.example/token",service="reg"'}, b"")

    def fetch(params, scope):
        time.sleep(0.001)
        return "token-" + scope
    monkeypatch.setattr(client.auth, "_fetch_token", fetch)
    scopes = [f"repository:r{i}:pull" for i in range(40)]
    threads = [threading.Thread(target=client.auth.authenticate, args=(challenge, s)) for s in scopes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [client.auth.header(s) for s in scopes] == ["Bearer token-" + s for s in scopes]
    assert issubclass(RegistryError, AirgapError)


class _Bytes:
    def __init__(self, data):
        self._data = data

    def read(self, n=-1):
        out, self._data = (self._data, b"") if n is None or n < 0 else (self._data[:n], self._data[n:])
        return out

    def close(self):
        pass
