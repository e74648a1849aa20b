# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic file replacement: write a temp file next to the target, fsync, then rename over it."""
from __future__ import annotations

import os
import tempfile


def write_atomically(path, write, mode=0o644):
    """Call write(fh) on a binary temp file next to `path` (already at `mode`), then rename it over `path`.

    A file that exists keeps its owner and group (when the caller may set them).  On any error the temp file is
    removed and `path` is left as it was.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".part", dir=directory)
    try:
        os.fchmod(fd, mode)
        try:
            old = os.stat(path)
            os.fchown(fd, old.st_uid, old.st_gid)
        except (FileNotFoundError, PermissionError):
            pass
        with os.fdopen(fd, "w+b") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_bytes_atomically(path, data, mode=0o644):
    """Replace `path` with `data` (bytes) atomically, with `mode`."""
    write_atomically(path, lambda fh: fh.write(data), mode)
