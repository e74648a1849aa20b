"""`pyregistry serve-bundle`: a bundle (docs/bundles.md: an OCI image layout directory, an uncompressed tarball of
one, or that tarball's split parts) served in place, read-only, with no copy, no joining and no unpacking.

BundleStorage answers the read calls the handlers make of pyregistry.storage.Storage (catalog, tags, blob_stat,
open_blob, get_manifest, referrers) from an index built once at start: index.json's named images become repositories
and tags by the seed's retag rule without a registry part (`docker.io/library/alpine:3.19` -> `alpine:3.19`, or
`library/alpine:3.19` with hub_library); each repository holds the manifests reachable from its images (index
children, and referrers whose subject it holds) and the blobs those manifests reference. A blob of the bundle that
none of a repository's manifests references is unknown in that repository, as in a registry.

The Ansible collection's module_utils (bundle_layout, reference) are imported here only, so `pyregistry serve` runs
without the collection.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tarfile
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from pyregistry import manifests
from pyregistry.errors import BlobUnknown, ManifestInvalid, ManifestUnknown, PyRegistryError
from pyregistry.storage import is_digest

log = logging.getLogger("pyregistry")
READONLY_MESSAGE = "read-only bundle"


class BundleServeError(PyRegistryError):
    """A bundle that cannot be served: the message names the path and the problem."""


Piece = tuple[str, int, int]  # (file on disk, offset in it, byte count)


@dataclass
class Member:
    """Where a file of the bundle lives: `pieces` in order (one, but a member of a split tarball can span parts)."""

    pieces: list[Piece]

    @property
    def size(self) -> int:
        """Bytes of the member."""
        return sum(count for _path, _offset, count in self.pieces)

    def range(self, offset: int, count: int) -> list[Piece]:
        """The pieces holding bytes [offset, offset + count) of the member."""
        found, start = [], 0
        for path, piece_offset, piece_count in self.pieces:
            low, high = max(offset, start), min(offset + count, start + piece_count)
            if low < high:
                found.append((path, piece_offset + low - start, high - low))
            start += piece_count
        return found


class PartsReader(io.RawIOBase):
    """The parts of a split tarball read as one seekable file (to index its headers)."""

    def __init__(self, parts: list[str]) -> None:
        super().__init__()
        self.whole = Member([(part, 0, os.path.getsize(part)) for part in parts])
        self.size = self.whole.size
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        self.pos = max(0, {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence] + pos)
        return self.pos

    def readinto(self, buffer: Any) -> int:
        pieces = self.whole.range(self.pos, len(buffer))
        if not pieces:
            return 0
        path, offset, count = pieces[0]
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(count)
        buffer[:len(data)] = data
        self.pos += len(data)
        return len(data)

    def locate(self, offset: int, count: int) -> list[Piece]:
        """The parts' pieces holding bytes [offset, offset + count) of the whole tarball."""
        return self.whole.range(offset, count)


class BundleFiles:
    """The files of a bundle by their name inside the layout (`index.json`, `blobs/sha256/<hex>`): a directory's
    files, or a tarball's regular members found by reading its headers once (tarfile's offset_data), the tarball
    being one file or the `parts` of a split one."""

    def __init__(self, path: str, parts: list[str] | None = None) -> None:
        self.path = path
        self.members: dict[str, Member] = {}
        if os.path.isdir(path):
            self._index_directory()
        else:
            self._index_tar(parts or [path])

    def _index_directory(self) -> None:
        """The layout's top files and blobs/<algorithm>/<file>; BundleServeError naming a symbolic link among them (it
        could lead out of the bundle, and blob bytes are served unchecked)."""
        for top in ("oci-layout", "index.json", "airgap-bundle.json"):
            full = os.path.join(self.path, top)
            if os.path.isfile(full):
                self.members[top] = Member([(self._not_a_link(full), 0, os.path.getsize(full))])
        blobs = os.path.join(self.path, "blobs")
        for algorithm in (os.listdir(blobs) if os.path.isdir(blobs) else []):
            if not os.path.isdir(self._not_a_link(os.path.join(blobs, algorithm))):
                continue
            with os.scandir(os.path.join(blobs, algorithm)) as entries:
                for entry in entries:
                    if entry.is_file():
                        self.members[f"blobs/{algorithm}/{entry.name}"] = Member([(self._not_a_link(entry.path), 0,
                                                                                   entry.stat().st_size)])

    @staticmethod
    def _not_a_link(path: str) -> str:
        if os.path.islink(path):
            raise BundleServeError(f"{path}: a symbolic link; serve-bundle serves only files inside the bundle (copy "
                                   "the file it points to in its place)")
        return path

    def _index_tar(self, parts: list[str]) -> None:
        reader = PartsReader(parts)
        try:
            with io.BufferedReader(reader) as buffered, tarfile.open(fileobj=buffered, mode="r:") as tar:
                spans = [(info.name, info.offset_data, info.size) for info in tar if info.isreg() and not info.issparse()]
        except tarfile.ReadError as exc:
            raise BundleServeError(f"{self.path}: not an uncompressed tar of an OCI image layout ({exc}"
                                   f"{'; a part is missing or short' if len(parts) > 1 else ''})") from None
        end = max((offset + size for _name, offset, size in spans), default=0)
        if end > reader.size:
            raise BundleServeError(f"{self.path}: truncated tar (a member ends at byte {end}, past its end at {reader.size}"
                                   f"{'; a part is missing or short' if len(parts) > 1 else ''})")
        for name, offset, size in spans:
            self.members[name[2:] if name.startswith("./") else name] = Member(reader.locate(offset, size) if size else [(parts[0], offset, 0)])

    def read(self, name: str) -> bytes | None:
        """The bytes of a (small) file of the bundle, or None when it has none by that name."""
        member = self.members.get(name)
        return None if member is None else self.read_member(member)

    @staticmethod
    def read_member(member: Member) -> bytes:
        """The bytes of `member`; OSError when a file holding it is shorter than they are."""
        chunks = []
        for path, offset, count in member.pieces:
            with open(path, "rb") as fh:
                fh.seek(offset)
                chunks.append(fh.read(count))
            if len(chunks[-1]) != count:
                raise OSError(f"{path}: {count} bytes at offset {offset} are not all there")
        return b"".join(chunks)


@dataclass
class Repository:
    """One served repository: tags {tag: digest}, manifests {digest}, blobs {digest} its manifests reference."""

    tags: dict[str, str] = field(default_factory=dict)
    manifests: set[str] = field(default_factory=set)
    blobs: set[str] = field(default_factory=set)


def check_servable(path: str) -> tuple[str, list[str]]:
    """(path, parts): the bundle directory or uncompressed `.tar` that `path` names, with the parts of a split tarball
    (`NAME.tar` or any `NAME.tar.partNNN` when only parts exist; [] when not split). BundleServeError for a `.tar.zst`
    (whole or split) or nothing there."""
    from ansible_collections.airgap.registry.plugins.module_utils import bundle_layout

    parts = bundle_layout.parts_of(path)
    base = bundle_layout.split_base(path)
    if base.endswith(".zst"):
        raise BundleServeError(f"{path}: a compressed bundle cannot be served in place; decompress it first "
                               f"(zstd -d {base}{', after joining its parts' if parts else ''}), or seed it into a registry "
                               "with airgap-seed")
    if not parts and not os.path.exists(path):
        raise BundleServeError(f"{path}: no such bundle (a directory holding oci-layout, a .tar, or its .tar.part001...)")
    try:
        listed = [os.path.join(os.path.dirname(base), name) for _hex, name in bundle_layout.read_checksums(base)]
    except bundle_layout.BundleError as exc:
        raise BundleServeError(str(exc)) from None
    missing = [name for name in listed if parts and not os.path.exists(name)]
    if missing:
        raise BundleServeError(f"{base}: {len(missing)} part(s) listed in {bundle_layout.checksum_name(base)} are missing: "
                               f"{', '.join(missing)}")
    return (base, parts) if parts else (path, [])


class BundleStorage:
    """The read side of pyregistry.storage.Storage over one bundle (see the module docstring).

    open_blob_range gives the pieces of files holding a byte range of a blob (a directory's blob file, a tarball's
    member at its offset, or the parts a member of a split tarball spans), for the handler to sendfile. Raises BundleServeError at construction for a
    bundle it cannot serve (not a layout, a delta, unreadable names, a manifest whose bytes do not match its digest,
    two images with one repository:tag)."""

    readonly_message = READONLY_MESSAGE

    def __init__(self, path: str, hub_library: bool = False) -> None:
        self.path, parts = check_servable(path)
        self.files = BundleFiles(self.path, parts)
        if parts:
            log.warning("%s: serving its %d parts in place; their checksums are not checked here (cd %s && sha256sum -c "
                        "%s.sha256, or airgap-bundle verify)", self.path, len(parts), os.path.dirname(self.path) or ".",
                        os.path.basename(self.path))
        self.blobs = {f"{name.split('/')[1]}:{name.split('/')[2]}": member for name, member in self.files.members.items()
                      if name.count("/") == 2 and name.startswith("blobs/")}  # digest -> where its bytes are
        self.infos: dict[str, manifests.ManifestInfo] = {}
        self.repos: dict[str, Repository] = {}
        self._check_layout()
        entries = self._load_json("index.json").get("manifests")
        if not isinstance(entries, list):
            raise BundleServeError(f"{self.path}: index.json has no manifests list")
        self._add_images(entries, hub_library)
        self._add_referrers(entries)

    # ---- building the index ------------------------------------------------------------------------------
    def _load_json(self, name: str) -> Any:
        data = self.files.read(name)
        if data is None:
            raise BundleServeError(f"{self.path}: no {name}: not an OCI image layout (docs/bundles.md)")
        try:
            return json.loads(data)
        except ValueError as exc:
            raise BundleServeError(f"{self.path}: {name} is not JSON: {exc}") from None

    def _check_layout(self) -> None:
        """oci-layout present; airgap-bundle.json (when present) readable and not a delta."""
        from ansible_collections.airgap.registry.plugins.module_utils import bundle_layout

        self._load_json(bundle_layout.OCI_LAYOUT_FILE)
        data = self.files.read(bundle_layout.BUNDLE_FILE)
        if data is None:
            log.warning("%s: no %s: serving it as a plain OCI image layout", self.path, bundle_layout.BUNDLE_FILE)
            return
        try:
            doc = bundle_layout.parse_bundle_document(data, self.path)
        except bundle_layout.BundleError as exc:
            raise BundleServeError(str(exc)) from None
        if doc.get("delta") is not None:
            site = doc["delta"].get("registry") or "the site's registry"
            raise BundleServeError(f"{self.path}: a delta bundle relies on {len(doc['delta']['blobs'])} blob(s) held by "
                                   f"{site}, not inside it; seed it into that registry with airgap-seed instead of serving it")

    def _manifest(self, digest: str, media_type: str | None) -> manifests.ManifestInfo | None:
        """The parsed manifest `digest` (cached), None when the bundle lacks it; BundleServeError when its bytes do not
        hash to `digest` or are no manifest (or `digest` is not sha256, the only algorithm pyregistry serves)."""
        if digest in self.infos:
            return self.infos[digest]
        data = self._blob_bytes(digest)
        if data is None:
            return None
        if not manifests.DIGEST_RE.fullmatch(digest):
            raise BundleServeError(f"{self.path}: manifest {digest} is not a sha256 digest, which pyregistry cannot serve")
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise BundleServeError(f"{self.path}: manifest {digest} does not match its digest (check with airgap-bundle verify)")
        try:
            info = manifests.parse(data, media_type)
        except ManifestInvalid as exc:
            raise BundleServeError(f"{self.path}: manifest {digest} cannot be served: {exc.message} {exc.detail or ''}") from None
        self.infos[digest] = info
        return info

    def _blob_bytes(self, digest: str) -> bytes | None:
        member = self.blobs.get(digest)
        return None if member is None else self.files.read_member(member)

    def _hold(self, repo: Repository, digest: str, media_type: str | None) -> None:
        """Add manifest `digest`, its children (recursively) and the blobs they reference to `repo`; a child the bundle
        lacks (a platform left out) is skipped."""
        pending = [(digest, media_type)]
        while pending:
            current, current_type = pending.pop()
            if current in repo.manifests:
                continue
            info = self._manifest(current, current_type)
            if info is None:
                continue
            repo.manifests.add(current)
            repo.blobs.add(current)
            repo.blobs.update(info.blobs)
            pending.extend((child, None) for child, _platform in info.children)

    def _add_images(self, entries: list, hub_library: bool) -> None:
        """Each named index.json entry as repository + tag (or digest only) by the retag rule."""
        from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import reference_of
        from ansible_collections.airgap.registry.plugins.module_utils.reference import RetagError, parse_ref, retag

        origin: dict[tuple[str, str], str] = {}
        for entry in entries:
            reference = reference_of(entry) if isinstance(entry, dict) else None
            if reference is None:
                continue
            try:
                served = parse_ref(retag(reference, "bundle.invalid", hub_library))  # the seed's rule, registry dropped
            except RetagError as exc:
                raise BundleServeError(f"{self.path}: index.json names {reference!r}, which cannot be served: {exc}") from None
            digest = entry.get("digest")
            if not isinstance(digest, str) or self._manifest(digest, entry.get("mediaType")) is None:
                raise BundleServeError(f"{self.path}: index.json names {reference} with manifest {digest}, which the bundle lacks")
            repo = self.repos.setdefault(served.path, Repository())
            self._hold(repo, digest, entry.get("mediaType"))
            if served.tag:
                key = (served.path, served.tag)
                if key in origin and repo.tags[served.tag] != digest:
                    raise BundleServeError(f"{self.path}: {origin[key]} and {reference} would both be served as "
                                           f"{served.path}:{served.tag}")
                origin[key] = reference
                repo.tags[served.tag] = digest

    def _add_referrers(self, entries: list) -> None:
        """Unnamed index.json entries whose manifest has a subject: held by every repository holding the subject
        (repeated until nothing changes, so a referrer of a referrer follows)."""
        from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import reference_of

        referrers = []
        for entry in entries:
            if isinstance(entry, dict) and reference_of(entry) is None and isinstance(entry.get("digest"), str):
                info = self._manifest(entry["digest"], entry.get("mediaType"))
                if info is not None and info.subject:
                    referrers.append((entry["digest"], entry.get("mediaType"), info.subject))
        changed = True
        while changed:
            changed = False
            for repo in self.repos.values():
                for digest, media_type, subject in referrers:
                    if subject in repo.manifests and digest not in repo.manifests:
                        self._hold(repo, digest, media_type)
                        changed = True

    # ---- what the handlers call --------------------------------------------------------------------------
    def catalog(self) -> list[str]:
        """Every repository, in Distribution's order."""
        return sorted(self.repos, key=lambda name: name.split("/"))

    def tags(self, name: str) -> list[str] | None:
        """Sorted tags of a repository, or None when the bundle serves no such repository."""
        repo = self.repos.get(name)
        return None if repo is None else sorted(repo.tags)

    def blob_stat(self, name: str, digest: str) -> tuple[str, int] | None:
        """(path of the file holding it, size) of a blob the repository's manifests reference, or None."""
        repo = self.repos.get(name)
        member = self.blobs.get(digest) if repo is not None and digest in repo.blobs else None
        return None if member is None else (member.pieces[0][0], member.size)

    def open_blob_range(self, digest: str, offset: int, count: int) -> list[tuple[BinaryIO, int, int]]:
        """Bytes [offset, offset + count) of the blob as [(open file, offset in it, count)] to send in order (the
        caller closes the files); BlobUnknown when the bundle lacks the blob."""
        member = self.blobs.get(digest)
        if member is None:
            raise BlobUnknown(detail={"digest": digest})
        pieces = []
        try:
            for path, piece_offset, piece_count in member.range(offset, count):
                pieces.append((open(path, "rb"), piece_offset, piece_count))  # noqa: SIM115 - BlobResponse closes them
        except OSError:
            for fobj, _offset, _count in pieces:
                fobj.close()
            raise
        return pieces

    def get_manifest(self, name: str, reference: str) -> tuple[str, bytes, manifests.ManifestInfo]:
        """(digest, bytes, ManifestInfo) for a tag or digest of the repository, or raise MANIFEST_UNKNOWN."""
        repo = self.repos.get(name)
        digest = None if repo is None else (reference if is_digest(reference) else repo.tags.get(reference))
        if digest is None or digest not in repo.manifests:
            raise ManifestUnknown(detail={"name": name, "reference": reference})
        data = self._blob_bytes(digest)
        if data is None:
            raise ManifestUnknown(detail={"name": name, "reference": reference})
        return digest, data, self.infos[digest]

    def referrers(self, name: str, subject: str, artifact_type: str | None = None) -> list[dict[str, Any]]:
        """Descriptors of the repository's manifests whose subject is `subject` (and artifact type, when given)."""
        repo = self.repos.get(name)
        found = []
        for digest in sorted(repo.manifests if repo is not None else ()):
            info = self.infos[digest]
            if info.subject != subject or (artifact_type and info.artifact_type != artifact_type):
                continue
            desc = {"mediaType": info.media_type, "digest": digest, "size": info.size}
            if info.artifact_type:
                desc["artifactType"] = info.artifact_type
            if info.annotations:
                desc["annotations"] = info.annotations
            found.append(desc)
        return found
