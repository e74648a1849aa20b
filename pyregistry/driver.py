"""Filesystem primitives: atomic writes (temp file + rename), reads, stats, listings, deletes, moves."""
import os
import shutil
import uuid


def write_atomic(path, data):
    """Write `data` to `path` through a temp file in the same directory, renamed into place."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
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
        return sorted(name for name in os.listdir(path) if not name.startswith(".tmp-"))
    except (FileNotFoundError, NotADirectoryError):
        return []


def remove_file(path):
    """Remove a file; True when it existed."""
    try:
        os.unlink(path)
        return True
    except (FileNotFoundError, NotADirectoryError):
        return False


def remove_tree(path):
    """Remove a directory tree; True when it existed."""
    if not os.path.isdir(path):
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True


def move(src, dst):
    """Rename `src` to `dst` (same filesystem), creating parent directories."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.replace(src, dst)
