"""mirror_plan: the per-upstream endpoint/prefix each runtime gets agrees with the seed's retag rule."""
import re

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.airgap.registry.plugins.filter.mirror_plan import FilterModule
from ansible_collections.airgap.registry.plugins.module_utils.mirror_plan import mirror_plan, site_path
from ansible_collections.airgap.registry.plugins.module_utils.reference import RetagError, parse_ref, retag

REG = "reg.local:5443"
REFS = ["docker.io/library/nginx:1.25", "docker.io/acme/app:2", "ghcr.io/acme/api:1.4", "quay.io/org/sub/tool:3",
        "registry.k8s.io/pause:3.9", "registry.k8s.io/sig/kube-proxy:v1.30.0"]


def containers_resolve(entries, ref):
    """What containers-registries.conf does: the longest matching prefix's location replaces it."""
    name = ref.rsplit(":", 1)[0]
    rules = [rule for entry in entries for rule in entry["containers"]]
    best = max((r for r in rules if name == r["prefix"] or name.startswith(r["prefix"] + "/")), key=lambda r: len(r["prefix"]))
    return best["location"] + name[len(best["prefix"]):]


def k3s_resolve(entry, path):
    """What k3s does with mirrors.<upstream>.rewrite: the first matching regular expression rewrites the repository."""
    for pattern, repl in entry["k3s"]["rewrite"].items():
        if re.search(pattern, path):
            return re.sub(pattern, repl.replace("$1", r"\1"), path)
    return path


@pytest.mark.parametrize("hub_library", [False, True])
@pytest.mark.parametrize("ref", REFS)
def test_every_runtime_resolves_to_the_retag_path(ref, hub_library):
    plan = mirror_plan(["docker.io", "ghcr.io", "quay.io", "registry.k8s.io"], REG, hub_library=hub_library)
    parsed = parse_ref(ref)
    entry = next(e for e in plan if e["name"] == parsed.registry)
    expected = retag(ref, REG, hub_library=hub_library).rsplit(":", 1)[0]
    assert f"{REG}/{site_path(parsed.path, entry['hub'], entry['prefix'], hub_library)}" == expected
    assert containers_resolve(plan, ref) == expected
    assert f"{REG}/{k3s_resolve(entry, parsed.path)}" == expected
    assert entry["k3s"]["endpoint"] == [f"https://{REG}"]
    # containerd asks the host for the upstream path unchanged: right unless Docker Hub drops library/.
    containerd_path = f"{REG}/{parsed.path}"
    official = parsed.registry == "docker.io" and parsed.path.startswith("library/")
    assert (containerd_path == expected) == (not (official and entry["gaps"]))
    assert bool(entry["gaps"]) == (parsed.registry == "docker.io" and not hub_library)


def test_prefix_uses_override_path_and_every_runtime_adds_it():
    plan = mirror_plan([{"name": "ghcr.io", "prefix": "ghcr/"}, "docker.io"], REG, hub_library=True, tls=False)
    ghcr, hub = plan
    assert ghcr["containerd"] == {"server": f"http://{REG}", "host": f"http://{REG}/v2/ghcr", "override_path": True}
    assert ghcr["containers"] == [{"prefix": "ghcr.io", "location": f"{REG}/ghcr"}]
    assert k3s_resolve(ghcr, "acme/api") == "ghcr/acme/api"
    assert containers_resolve(plan, "ghcr.io/acme/api:1") == f"{REG}/ghcr/acme/api"
    assert not ghcr["docker_mirror"] and hub["docker_mirror"]
    assert hub["containerd"]["override_path"] is False and hub["gaps"] == []


def test_hub_aliases_are_docker_io_and_lists_are_checked():
    assert mirror_plan(["index.docker.io"], REG)[0]["name"] == "docker.io"
    for bad, word in [(["docker.io", "registry-1.docker.io"], "twice"), ([REG], "site registry itself"),
                      (["not a host"], "not a registry"), ([{"name": "ghcr.io", "prefix": "UP"}], "prefix"), ([3], "expected")]:
        with pytest.raises(RetagError, match=word):
            mirror_plan(bad, REG)
    with pytest.raises(AnsibleFilterError, match="registry_client_upstreams"):
        FilterModule().filters()["mirror_plan"](["x y"], REG)


@pytest.mark.parametrize("ref,hub_library,site", [
    ("docker.io/library/abox:1.0.1", False, f"{REG}/abox:1.0.1"),
    ("abox:1.0.1", True, f"{REG}/library/abox:1.0.1"),
    ("index.docker.io/acme/app", False, f"{REG}/acme/app:latest"),
    ("ghcr.io/acme/api@sha256:" + "a" * 64, False, f"{REG}/ghcr/acme/api@sha256:" + "a" * 64),
])
def test_site_image_follows_the_plan(ref, hub_library, site):
    found = FilterModule().filters()["mirror_site_image"](ref, ["docker.io", {"name": "ghcr.io", "prefix": "ghcr"}], REG, hub_library)
    assert found["site_image"] == site
    assert found["entry"]["name"] == found["upstream"]
