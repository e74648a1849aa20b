"""registry_htpasswd logic: input validation, add/update/remove, idempotence, atomic writes."""
import os
import stat

import pytest
from passlib.apache import HtpasswdFile

from ansible_collections.airgap.registry.plugins.module_utils.htpasswd import HtpasswdChange, HtpasswdError, requested_users

COST = 4


def apply(path, users, state="present", update_password="always"):
    change = HtpasswdChange(str(path), users, state, update_password, COST)
    if change.changed:
        change.write()
    return change


def test_requested_users_from_list_or_single():
    assert requested_users([{"name": "a", "password": "x"}, {"name": "b", "password": "y"}], None, None, "present") == [("a", "x"), ("b", "y")]
    assert requested_users(None, "a", "x", "present") == [("a", "x")]
    assert requested_users(None, "a", None, "absent") == [("a", None)]


@pytest.mark.parametrize(("users", "name", "password", "state", "match"), [
    (None, None, None, "present", "give the user"),
    ([{"name": "a:b", "password": "x"}], None, None, "present", "invalid user name"),
    ([{"name": "a b", "password": "x"}], None, None, "present", "invalid user name"),
    ([{"name": "", "password": "x"}], None, None, "present", "invalid user name"),
    ([{"name": "a", "password": "x"}, {"name": "a", "password": "y"}], None, None, "present", "listed twice"),
    (None, "a", None, "present", "password is required"),
    (None, "a", "", "present", "password is required"),
    (None, "a", "é" * 40, "present", "at most 72 bytes"),
    (None, "a", "x\x00y", "present", "NUL"),
])
def test_bad_input_is_refused(users, name, password, state, match):
    with pytest.raises(HtpasswdError, match=match):
        requested_users(users, name, password, state)


def test_add_creates_file_with_bcrypt_entries(tmp_path):
    path = tmp_path / "htpasswd"
    change = apply(path, [("alice", "s3cret"), ("bob", "pw")])
    assert change.added == ["alice", "bob"] and change.before == [] and change.after == ["alice", "bob"]
    ht = HtpasswdFile(str(path))
    assert ht.check_password("alice", "s3cret") and not ht.check_password("alice", "pw")
    assert ht.get_hash("bob").startswith(b"$2y$04$")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_second_run_is_unchanged_and_does_not_rewrite(tmp_path):
    path = tmp_path / "htpasswd"
    apply(path, [("alice", "s3cret")])
    before = path.read_bytes()
    change = apply(path, [("alice", "s3cret")])
    assert not change.changed
    assert path.read_bytes() == before


def test_wrong_password_is_updated_unless_on_create(tmp_path):
    path = tmp_path / "htpasswd"
    apply(path, [("alice", "old")])
    assert not apply(path, [("alice", "new")], update_password="on_create").changed
    change = apply(path, [("alice", "new")])
    assert change.updated == ["alice"] and change.added == []
    assert HtpasswdFile(str(path)).check_password("alice", "new")


def test_non_bcrypt_entry_is_rehashed(tmp_path):
    path = tmp_path / "htpasswd"
    ht = HtpasswdFile(default_scheme="apr_md5_crypt")
    ht.set_password("alice", "pw")
    path.write_bytes(ht.to_string())
    change = apply(path, [("alice", "pw")])
    assert change.updated == ["alice"]
    assert HtpasswdFile(str(path)).get_hash("alice").startswith(b"$2y$")


def test_remove_keeps_others_and_mode(tmp_path):
    path = tmp_path / "htpasswd"
    apply(path, [("alice", "a"), ("bob", "b")])
    os.chmod(path, 0o640)
    change = apply(path, [("alice", None), ("carol", None)], state="absent")
    assert change.removed == ["alice"] and change.after == ["bob"]
    assert HtpasswdFile(str(path)).users() == ["bob"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert os.listdir(tmp_path) == ["htpasswd"]


def test_absent_on_missing_file_creates_nothing(tmp_path):
    change = apply(tmp_path / "htpasswd", [("alice", None)], state="absent")
    assert not change.changed
    assert not (tmp_path / "htpasswd").exists()


def test_malformed_file_is_an_error(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text("this is not htpasswd\n")
    with pytest.raises(HtpasswdError, match="not an htpasswd file"):
        HtpasswdChange(str(path), [("a", "b")], "present", "always", COST)


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(HtpasswdError, match="does not exist"):
        HtpasswdChange(str(tmp_path / "nope" / "htpasswd"), [("a", "b")], "present", "always", COST)


def test_check_mode_tolerates_a_missing_directory(tmp_path):
    change = HtpasswdChange(str(tmp_path / "later" / "htpasswd"), [("a", "b")], "present", "always", COST, check_mode=True)
    assert change.added == ["a"]


def test_exclusive_removes_unlisted_users(tmp_path):
    path = tmp_path / "htpasswd"
    apply(path, [("alice", "a"), ("bob", "b"), ("carol", "c")])
    change = HtpasswdChange(str(path), [("bob", "b")], "present", "always", COST, exclusive=True)
    assert change.removed == ["alice", "carol"] and change.added == change.updated == []
    change.write()
    assert HtpasswdFile(str(path)).users() == ["bob"]
    assert not HtpasswdChange(str(path), [("bob", "b")], "present", "always", COST, exclusive=True).changed
