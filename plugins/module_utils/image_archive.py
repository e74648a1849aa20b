# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read image tarballs: `docker save` (legacy and Docker 25+ OCI layout), OCI archives; plain, gzip or zstd; and
bundles (docs/bundles.md): an OCI layout directory (each file a member, read in place), its tarball, or the tarball
cut in parts (read as one file).

An uncompressed tarball is indexed once (headers only) and its members are read in place by offset, so layers
stream from disk in any order and in parallel.  A compressed tarball is read in one sequential pass for its
metadata; its layers are then streamed in tar order (`ImageArchive.stream_members`) or, for a retry, by
decompressing again up to the member.  Nothing is unpacked to disk and no layer is held in memory.
"""
from __future__ import annotations

import bisect
import glob
import hashlib
import io
import json
import os
import re
import socket
import tarfile
import zlib
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from ansible_collections.airgap.registry.plugins.module_utils import compression
from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import (
    BUNDLE_FILE,
    OCI_LAYOUT_FILE,
    BundleError,
    parse_bundle_document,
    part_name,
    parts_of,
    read_checksums,
    split_base,
)
from ansible_collections.airgap.registry.plugins.module_utils.compression import CompressError, Reader, detect
from ansible_collections.airgap.registry.plugins.module_utils.descriptor import Descriptor, DescriptorError, Manifest, Platform
from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError
from ansible_collections.airgap.registry.plugins.module_utils.media_types import (
    ANNOTATION_CONTAINERD_NAME,
    ANNOTATION_REF_NAME,
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_LAYER_TYPES,
    OCI_MANIFEST,
)

METADATA_MAX = 4 * 1024 * 1024
READ_BLOCK = 1024 * 1024
BLOB_NAME = re.compile(r"^(?:\./)?blobs/(sha256|sha512)/([0-9a-f]{64,128})$")


class ImageArchiveError(AirgapError):
    """A tarball that is not a readable image archive; the message names the file and the problem."""


class Member:
    """One regular file in the tarball: name, data offset (uncompressed tars), size, first bytes, digest if hashed, and
    `file`: the file holding it on its own (a layout directory's member), None for a member of the tarball."""

    __slots__ = ("digest", "file", "head", "name", "offset", "size")

    def __init__(self, name: str, offset: int | None, size: int, head: bytes = b"",  # noqa: PLR0917 - a plain record
                 digest: str | None = None, file: str | None = None) -> None:
        self.name = name
        self.offset = offset
        self.size = size
        self.head = head
        self.digest = digest
        self.file = file


class Layer:
    """A layer as stored in the tarball: member name, size in bytes, digest (`sha256:<hex>`), diff_id, compression
    (none|gzip|zstd) and the media type its manifest gave, if any."""

    def __init__(self, member: str, size: int, digest: str, diff_id: str, compression: str,  # noqa: PLR0917 - a plain record
                 media_type: str | None = None) -> None:
        self.member = member
        self.size = size
        self.digest = digest
        self.diff_id = diff_id
        self.compression = compression
        self.media_type = media_type

    def __repr__(self) -> str:
        return f"Layer({self.member!r}, {self.digest}, {self.compression})"


class ArchiveImage:
    """One image of a tarball: refs, config bytes, layers, and the archive's own (manifest bytes, media type) if any."""

    def __init__(self, archive: ImageArchive, refs: list, config: bytes, layers: list,  # noqa: PLR0917 - a plain record
                 source_manifest: tuple | None = None) -> None:
        self.archive = archive
        self.refs = refs
        self.config = config
        self.config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        self.layers = layers
        self.source_manifest = source_manifest
        self.digest: str | None = None

    def __repr__(self) -> str:
        return f"ArchiveImage({self.refs}, {self.config_digest[:19]}, {len(self.layers)} layers)"


class ArchiveManifest:
    """A manifest or index of an OCI layout carried verbatim (byte for byte): an image index or manifest list (its
    `children`, each an ArchiveManifest), or a manifest that is not a plain image (an artifact, a signature, an
    attestation).  `refs` (names from index.json), `digest`, `media_type`, `body` (the bytes), `blobs` (Descriptors of
    its config and layers, in the tarball), `platform` (str, from the parent index entry), `subject` (digest or None),
    `referrers` (ArchiveManifests of the same tarball whose subject is this one), `external` ([(Descriptor, repository)]:
    blobs a delta bundle does not hold but relies on at the site, with the site repository its document records)."""

    def __init__(self, archive: ImageArchive, refs: list, digest: str, media_type: str, body: bytes) -> None:  # noqa: PLR0917 - a plain record
        self.archive = archive
        self.refs = refs
        self.digest = digest
        self.media_type = media_type
        self.body = body
        self.doc = json.loads(body)
        self.children: list[ArchiveManifest] = []
        self.blobs: list[Descriptor] = []
        self.platform: str | None = None
        subject = self.doc.get("subject") if isinstance(self.doc.get("subject"), dict) else None
        self.subject: str | None = subject.get("digest") if subject else None
        self.referrers: list[ArchiveManifest] = []
        self.external: list[tuple[Descriptor, str]] = []

    @property
    def is_index(self) -> bool:
        return isinstance(self.doc.get("manifests"), list)

    def platforms(self) -> list[str]:
        """The platforms of an index's children, in index order."""
        return [c.platform or "unknown" for c in self.children]

    def walk(self) -> Iterator[ArchiveManifest]:
        """Every manifest to put, in push order: children before their index, referrers after their subject."""
        for child in self.children:
            yield from child.walk()
        yield self
        for ref in self.referrers:
            yield from ref.walk()

    def all_blobs(self) -> list[Descriptor]:
        """Every blob of the manifests walk() yields, once each, in order."""
        seen: dict[str, Descriptor] = {}
        for manifest in self.walk():
            for blob in manifest.blobs:
                seen.setdefault(blob.digest, blob)
        return list(seen.values())

    def __repr__(self) -> str:
        return f"ArchiveManifest({self.refs}, {self.digest[:19]}, {self.media_type})"


IMAGE_CONFIGS = (OCI_CONFIG, DOCKER_CONFIG)


def is_plain_image(doc: dict) -> bool:
    """True for an image manifest the seed may rebuild (recompress): image config, known layer types, no subject or
    artifactType.  Anything else is carried verbatim."""
    if not isinstance(doc.get("config"), dict) or not isinstance(doc.get("layers"), list):
        return False
    if doc.get("subject") or doc.get("artifactType") or (doc["config"].get("mediaType") or OCI_CONFIG) not in IMAGE_CONFIGS:
        return False
    known = set(OCI_LAYER_TYPES) | set(OCI_LAYER_TYPES.values())
    return all((d.get("mediaType") or DOCKER_LAYER_GZIP) in known for d in doc["layers"] if isinstance(d, dict))


class PartsFile(io.RawIOBase):
    """The parts of a split tarball (`NAME.tar.part001`, ...; paths in order) as one seekable read-only file: reads
    and seeks cross part boundaries; one part is open at a time.  OSError naming the part that cannot be opened."""

    def __init__(self, parts: list[str]) -> None:
        super().__init__()
        self.parts = list(parts)
        self.name = split_base(parts[0])
        self._starts = []
        total = 0
        for part in self.parts:
            self._starts.append(total)
            total += os.path.getsize(part)
        self.size = total
        self._pos = 0
        self._fh = None
        self._open_index = -1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _part_at(self, pos: int) -> int:
        return bisect.bisect_right(self._starts, pos) - 1

    def readinto(self, buf: bytearray | memoryview) -> int:
        """Fill `buf` (across parts) up to the end of the last part; the number of bytes read."""
        view, done = memoryview(buf), 0
        while done < len(view) and self._pos < self.size:
            done += self._read_part(view[done:])
        return done

    def _read_part(self, view: memoryview) -> int:
        """Read into `view` from the part holding the current position, up to that part's end."""
        index = self._part_at(self._pos)
        if index != self._open_index:
            if self._fh:
                self._fh.close()
            self._fh = open(self.parts[index], "rb")
            self._open_index = index
        self._fh.seek(self._pos - self._starts[index])
        end = self._starts[index + 1] if index + 1 < len(self._starts) else self.size
        n = self._fh.readinto(view[:min(len(view), end - self._pos)])
        if not n:
            raise OSError(f"{self.parts[index]}: shorter than when the parts were opened")
        self._pos += n
        return n

    def close(self) -> None:
        if self._fh:
            self._fh.close()
            self._fh = None
        super().close()


class _Section(io.RawIOBase):
    """A read-only window [start, start+size) of an opened file (closed with the window)."""

    def __init__(self, fh: BinaryIO, start: int, size: int) -> None:
        super().__init__()
        self._fh = fh
        self._fh.seek(start)
        self._left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > self._left:
            n = self._left
        data = self._fh.read(n)
        self._left -= len(data)
        return data

    def readinto(self, buf: bytearray | memoryview) -> int:
        data = self.read(len(buf))
        buf[:len(data)] = data
        return len(data)

    def send_to(self, sock: socket.socket, n: int) -> int:
        """Send up to n bytes of the window to `sock` (sendfile(2) on a plain socket: no copy through Python)."""
        sent = sock.sendfile(self._fh, self._fh.tell(), min(n, self._left)) if self._left else 0
        self._left -= sent
        return sent

    def close(self) -> None:
        self._fh.close()
        super().close()


class _Limited:
    """At most `size` bytes of a sequential stream (member `what` inside a compressed tar)."""

    def __init__(self, fh: Reader, size: int, what: str, on_close: Callable[[], None] | None = None) -> None:
        self._fh = fh
        self._left = size
        self._what = what
        self._on_close = on_close

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > self._left:
            n = self._left
        try:
            data = self._fh.read(n)
        except archive_errors() as exc:
            raise ImageArchiveError(f"{self._what}: cannot read: {exc.__class__.__name__}: {exc}") from None
        self._left -= len(data)
        return data

    def close(self) -> None:
        if self._on_close:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> _Limited:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_decompressed(path: str, kind: str, raw: BinaryIO | None = None) -> Reader:
    """A sequential reader of the whole tarball's decompressed bytes (`kind`: none|gzip|zstd; `raw`: its bytes already
    opened, as for split parts); ImageArchiveError."""
    try:
        return compression.open_file(path, kind, raw)
    except CompressError as exc:
        raise ImageArchiveError(str(exc)) from None


def split_parts(path: str) -> list[str]:
    """The parts of the split tarball `path` names (`NAME.tar`, `NAME.tar.zst`, or any of its parts), in order; [] when
    it is not split.  ImageArchiveError naming every part that NAME.sha256 lists, or that a later part implies, but
    that is missing."""
    base = split_base(path)
    if base == path and os.path.exists(path):
        return []
    try:
        listed = [os.path.join(os.path.dirname(base), name) for _hex, name in read_checksums(base)]
    except BundleError as exc:
        raise ImageArchiveError(str(exc)) from None
    present = glob.glob(glob.escape(base) + ".part[0-9][0-9][0-9]*")
    if not present and not listed:
        return []
    parts = parts_of(base)
    missing = [p for p in listed if not os.path.exists(p)]
    if not missing and len(parts) < len(present):
        missing = [part_name(base, len(parts) + 1)]
    if missing:
        raise ImageArchiveError(f"split bundle {base}: part {', '.join(missing)} is missing")
    return parts


BASE_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError, ValueError, KeyError, TypeError, AttributeError,
                       CompressError)


def archive_errors() -> tuple:
    """Exceptions that mean a broken tarball (zstandard's too, once it is loaded)."""
    return BASE_ARCHIVE_ERRORS + compression.decompress_errors()


class TarballReader:
    """The members of a tarball (plain, gzip or zstd), read without unpacking: `members` {name: Member}.

    A plain tarball is indexed once (headers only) and its members are read in place by offset; a compressed one is
    read in one sequential pass that keeps the small JSON documents and hashes compressed unnamed blobs.  `path` may
    also be an OCI layout directory (a directory holding `oci-layout`: every file is a member, read in place) or a
    split tarball (`NAME.tar` whose parts exist, or a part: the parts are read as one file, `parts`).  `form` is
    directory, tar, tar.gz or tar.zst.  ImageArchiveError (naming the
    file) when the file cannot be read or is not a tar.
    """

    def __init__(self, path: str) -> None:
        self.members = {}
        self._data = {}
        self.parts = [] if os.path.isdir(path) else split_parts(path)
        self.path = split_base(path) if self.parts else path
        if os.path.isdir(path):
            self.form, self.compression, self.seekable = "directory", "none", True
            self._guarded(self._scan_directory)
            return
        try:
            with self._open_raw() as fh:
                head = fh.read(512)
        except OSError as exc:
            raise ImageArchiveError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if not head:
            raise ImageArchiveError(f"{path}: empty file, not an image tarball")
        self.compression = detect(head)
        self.seekable = self.compression == "none"
        self.form = {"none": "tar", "gzip": "tar.gz", "zstd": "tar.zst"}[self.compression]
        self._guarded(self._scan)

    def _open_raw(self) -> BinaryIO:
        """The tarball's bytes as stored (the parts as one file when split), seekable."""
        return PartsFile(self.parts) if self.parts else open(self.path, "rb")

    def _open_member_file(self, member: Member) -> BinaryIO:
        return open(member.file, "rb") if member.file else self._open_raw()

    def _guarded(self, step):
        """Run `step`, turning what a broken tarball raises into an ImageArchiveError naming the file."""
        try:
            return step()
        except ImageArchiveError:
            raise
        except archive_errors() as exc:
            raise ImageArchiveError(f"{self.path}: not a readable image tarball ({self.compression}): {exc.__class__.__name__}: {exc}") from None

    # --- scanning ------------------------------------------------------------------------------------------------
    def _scan_directory(self) -> None:
        """Every regular file under an OCI layout directory is a member, by its path relative to the directory."""
        if not os.path.isfile(os.path.join(self.path, OCI_LAYOUT_FILE)):
            raise ImageArchiveError(f"{self.path}: a directory without {OCI_LAYOUT_FILE}, not an OCI image layout")
        for root, dirs, files in os.walk(self.path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                if os.path.isfile(full):
                    rel = os.path.relpath(full, self.path).replace(os.sep, "/")
                    self.members[rel] = Member(rel, 0, os.path.getsize(full), file=full)

    def _scan(self) -> None:
        if self.seekable:
            with self._open_raw() as raw:
                size = raw.seek(0, io.SEEK_END)
                raw.seek(0)
                end = self._index_plain(tarfile.open(fileobj=raw, mode="r:"), size)
                raw.seek(end)
                marker = raw.read(2 * tarfile.BLOCKSIZE)
            if self.members and (len(marker) < 2 * tarfile.BLOCKSIZE or marker.strip(b"\0")):
                raise ImageArchiveError(f"{self.path}: truncated: no end-of-archive marker after byte {end} (the last "
                                        "member read ends there)")
            if not self.members:
                raise ImageArchiveError(f"{self.path}: not a tar archive (or an empty one)")
            return
        stream = self._decompressed()
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for info in tar:
                    if info.isfile():
                        self._scan_member(_norm(info.name), info.size, tar.extractfile(info))
        finally:
            stream.close()
        if not self.members:
            raise ImageArchiveError(f"{self.path}: no files in the {self.compression}-compressed tar")

    def _index_plain(self, tar: tarfile.TarFile, size: int) -> int:
        """Record every regular file's data offset of a plain tar of `size` bytes (headers only); the byte where the
        members end (the end-of-archive marker's place)."""
        with tar:
            for info in tar:
                if not info.isfile():
                    continue
                if info.offset_data + info.size > size:
                    raise ImageArchiveError(f"{self.path}: truncated: member {info.name} ends at byte {info.offset_data + info.size}, "
                                            f"file has {size}")
                self.members[_norm(info.name)] = Member(_norm(info.name), info.offset_data, info.size)
            return tar.offset

    def _decompressed(self) -> Reader:
        """A sequential reader of the compressed tarball's decompressed bytes."""
        return open_decompressed(self.path, self.compression, self._open_raw() if self.parts else None)

    def _scan_member(self, name: str, size: int, fh) -> None:
        """Record one member of a streamed tar: keep small JSON documents, hash compressed unnamed blobs."""
        head = fh.read(min(size, READ_BLOCK))
        member = Member(name, None, size, head[:8])
        self.members[name] = member
        if size <= METADATA_MAX and head.lstrip()[:1] in (b"{", b"["):
            data = head + fh.read(size - len(head))
            if len(data) != size:
                raise ImageArchiveError(f"{self.path}: truncated inside {name}")
            self._data[name] = data
            return
        hasher = hashlib.sha256(head) if detect(head) != "none" and not BLOB_NAME.match(name) else None
        left = size - len(head)
        while left > 0:
            block = fh.read(min(READ_BLOCK, left))
            if not block:
                raise ImageArchiveError(f"{self.path}: truncated inside {name}")
            if hasher:
                hasher.update(block)
            left -= len(block)
        if hasher:
            member.digest = "sha256:" + hasher.hexdigest()

    # --- member access -------------------------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return _norm(name) in self.members

    def read(self, name: str) -> bytes:
        """The whole content of a (small, at most METADATA_MAX bytes) member; ImageArchiveError when it cannot be."""
        name = _norm(name)
        if name in self._data:
            return self._data[name]
        member = self.members.get(name)
        if member is None:
            raise ImageArchiveError(f"{self.path}: member {name} is missing")
        if member.size > METADATA_MAX:
            raise ImageArchiveError(f"{self.path}: {name} is {member.size} bytes, too large for a metadata document")
        if not self.seekable:
            raise ImageArchiveError(f"{self.path}: {name} is not a JSON document")
        with self.open_member(name) as fh:
            data = fh.read()
        self._data[name] = data
        return data

    def read_json(self, name: str) -> Any:
        """A member parsed as JSON; ImageArchiveError when it is missing or not JSON."""
        try:
            return json.loads(self.read(name))
        except ValueError as exc:
            raise ImageArchiveError(f"{self.path}: {name} is not valid JSON: {exc}") from None

    def head(self, name: str) -> bytes:
        """The first (up to 8) bytes of a member."""
        member = self.members[_norm(name)]
        if not member.head and self.seekable:
            with self.open_member(name) as fh:
                member.head = fh.read(8)
        return member.head

    def open_member(self, name: str, offset: int = 0) -> Reader:
        """A reader of member `name` from byte `offset` (a compressed tarball is decompressed again up to it)."""
        member = self.members[_norm(name)]
        if self.seekable:
            return _Section(self._open_member_file(member), member.offset + offset, member.size - offset)
        stream = self._decompressed()
        try:
            tar = tarfile.open(fileobj=stream, mode="r|")
            for info in tar:
                if _norm(info.name) == member.name and info.isfile():
                    fh = tar.extractfile(info)
                    self._skip(fh, offset, name)
                    return _Limited(fh, member.size - offset, f"{self.path} ({name})", on_close=stream.close)
        except archive_errors() as exc:
            stream.close()
            raise ImageArchiveError(f"{self.path}: cannot read {name}: {exc}") from None
        stream.close()
        raise ImageArchiveError(f"{self.path}: member {name} vanished")

    def _skip(self, fh, count: int, name: str) -> None:
        """Read and drop `count` bytes of member `name`."""
        while count > 0:
            block = fh.read(min(READ_BLOCK, count))
            if not block:
                raise ImageArchiveError(f"{self.path}: truncated inside {name}")
            count -= len(block)

    def stream_members(self, names: Iterable[str]) -> Iterator[tuple[str, Reader]]:
        """Yield (name, reader) for the members in `names`, in tar order, in one sequential pass."""
        wanted = {_norm(n) for n in names}
        if self.seekable:
            for name in sorted(wanted, key=lambda n: self.members[n].offset):
                with self.open_member(name) as fh:
                    yield name, fh
            return
        stream = self._decompressed()
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for info in tar:
                    name = _norm(info.name)
                    if name in wanted and info.isfile():
                        yield name, _Limited(tar.extractfile(info), info.size, f"{self.path} ({name})")
                        wanted.discard(name)
                        if not wanted:
                            return
        except archive_errors() as exc:
            raise ImageArchiveError(f"{self.path}: cannot read: {exc.__class__.__name__}: {exc}") from None
        finally:
            stream.close()
        raise ImageArchiveError(f"{self.path}: {', '.join(sorted(wanted))} no longer in the tarball (did it change during the run?)")

    def member_digest(self, name: str) -> str:
        """`sha256:<hex>` digest of a member's bytes (hashing it when its name does not say)."""
        member = self.members[_norm(name)]
        if member.digest is None:
            match = BLOB_NAME.match(member.name)
            if match:
                member.digest = f"{match.group(1)}:{match.group(2)}"
            else:
                hasher = hashlib.sha256()
                with self.open_member(name) as fh:
                    for block in iter(lambda: fh.read(READ_BLOCK), b""):
                        hasher.update(block)
                member.digest = "sha256:" + hasher.hexdigest()
        return member.digest


class ImageArchive(TarballReader):
    """An image tarball: `docker save` (legacy and Docker 25+ OCI layout) or an OCI archive (image-spec
    image-layout.md), plain, gzip or zstd; `images` is its ArchiveImage list.  ImageArchiveError names the file."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.manifests: list[ArchiveManifest] = []
        self.warnings: list[str] = []
        self.bundle = self._bundle_document()
        self.images = self._guarded(self._parse)
        if not self.images and not self.manifests:
            raise ImageArchiveError(f"{path}: tarball holds no image (no manifest.json, no index.json)")

    # --- parsing -------------------------------------------------------------------------------------------------
    def _bundle_document(self) -> dict | None:
        """airgap-bundle.json of a bundle (docs/bundles.md), parsed; None for another archive."""
        if not self.has(BUNDLE_FILE):
            return None
        try:
            return parse_bundle_document(self.read(BUNDLE_FILE), self.path)
        except BundleError as exc:
            raise ImageArchiveError(str(exc)) from None

    @property
    def delta_blobs(self) -> dict[str, str]:
        """{blob digest: site repository} a delta bundle relies on at the site; {} for anything else."""
        return ((self.bundle or {}).get("delta") or {}).get("blobs") or {}

    def _parse(self) -> list:
        if self.has("manifest.json"):
            if self.has("index.json"):
                self._note_docker_index()
            return self._parse_docker(self._oci_manifests())
        if self.has("index.json"):
            return self._parse_oci()
        return []

    def _oci_manifests(self):
        """{config digest: (manifest bytes, media type)} for every image manifest stored as a blob."""
        found = {}
        for name in list(self.members):
            if not BLOB_NAME.match(name) or self.members[name].size > METADATA_MAX:
                continue
            if not self.seekable and name not in self._data:
                continue
            if self.seekable and self.head(name).lstrip()[:1] != b"{":
                continue
            try:
                doc = json.loads(self.read(name))
            except ValueError:
                continue
            if isinstance(doc, dict) and isinstance(doc.get("config"), dict) and isinstance(doc.get("layers"), list):
                media_type = doc.get("mediaType") or OCI_MANIFEST
                found.setdefault(doc["config"].get("digest"), (self.read(name), media_type))
        return found

    def _config(self, name):
        data = self.read(name)
        try:
            config = json.loads(data)
            diff_ids = config["rootfs"]["diff_ids"]
        except (ValueError, KeyError, TypeError):
            raise ImageArchiveError(f"{self.path}: {name} is not an image config (no rootfs.diff_ids)") from None
        return data, diff_ids

    def _layer(self, name, diff_id, media_types):
        if not self.has(name):
            raise ImageArchiveError(f"{self.path}: layer {name} is missing")
        member = self.members[_norm(name)]
        compression = detect(self.head(name))
        match = BLOB_NAME.match(member.name)
        if match:
            digest = f"{match.group(1)}:{match.group(2)}"
        elif compression == "none":
            digest = diff_id
        else:
            digest = self.member_digest(name)
        return Layer(member.name, member.size, digest, diff_id, compression, media_types.get(digest))

    def _parse_docker(self, manifests):
        entries = self.read_json("manifest.json")
        if not isinstance(entries, list):
            raise ImageArchiveError(f"{self.path}: manifest.json is not a list of images")
        images = []
        for entry in entries:
            config_name = entry.get("Config")
            if not config_name or not self.has(config_name):
                raise ImageArchiveError(f"{self.path}: image config {config_name} named in manifest.json is missing")
            config, diff_ids = self._config(config_name)
            layer_names = entry.get("Layers") or []
            if len(layer_names) != len(diff_ids):
                raise ImageArchiveError(f"{self.path}: {config_name} lists {len(diff_ids)} layers, manifest.json {len(layer_names)}")
            config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
            source = manifests.get(config_digest)
            media_types = _layer_media_types(source)
            layers = [self._layer(n, d, media_types) for n, d in zip(layer_names, diff_ids)]  # noqa: B905 - lengths checked; Python 3.8
            if source and [x["digest"] for x in json.loads(source[0])["layers"]] != [x.digest for x in layers]:
                source = None
            images.append(ArchiveImage(self, list(entry.get("RepoTags") or []), config, layers, source))
        return images

    def _parse_oci(self):
        """Plain images (ArchiveImage) and units carried verbatim (ArchiveManifest) of index.json.  Everything in a
        bundle, and a plain image some referrer names as its subject, is verbatim (its digest is kept); referrers
        (a subject, no name) go with their subject."""
        index = self.read_json("index.json")
        images = []
        entries = [d for d in (index.get("manifests") if isinstance(index, dict) else None) or [] if isinstance(d, dict)]
        docs = {}
        for desc in entries:
            name = _blob_path(desc.get("digest", ""))
            if not self.has(name):
                raise ImageArchiveError(f"{self.path}: index.json names {desc.get('digest')}, which is not in the tarball")
            docs[desc["digest"]] = json.loads(self.read(name))
        subjects = {(doc.get("subject") or {}).get("digest") for doc in docs.values() if isinstance(doc, dict)
                    and isinstance(doc.get("subject"), dict)}
        for desc in entries:
            refs = _oci_refs(desc.get("annotations") or {}, self.path)
            doc = docs[desc["digest"]]
            if self.bundle is None and isinstance(doc, dict) and not isinstance(doc.get("manifests"), list) \
                    and is_plain_image(doc) and desc["digest"] not in subjects:
                images.extend(self._oci_image(refs, desc))
                continue
            absent = [] if self.bundle is not None else self._engine_export_absent(desc, doc)
            if absent:
                # An engine's export (containerd's name on the entry) holds the platforms it pulled, by design: seed
                # those as single images, and say that the index digest cannot be kept.
                self.warnings.append(f"{self.path}: engine export of multi-platform image index {desc.get('digest')} holds "
                                     f"only some platforms (missing: {', '.join(absent)}); seeding the platforms present "
                                     "as single images, so the tag will not have the index digest")
                images.extend(self._oci_image(refs, desc))
                continue
            self.manifests.append(self._verbatim(desc, refs))
        self._attach_referrers()
        return images

    def _attach_referrers(self) -> None:
        """Move each unnamed manifest with a subject under the manifest (top or child) it refers to."""
        by_digest = {m.digest: m for unit in self.manifests for m in unit.walk()}
        for unit in list(self.manifests):
            subject = by_digest.get(unit.subject) if unit.subject and not unit.refs else None
            if subject is not None and subject is not unit:
                subject.referrers.append(unit)
                self.manifests.remove(unit)

    def _engine_export_absent(self, desc: dict, doc: Any) -> list[str]:
        """The platforms (str) whose manifests an engine export's index names but the tarball lacks; [] when the entry
        is not an engine export (no containerd image name) or nothing is absent."""
        if not isinstance(doc, dict) or not isinstance(doc.get("manifests"), list) or \
                ANNOTATION_CONTAINERD_NAME not in (desc.get("annotations") or {}):
            return []
        return [str(Platform.parse(c.get("platform"))) for c in doc["manifests"]
                if isinstance(c, dict) and not self.has(_blob_path(c.get("digest", "")))]

    def _oci_image(self, refs, desc):
        images = []
        for manifest_bytes, media_type in self._resolve(desc):
            manifest = json.loads(manifest_bytes)
            config_name = _blob_path(manifest["config"]["digest"])
            if not self.has(config_name):
                raise ImageArchiveError(f"{self.path}: config blob {manifest['config']['digest']} is missing")
            config, diff_ids = self._config(config_name)
            descs = manifest["layers"]
            if len(descs) != len(diff_ids):
                raise ImageArchiveError(f"{self.path}: manifest has {len(descs)} layers, its config {len(diff_ids)}")
            media_types = {d["digest"]: d.get("mediaType") for d in descs}
            layers = [self._layer(_blob_path(d["digest"]), i, media_types) for d, i in zip(descs, diff_ids)]  # noqa: B905 - lengths checked; Python 3.8
            image = ArchiveImage(self, refs, config, layers, (manifest_bytes, media_type))
            image.digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
            images.append(image)
        return images

    def _verbatim(self, desc: dict, refs: list, parent: ArchiveManifest | None = None, depth: int = 0) -> ArchiveManifest:
        """The manifest or index `desc` names, with its children and blobs, checked: every child and blob is in the
        tarball and each child's config agrees with the platform its index gives; ImageArchiveError naming the file and
        digest otherwise."""
        digest = desc.get("digest", "")
        name = _blob_path(digest)
        where = f"index {parent.digest}" if parent else "index.json"
        if not self.has(name):
            plat = f" ({Platform.parse(desc.get('platform'))})" if desc.get("platform") else ""
            raise ImageArchiveError(f"{self.path}: {where} names manifest {digest}{plat}, which is not in the tarball")
        body = self.read(name)
        algorithm = digest.partition(":")[0]
        if algorithm not in ("sha256", "sha512") or f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}" != digest:
            raise ImageArchiveError(f"{self.path}: blob {digest} does not match its digest")
        if isinstance(desc.get("size"), int) and desc["size"] != len(body):
            raise ImageArchiveError(f"{self.path}: {where} gives manifest {digest} {desc['size']} bytes; it has {len(body)}")
        try:
            doc = json.loads(body)
        except ValueError:
            raise ImageArchiveError(f"{self.path}: manifest {digest} is not JSON") from None
        media_type = (doc.get("mediaType") if isinstance(doc, dict) else None) or desc.get("mediaType") or OCI_MANIFEST
        unit = ArchiveManifest(self, refs, digest, media_type, body)
        if desc.get("platform"):
            unit.platform = str(Platform.parse(desc["platform"]))
        if unit.is_index:
            if depth > 3:
                raise ImageArchiveError(f"{self.path}: index {digest} nests indexes too deep")
            unit.children = [self._verbatim(child, [], unit, depth + 1) for child in doc["manifests"]]
            return unit
        try:
            manifest = Manifest.parse(doc, f"{self.path}: manifest {digest}")
        except DescriptorError as exc:
            raise ImageArchiveError(str(exc)) from None
        for blob in [manifest.config, *manifest.layers]:
            if self.has(_blob_path(blob.digest)):
                held = self.members[_blob_path(blob.digest)].size
                if held != blob.size:
                    raise ImageArchiveError(f"{self.path}: manifest {digest} gives blob {blob.digest} {blob.size} bytes; "
                                            f"the tarball holds {held}")
                unit.blobs.append(blob)
            elif blob.digest in self.delta_blobs:
                unit.external.append((blob, self.delta_blobs[blob.digest]))
            elif not blob.urls:
                raise ImageArchiveError(f"{self.path}: manifest {digest} needs blob {blob.digest}, which is not in the tarball")
        if not any(b.digest == manifest.config.digest for b, _repo in unit.external):
            self._check_platform(unit, manifest, where)
        return unit

    def _check_platform(self, unit: ArchiveManifest, manifest: Manifest, where: str) -> None:
        """An index entry's platform must be its image config's (an attestation, unknown/unknown, is not checked)."""
        if not unit.platform or unit.platform == "unknown/unknown" or manifest.config.media_type not in IMAGE_CONFIGS:
            return
        try:
            config = json.loads(self.read(_blob_path(manifest.config.digest)))
        except ValueError:
            raise ImageArchiveError(f"{self.path}: config {manifest.config.digest} of manifest {unit.digest} is not JSON") from None
        given = Platform.from_string(unit.platform)
        actual = Platform(config.get("os"), config.get("architecture"), config.get("variant"))
        if actual.os != given.os or actual.architecture != given.architecture or \
                (given.variant and actual.variant and given.variant != actual.variant):
            raise ImageArchiveError(f"{self.path}: {where} lists manifest {unit.digest} as {given}, but its config "
                                    f"{manifest.config.digest} is {actual}")

    def _note_docker_index(self) -> None:
        """A Docker 25+ `docker save` also writes index.json; when it names an index whose children are not all in the
        tarball (the engine pulled one platform), say that the index digest cannot be kept."""
        try:
            index = self.read_json("index.json")
            for desc in index.get("manifests") or []:
                name = _blob_path(desc.get("digest", ""))
                if not self.has(name):
                    continue
                doc = json.loads(self.read(name))
                if not isinstance(doc.get("manifests"), list):
                    continue
                absent = [str(Platform.parse(c.get("platform"))) for c in doc["manifests"] if not self.has(_blob_path(c.get("digest", "")))]
                if absent:
                    self.warnings.append(
                        f"{self.path}: docker save of multi-platform image index {desc['digest']} holds only some platforms "
                        f"(missing: {', '.join(absent)}); seeding the platform present as a single image, so the tag will "
                        "not have the index digest")
        except (ImageArchiveError, ValueError, AttributeError, TypeError):
            return

    def _resolve(self, desc, depth=0):
        """Image manifests (bytes, media type) reachable from a descriptor whose blobs are in the tarball."""
        name = _blob_path(desc.get("digest", ""))
        if depth > 4 or not self.has(name):
            return []
        data = self.read(name)
        doc = json.loads(data)
        media_type = doc.get("mediaType") or desc.get("mediaType")
        if isinstance(doc.get("manifests"), list):
            out = []
            for child in doc["manifests"]:
                out.extend(self._resolve(child, depth + 1))
            return out
        config = doc.get("config") or {}
        if not self.has(_blob_path(config.get("digest", ""))):
            return []
        if not all(self.has(_blob_path(x.get("digest", ""))) for x in doc.get("layers") or []):
            return []
        return [(data, media_type or OCI_MANIFEST)]


def _norm(name):
    return name[2:] if name.startswith("./") else name


def _blob_path(digest):
    algo, _sep, hexdigest = digest.partition(":")
    return f"blobs/{algo}/{hexdigest}"


def _layer_media_types(source):
    if not source:
        return {}
    return {d.get("digest"): d.get("mediaType") for d in json.loads(source[0]).get("layers") or []}


def _oci_refs(annotations, path):
    """Image refs of an OCI index entry: containerd's full name, else ref.name (a bare tag gets the file's name)."""
    full = annotations.get(ANNOTATION_CONTAINERD_NAME)
    if full:
        return [full]
    ref = annotations.get(ANNOTATION_REF_NAME)
    if not ref:
        return []
    if ":" in ref or "/" in ref:
        return [ref]
    stem = re.sub(r"\.(tar|tgz|tzst|gz|zst|oci)$", "", os.path.basename(path))
    stem = re.sub(r"\.(tar|oci)$", "", stem)
    return [f"{re.sub(r'[^a-z0-9._-]+', '-', stem.lower()).strip('-._') or 'image'}:{ref}"]


def read_archive(path: str) -> ImageArchive:
    """Open and parse an image tarball; raises ImageArchiveError naming the file and the problem."""
    return ImageArchive(path)


def _digest_from_path(path: str | None) -> str | None:
    """`sha256:<hex>` from `<hex>.json` or `blobs/sha256/<hex>`; None when the name does not carry it."""
    match = re.search(r"(?:^|/)(?:sha256/)?([0-9a-f]{64})(?:\.json)?$", path or "")
    return "sha256:" + match.group(1) if match else None


def _docker_identity(tar: TarballReader) -> dict | None:
    entries = tar.read_json("manifest.json")
    if not isinstance(entries, list) or len(entries) != 1:
        return None
    config_digest = _digest_from_path(entries[0].get("Config"))
    index = tar.read_json("index.json") if tar.has("index.json") else {}
    ids = [config_digest] + [m["digest"] for m in index.get("manifests") or [] if isinstance(m, dict) and m.get("digest")]
    return {"format": "docker-archive", "config_digest": config_digest, "refs": list(entries[0].get("RepoTags") or []), "ids": ids}


def _oci_identity(tar: TarballReader) -> dict | None:
    manifests = tar.read_json("index.json").get("manifests") or []
    if len(manifests) != 1 or manifests[0].get("mediaType") not in (OCI_MANIFEST, DOCKER_MANIFEST):
        return None
    desc = manifests[0]
    manifest = tar.read_json(_blob_path(desc["digest"]))
    ref = (desc.get("annotations") or {}).get(ANNOTATION_REF_NAME)
    return {"format": "oci-archive", "config_digest": manifest["config"]["digest"], "refs": [ref] if ref else [],
            "ids": [manifest["config"]["digest"], desc["digest"]]}


def archive_identity(path: str) -> dict | None:
    """{format, config_digest, refs, ids} of the one image a tarball holds, or None when it is absent, unreadable or
    holds something else.

    `format` is docker-archive (a manifest.json) or oci-archive (index.json and oci-layout, image-spec
    image-layout.md); `ids` are the digests that identify the image: its config, and the manifest or index digests of
    an OCI layout (an engine with the containerd image store gives the index digest as the image ID).
    """
    try:
        tar = TarballReader(path)
        if tar.has("manifest.json"):
            return _docker_identity(tar)
        if tar.has("index.json") and tar.has("oci-layout"):
            return _oci_identity(tar)
    except (ImageArchiveError, KeyError, TypeError, AttributeError, ValueError):
        return None
    return None
