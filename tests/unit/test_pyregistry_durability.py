"""Durable before visible: every rename that publishes a blob, link or tag follows an fsync of the data, and the
directory holding the new name is synced before the call returns (as Distribution's filesystem driver does)."""
import json
import os

from pyregistry import driver, manifests
from pyregistry.storage import Storage
from tests.helpers.pyregistry import digest_of as digest
from tests.helpers.pyregistry import store_blob


def record(monkeypatch):
    """Log of ("fsync", path) and ("rename", src, dst) in the order they happen."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(driver.os, "fsync", lambda fd: events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))) or real_fsync(fd))
    monkeypatch.setattr(driver.os, "replace", lambda src, dst: events.append(("rename", src, dst)) or real_replace(src, dst))
    return events


def check_durable(events):
    """Every rename publishing something (an upload session's own bookkeeping, its start time, aside) is synced."""
    renames = [i for i, event in enumerate(events) if event[0] == "rename" and "/_uploads/" not in event[2]]
    assert renames
    for n, i in enumerate(renames):
        _, src, dst = events[i]
        before = events[renames[n - 1] + 1 if n else 0:i]
        assert ("fsync", src) in before, f"{dst} published before its data was synced"
        after = events[i + 1:renames[n + 1] if n + 1 < len(renames) else len(events)]
        assert ("fsync", os.path.dirname(dst)) in after, f"{dst}: directory entry not synced"


def test_blob_link_manifest_and_tag_are_synced_before_published(tmp_path, monkeypatch):
    store = Storage(str(tmp_path))
    events = record(monkeypatch)
    layer = b"layer bytes"
    store_blob(store, "r", layer)
    config = b"{}"
    store_blob(store, "r", config)
    doc = json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_MANIFEST,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": 2},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer), "size": len(layer)}]}).encode()
    store.put_manifest("r", "v1", doc, manifests.OCI_MANIFEST)
    published = {event[2] for event in events if event[0] == "rename"}
    for path in (store.layout.blob_data(digest(layer)), store.layout.layer_link("r", digest(layer)), store.layout.blob_data(digest(doc)),
                 store.layout.revision_link("r", digest(doc)), store.layout.tag_current_link("r", "v1")):
        assert path in published
    check_durable(events)
    new_dir = os.path.dirname(store.layout.layer_link("r", digest(layer)))
    assert ("fsync", os.path.dirname(new_dir)) in events  # a directory created for a link is synced in its parent
