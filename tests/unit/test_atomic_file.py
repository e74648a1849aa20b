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
