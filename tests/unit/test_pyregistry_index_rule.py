"""pyregistry's validation.manifests.indexes (Distribution 3): which children of a pushed index must exist."""
import hashlib
import json

import pytest

from pyregistry import manifests
from pyregistry.config import ConfigError, from_mapping
from pyregistry.errors import ManifestBlobUnknown
from pyregistry.storage import Storage


def _indexes(value):
    return {"validation": {"manifests": {"indexes": value}}}


def _index(*platforms):
    children = [{"mediaType": manifests.OCI_MANIFEST, "digest": "sha256:" + hashlib.sha256(str(p).encode()).hexdigest(),
                 "size": 10, "platform": p} for p in platforms]
    return json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": children}).encode(), children


AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}


def test_default_is_all_as_distribution():
    assert from_mapping({}, environ={}).validation.indexes == manifests.IndexRule("all", ())


def test_config_keys_and_environment():
    cfg = from_mapping(_indexes({"platforms": "List", "platformlist": [AMD64]}), environ={})
    assert cfg.validation.indexes == manifests.IndexRule("list", (("linux", "amd64"),))
    cfg = from_mapping({}, environ={"REGISTRY_VALIDATION_MANIFESTS_INDEXES_PLATFORMS": "none"})
    assert cfg.validation.indexes.platforms == "none"


@pytest.mark.parametrize(("raw", "match"), [
    (_indexes({"platforms": "some"}), "validation.manifests.indexes.platforms: must be all, none or list"),
    (_indexes({"platforms": "list"}), "platformlist names no platform"),
    (_indexes({"platforms": "list", "platformlist": [{"os": "linux"}]}), r"platformlist\[0\] needs os and architecture"),
    (_indexes({"platforms": "list", "platformlist": "linux/amd64"}), "platformlist must be a list"),
    ({"validation": {"manifests": {"urls": {"allow": ["^https://"]}}}}, "validation.manifests.urls: manifest URL rules"),
])
def test_bad_values_are_refused_naming_the_key(raw, match):
    with pytest.raises(ConfigError, match=match):
        from_mapping(raw, environ={})


@pytest.mark.parametrize(("rule", "required"), [
    (manifests.IndexRule(), [0, 1]),
    (manifests.IndexRule("none"), []),
    (manifests.IndexRule("list", (("linux", "arm64"),)), [1]),
])
def test_storage_checks_the_required_children_only(tmp_path, rule, required):
    body, children = _index(AMD64, ARM64)
    store = Storage(str(tmp_path), index_rule=rule)
    if required:
        with pytest.raises(ManifestBlobUnknown) as err:
            store.put_manifest("img", "1", body, manifests.OCI_INDEX)
        assert err.value.detail == {"digest": children[required[0]]["digest"]}
    else:
        digest, _info = store.put_manifest("img", "1", body, manifests.OCI_INDEX)
        assert digest == "sha256:" + hashlib.sha256(body).hexdigest()
    assert rule.required(manifests.parse(body)) == [children[i]["digest"] for i in required]
