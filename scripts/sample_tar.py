"""Deterministic PAX tar writing for the sample generators (make_samples.py, oci_samples.py): fixed mtime and modes,
members in the order given, so the same samples always have the same digests."""
import io
import os
import tarfile

MTIME = 1700000000


def add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """Add a regular file `name` holding `data` (mode 0644, mtime MTIME) to an open tar."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, MTIME
    tar.addfile(info, io.BytesIO(data))


def add_dir(tar: tarfile.TarFile, name: str) -> None:
    """Add a directory `name` (mode 0755, mtime MTIME) to an open tar."""
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
    tar.addfile(info)


def write_tar(path: str, members: list[tuple[str, bytes]]) -> str:
    """Write `members` ((name, bytes) pairs, in order) as a PAX tarball at `path`, via PATH.tmp renamed into place;
    returns `path`.  OSError when the directory is not writable."""
    tmp = path + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            add_file(tar, name, data)
    os.replace(tmp, path)
    return path
