"""platform_policy.select_platforms: full, sparse and filter over indexes, manifest lists and attestations."""
import hashlib
import json
import os
import sys

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError
from ansible_collections.airgap.registry.plugins.module_utils.platform_policy import (
    PlatformPolicyError, narrow_plan, normalize, parse_platform, select_platforms, sparse_hint)
from ansible_collections.airgap.registry.plugins.module_utils.seed_options import DEFAULTS
from ansible_collections.airgap.registry.plugins.module_utils.seed_plan import load_plan
from tests.helpers.registries import REPO_ROOT
from ansible_collections.airgap.registry.plugins.module_utils.media_types import (
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST)

sys.path.insert(0, os.path.join(REPO_ROOT, "scripts"))
import oci_samples  # noqa: E402 - scripts/ is not a package


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry(seed: str, platform: dict | None, media_type: str = OCI_MANIFEST, annotations: dict | None = None) -> dict:
    out = {"mediaType": media_type, "digest": sha(seed.encode()), "size": 500 + len(seed)}
    if platform is not None:
        out["platform"] = platform
    if annotations:
        out["annotations"] = annotations
    return out


AMD64 = entry("amd64", {"os": "linux", "architecture": "amd64"})
ARM64 = entry("arm64", {"os": "linux", "architecture": "arm64", "variant": "v8"})
ARMV7 = entry("armv7", {"os": "linux", "architecture": "arm", "variant": "v7"})
ARMV6 = entry("armv6", {"os": "linux", "architecture": "arm", "variant": "v6"})


def attestation(subject: dict) -> dict:
    return entry("att-" + subject["digest"], {"os": "unknown", "architecture": "unknown"},
                 annotations={"vnd.docker.reference.type": "attestation-manifest",
                              "vnd.docker.reference.digest": subject["digest"]})


def index_body(entries: list, media_type: str = OCI_INDEX, **extra) -> bytes:
    # Indented on purpose: the original bytes are not what json.dumps(separators) would give back.
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries, **extra}, indent=3).encode()


def test_full_keeps_the_index_byte_for_byte():
    body = index_body([AMD64, ARM64, attestation(AMD64)])
    sel = select_platforms(body, [], "full")
    assert sel.body is body and sel.digest == sel.source_digest == sha(body)
    assert sel.media_type == OCI_INDEX and sel.policy == "full"
    assert [c["digest"] for c in sel.children] == [AMD64["digest"], ARM64["digest"], attestation(AMD64)["digest"]]


def test_full_with_platforms_is_an_error_naming_the_choices():
    body = index_body([AMD64, ARM64])
    with pytest.raises(PlatformPolicyError, match=r"full keeps every platform.*linux/arm64.*sparse.*filter"):
        select_platforms(body, ["linux/arm64"], "full")


def test_sparse_keeps_the_bytes_and_carries_the_chosen_children_with_their_attestations():
    att_amd, att_arm = attestation(AMD64), attestation(ARM64)
    body = index_body([AMD64, att_amd, ARM64, att_arm, ARMV7])
    sel = select_platforms(body, ["linux/arm64", "linux/arm/v7"], "sparse")
    assert sel.body == body and sel.digest == sha(body) == sel.source_digest
    assert [c["digest"] for c in sel.children] == [ARM64["digest"], att_arm["digest"], ARMV7["digest"]]


def test_filter_writes_a_new_index_with_a_new_digest_and_the_other_fields_kept():
    att_amd = attestation(AMD64)
    body = index_body([AMD64, att_amd, ARM64], annotations={"org.opencontainers.image.created": "2026-01-01"})
    sel = select_platforms(body, ["linux/amd64"], "filter")
    doc = json.loads(sel.body)
    assert sel.source_digest == sha(body) and sel.digest == sha(sel.body) and sel.digest != sel.source_digest
    assert doc["manifests"] == [AMD64, att_amd] == sel.children
    assert doc["annotations"] == {"org.opencontainers.image.created": "2026-01-01"}
    assert doc["mediaType"] == OCI_INDEX and doc["schemaVersion"] == 2


def test_filter_keeping_every_child_keeps_the_original_bytes():
    body = index_body([AMD64, ARM64])
    sel = select_platforms(body, ["linux/amd64", "linux/arm64"], "filter")
    assert sel.body == body and sel.digest == sel.source_digest


def test_docker_manifest_list_keeps_its_media_type():
    a = entry("d-amd64", {"os": "linux", "architecture": "amd64"}, DOCKER_MANIFEST)
    b = entry("d-arm64", {"os": "linux", "architecture": "arm64", "variant": "v8"}, DOCKER_MANIFEST)
    sel = select_platforms(index_body([a, b], DOCKER_MANIFEST_LIST), ["linux/arm64"], "filter")
    assert sel.media_type == DOCKER_MANIFEST_LIST == json.loads(sel.body)["mediaType"]
    assert sel.children == [b]


@pytest.mark.parametrize(("asked", "offered", "match"), [
    ("linux/arm64", {"os": "linux", "architecture": "arm64", "variant": "v8"}, True),
    ("linux/arm64/v8", {"os": "linux", "architecture": "arm64"}, True),
    ("linux/aarch64", {"os": "linux", "architecture": "arm64"}, True),
    ("linux/arm", {"os": "linux", "architecture": "arm", "variant": "v7"}, True),
    ("linux/arm", {"os": "linux", "architecture": "arm", "variant": "v6"}, False),
    ("linux/arm/7", {"os": "linux", "architecture": "arm", "variant": "v7"}, True),
    ("linux/amd64", {"os": "linux", "architecture": "amd64", "variant": "v1"}, True),
    ("linux/amd64", {"os": "linux", "architecture": "amd64", "variant": "v3"}, False),
    ("linux/amd64", {"os": "windows", "architecture": "amd64"}, False),
])
def test_matching_follows_containerds_normalization(asked, offered, match):
    assert (normalize(parse_platform(asked)) == normalize(parse_platform("/".join(offered.values())))) is match
    child = entry("x", offered)
    body = index_body([child, entry("s390x", {"os": "linux", "architecture": "s390x"})])
    if match:
        assert select_platforms(body, [asked], "sparse").children[0] == child
    else:
        with pytest.raises(PlatformPolicyError, match="has no manifest for platform"):
            select_platforms(body, [asked], "sparse")


def test_a_platform_the_index_lacks_fails_naming_index_platform_and_offer():
    body = index_body([AMD64, ARM64, attestation(AMD64)])
    with pytest.raises(PlatformPolicyError) as err:
        select_platforms(body, ["linux/amd64", "linux/s390x"], "filter")
    msg = str(err.value)
    assert sha(body) in msg and "linux/s390x" in msg and "linux/amd64, linux/arm64/v8" in msg
    assert "unknown" not in msg
    assert isinstance(err.value, AirgapError)


@pytest.mark.parametrize(("platforms", "policy", "match"), [
    ([], "sparse", "needs the platforms"),
    ([], "filter", "needs the platforms"),
    (["linux/amd64"], "thin", "not one of full, sparse, filter"),
    (["linux"], "filter", "not os/architecture"),
    (["linux//v7"], "filter", "not os/architecture"),
    (["a/b/c/d"], "sparse", "not os/architecture"),
])
def test_requests_that_cannot_hold(platforms, policy, match):
    with pytest.raises(PlatformPolicyError, match=match):
        select_platforms(index_body([AMD64]), platforms, policy)


def test_a_body_that_is_not_an_index_is_refused():
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": AMD64, "layers": []}).encode()
    with pytest.raises(PlatformPolicyError, match=f"{sha(manifest)} is not an image index"):
        select_platforms(manifest, [], "full")
    with pytest.raises(PlatformPolicyError, match="is not JSON"):
        select_platforms(b"{nope", [], "full")
    with pytest.raises(PlatformPolicyError, match="manifest 0 has no valid digest"):
        select_platforms(index_body([{"mediaType": OCI_MANIFEST, "digest": "x", "size": 1}]), [], "full")


# --- narrow_plan: the policy over a seed plan read from real OCI archives (scripts/oci_samples.py) ------------------
@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    out = tmp_path_factory.mktemp("oci")
    oci_samples.write_all(str(out))
    return out


def _plan(samples, *names):
    return load_plan({**DEFAULTS, "src": [str(samples / n) for n in names], "registry": "reg.test:5000"})


def test_narrow_plan_filter_rewrites_the_unit_and_drops_the_index_referrers(samples):
    plan = _plan(samples, "signed.tar", "helm.tar")
    signed = next(t for t in plan.verbatim if t.target.endswith("/signed:1"))
    source = signed.unit
    assert source.referrers  # the signature and the SBOM name the index
    assert narrow_plan(plan, ["linux/arm64"], "filter") == []
    unit = signed.unit
    assert unit is not source and unit.digest != source.digest == signed.result.source_digest
    assert unit.digest == sha(unit.body) and [c.platform for c in unit.children] == ["linux/arm64/v8"]
    assert unit.referrers == [] and signed.result.platforms == ["linux/arm64/v8"]
    assert any("referrer(s) of index" in w and source.digest in w for w in plan.warnings)
    assert [c.digest for c in source.children] != [c.digest for c in unit.children]  # the archive's unit is untouched
    helm = next(t for t in plan.verbatim if "mychart" in t.target)
    assert helm.unit.digest == helm.result.source_digest  # an artifact is seeded as it is


def test_narrow_plan_sparse_keeps_the_bytes_and_names_the_sparse_targets(samples):
    plan = _plan(samples, "multi3.tar", "multi2.tar")
    sources = {t.target: t.unit for t in plan.verbatim}
    sparse = narrow_plan(plan, ["linux/amd64", "linux/arm64"], "sparse")
    assert sparse == ["reg.test:5000/multi:3"]  # multi:2 keeps every child: not sparse
    multi3 = next(t for t in plan.verbatim if t.target == "reg.test:5000/multi:3")
    assert multi3.unit.body == sources[multi3.target].body and multi3.unit.digest == sources[multi3.target].digest
    assert [c.platform for c in multi3.unit.children] == ["linux/amd64", "linux/arm64/v8"]
    refused = sparse_hint("reg.test:5000/multi:3: a.tar: MANIFEST_BLOB_UNKNOWN", sparse)
    assert "validation.manifests.indexes.platforms" in refused and "platform_policy filter" in refused
    assert sparse_hint("reg.test:5000/other:1: boom", sparse) == "reg.test:5000/other:1: boom"
