"""The seed's retag rule and the airgap.registry.retag filter."""
import pytest

from ansible_collections.airgap.registry.plugins.filter.retag import FilterModule
from ansible_collections.airgap.registry.plugins.module_utils.reference import RetagError, parse_ref, retag

DIGEST = "sha256:" + "ab" * 32
REG = "reg.local:5000"


@pytest.mark.parametrize(("src", "expected"), [
    ("nginx:1.25", "reg.local:5000/nginx:1.25"),
    ("nginx", "reg.local:5000/nginx:latest"),
    ("library/nginx:1.25", "reg.local:5000/nginx:1.25"),
    ("docker.io/library/nginx:1.25", "reg.local:5000/nginx:1.25"),
    ("index.docker.io/library/nginx", "reg.local:5000/nginx:latest"),
    ("docker.io/bitnami/redis:7", "reg.local:5000/bitnami/redis:7"),
    ("tools/busyish:2.0", "reg.local:5000/tools/busyish:2.0"),
    ("ghcr.io/org/app:2", "reg.local:5000/org/app:2"),
    ("quay.io/a/b/c:v1", "reg.local:5000/a/b/c:v1"),
    ("localhost/app:1", "reg.local:5000/app:1"),
    ("localhost:5000/app:1", "reg.local:5000/app:1"),
    ("127.0.0.1:5999/abox:1.0.1", "reg.local:5000/abox:1.0.1"),
    ("myhost:5000/team/app", "reg.local:5000/team/app:latest"),
    ("Registry/app:1", "reg.local:5000/app:1"),
    ("registry.k8s.io/pause:3.9", "reg.local:5000/pause:3.9"),
    ("[::1]:5000/app:1", "reg.local:5000/app:1"),
    (f"nginx@{DIGEST}", f"reg.local:5000/nginx@{DIGEST}"),
    (f"nginx:1.25@{DIGEST}", f"reg.local:5000/nginx:1.25@{DIGEST}"),
    (f"ghcr.io/org/app@{DIGEST}", f"reg.local:5000/org/app@{DIGEST}"),
    ("a__b/c-d/e.f_g:Tag_1.0-rc", "reg.local:5000/a__b/c-d/e.f_g:Tag_1.0-rc"),
])
def test_retag_rule(src, expected):
    assert retag(src, REG) == expected


@pytest.mark.parametrize(("src", "expected"), [
    ("nginx:1.25", "reg.local:5000/library/nginx:1.25"),
    ("docker.io/library/nginx", "reg.local:5000/library/nginx:latest"),
    ("docker.io/bitnami/redis:7", "reg.local:5000/bitnami/redis:7"),
    ("ghcr.io/org/app:2", "reg.local:5000/org/app:2"),
    ("ghcr.io/app:2", "reg.local:5000/app:2"),
])
def test_retag_hub_library(src, expected):
    assert retag(src, REG, hub_library=True) == expected


def test_rename_by_repo_tag_and_full_name():
    rename = {"nginx": "web/nginx", "redis:7": "cache/redis:stable", "ghcr.io/org/app": "apps/app"}
    assert retag("nginx:1.25", REG, rename=rename) == "reg.local:5000/web/nginx:1.25"
    assert retag("docker.io/library/nginx:1.25", REG, rename=rename) == "reg.local:5000/web/nginx:1.25"
    assert retag("redis:7", REG, rename=rename) == "reg.local:5000/cache/redis:stable"
    assert retag("redis:6", REG, rename=rename) == "reg.local:5000/redis:6"
    assert retag("ghcr.io/org/app:3", REG, rename=rename) == "reg.local:5000/apps/app:3"
    assert retag("quay.io/org/app:3", REG, rename=rename) == "reg.local:5000/org/app:3"
    assert retag(f"nginx@{DIGEST}", REG, rename=rename) == f"reg.local:5000/web/nginx@{DIGEST}"


def test_target_registry_forms():
    assert retag("nginx", "https://reg.local:5000/") == "reg.local:5000/nginx:latest"
    assert retag("nginx", "localhost") == "localhost/nginx:latest"
    assert retag("nginx", "10.0.0.1:443") == "10.0.0.1:443/nginx:latest"


@pytest.mark.parametrize("bad", ["", "   ", "app/UPPER", "app:bad tag", "app:", "app@sha256:short", "a//b", "-a", None, 7])
def test_invalid_refs(bad):
    with pytest.raises(RetagError) as err:
        retag(bad, REG)
    assert "invalid image reference" in str(err.value)


@pytest.mark.parametrize("bad", ["", "reg/x", "bad host:1", None])
def test_invalid_registry(bad):
    with pytest.raises(RetagError) as err:
        retag("nginx", bad)
    assert "invalid target registry" in str(err.value)


def test_parse_and_split():
    ref = parse_ref("localhost:5000/a/b:1")
    assert (ref.registry, ref.path, ref.tag, ref.digest) == ("localhost:5000", "a/b", "1", None)
    for name, want in ((f"reg:5000/a/b:1@{DIGEST}", ("reg:5000", "a/b", DIGEST)), ("reg:5000/a/b", ("reg:5000", "a/b", "latest"))):
        ref = parse_ref(name)
        assert (ref.registry, ref.path, ref.reference) == want


def test_filter_single_list_and_error():
    retag_filter = FilterModule().filters()["retag"]
    assert retag_filter("nginx:1.25", REG) == "reg.local:5000/nginx:1.25"
    assert retag_filter(["nginx", "ghcr.io/o/a:1"], REG, hub_library=True) == ["reg.local:5000/library/nginx:latest", "reg.local:5000/o/a:1"]
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="invalid image reference"):
        retag_filter("Bad/Name", REG)
