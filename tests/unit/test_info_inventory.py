"""registry_info's inventory: expect parsing and what counts as missing, against a fake client."""
import pytest

from ansible_collections.airgap.registry.plugins.modules.registry_info import ExpectError, inventory, parse_entry

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("entry", "parsed"), [
    ("abox:1.0.1", ("abox", "1.0.1", None)),
    ("abox", ("abox", "latest", None)),
    ("tools/busyish:2.0", ("tools/busyish", "2.0", None)),
    ("reg:5000/tools/busyish:2.0", ("tools/busyish", "2.0", None)),
    ("abox@" + DIGEST, ("abox", None, DIGEST)),
    ("reg:5000/tools/abox:1.0@" + DIGEST, ("tools/abox", "1.0", DIGEST)),
])
def test_parse_entry(entry, parsed):
    """parse_entry (the strict parse the module uses, issue 16.6): a repo:tag@digest entry keeps its tag."""
    assert parse_entry(entry, "reg:5000") == parsed


def test_parse_entry_refuses_another_registry():
    """Another registry's prefix is an error naming both registries (it was once kept in the repository name)."""
    with pytest.raises(ExpectError, match="names registry other:5000, but this task reads reg:5000"):
        parse_entry("other:5000/tools/busyish", "reg:5000")


class FakeClient:
    host = "reg:5000"

    def __init__(self, repos):
        self.repos = repos
        self.catalog_calls = 0

    def catalog(self):
        self.catalog_calls += 1
        return sorted(self.repos)

    def tags(self, repo):
        return list(self.repos.get(repo, {}))

    def head_manifest(self, repo, ref):
        tags = self.repos.get(repo, {})
        digest = tags.get(ref) or (ref if ref in tags.values() else None)
        return {"digest": digest, "media_type": "x", "size": 1} if digest else None


def test_inventory_lists_everything_and_reports_missing_exactly():
    client = FakeClient({"abox": {"1.0.1": DIGEST}, "tools/busyish": {"2.0": "sha256:" + "cd" * 32, "2.1": "sha256:" + "ef" * 32}})
    out = inventory(client, expect=["abox:1.0.1", "reg:5000/tools/busyish:2.1", "abox:9", "nginx:1.25", "abox@" + DIGEST,
                                    "abox@sha256:" + "00" * 32])
    assert out["catalog"] == ["abox", "tools/busyish"]
    assert out["tags"] == {"abox": ["1.0.1"], "tools/busyish": ["2.0", "2.1"]}
    assert out["digests"] == {"abox:1.0.1": DIGEST, "tools/busyish:2.0": "sha256:" + "cd" * 32, "tools/busyish:2.1": "sha256:" + "ef" * 32}
    assert out["missing"] == ["abox:9", "nginx:1.25", "abox@sha256:" + "00" * 32]


def test_inventory_limited_to_repositories_skips_the_catalog():
    client = FakeClient({"abox": {"1": DIGEST}, "other": {"2": DIGEST}})
    out = inventory(client, repositories=["abox", "ghost"], expect=["other:2"])
    assert client.catalog_calls == 0
    assert out["catalog"] == ["abox"]
    assert out["tags"] == {"abox": ["1"], "ghost": [], "other": ["2"]}
    assert out["missing"] == []
