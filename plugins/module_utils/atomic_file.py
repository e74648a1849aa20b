# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic file replacement: write a temp file next to the target, fsync, then rename over it.

A path that is a symbolic link (or whose directories are) is written through: the temp file goes beside the link's
final target and is renamed onto it, so the link stays a link and its target gets the new content, as `docker login`
and editors do.
"""
from __future__ import annotations

import errno
import os
import tempfile
from typing import BinaryIO, Callable


def final_target(path: str) -> str:
    """The file `path` finally names after every symbolic link (a dangling link gives the path it points to).

    A link loop is an OSError (ELOOP) naming `path`.
    """
    target = os.path.realpath(os.path.abspath(path))
    if os.path.islink(target):  # realpath stops at a loop and leaves a link there
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
    return target


def write_atomically(path: str, write: Callable[[BinaryIO], object], mode: int = 0o644) -> None:
    """Call write(fh) on a binary temp file next to `path`'s final target (already at `mode`), then rename it there.

    A file that exists keeps its owner and group (when the caller may set them); a symbolic link stays a link and its
    target is replaced.  On any error the temp file is removed and the file is left as it was.
    """
    target = final_target(path)
    directory = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".part", dir=directory)
    try:
        os.fchmod(fd, mode)
        try:
            old = os.stat(target)
            os.fchown(fd, old.st_uid, old.st_gid)
        except (FileNotFoundError, PermissionError):
            pass
        with os.fdopen(fd, "w+b") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_bytes_atomically(path: str, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` (through symbolic links) with `data` (bytes) atomically, with `mode`."""
    write_atomically(path, lambda fh: fh.write(data), mode)
