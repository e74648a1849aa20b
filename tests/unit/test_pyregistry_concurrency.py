"""Storage under concurrent writers: upload locks across processes, one-step deletes, tags GET can resolve."""
import os
import threading

import pytest

from pyregistry import driver, manifests
from pyregistry.errors import RegistryError
from pyregistry.storage import Storage
from tests.conftest import require
from tests.helpers.pyregistry import digest_of as digest
from tests.helpers.pyregistry import store_blob, write_upload


def test_upload_lock_holds_across_processes(tmp_path):
    """Two Storage objects on one root stand for two worker processes: one writer per upload all the same."""
    first, second = Storage(str(tmp_path)), Storage(str(tmp_path))
    upload = first.start_upload("a")
    writer = first.upload_writer("a", upload)
    writer.write([b"abc"])
    for call in (lambda: second.upload_writer("a", upload), lambda: second.commit_upload("a", upload, digest(b"abc"))):
        with pytest.raises(RegistryError) as exc:
            call()
        assert exc.value.code == "RANGE_INVALID"
    writer.close()
    assert second.commit_upload("a", upload, digest(b"abc")) == 3  # hashed from disk: the bytes came from "another process"
    with pytest.raises(RegistryError) as exc:
        first.commit_upload("a", upload, digest(b"abc"))
    assert exc.value.code == "BLOB_UPLOAD_UNKNOWN"
    with pytest.raises(RegistryError) as exc:
        first.upload_writer("a", upload)
    assert exc.value.code == "BLOB_UPLOAD_UNKNOWN"


def test_abort_truncates_before_releasing_the_lock(tmp_path):
    store = Storage(str(tmp_path))
    upload = write_upload(store, "a", b"kept")
    writer = store.upload_writer("a", upload)
    writer.write([b"rolled back"])
    writer.abort()
    assert open(store.layout.upload_data("a", upload), "rb").read() == b"kept"
    assert store.upload_size("a", upload) == 4
    assert store.commit_upload("a", upload, digest(b"kept")) == 4


def test_remove_tree_is_one_step_and_writes_survive_it(tmp_path):
    tree = tmp_path / "tags" / "t"
    driver.write_atomic(str(tree / "current" / "link"), b"x")
    assert driver.remove_tree(str(tree)) and not tree.exists()
    assert driver.list_dir(str(tmp_path / "tags")) == []
    assert not driver.remove_tree(str(tree))
    errors = []

    def churn(i):
        try:
            for _ in range(200):
                if i % 2:
                    driver.remove_tree(str(tree))
                else:
                    driver.write_atomic(str(tree / "index" / "sha256" / "ab" / "link"), b"y")
        except OSError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors


def test_tags_lists_only_what_get_resolves(tmp_path):
    store = Storage(str(tmp_path), delete_enabled=True)
    doc = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}'
    store.put_manifest("r", "t", doc, manifests.OCI_INDEX)
    os.makedirs(store.layout.tag("r", "half-written") + "/index")  # a crash (or Distribution) left a tag without current link
    assert store.tags("r") == ["t"]
    store.delete_manifest("r", "t")
    assert store.tags("r") == []
    assert not [name for name in os.listdir(store.layout.base) if name.startswith(".")]  # locks live outside the layout


def test_sweep_waits_for_a_manifest_put_in_progress(tmp_path):
    """The sweep takes the gc lock exclusively; a manifest put (or commit, or mount) holds it shared meanwhile."""
    from pyregistry.gc import collect

    store = Storage(str(tmp_path), delete_enabled=True)
    store_blob(store, "r", b"garbage")
    old = os.path.getmtime(store.layout.blob_data(digest(b"garbage"))) - 3600
    for path in (store.layout.blob_data(digest(b"garbage")), store.layout.layer_link("r", digest(b"garbage"))):
        os.utime(path, (old, old))
    reports = []
    with store._no_sweep():
        sweeper = threading.Thread(target=lambda: reports.append(collect(str(tmp_path), grace=60)))
        sweeper.start()
        sweeper.join(0.5)
        assert sweeper.is_alive()  # waiting for the put to finish
    sweeper.join(30)
    assert reports[0].blobs == [digest(b"garbage")]


def test_cancel_never_pulls_an_upload_from_under_its_commit(tmp_path):
    store, other = Storage(str(tmp_path)), Storage(str(tmp_path))
    upload = write_upload(store, "a", b"data")
    real_state = store.upload_state
    refused = []

    def cancel_meanwhile(*args):
        try:
            other.cancel_upload("a", upload)  # a DELETE arriving at another worker mid-commit
        except RegistryError as exc:
            refused.append(exc.code)
        return real_state(*args)

    store.upload_state = cancel_meanwhile
    assert store.commit_upload("a", upload, digest(b"data")) == 4
    assert refused == ["RANGE_INVALID"]
    with pytest.raises(RegistryError) as exc:
        other.cancel_upload("a", upload)
    assert exc.value.code == "BLOB_UPLOAD_UNKNOWN"


@pytest.mark.parametrize("head_first", [True, False])
def test_head_racing_the_sweep_is_kept_or_answers_404(tmp_path, monkeypatch, head_first):
    """A HEAD refreshes a blob without the gc lock. Whichever comes first at the moment of deletion, the blob is kept
    (HEAD first) or the HEAD learns it is gone (404), never a 200 for a blob deleted right after."""
    from pyregistry import gc

    store = Storage(str(tmp_path), delete_enabled=True)
    d = store_blob(store, "r", b"unreferenced")
    old = os.path.getmtime(store.layout.blob_data(d)) - 3600
    for path in (store.layout.blob_data(d), store.layout.layer_link("r", d)):
        os.utime(path, (old, old))
    real = driver.set_aside
    outcome = []

    def head_meanwhile(path, durable=True):  # a HEAD's blob_stat passed already; its touch lands right before or after
        if path != store.layout.blob_dir(d):
            return real(path, durable)
        if head_first:
            store.touch_blob(d)
        aside = real(path, durable)
        if not head_first:
            with pytest.raises(RegistryError) as exc:
                store.touch_blob(d)
            outcome.append(exc.value.code)
        return aside

    monkeypatch.setattr(driver, "set_aside", head_meanwhile)  # the filesystem driver garbage-collect sweeps through
    report = gc.collect(str(tmp_path), grace=60)
    if head_first:
        assert report.blobs == [] and store.blob_stat("r", d)
    else:
        assert report.blobs == [d] and outcome == ["BLOB_UNKNOWN"] and not store.blob_exists(d)


def test_purge_leaves_an_upload_being_written(tmp_path):
    store = Storage(str(tmp_path))
    busy, idle = store.start_upload("a"), store.start_upload("a")
    writer = store.upload_writer("a", busy)  # a week-old session still receiving bytes
    writer.write([b"late bytes"])
    assert store.purge_uploads(-1) == [("a", idle)]
    writer.close()
    assert store.commit_upload("a", busy, digest(b"late bytes")) == 10


def test_lock_files_made_by_root_belong_to_the_storage_owner(tmp_path):
    """garbage-collect run as root must not leave lock files the registry's own user cannot open."""
    require(os.geteuid() == 0, "needs root to chown")
    os.chown(tmp_path, 65534, 65534)
    store = Storage(str(tmp_path))
    with driver.locked(store.layout.gc_lock(), shared=True):
        pass
    for path in (store.layout.locks, store.layout.gc_lock()):
        assert (os.stat(path).st_uid, os.stat(path).st_gid) == (65534, 65534)
