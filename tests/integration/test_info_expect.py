"""Issue 16.6: registry_info `expect` entries are validated locally (every bad one reported, nothing sent), a tag that
exists with another digest is "digest differs", not "missing", and a tagless entry is shown as meaning `latest`."""
import pytest

from ansible_collections.airgap.registry.plugins.module_utils.seed import seed
from tests.helpers.ansible import failed, run_module

pytestmark = pytest.mark.distribution
ZERO = "sha256:" + "0" * 64


@pytest.fixture
def seeded(distribution_registry, sample_tarballs):
    result = seed({"src": [str(sample_tarballs)], "registry": distribution_registry.host})
    return distribution_registry, {i["target"].split("/", 1)[1]: i["digest"] for i in result["images"]}


def test_invalid_entries_are_all_reported_before_any_request(seeded):
    reg, _digests = seeded
    port = reg.host.rsplit(":", 1)[1]
    bad = [f"localhost:{port}/abox:1.0.1", f"https://{reg.host}/abox:1.0.1", "Abox:1.0.1", "abox@sha256:1234", "abox:.bad"]
    result, _run = run_module("airgap.registry.registry_info", {"registry": reg.host, "expect": ["abox:1.0.1", *bad, "ghost:1"]})
    assert failed(result)
    assert [entry.split(": ", 1)[0] for entry in result["invalid"]] == bad
    msg = result["msg"]
    assert f"names registry localhost:{port}, but this task reads {reg.host}" in msg
    assert "a URL" in msg and "invalid repository name 'Abox'" in msg and "invalid digest" in msg and "invalid tag" in msg
    assert "HTTP" not in msg and "ghost:1" not in msg


def test_own_registry_prefix_and_https_registry_option_are_accepted(seeded):
    reg, _digests = seeded
    result, _run = run_module("airgap.registry.registry_info", {"registry": f"http://{reg.host}", "expect": [f"{reg.host}/abox:1.0.1", "nginx:1.25"]})
    assert not failed(result), result


def test_digest_differs_is_not_missing(seeded):
    reg, digests = seeded
    abox = digests["abox:1.0.1"]
    expect = [f"abox:1.0.1@{abox}", f"nginx:1.25@{ZERO}", f"abox:9@{abox}", "ghost", f"tools/busyish@{digests['tools/busyish:2.0']}"]
    result, _run = run_module("airgap.registry.registry_info", {"registry": reg.host, "expect": expect})
    assert failed(result)
    assert result["missing"] == [f"abox:9@{abox}", "ghost"]
    assert result["differs"] == [f"nginx:1.25@{ZERO}"]
    assert result["msg"] == (f"missing from {reg.host}: abox:9@{abox}, ghost (no tag: ghost:latest); "
                             f"digest differs on {reg.host}: nginx:1.25 is {digests['nginx:1.25']}, expected {ZERO}")
