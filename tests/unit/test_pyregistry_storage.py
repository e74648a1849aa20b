"""pyregistry storage, layout, manifests and htpasswd, on a temp directory (no server)."""
import hashlib
import json
import os
import subprocess
import time

import bcrypt
import pytest

from pyregistry import manifests
from pyregistry.auth import Htpasswd, parse_basic
from pyregistry.errors import CODES, RegistryError
from pyregistry.gc import collect
from pyregistry.paths import Layout
from pyregistry.storage import Storage, check_name, check_reference, parse_rfc3339
from tests.helpers.pyregistry import digest_of as digest
from tests.helpers.pyregistry import store_blob, write_upload


def test_layout_is_distributions(tmp_path):
    layout = Layout(str(tmp_path))
    d = "sha256:" + "ab" * 32
    base = f"{tmp_path}/docker/registry/v2"
    assert layout.blob_data(d) == f"{base}/blobs/sha256/ab/{'ab' * 32}/data"
    assert layout.layer_link("a/b", d) == f"{base}/repositories/a/b/_layers/sha256/{'ab' * 32}/link"
    assert layout.revision_link("a", d) == f"{base}/repositories/a/_manifests/revisions/sha256/{'ab' * 32}/link"
    assert layout.tag_current_link("a", "v1") == f"{base}/repositories/a/_manifests/tags/v1/current/link"
    assert layout.tag_index_link("a", "v1", d) == f"{base}/repositories/a/_manifests/tags/v1/index/sha256/{'ab' * 32}/link"
    assert layout.upload_data("a", "u") == f"{base}/repositories/a/_uploads/u/data"
    assert layout.upload_startedat("a", "u") == f"{base}/repositories/a/_uploads/u/startedat"


@pytest.mark.parametrize("name", ["..", "a/../b", "/abs", "A", "a//b", "a/", "_x", "a" * 256, "a/.b", "a/b.", "%2e%2e", "a\n", "ä"])
def test_bad_names(name):
    with pytest.raises(RegistryError) as exc:
        check_name(name)
    assert exc.value.code == "NAME_INVALID" and exc.value.status == 400


@pytest.mark.parametrize("name", ["a", "library/nginx", "a-b_c.d/e__f", "x" * 255, "a---b"])
def test_good_names(name):
    check_name(name)


def test_name_check_does_not_backtrack():
    """Python's regex engine backtracks: the name grammar must not make a short bad name take exponential time."""
    started = time.monotonic()
    with pytest.raises(RegistryError):
        check_name("a" * 26 + "!")
    assert time.monotonic() - started < 0.05


def test_references():
    check_reference("v1.0-rc_1")
    check_reference("sha256:" + "0" * 64)
    for bad in ("-x", ".x", "t" * 129, "sha256:xyz", "a/b", "v1\n", "tägg", "sha256:" + "0" * 64 + "\n"):
        with pytest.raises(RegistryError):
            check_reference(bad)


def test_error_codes_and_body():
    oci_codes = ("BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID",
                 "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS")
    assert len(oci_codes) == 14 and set(oci_codes) <= set(CODES)  # the 14 codes of the OCI distribution-spec v1.1
    assert CODES["UNSUPPORTED"][0] == 405 and CODES["UNAUTHORIZED"][0] == 401 and CODES["TOOMANYREQUESTS"][0] == 429
    body = json.loads(RegistryError("BLOB_UNKNOWN", detail={"digest": "d"}).body())
    assert body == {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": {"digest": "d"}}]}


def test_upload_commit_links_and_dedupes(tmp_path):
    store = Storage(str(tmp_path))
    d = store_blob(store, "a", b"hello")
    assert store.blob_stat("a", d)[1] == 5
    assert store.blob_stat("b", d) is None
    assert store_blob(store, "b", b"hello") == d
    assert open(store.layout.layer_link("b", d), "rb").read() == d.encode()
    assert os.listdir(store.layout.uploads("a")) == []


def test_wrong_digest_leaves_nothing(tmp_path):
    store = Storage(str(tmp_path))
    upload_id = write_upload(store, "a", b"bytes")
    with pytest.raises(RegistryError) as exc:
        store.commit_upload("a", upload_id, digest(b"other"))
    assert exc.value.code == "DIGEST_INVALID"
    assert not os.path.exists(store.layout.blobs)
    assert os.listdir(store.layout.uploads("a")) == []


def test_hash_state_rebuilt_from_disk(tmp_path):
    store = Storage(str(tmp_path))
    upload_id = write_upload(store, "a", b"first ")
    other = Storage(str(tmp_path))  # another process: no in-memory state
    writer = other.upload_writer("a", upload_id)
    writer.write([b"sec", b"ond"])
    writer.close()
    assert other.commit_upload("a", upload_id, digest(b"first second")) == 12


def test_manifest_parse_types():
    cfg = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "1" * 64, "size": 1}
    info = manifests.parse(json.dumps({"schemaVersion": 2, "config": cfg, "layers": []}).encode())
    assert info.media_type == manifests.OCI_MANIFEST and info.blobs == [cfg["digest"]]
    index = manifests.parse(json.dumps({"schemaVersion": 2, "manifests": []}).encode())
    assert index.media_type == manifests.OCI_INDEX
    with pytest.raises(RegistryError) as exc:
        manifests.parse(json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": []}).encode(), manifests.OCI_MANIFEST)
    assert exc.value.code == "MANIFEST_INVALID" and "does not match" in exc.value.detail
    with pytest.raises(RegistryError):
        manifests.parse(json.dumps({"schemaVersion": 1}).encode())
    foreign = {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "digest": "sha256:" + "2" * 64, "size": 1, "urls": ["https://x"]}
    info = manifests.parse(json.dumps({"schemaVersion": 2, "mediaType": manifests.DOCKER_MANIFEST, "config": cfg, "layers": [foreign]}).encode())
    assert info.blobs == [cfg["digest"]]
    plain = {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": "sha256:" + "3" * 64, "size": 1}
    for layer, words in (({**foreign, "urls": []}, "needs urls"), ({**plain, "urls": ["https://x"]}, "only foreign layers")):
        with pytest.raises(RegistryError) as exc:
            manifests.parse(json.dumps({"schemaVersion": 2, "mediaType": manifests.DOCKER_MANIFEST, "config": cfg, "layers": [layer]}).encode())
        assert exc.value.code == "MANIFEST_INVALID" and words in exc.value.detail
    child = {"mediaType": manifests.DOCKER_MANIFEST, "digest": "sha256:" + "4" * 64, "size": 1, "platform": "linux/amd64"}
    with pytest.raises(RegistryError) as exc:
        manifests.parse(json.dumps({"schemaVersion": 2, "mediaType": manifests.DOCKER_LIST, "manifests": [child]}).encode())
    assert "platform must be an object" in exc.value.detail


def test_one_writer_per_upload(tmp_path):
    """A second request writing (or committing) an upload while one writes is refused, so bytes and hash stay in order."""
    store = Storage(str(tmp_path))
    upload = store.start_upload("a")
    first = store.upload_writer("a", upload)
    first.write([b"abc"])
    for call in (lambda: store.upload_writer("a", upload), lambda: store.commit_upload("a", upload, "sha256:" + hashlib.sha256(b"abc").hexdigest())):
        with pytest.raises(RegistryError) as exc:
            call()
        assert exc.value.code == "RANGE_INVALID"
    first.close()
    second = store.upload_writer("a", upload)
    second.write([b"def"])
    second.close()
    second.close()  # closing twice never frees a later writer's hold
    third = store.upload_writer("a", upload)
    third.write([b"ghi"])
    third.abort()  # rolled back, then free
    assert store.commit_upload("a", upload, "sha256:" + hashlib.sha256(b"abcdef").hexdigest()) == 6


def test_purge_uploads_by_startedat(tmp_path):
    store = Storage(str(tmp_path))
    old = store.start_upload("a")
    with open(store.layout.upload_startedat("a", old), "w") as fh:
        fh.write("2020-01-02T03:04:05.123456789Z")  # Distribution writes nanoseconds
    fresh = store.start_upload("a")
    assert store.purge_uploads(3600, dryrun=True) == [("a", old)]
    assert os.path.exists(store.layout.upload("a", old))
    assert store.purge_uploads(3600) == [("a", old)]
    assert os.listdir(store.layout.uploads("a")) == [fresh]
    assert parse_rfc3339("2020-01-02T03:04:05+01:00") == parse_rfc3339("2020-01-02T02:04:05Z")


def test_htpasswd_bcrypt_variants_and_reload(tmp_path):
    path = tmp_path / "htpasswd"
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    path.write_text(f"u2b:{hashed}\nu2y:{hashed.replace('$2b$', '$2y$')}\nu2a:{hashed.replace('$2b$', '$2a$')}\nplain:{{SHA}}xyz\n")
    auth = Htpasswd(str(path), "realm")
    assert all(auth.check(u, "pw") for u in ("u2b", "u2y", "u2a"))
    assert not auth.check("u2b", "wrong") and not auth.check("plain", "xyz") and not auth.check("nobody", "pw")
    time.sleep(0.01)
    subprocess.run(["htpasswd", "-Bb", str(path), "new", "newpw"], check=True, capture_output=True)
    assert auth.check("new", "newpw")
    path.write_text("")
    assert not auth.check("u2b", "pw")  # cached success forgotten when the file changes
    assert auth.challenge() == 'Basic realm="realm"'


def test_htpasswd_unknown_user_costs_a_bcrypt_check(tmp_path, monkeypatch):
    """An unknown name costs one bcrypt hash at the file's highest cost (and is refused), so timing does not reveal
    who exists."""
    path = tmp_path / "htpasswd"
    path.write_text("alice:" + bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode() + "\n")
    auth = Htpasswd(str(path), "realm")
    calls = []
    real = bcrypt.hashpw
    monkeypatch.setattr(bcrypt, "hashpw", lambda password, salt: calls.append((password, salt[:7])) or real(password, salt))
    assert auth.check("mallory", "pw") is False  # alice's password under another name: still refused
    assert calls == [(b"pw", b"$2b$04$")]
    assert auth.check("alice", "pw") is True
    assert parse_basic("Basic dTpwdw==") == ("u", "pw")
    assert parse_basic("Bearer x") is None and parse_basic("Basic !!!") is None


def test_gc_unit_keeps_referenced(tmp_path):
    store = Storage(str(tmp_path), delete_enabled=True)
    layer = store_blob(store, "r", b"layer")
    config = store_blob(store, "r", b"{}")
    garbage = store_blob(store, "r", b"garbage")
    doc = json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_MANIFEST,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 5}]}).encode()
    store.put_manifest("r", "t", doc, manifests.OCI_MANIFEST)
    report = collect(str(tmp_path), grace=0)
    assert report.blobs == [garbage]
    assert store.blob_stat("r", layer) and store.blob_stat("r", config) and not store.blob_exists(garbage)
    assert not os.path.exists(store.layout.layer_link("r", garbage))


def test_commit_survives_a_sweep_between_check_and_link(tmp_path):
    store = Storage(str(tmp_path))
    d = store_blob(store, "a", b"shared bytes")
    upload_id = write_upload(store, "b", b"shared bytes")
    real_link = store.link_blob

    def swept_then_link(name, digest):
        os.unlink(store.layout.blob_data(digest))  # garbage-collect deletes the blob right now
        real_link(name, digest)

    store.link_blob = swept_then_link
    old = time.time() - 3600
    os.utime(store.layout.blob_data(d), (old, old))
    store.commit_upload("b", upload_id, d)
    assert open(store.layout.blob_data(d), "rb").read() == b"shared bytes"
    assert store.blob_stat("b", d)[1] == 12


def test_touched_blob_is_not_swept(tmp_path):
    store = Storage(str(tmp_path), delete_enabled=True)
    d = store_blob(store, "r", b"unreferenced")
    old = time.time() - 3600
    os.utime(store.layout.blob_data(d), (old, old))
    os.utime(store.layout.layer_link("r", d), (old, old))
    store.touch_blob(d)  # e.g. a HEAD from a client about to push a manifest
    assert collect(str(tmp_path), grace=60).blobs == []
    os.utime(store.layout.blob_data(d), (old, old))
    assert collect(str(tmp_path), grace=60).blobs == [d]
