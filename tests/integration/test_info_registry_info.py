"""registry_info against real registries (Distribution and the bundled pyregistry) seeded by `docker push`."""
import pytest

from tests.helpers.ansible import failed, run_module
from tests.helpers.engine import docker_push

pytestmark = [pytest.mark.docker, pytest.mark.distribution]

SAMPLES = ["abox:1.0.1", "tools/busyish:2.0", "nginx:1.25"]


@pytest.fixture(params=["distribution", "pyregistry"])
def seeded(request, start_registry, sample_images):
    """A registry (Distribution, then the bundled one) holding the three samples, pushed by docker; (registry, {repo:tag: digest})."""
    reg = start_registry(request.param)
    digests = {image: docker_push(image, f"{reg.host}/{image}") for image in SAMPLES}
    return reg, digests


def test_lists_catalog_tags_and_digests_docker_reported(seeded):
    reg, pushed = seeded
    pushed["abox:latest"] = docker_push("abox:1.0.1", f"{reg.host}/abox:latest")
    result, run = run_module("airgap.registry.registry_info", {"registry": reg.host, "expect": [*SAMPLES, "abox", f"{reg.host}/nginx:1.25"]})
    assert not failed(result), result
    assert result["changed"] is False
    assert result["catalog"] == ["abox", "nginx", "tools/busyish"]
    assert result["tags"] == {"abox": ["1.0.1", "latest"], "nginx": ["1.25"], "tools/busyish": ["2.0"]}
    assert result["digests"] == pushed
    assert result["missing"] == []


def test_expect_fails_listing_exactly_what_is_missing(seeded):
    reg, pushed = seeded
    abox_digest = pushed["abox:1.0.1"]
    expect = ["abox:1.0.1", "abox:2.0", "nginx:1.25", "ghost/app:1", f"abox@{abox_digest}", "nginx@sha256:" + "0" * 64]
    result, run = run_module("airgap.registry.registry_info", {"registry": reg.host, "expect": expect})
    assert failed(result)
    assert result["missing"] == ["abox:2.0", "ghost/app:1", "nginx@sha256:" + "0" * 64]
    assert result["msg"] == f"missing from {reg.host}: abox:2.0, ghost/app:1, nginx@sha256:{'0' * 64}"
    assert result["catalog"] == ["abox", "nginx", "tools/busyish"], "the listing is returned with the failure"


def test_repositories_limit_and_check_mode(seeded):
    reg, pushed = seeded
    result, run = run_module("airgap.registry.registry_info", {"registry": reg.host, "repositories": ["tools/busyish", "nope"]}, check=True)
    assert not failed(result), result
    assert result["changed"] is False
    assert result["catalog"] == ["tools/busyish"]
    assert result["tags"] == {"tools/busyish": ["2.0"], "nope": []}
    assert result["digests"] == {"tools/busyish:2.0": pushed["tools/busyish:2.0"]}


def test_unreachable_registry_is_a_clear_failure(port):
    result, run = run_module("airgap.registry.registry_info", {"registry": f"127.0.0.1:{port}", "scheme": "http", "timeout": 5})
    assert failed(result)
    assert result["msg"].startswith(f"registry 127.0.0.1:{port}: ")
    assert "ConnectionRefusedError" in result["msg"] or "refused" in result["msg"].lower()
