# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a bundle's files (docs/bundles.md "Bundle format"): the digest-named blob store of an OCI image layout
directory, the layout tarball (`.tar`, `.tar.zst`) in its fixed member order, and split parts with their checksum file.

Blobs are written to a temp file in their own directory, hashed while streaming, fsynced, then renamed to
`blobs/<algorithm>/<hex>`: a blob file that exists is whole and verified, so an interrupted run resumes by skipping it.
Memory stays flat (blocks of CHUNK bytes).  Standard library only; `.tar.zst` needs the zstandard module.
"""
from __future__ import annotations

import glob
import hashlib
import os
import tarfile
import tempfile
from typing import BinaryIO, Callable

from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_atomically, write_bytes_atomically
from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import (
    BLOBS_DIR,
    BUNDLE_FILE,
    INDEX_FILE,
    OCI_LAYOUT_FILE,
    PART_SUFFIX,
    BundleError,
    blob_path,
    checked_digest,
    checksum_name,
    part_name,
    parts_of,
)
from ansible_collections.airgap.registry.plugins.module_utils.compression import ZSTD_LEVEL, Reader, zstd_module

CHUNK = 1024 * 1024
TEMP_SUFFIX = ".tmp"
ZSTD_MISSING = ("writing a .tar.zst bundle needs the zstandard Python package: pip install zstandard "
                "(or pip install 'airgap-registry[zstd]'); or write a .tar")


def _hasher(digest: str, what: str):
    """A hashlib object of `digest`'s algorithm; BundleError naming `what` when `digest` is not a valid digest."""
    return hashlib.new(checked_digest(digest, what).partition(":")[0])


class BlobStore:
    """The blobs of an OCI image layout rooted at `root` (image-layout.md "Blobs"), one file per digest."""

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, digest: str) -> str:
        """The file of `digest`: ROOT/blobs/<algorithm>/<hex>; BundleError when `digest` is not a valid digest."""
        return os.path.join(self.root, blob_path(checked_digest(digest, self.root)))

    def has(self, digest: str, size: int) -> bool:
        """True when the blob is stored with `size` bytes (a stored blob was verified before its rename)."""
        try:
            return os.path.getsize(self.path(digest)) == size
        except OSError:
            return False

    def put_bytes(self, digest: str, data: bytes, what: str) -> None:
        """Store `data` as `digest` (verified; BundleError naming `what` when it does not match)."""
        hasher = _hasher(digest, what)
        hasher.update(data)
        if f"{digest.partition(':')[0]}:{hasher.hexdigest()}" != digest:
            raise BundleError(f"{what}: content does not match its digest {digest}")
        os.makedirs(os.path.dirname(self.path(digest)), exist_ok=True)
        write_bytes_atomically(self.path(digest), data)

    def put_stream(self, digest: str, size: int, stream: Reader, what: str,
                   advance: Callable[[int], None] | None = None) -> int:
        """Store `size` bytes read from `stream` as `digest`: temp file in the blob's directory, hashed while written,
        fsync, rename.  Returns the bytes read.  BundleError naming `what` when the size or digest differs (nothing is
        left behind then)."""
        hasher = _hasher(digest, what)
        final = self.path(digest)
        directory = os.path.dirname(final)
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(final)[:16] + ".", suffix=TEMP_SUFFIX, dir=directory)
        count = 0
        try:
            with os.fdopen(fd, "wb") as fh:
                while True:
                    block = stream.read(CHUNK)
                    if not block:
                        break
                    count += len(block)
                    if count > size:
                        raise BundleError(f"{what}: more than the {size} bytes its descriptor gives")
                    hasher.update(block)
                    fh.write(block)
                    if advance:
                        advance(len(block))
                fh.flush()
                os.fsync(fh.fileno())
            got = f"{digest.partition(':')[0]}:{hasher.hexdigest()}"
            if count != size or got != digest:
                raise BundleError(f"{what}: got {count} bytes with digest {got}, expected {size} bytes with {digest}")
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return count

    def prune(self, keep: set[str]) -> int:
        """Remove the blob files (and left-over temp files) whose digest is not in `keep`; the number removed."""
        removed = 0
        top = os.path.join(self.root, BLOBS_DIR)
        if not os.path.isdir(top):
            return 0
        for algorithm in os.listdir(top):
            directory = os.path.join(top, algorithm)
            for name in os.listdir(directory) if os.path.isdir(directory) else []:
                if f"{algorithm}:{name}" not in keep:
                    os.unlink(os.path.join(directory, name))
                    removed += not name.endswith(TEMP_SUFFIX)
        return removed


def member_names(digests: list[str]) -> list[str]:
    """The tarball's members in their fixed order: oci-layout, airgap-bundle.json, the blob directories, the blobs
    sorted by name, index.json (last, so a reader that finds it has the whole layout)."""
    blobs = sorted(blob_path(d) for d in digests)
    dirs = sorted({BLOBS_DIR + "/"} | {os.path.dirname(b) + "/" for b in blobs})
    return [OCI_LAYOUT_FILE, BUNDLE_FILE, *dirs, *blobs, INDEX_FILE]


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    """A deterministic header: mtime 0, root:root with no names, 0644 files and 0755 directories."""
    info = tarfile.TarInfo(name.rstrip("/"))
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if name.endswith("/"):
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    else:
        info.size, info.mode = size, 0o644
    return info


def write_tar(fh: BinaryIO, root: str, names: list[str], compress: bool) -> None:
    """Write the layout at `root` to `fh` as a tar stream of `names` (see member_names), zstd-compressed when
    `compress` (zstandard, fixed level, so the same layout gives the same bytes); BundleError when zstandard is
    missing."""
    out = fh
    if compress:
        zstandard = zstd_module()
        if zstandard is None:
            raise BundleError(ZSTD_MISSING)
        out = zstandard.ZstdCompressor(level=ZSTD_LEVEL).stream_writer(fh, closefd=False)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.GNU_FORMAT, bufsize=CHUNK) as tar:
        tar.copybufsize = CHUNK
        for name in names:
            if name.endswith("/"):
                tar.addfile(_tar_info(name, 0))
                continue
            path = os.path.join(root, name)
            with open(path, "rb") as member:
                tar.addfile(_tar_info(name, os.fstat(member.fileno()).st_size), member)
    if compress:
        out.close()


class PartWriter:
    """A file-like sink that cuts what is written into `PATH.part001`, `PATH.part002`, ... of at most `limit` bytes
    each (temp files until commit()), hashing each part for `PATH.sha256` (sha256sum's format)."""

    def __init__(self, path: str, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.parts: list[tuple[str, str, object]] = []  # (temp path, final path, sha256)
        self._fh: BinaryIO | None = None
        self._left = 0

    def _next(self) -> None:
        self._close_current()
        final = part_name(self.path, len(self.parts) + 1)
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(final) + ".", suffix=TEMP_SUFFIX,
                                   dir=os.path.dirname(os.path.abspath(final)))
        self._fh = os.fdopen(fd, "wb")
        self.parts.append((tmp, final, hashlib.sha256()))
        self._left = self.limit

    def _close_current(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            if self._fh is None or self._left == 0:
                self._next()
            piece = view[:self._left]
            self._fh.write(piece)
            self.parts[-1][2].update(piece)
            self._left -= len(piece)
            view = view[len(piece):]
        return len(data)

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def commit(self) -> list[str]:
        """Rename the parts into place, remove parts of an earlier, longer split and the whole tarball, write the
        checksum file (atomically, last); the part paths."""
        self._close_current()
        for tmp, final, _hash in self.parts:
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)
        stale = len(self.parts) + 1
        while os.path.exists(part_name(self.path, stale)):
            os.unlink(part_name(self.path, stale))
            stale += 1
        if os.path.exists(self.path):
            os.unlink(self.path)
        lines = "".join(f"{h.hexdigest()}  {os.path.basename(final)}\n" for _tmp, final, h in self.parts)
        write_bytes_atomically(checksum_name(self.path), lines.encode())
        return [final for _tmp, final, _hash in self.parts]

    def abort(self) -> None:
        """Remove the temp files written so far."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        for tmp, _final, _hash in self.parts:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _remove_temp_parts(path: str) -> None:
    """Remove the temp parts (`.NAME.partNNN.*.tmp`, PartWriter's) a killed run left beside the tarball `path`."""
    pattern = os.path.join(os.path.dirname(os.path.abspath(path)),
                           "." + glob.escape(os.path.basename(path)) + PART_SUFFIX + "[0-9][0-9][0-9]*" + TEMP_SUFFIX)
    for stale in glob.glob(pattern):
        os.unlink(stale)


def write_tarball(path: str, root: str, names: list[str], compress: bool, split_size: int | None) -> list[str]:
    """Write the layout at `root` as the tarball `path` (whole, atomically: temp file then rename), or, with
    `split_size`, as its parts and checksum file.  An earlier tarball's other form (its parts, or the whole file) is
    removed, and the temp parts a killed run left.  Returns the parts written ([] when whole)."""
    _remove_temp_parts(path)
    if not split_size:
        write_atomically(path, lambda fh: write_tar(fh, root, names, compress))
        for part in parts_of(part_name(path, 1)):
            os.unlink(part)
        if os.path.exists(checksum_name(path)):
            os.unlink(checksum_name(path))
        return []
    sink = PartWriter(path, split_size)
    try:
        write_tar(sink, root, names, compress)  # type: ignore[arg-type] - a file-like sink
        return sink.commit()
    except BaseException:
        sink.abort()
        raise
