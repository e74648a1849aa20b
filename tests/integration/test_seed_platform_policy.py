"""Seeding a platform subset of multi-platform images (issue 12): platform_policy full|sparse|filter into pyregistry
(with and without validation.manifests.indexes.platforms) and Distribution 2.8, read back through the registry API."""
import hashlib
import json

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.image_archive import read_archive
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient
from ansible_collections.airgap.registry.plugins.module_utils.seed import SeedError, seed

SPARSE_OK = {"validation": {"manifests": {"indexes": {"platforms": "none"}}}}
INDEX_ACCEPT = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")


def _unit(path):
    return read_archive(str(path)).manifests[0]


def _children(unit):
    """{platform: digest} of an index unit's children."""
    return {c.platform: c.digest for c in unit.children}


def _run(reg, oci_dir, names, **opts):
    return seed({"src": [str(oci_dir / n) for n in names], "registry": reg.host, "retries": 1, **opts})


def test_filter_seeds_a_new_index_and_records_the_source_digest(start_registry, oci_dir):
    reg = start_registry("distribution")
    source = _unit(oci_dir / "attest.tar")
    result = _run(reg, oci_dir, ["attest.tar"], platforms=["linux/amd64"], platform_policy="filter")
    (image,) = result["images"]
    client = RegistryClient(reg.host, scheme="http")
    body, _mt, digest = client.get_manifest("attest", "1", accept=INDEX_ACCEPT)
    assert image["source_digest"] == source.digest != image["digest"] == digest == "sha256:" + hashlib.sha256(body).hexdigest()
    kept = [m["digest"] for m in json.loads(body)["manifests"]]
    amd64 = _children(source)["linux/amd64"]
    attestation = [c.digest for c in source.children if c.platform == "unknown/unknown"]
    assert kept == [amd64, *attestation]  # the attestation describes linux/amd64: it goes with it
    assert image["platforms"] == ["linux/amd64", "unknown/unknown"]
    assert client.head_manifest("attest", _children(source)["linux/arm64/v8"]) is None
    again = _run(reg, oci_dir, ["attest.tar"], platforms=["linux/amd64"], platform_policy="filter")
    assert again["changed"] is False and again["images"][0]["bytes_sent"] == 0


def test_sparse_keeps_the_digest_where_the_registry_accepts_sparse_indexes(start_registry, oci_dir):
    reg = start_registry("pyregistry", config=SPARSE_OK)
    source = _unit(oci_dir / "multi3.tar")
    result = _run(reg, oci_dir, ["multi3.tar"], platforms=["linux/arm/v7"], platform_policy="sparse")
    client = RegistryClient(reg.host, scheme="http")
    body, _mt, digest = client.get_manifest("multi", "3", accept=INDEX_ACCEPT)
    assert body == source.body and digest == source.digest == result["images"][0]["digest"]
    children = _children(source)
    assert client.head_manifest("multi", children["linux/arm/v7"]) is not None
    assert client.head_manifest("multi", children["linux/amd64"]) is None
    assert client.head_manifest("multi", children["linux/arm64/v8"]) is None
    assert result["images"][0]["platforms"] == ["linux/arm/v7"]


@pytest.mark.parametrize("kind", ["pyregistry", "distribution"])
def test_sparse_refused_names_the_registry_setting(start_registry, oci_dir, kind):
    reg = start_registry(kind)  # pyregistry's default is Distribution's: every child must exist
    with pytest.raises(SeedError) as err:
        _run(reg, oci_dir, ["multi3.tar"], platforms=["linux/amd64"], platform_policy="sparse")
    message = str(err.value)
    assert message.startswith(f"{reg.host}/multi:3:")
    assert "validation.manifests.indexes.platforms" in message and "platform_policy filter" in message
    assert RegistryClient(reg.host, scheme="http").head_manifest("multi", "3") is None


@pytest.mark.parametrize(("opts", "match"), [
    ({"platforms": ["linux/arm/v7"], "platform_policy": "filter"},  # multi:3 has it, multi:2 not: neither is pushed
     r"multi:2 from .*multi2.tar: index sha256:[0-9a-f]{64} has no manifest for platform linux/arm/v7 \(it offers "
     r"linux/amd64, linux/arm64/v8\)"),
    ({"platforms": ["linux/amd64"]}, "platform_policy full keeps every platform"),
    ({"platform_policy": "sparse"}, "platform_policy sparse needs the platforms"),
])
def test_a_policy_that_cannot_hold_fails_before_anything_is_pushed(pyregistry_server, oci_dir, opts, match):
    with pytest.raises(SeedError, match=match):
        _run(pyregistry_server, oci_dir, ["multi2.tar", "multi3.tar"], **opts)
    assert RegistryClient(pyregistry_server.host, scheme="http").catalog() == []


def test_full_is_the_default_and_single_platform_archives_are_untouched(pyregistry_server, oci_dir):
    source = _unit(oci_dir / "multi2.tar")
    result = _run(pyregistry_server, oci_dir, ["multi2.tar", "helm.tar"])
    by_target = {i["target"].split("/", 1)[1]: i for i in result["images"]}
    assert by_target["multi:2"]["digest"] == source.digest
    helm = _run(pyregistry_server, oci_dir, ["helm.tar"], platforms=["linux/amd64"], platform_policy="filter")
    assert helm["images"][0]["digest"] == _unit(oci_dir / "helm.tar").digest
