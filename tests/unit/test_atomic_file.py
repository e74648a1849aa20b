"""atomic_file: replacement keeps the old file on error and keeps an existing file's owner."""
import os

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_atomically, write_bytes_atomically
from tests.conftest import require


def test_rewrite_keeps_owner_and_sets_mode(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b"old")
    require(os.geteuid() == 0, "changing a file's owner needs root")
    os.chown(path, 1234, 2345)
    write_bytes_atomically(str(path), b"new", mode=0o600)
    st = os.stat(path)
    assert (path.read_bytes(), st.st_uid, st.st_gid, st.st_mode & 0o777) == (b"new", 1234, 2345, 0o600)


def test_failed_write_leaves_the_file_and_no_temp(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"keep")

    def fail(fh):
        fh.write(b"partial")
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        write_atomically(str(path), fail)
    assert path.read_bytes() == b"keep" and os.listdir(tmp_path) == ["f"]


def test_symlink_is_written_through_and_stays_a_link(tmp_path):
    """Issue 10.12: the link's final target gets the content; the link (and a chain of links) stays."""
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "config.json"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    link_dir = tmp_path / "links"
    link_dir.mkdir()
    first = link_dir / "config.json"
    os.symlink("../real/config.json", first)  # relative, as people make them
    second = tmp_path / "outer.json"
    os.symlink(str(first), second)
    write_bytes_atomically(str(second), b"new", mode=0o600)
    assert os.path.islink(second) and os.path.islink(first)
    assert os.readlink(first) == "../real/config.json"
    assert target.read_bytes() == b"new" and not os.path.islink(target)
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert sorted(os.listdir(link_dir)) == ["config.json"] and sorted(os.listdir(real_dir)) == ["config.json"]


def test_dangling_symlink_creates_its_target(tmp_path):
    (tmp_path / "store").mkdir()
    link = tmp_path / "config.json"
    os.symlink(tmp_path / "store" / "config.json", link)
    write_bytes_atomically(str(link), b"{}")
    assert os.path.islink(link) and (tmp_path / "store" / "config.json").read_bytes() == b"{}"


def test_symlinked_directory_is_written_through(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "dir")
    write_bytes_atomically(str(tmp_path / "dir" / "f"), b"x")
    assert os.path.islink(tmp_path / "dir") and (tmp_path / "real" / "f").read_bytes() == b"x"


def test_symlink_loop_is_an_error_naming_the_path(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    os.symlink(b, a)
    os.symlink(a, b)
    with pytest.raises(OSError, match="a"):
        write_bytes_atomically(str(a), b"x")
    assert os.path.islink(a) and os.path.islink(b) and sorted(os.listdir(tmp_path)) == ["a", "b"]
