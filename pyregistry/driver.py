"""The storage-driver interface (StorageDriver) and its filesystem implementation (FilesystemDriver, over the
primitives below): atomic writes (temp file + rename), reads, stats, listings, deletes, moves, file locks.

Safe against concurrent callers without locks of their own: a write whose directory is removed meanwhile retries,
and a tree is deleted by first renaming it to a temp name (it disappears in one step, never half-way).

Durable before visible, as Distribution's filesystem driver: a file's data is fsynced before the rename that
publishes it, and the directory holding the new name (and every directory created for it) is fsynced after, before
the call returns. So a power cut leaves the old state or the complete new one, never an empty or short file.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import random
import shutil
import time
import uuid
from abc import ABC, abstractmethod
from typing import BinaryIO, ContextManager, Iterator

TMP_PREFIX = ".tmp-"
RETRIES = 16  # a concurrent delete can remove a directory between its creation and our use of it


def _backoff(attempt: int) -> None:
    """Wait a little (longer each attempt, randomised) before retrying against a concurrent delete."""
    time.sleep(random.uniform(0, 0.0005 * (attempt + 1)))


def _tmp_name(directory: str) -> str:
    return os.path.join(directory, f"{TMP_PREFIX}{uuid.uuid4().hex}")


def fsync(fd: int) -> None:
    """Flush a file's data and metadata to the disk (one place, so a benchmark can measure what it costs)."""
    os.fsync(fd)


def sync_dir(path: str) -> None:
    """fsync a directory, so the names created, renamed or removed in it survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fsync(fd)
    finally:
        os.close(fd)


def _missing_dirs(path: str) -> list[str]:
    """The components of `path` that do not exist yet, outermost first."""
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing[::-1]


def makedirs(path: str) -> None:
    """Create `path` and its parents, each new name synced in its parent directory; never fails because another
    caller created or removed one meanwhile."""
    for attempt in range(RETRIES):
        try:
            created = _missing_dirs(path)
            os.makedirs(path, exist_ok=True)
            for directory in created:
                sync_dir(os.path.dirname(directory))
            return
        except (FileExistsError, FileNotFoundError):  # removed between mkdir's EEXIST and its isdir check
            if attempt == RETRIES - 1:
                raise
            _backoff(attempt)


def write_atomic(path: str, data: bytes, durable: bool = True) -> None:
    """Write `data` to `path` through a temp file in the same directory, renamed into place (synced unless not
    `durable`: for bookkeeping whose loss is harmless, such as an upload session's start time)."""
    directory = os.path.dirname(path)
    for attempt in range(RETRIES):
        makedirs(directory)
        tmp = _tmp_name(directory)
        try:
            with open(tmp, "xb") as fh:
                fh.write(data)
                if durable:
                    fh.flush()
                    fsync(fh.fileno())
            os.replace(tmp, path)
            if durable:
                sync_dir(directory)
            return
        except FileNotFoundError:  # the directory went away under us: make it again
            remove_file(tmp)
            if attempt == RETRIES - 1:
                raise
            _backoff(attempt)
        except BaseException:
            remove_file(tmp)
            raise


def read(path: str) -> bytes | None:
    """The bytes of `path`, or None when it does not exist."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def size(path: str) -> int | None:
    """The size of the file at `path`, or None when it does not exist."""
    try:
        return os.stat(path).st_size
    except (FileNotFoundError, NotADirectoryError):
        return None


def mtime(path: str) -> float | None:
    """The modification time of `path`, or None when it does not exist."""
    try:
        return os.stat(path).st_mtime
    except (FileNotFoundError, NotADirectoryError):
        return None


def exists(path: str) -> bool:
    """True when something exists at `path`."""
    return os.path.exists(path)


def list_dir(path: str) -> list[str]:
    """Sorted entry names of the directory at `path` (temp files excluded); [] when absent."""
    try:
        return sorted(name for name in os.listdir(path) if not name.startswith(TMP_PREFIX))
    except (FileNotFoundError, NotADirectoryError):
        return []


def remove_file(path: str) -> bool:
    """Remove a file; True when it existed."""
    try:
        os.unlink(path)
        return True
    except (FileNotFoundError, NotADirectoryError):
        return False


def set_aside(path: str, durable: bool = True) -> str | None:
    """Rename the directory `path` to a temp name beside it (it disappears in one step, synced when `durable`);
    returns that name, or None when there was no such directory."""
    if not os.path.isdir(path):
        return None
    aside = _tmp_name(os.path.dirname(path))
    try:
        os.rename(path, aside)
    except (FileNotFoundError, NotADirectoryError):
        return None  # removed by someone else meanwhile
    if durable:
        sync_dir(os.path.dirname(path))
    return aside


def put_back(aside: str, path: str) -> None:
    """Undo set_aside."""
    os.rename(aside, path)
    sync_dir(os.path.dirname(path))


def remove_tree(path: str, durable: bool = True) -> bool:
    """Remove a directory tree in one visible step (set aside, then deleted); True when it existed. Not `durable`: a
    power cut may bring it back (for what is harmless to find again: a finished upload session, garbage)."""
    aside = set_aside(path, durable)
    if aside is None:
        return False
    shutil.rmtree(aside, ignore_errors=True)
    return True


def sync_file(path: str) -> None:
    """fsync the data of the file at `path`."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fsync(fd)
    finally:
        os.close(fd)


def move(src: str, dst: str) -> None:
    """Rename `src` to `dst` (same filesystem), creating parent directories: `src`'s data synced before, the new
    name synced after."""
    sync_file(src)
    directory = os.path.dirname(dst)
    for attempt in range(RETRIES):
        makedirs(directory)
        try:
            os.replace(src, dst)
            sync_dir(directory)
            return
        except FileNotFoundError:
            if not os.path.exists(src) or attempt == RETRIES - 1:
                raise
            _backoff(attempt)


def _lock_fd(path: str) -> int:
    """An open descriptor of the lock file at `path`, created (owned like the directory above it) when missing."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        pass
    directory = os.path.dirname(path)
    makedirs(directory)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    if os.geteuid() == 0:  # e.g. garbage-collect run as root: the registry's own user must still open it
        with contextlib.suppress(OSError):
            owner = os.stat(os.path.dirname(directory))
            os.fchown(fd, owner.st_uid, owner.st_gid)
            os.chown(directory, owner.st_uid, owner.st_gid)
    return fd


@contextlib.contextmanager
def locked(path: str, shared: bool = False) -> Iterator[None]:
    """Hold an flock on the lock file at `path` (exclusive, or shared) for the `with` block.

    flock locks belong to the open file description, so they exclude other threads of this process as well as other
    processes (pyregistry workers, garbage-collect)."""
    fd = _lock_fd(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def try_lock_file(fd: int) -> bool:
    """Take an exclusive flock on an open file without waiting; False when another holder has it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def same_file(fd: int, path: str) -> bool:
    """True when `path` still names the file open as `fd` (it was not renamed away or replaced)."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


class StorageDriver(ABC):
    """Where storage keeps its bytes: what Storage and garbage-collect need, and all they may use (no other file
    access). Keys are the '/'-separated paths Layout builds. A driver for object storage would implement the same
    methods (set_aside/put_back as a rename of a prefix, locks in a lock service).

    Contract: write and move publish in one step, durable before visible (unless durable=False); readers of a key
    being replaced see the old bytes or the new ones; missing keys answer None/False/[], never raise."""

    @abstractmethod
    def read(self, path: str) -> bytes | None:
        """The bytes at `path`, or None."""

    @abstractmethod
    def write(self, path: str, data: bytes, durable: bool = True) -> None:
        """Publish `data` at `path` atomically (parents created)."""

    @abstractmethod
    def size(self, path: str) -> int | None:
        """The size of the object at `path`, or None."""

    @abstractmethod
    def mtime(self, path: str) -> float | None:
        """The modification time (epoch seconds) of `path`, or None."""

    @abstractmethod
    def touch(self, path: str) -> None:
        """Set the modification time of `path` to now; raises FileNotFoundError when it is gone."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """True when something is at `path`."""

    @abstractmethod
    def is_dir(self, path: str) -> bool:
        """True when `path` is a directory (a prefix holding keys)."""

    @abstractmethod
    def list(self, path: str) -> list[str]:
        """Sorted names directly under `path` (temporary names excluded); [] when absent."""

    @abstractmethod
    def delete(self, path: str, durable: bool = True) -> bool:
        """Remove the tree at `path` in one visible step; True when it existed."""

    @abstractmethod
    def set_aside(self, path: str, durable: bool = True) -> str | None:
        """Move the tree at `path` out of sight in one step; its new name (for put_back or delete), or None."""

    @abstractmethod
    def put_back(self, aside: str, path: str) -> None:
        """Undo set_aside."""

    @abstractmethod
    def move(self, src: str, dst: str) -> None:
        """Publish the object at `src` under `dst` (same store), durable before visible."""

    @abstractmethod
    def open_read(self, path: str) -> BinaryIO:
        """`path` open for reading; raises FileNotFoundError when absent."""

    @abstractmethod
    def open_append(self, path: str) -> BinaryIO:
        """An existing object open for appending (never created); raises FileNotFoundError when absent."""

    @abstractmethod
    def try_lock(self, fh: BinaryIO) -> bool:
        """Take an exclusive lock on an object open by open_append, without waiting; False when another holds it."""

    @abstractmethod
    def same_file(self, fh: BinaryIO, path: str) -> bool:
        """True when `path` still names the object open as `fh`."""

    @abstractmethod
    def open_size(self, fh: BinaryIO) -> int:
        """The current size of the object open as `fh`."""

    @abstractmethod
    def lock(self, path: str, shared: bool = False) -> ContextManager[None]:
        """A context holding the lock named `path` (exclusive or shared) across threads and processes."""


class FilesystemDriver(StorageDriver):
    """The local filesystem, as Distribution's filesystem driver lays it out (the module's functions above)."""

    def read(self, path: str) -> bytes | None:
        return read(path)

    def write(self, path: str, data: bytes, durable: bool = True) -> None:
        write_atomic(path, data, durable)

    def size(self, path: str) -> int | None:
        return size(path)

    def mtime(self, path: str) -> float | None:
        return mtime(path)

    def touch(self, path: str) -> None:
        try:
            os.utime(path)
        except NotADirectoryError:
            raise FileNotFoundError(path) from None

    def exists(self, path: str) -> bool:
        return exists(path)

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def list(self, path: str) -> list[str]:
        return list_dir(path)

    def delete(self, path: str, durable: bool = True) -> bool:
        return remove_tree(path, durable)

    def set_aside(self, path: str, durable: bool = True) -> str | None:
        return set_aside(path, durable)

    def put_back(self, aside: str, path: str) -> None:
        put_back(aside, path)

    def move(self, src: str, dst: str) -> None:
        move(src, dst)

    def open_read(self, path: str) -> BinaryIO:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it

    def open_append(self, path: str) -> BinaryIO:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)  # never O_CREAT: a committed upload stays gone
        return os.fdopen(fd, "ab")

    def try_lock(self, fh: BinaryIO) -> bool:
        return try_lock_file(fh.fileno())

    def same_file(self, fh: BinaryIO, path: str) -> bool:
        return same_file(fh.fileno(), path)

    def open_size(self, fh: BinaryIO) -> int:
        return os.fstat(fh.fileno()).st_size

    def lock(self, path: str, shared: bool = False) -> ContextManager[None]:
        return locked(path, shared)
