"""Filesystem primitives: atomic writes (temp file + rename), reads, stats, listings, deletes, moves, file locks.

Safe against concurrent callers without locks of their own: a write whose directory is removed meanwhile retries,
and a tree is deleted by first renaming it to a temp name (it disappears in one step, never half-way).

Durable before visible, as Distribution's filesystem driver: a file's data is fsynced before the rename that
publishes it, and the directory holding the new name (and every directory created for it) is fsynced after, before
the call returns. So a power cut leaves the old state or the complete new one, never an empty or short file.
"""
import contextlib
import fcntl
import os
import random
import shutil
import time
import uuid

TMP_PREFIX = ".tmp-"
RETRIES = 16  # a concurrent delete can remove a directory between its creation and our use of it


def _backoff(attempt):
    """Wait a little (longer each attempt, randomised) before retrying against a concurrent delete."""
    time.sleep(random.uniform(0, 0.0005 * (attempt + 1)))


def _tmp_name(directory):
    return os.path.join(directory, f"{TMP_PREFIX}{uuid.uuid4().hex}")


def fsync(fd):
    """Flush a file's data and metadata to the disk (one place, so a benchmark can measure what it costs)."""
    os.fsync(fd)


def sync_dir(path):
    """fsync a directory, so the names created, renamed or removed in it survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fsync(fd)
    finally:
        os.close(fd)


def _missing_dirs(path):
    """The components of `path` that do not exist yet, outermost first."""
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing[::-1]


def makedirs(path):
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


def write_atomic(path, data, durable=True):
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


def read(path):
    """The bytes of `path`, or None when it does not exist."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def size(path):
    """The size of the file at `path`, or None when it does not exist."""
    try:
        return os.stat(path).st_size
    except (FileNotFoundError, NotADirectoryError):
        return None


def mtime(path):
    """The modification time of `path`, or None when it does not exist."""
    try:
        return os.stat(path).st_mtime
    except (FileNotFoundError, NotADirectoryError):
        return None


def exists(path):
    return os.path.exists(path)


def list_dir(path):
    """Sorted entry names of the directory at `path` (temp files excluded); [] when absent."""
    try:
        return sorted(name for name in os.listdir(path) if not name.startswith(TMP_PREFIX))
    except (FileNotFoundError, NotADirectoryError):
        return []


def remove_file(path):
    """Remove a file; True when it existed."""
    try:
        os.unlink(path)
        return True
    except (FileNotFoundError, NotADirectoryError):
        return False


def set_aside(path, durable=True):
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


def put_back(aside, path):
    """Undo set_aside."""
    os.rename(aside, path)
    sync_dir(os.path.dirname(path))


def remove_tree(path, durable=True):
    """Remove a directory tree in one visible step (set aside, then deleted); True when it existed. Not `durable`: a
    power cut may bring it back (for what is harmless to find again: a finished upload session, garbage)."""
    aside = set_aside(path, durable)
    if aside is None:
        return False
    shutil.rmtree(aside, ignore_errors=True)
    return True


def sync_file(path):
    """fsync the data of the file at `path`."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fsync(fd)
    finally:
        os.close(fd)


def move(src, dst):
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


def _lock_fd(path):
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
def locked(path, shared=False):
    """Hold an flock on the lock file at `path` (exclusive, or shared) for the `with` block.

    flock locks belong to the open file description, so they exclude other threads of this process as well as other
    processes (pyregistry workers, garbage-collect)."""
    fd = _lock_fd(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def try_lock_file(fd):
    """Take an exclusive flock on an open file without waiting; False when another holder has it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def same_file(fd, path):
    """True when `path` still names the file open as `fd` (it was not renamed away or replaced)."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
