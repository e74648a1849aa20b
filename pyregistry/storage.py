"""Registry storage: blobs, uploads, manifests, tags, referrers, catalog, and what garbage-collect reads and deletes.

Every path comes from paths.Layout and every access goes through a driver.StorageDriver (FilesystemDriver by default).
Errors are the domain errors of pyregistry.errors (BlobUnknown, ManifestUnknown, RangeInvalid, ...), which carry no
HTTP status: the API layer maps them (errors.http_status).

Everything a client can see becomes visible by one rename or one link write, after its digest and size were
verified and its data synced (driver), so a crash or a power cut leaves either the old state or the new one.

Concurrency: a repository's links are written and deleted under its lock (repo_lock), an upload under the flock of
its data file, and whatever links a blob or a manifest holds the gc lock shared (garbage-collect's sweep holds it
exclusive). All are flocks, so they hold across worker processes. Lock order: upload, gc, repository.
"""
from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid as uuidlib
from collections import OrderedDict
from datetime import datetime, timezone
from collections.abc import Iterable
from typing import Any, BinaryIO, ContextManager

from pyregistry import manifests
from pyregistry.driver import FilesystemDriver, StorageDriver
from pyregistry.errors import (BlobUnknown, BlobUploadUnknown, DeleteDisabled, DigestInvalid, ManifestBlobUnknown,
                               ManifestInvalid, ManifestUnknown, NameInvalid, RangeInvalid, TagInvalid)
from pyregistry.paths import Layout

NAME_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"  # Distribution's grammar; [-]+, not [-]*: no backtracking blow-up
NAME_RE = re.compile(rf"{NAME_COMPONENT}(?:/{NAME_COMPONENT})*")
TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
UUID_RE = re.compile(r"[a-f0-9-]{36}")
HEX_RE = re.compile(r"[a-f0-9]{64}")
MAX_NAME_LENGTH = 255
HASH_READ_SIZE = 4 * 1024 * 1024


def check_name(name: str) -> None:
    """Raise NAME_INVALID unless `name` is a valid repository name."""
    if len(name) > MAX_NAME_LENGTH or not NAME_RE.fullmatch(name):
        raise NameInvalid(detail={"name": name[:300]})


def check_digest(digest: str | None) -> None:
    """Raise DIGEST_INVALID unless `digest` is a sha256 digest."""
    if not manifests.DIGEST_RE.fullmatch(digest or ""):
        raise DigestInvalid(detail={"digest": (digest or "")[:200]})


def is_digest(reference: str) -> bool:
    """True when a manifest reference is a digest ('algorithm:hex'), not a tag."""
    return ":" in reference


def referrer_descriptor(digest: str, info: manifests.ManifestInfo) -> dict[str, Any]:
    """The descriptor of referrer `digest` in a referrers API answer (distribution-spec "Listing Referrers"):
    mediaType, digest, size, and its artifactType and annotations when it has them."""
    desc = {"mediaType": info.media_type, "digest": digest, "size": info.size}
    if info.artifact_type:
        desc["artifactType"] = info.artifact_type
    if info.annotations:
        desc["annotations"] = info.annotations
    return desc


def upload_in_use(upload_id: str) -> RangeInvalid:
    """The error for a request that would write (or commit) an upload while another request writes it."""
    return RangeInvalid(detail={"uuid": upload_id, "reason": "another request is writing this upload"})


def check_reference(reference: str) -> None:
    """A manifest reference is a tag or a digest."""
    if is_digest(reference):
        check_digest(reference)
    elif not TAG_RE.fullmatch(reference):
        raise TagInvalid(detail={"tag": reference[:200]})


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> float | None:
    """Distribution's startedat timestamp (nanoseconds allowed) -> epoch seconds, or None."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text.strip())
    if not m:
        return None
    stamp = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    zone = m.group(3)
    offset = 0 if zone == "Z" else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    frac = float("0." + m.group(2)) if m.group(2) else 0.0
    return stamp.replace(tzinfo=timezone.utc).timestamp() - offset + frac


class UploadState:
    """Incremental sha256 of an upload's data file, kept in memory between requests (hasher None: not known here).

    Only the holder of the data file's flock (see Storage.open_upload) reads or changes it."""

    def __init__(self, hasher: Any, offset: int) -> None:
        self.hasher = hasher
        self.offset = offset


class UploadWriter:
    """Appends request bytes to an upload's data file, hashing as it goes. Call write() off the event loop.

    Holds the data file's flock from creation to close(), so one request at a time writes an upload, in any process."""

    def __init__(self, state: UploadState, fh: BinaryIO) -> None:
        self.state = state
        self.fh = fh
        self.start = state.offset
        self.start_hasher = state.hasher.copy() if state.hasher is not None else None

    def write(self, parts: list[bytes]) -> None:
        """Append a list of byte strings (no joining: one copy less per byte)."""
        for chunk in parts:
            self.fh.write(chunk)
            if self.state.hasher is not None:
                self.state.hasher.update(chunk)
            self.state.offset += len(chunk)

    def close(self) -> None:
        """Close the data file, which lets the next request write to this upload (closing twice is harmless)."""
        if not self.fh.closed:
            self.fh.close()

    def abort(self) -> None:
        """Roll the upload back to where this writer started (after a failed or rejected request body), then close.
        The truncation happens while the lock is still held."""
        try:
            if not self.fh.closed:
                self.fh.flush()
                self.fh.truncate(self.start)
                self.state.hasher, self.state.offset = self.start_hasher, self.start
        except OSError:
            self.state.offset = -1
        finally:
            self.close()


class Storage:
    """The registry's data model over a Distribution-compatible directory tree."""

    readonly_message = "registry is in read-only mode"  # the answer to a write in read-only mode

    def __init__(self, root: str, delete_enabled: bool = False, driver: StorageDriver | None = None,
                 index_rule: manifests.IndexRule | None = None) -> None:
        self.layout = Layout(root)
        self.driver = driver or FilesystemDriver()
        self.delete_enabled = delete_enabled
        self.index_rule = index_rule or manifests.IndexRule()  # which children of a pushed index must exist
        self._uploads = {}
        self._uploads_lock = threading.Lock()
        self._manifest_cache = OrderedDict()
        self._cache_lock = threading.Lock()

    # ---- locks -------------------------------------------------------------------------------------------
    def repo_lock(self, name: str) -> ContextManager[None]:
        """Exclusive lock of one repository's links (tags, revisions, layers): its writers and deleters take turns."""
        return self.driver.lock(self.layout.lock("repo", name))

    def sweeping(self) -> ContextManager[None]:
        """The gc lock held exclusively: no blob or manifest is linked meanwhile (garbage-collect's sweep)."""
        return self.driver.lock(self.layout.gc_lock())

    def _no_sweep(self) -> ContextManager[None]:
        """Shared lock that keeps garbage-collect's sweep out while a blob or manifest is checked and linked."""
        return self.driver.lock(self.layout.gc_lock(), shared=True)

    # ---- blobs -------------------------------------------------------------------------------------------
    def _linked(self, link_path: str, digest: str) -> bool:
        """True when the link file at `link_path` holds `digest`."""
        content = self.driver.read(link_path)
        return content is not None and content.decode(errors="replace").strip() == digest

    def blob_in_repo(self, name: str, digest: str) -> bool:
        """True when the repository links `digest` as a layer/config (or as a manifest)."""
        return self._linked(self.layout.layer_link(name, digest), digest) or self._linked(self.layout.revision_link(name, digest), digest)

    def blob_stat(self, name: str, digest: str) -> tuple[str, int] | None:
        """(path, size) of a blob the repository holds, or None."""
        if not self.blob_in_repo(name, digest):
            return None
        path = self.layout.blob_data(digest)
        size = self.driver.size(path)
        return None if size is None else (path, size)

    def open_blob(self, digest: str) -> BinaryIO:
        """A blob's bytes open for reading (the caller closes it); raises BlobUnknown when it is gone (swept)."""
        try:
            return self.driver.open_read(self.layout.blob_data(digest))
        except (FileNotFoundError, NotADirectoryError):
            raise BlobUnknown(detail={"digest": digest}) from None

    def open_blob_range(self, digest: str, offset: int, count: int) -> list[tuple[BinaryIO, int, int]]:
        """Bytes [offset, offset + count) of a blob as pieces [(open file, offset in it, count)] to send in order (here
        one piece; a bundle's blob can span the parts of a split tarball). The caller closes the files; BlobUnknown
        when the blob is gone."""
        return [(self.open_blob(digest), offset, count)]

    def blob_exists(self, digest: str) -> bool:
        """True when the store holds the blob (in any repository)."""
        return self.driver.exists(self.layout.blob_data(digest))

    def link_blob(self, name: str, digest: str) -> None:
        """Link a blob into a repository (its layer link, rewritten: a fresh mtime)."""
        with self._no_sweep(), self.repo_lock(name):
            self.driver.write(self.layout.layer_link(name, digest), digest.encode())

    def delete_blob(self, name: str, digest: str) -> None:
        """Unlink a blob from a repository (the data stays until garbage-collect)."""
        if not self.delete_enabled:
            raise DeleteDisabled(detail="deletes are disabled (storage.delete.enabled)")
        with self.repo_lock(name):
            if not self._linked(self.layout.layer_link(name, digest), digest):
                raise BlobUnknown(detail={"digest": digest})
            self.driver.delete(self.layout.layer_dir(name, digest))

    def touch_blob(self, digest: str) -> None:
        """Mark a blob as just used (its mtime), so garbage-collect's grace period covers it.

        Raises BLOB_UNKNOWN when the blob is gone: garbage-collect set it aside for deletion before this touch could
        reach it (a touch that reaches it first makes the sweep put it back)."""
        try:
            self.driver.touch(self.layout.blob_data(digest))
        except FileNotFoundError:
            raise BlobUnknown(detail={"digest": digest}) from None
        except OSError:
            pass

    def mount(self, name: str, source: str | None, digest: str) -> bool:
        """Cross-repository mount: link an existing blob into `name`; False when it cannot."""
        if source is not None:
            check_name(source)
            if not self.blob_in_repo(source, digest):
                return False
        with self._no_sweep():  # the blob cannot be swept between this check and the link
            if not self.blob_exists(digest):
                return False
            self.touch_blob(digest)
            self.link_blob(name, digest)
        return True

    # ---- uploads -----------------------------------------------------------------------------------------
    def start_upload(self, name: str) -> str:
        """Create an upload session; returns its uuid."""
        upload_id = str(uuidlib.uuid4())
        try:
            self.driver.write(self.layout.upload_startedat(name, upload_id), _now_rfc3339().encode(), durable=False)
            self.driver.write(self.layout.upload_data(name, upload_id), b"", durable=False)
        except OSError:
            self.driver.delete(self.layout.upload(name, upload_id), durable=False)
            raise
        with self._uploads_lock:
            self._uploads[(name, upload_id)] = UploadState(hashlib.sha256(), 0)
        return upload_id

    def upload_size(self, name: str, upload_id: str) -> int:
        """Bytes received so far, or raise BLOB_UPLOAD_UNKNOWN."""
        if not UUID_RE.fullmatch(upload_id):
            raise BlobUploadUnknown(detail={"uuid": upload_id[:100]})
        size = self.driver.size(self.layout.upload_data(name, upload_id))
        if size is None:
            raise BlobUploadUnknown(detail={"uuid": upload_id})
        return size

    def _state(self, name: str, upload_id: str) -> UploadState:
        with self._uploads_lock:
            state = self._uploads.get((name, upload_id))
            if state is None:
                state = self._uploads[(name, upload_id)] = UploadState(None, -1)
        return state

    def open_upload(self, name: str, upload_id: str) -> tuple[BinaryIO, int]:
        """The upload's data file, open for appending with its flock held: (file object, size).

        Raises BLOB_UPLOAD_UNKNOWN when the upload is gone (committed or cancelled meanwhile), RANGE_INVALID when
        another request (of this or another worker process) holds it."""
        self.upload_size(name, upload_id)
        path = self.layout.upload_data(name, upload_id)
        try:
            fh = self.driver.open_append(path)  # never created: a committed upload stays gone
        except (FileNotFoundError, NotADirectoryError):
            raise BlobUploadUnknown(detail={"uuid": upload_id}) from None
        try:
            if not self.driver.try_lock(fh):
                raise upload_in_use(upload_id)
            if not self.driver.same_file(fh, path):  # committed (renamed into blobs/) while we waited for the lock
                raise BlobUploadUnknown(detail={"uuid": upload_id})
            return fh, self.driver.open_size(fh)
        except BaseException:
            fh.close()
            raise

    def upload_state(self, name: str, upload_id: str, size: int) -> UploadState:
        """The upload's hash state at `size` bytes, re-hashed from disk when memory does not match (lock held)."""
        state = self._state(name, upload_id)
        if state.hasher is None or state.offset != size:
            hasher = hashlib.sha256()
            offset = 0
            with self.driver.open_read(self.layout.upload_data(name, upload_id)) as fh:
                while offset < size and (chunk := fh.read(min(HASH_READ_SIZE, size - offset))):
                    hasher.update(chunk)
                    offset += len(chunk)
            state.hasher, state.offset = hasher, offset
        return state

    def upload_writer(self, name: str, upload_id: str) -> UploadWriter:
        """An UploadWriter appending to the upload. When this process did not see the earlier bytes (a restart, or
        another worker process), hashing is deferred to the commit, which then hashes the whole file once."""
        fh, size = self.open_upload(name, upload_id)
        state = self._state(name, upload_id)
        if state.offset != size:
            state.hasher, state.offset = None, size
        return UploadWriter(state, fh)

    def cancel_upload(self, name: str, upload_id: str) -> None:
        """Remove an upload session; raise BLOB_UPLOAD_UNKNOWN when there is none, RANGE_INVALID while another request
        writes or commits it (never pulled from under a commit)."""
        fh, _size = self.open_upload(name, upload_id)
        with fh:
            self.discard_upload(name, upload_id)

    def discard_upload(self, name: str, upload_id: str) -> None:
        """Drop an upload session's state and directory (no error when already gone)."""
        with self._uploads_lock:
            self._uploads.pop((name, upload_id), None)
        self.driver.delete(self.layout.upload(name, upload_id), durable=False)  # found again after a power cut: purged later

    def commit_upload(self, name: str, upload_id: str, digest: str) -> int:
        """Verify the upload against `digest`, then move it into place and link it; returns the size.

        Holds the upload's lock throughout (a concurrent PATCH or commit of it gets RANGE_INVALID, a later one
        BLOB_UPLOAD_UNKNOWN) and the shared garbage-collect lock while the blob is placed and linked."""
        check_digest(digest)
        fh, size = self.open_upload(name, upload_id)
        with fh:
            state = self.upload_state(name, upload_id, size)
            actual = "sha256:" + state.hasher.hexdigest()
            if actual != digest:
                self.discard_upload(name, upload_id)
                raise DigestInvalid(detail={"expected": digest, "actual": actual})
            with self._no_sweep():
                self._place_blob(name, digest, self.layout.upload_data(name, upload_id), state.offset)
            self.discard_upload(name, upload_id)
        return state.offset

    def _place_blob(self, name: str, digest: str, data: str, size: int) -> None:
        """Put a verified upload's data file at the blob's path (unless the same bytes are there) and link it."""
        target = self.layout.blob_data(digest)
        if self.driver.size(target) == size:
            self.touch_blob(digest)  # wanted again: a running garbage-collect leaves fresh blobs alone
            self.link_blob(name, digest)
            if self.driver.size(target) != size:  # swept in between all the same: put these bytes in place
                self.driver.move(data, target)
        else:
            self.driver.move(data, target)
            self.link_blob(name, digest)

    def list_uploads(self) -> list[tuple[str, str, float]]:
        """(name, uuid, started_epoch) of every upload session on disk."""
        found = []
        for name in self.repositories(uploads=True):
            for upload_id in self.driver.list(self.layout.uploads(name)):
                raw = self.driver.read(self.layout.upload_startedat(name, upload_id))
                started = parse_rfc3339(raw.decode(errors="replace")) if raw else None
                if started is None:
                    started = self.driver.mtime(self.layout.upload(name, upload_id)) or time.time()
                found.append((name, upload_id, started))
        return found

    def purge_uploads(self, age: float, dryrun: bool = False, now: float | None = None) -> list[tuple[str, str]]:
        """Remove upload sessions started more than `age` seconds ago; returns the (name, uuid) purged."""
        now = time.time() if now is None else now
        purged = []
        for name, upload_id, started in self.list_uploads():
            if now - started > age and (dryrun or self._discard_idle(name, upload_id)):
                purged.append((name, upload_id))
        return purged

    def _discard_idle(self, name: str, upload_id: str) -> bool:
        """Discard an upload session unless a request is writing or committing it right now; True when discarded."""
        try:
            fh, _size = self.open_upload(name, upload_id)
        except RangeInvalid:
            return False
        except BlobUploadUnknown:
            self.discard_upload(name, upload_id)  # no data file to hold (e.g. half-made by a crash)
            return True
        with fh:
            self.discard_upload(name, upload_id)
        return True

    # ---- manifests ---------------------------------------------------------------------------------------
    def manifest_info(self, digest: str, data: bytes | None = None) -> manifests.ManifestInfo | None:
        """Parsed info of a stored manifest (cached: manifests are immutable), or None."""
        with self._cache_lock:
            info = self._manifest_cache.get(digest)
            if info is not None:
                self._manifest_cache.move_to_end(digest)
                return info
        if data is None:
            data = self.driver.read(self.layout.blob_data(digest))
            if data is None:
                return None
        try:
            info = manifests.parse(data)
        except ManifestInvalid:
            return None
        with self._cache_lock:
            self._manifest_cache[digest] = info
            while len(self._manifest_cache) > 4096:
                self._manifest_cache.popitem(last=False)
        return info

    def resolve(self, name: str, reference: str) -> str:
        """Tag or digest -> digest of a manifest the repository holds, or raise MANIFEST_UNKNOWN."""
        if is_digest(reference):
            if self._linked(self.layout.revision_link(name, reference), reference):
                return reference
        else:
            link = self.driver.read(self.layout.tag_current_link(name, reference))
            if link is not None:
                digest = link.decode(errors="replace").strip()
                if manifests.DIGEST_RE.fullmatch(digest) and self._linked(self.layout.revision_link(name, digest), digest):
                    return digest
        raise ManifestUnknown(detail={"name": name, "reference": reference})

    def get_manifest(self, name: str, reference: str) -> tuple[str, bytes, manifests.ManifestInfo]:
        """(digest, bytes, ManifestInfo) for a tag or digest, or raise MANIFEST_UNKNOWN."""
        digest = self.resolve(name, reference)
        data = self.driver.read(self.layout.blob_data(digest))
        if data is None:
            raise ManifestUnknown(detail={"name": name, "reference": reference})
        info = self.manifest_info(digest, data)
        if info is None:
            raise ManifestUnknown(detail={"name": name, "reference": reference, "reason": "stored manifest unreadable"})
        return digest, data, info

    def put_manifest(self, name: str, reference: str, data: bytes, content_type: str | None) -> tuple[str, manifests.ManifestInfo]:
        """Validate and store a manifest under its digest (and tag); returns (digest, ManifestInfo)."""
        manifests.check_size(len(data))
        info = manifests.parse(data, content_type)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if is_digest(reference) and reference != digest:
            raise DigestInvalid(detail={"expected": reference, "actual": digest})
        with self._no_sweep(), self.repo_lock(name):
            self._store_manifest(name, reference, data, digest, info)
        self.manifest_info(digest, data)
        return digest, info

    def _store_manifest(self, name: str, reference: str, data: bytes, digest: str, info: manifests.ManifestInfo) -> None:
        """Check that the repository holds what the manifest references, then write it and link it (locks held).
        The tag's current link is written last: it is what makes the tag visible."""
        for blob in info.blobs:
            if not (manifests.DIGEST_RE.fullmatch(blob) and self.blob_stat(name, blob)):
                raise ManifestBlobUnknown(detail={"digest": blob})
        for child in self.index_rule.required(info):
            if not (manifests.DIGEST_RE.fullmatch(child) and self._linked(self.layout.revision_link(name, child), child)):
                raise ManifestBlobUnknown(message="manifest references a child manifest unknown to the repository", detail={"digest": child})
        for blob in info.blobs:
            self.touch_blob(blob)
        target = self.layout.blob_data(digest)
        if self.driver.size(target) != len(data):
            self.driver.write(target, data)
        self.driver.write(self.layout.revision_link(name, digest), digest.encode())
        if not is_digest(reference):
            self.driver.write(self.layout.tag_index_link(name, reference, digest), digest.encode())
            self.driver.write(self.layout.tag_current_link(name, reference), digest.encode())

    def delete_manifest(self, name: str, reference: str) -> None:
        """Delete a tag, or a manifest revision by digest together with the tags that point at it."""
        if not self.delete_enabled:
            raise DeleteDisabled(detail="deletes are disabled (storage.delete.enabled)")
        with self.repo_lock(name):
            self._delete_manifest(name, reference)

    def _delete_manifest(self, name: str, reference: str) -> None:
        if not is_digest(reference):
            if not self.driver.exists(self.layout.tag_current_link(name, reference)):
                raise ManifestUnknown(detail={"name": name, "tag": reference})
            self.driver.delete(self.layout.tag(name, reference))
            return
        digest = self.resolve(name, reference)
        for tag in self.tags(name) or []:
            link = self.driver.read(self.layout.tag_current_link(name, tag))
            if link is not None and link.decode(errors="replace").strip() == digest:
                self.driver.delete(self.layout.tag(name, tag))
        self.driver.delete(self.layout.revision_dir(name, digest))

    # ---- garbage-collect's view: every blob, link times, deletions ----------------------------------------
    def all_blobs(self) -> list[str]:
        """Digests of every blob in the store, linked or not."""
        found = []
        for prefix in self.driver.list(self.layout.blob_algorithm()):
            found += ["sha256:" + hexpart for hexpart in self.driver.list(self.layout.blob_prefix(prefix)) if HEX_RE.fullmatch(hexpart)]
        return found

    def blob_mtime(self, digest: str) -> float | None:
        """When a blob was last written or touched (epoch seconds), or None."""
        return self.driver.mtime(self.layout.blob_data(digest))

    def layer_mtime(self, name: str, digest: str) -> float | None:
        """When the repository last linked the blob (epoch seconds), or None."""
        return self.driver.mtime(self.layout.layer_link(name, digest))

    def revision_mtime(self, name: str, digest: str) -> float | None:
        """When the repository last linked the manifest revision (epoch seconds), or None."""
        return self.driver.mtime(self.layout.revision_link(name, digest))

    def unlink_revision(self, name: str, digest: str) -> None:
        """Remove a manifest revision and the tags' index entries for it (synced: never back after its blobs are
        gone). For garbage-collect's sweep, which holds the gc lock; the tags' current links are not touched."""
        for tag in self.tags(name) or []:
            self.driver.delete(self.layout.tag_index_dir(name, tag, digest))
        self.driver.delete(self.layout.revision_dir(name, digest))

    def unlink_layer(self, name: str, digest: str) -> None:
        """Remove a repository's layer link to a swept blob (not synced: a link found again after a power cut
        points at nothing and is swept next time)."""
        self.driver.delete(self.layout.layer_dir(name, digest), durable=False)

    def sweep_blob(self, digest: str, grace: float) -> bool:
        """Delete one blob unless it was touched within `grace` seconds; True when deleted.

        A HEAD touches a blob without the gc lock, so the blob is first set aside (a touch from then on fails, and the
        HEAD answers 404), then its mtime is read: a touch that came before shows, and the blob is put back."""
        path = self.layout.blob_dir(digest)
        aside = self.driver.set_aside(path, durable=False)  # garbage found again after a power cut is swept next time
        if aside is None:
            return False
        if time.time() - (self.driver.mtime(self.layout.blob_data_in(aside)) or 0) < grace:
            self.driver.put_back(aside, path)
            return False
        self.driver.delete(aside, durable=False)
        return True

    # ---- tags, catalog, referrers ------------------------------------------------------------------------
    def tags(self, name: str) -> list[str] | None:
        """Sorted tags of a repository, or None when the repository has no tags directory.

        Only tags with a current link are listed (what GET can resolve), whatever a crash or Distribution left."""
        path = self.layout.tags(name)
        if not self.driver.is_dir(path):
            return None
        return [tag for tag in self.driver.list(path) if self.driver.exists(self.layout.tag_current_link(name, tag))]

    def layer_digests(self, name: str) -> list[str]:
        """Digests of the blobs linked into a repository (its _layers links)."""
        return ["sha256:" + hexpart for hexpart in self.driver.list(self.layout.layers(name)) if HEX_RE.fullmatch(hexpart)]

    def last_push_activity(self, name: str) -> float:
        """Epoch of the newest push step in a repository: a layer linked, an upload session started or written to, a
        manifest put (0 when none)."""
        stamps = [self.driver.mtime(self.layout.layer_link(name, digest)) for digest in self.layer_digests(name)]
        stamps += [self.driver.mtime(self.layout.revision_link(name, "sha256:" + hexpart)) for hexpart in self.driver.list(self.layout.revisions(name))]
        for upload_id in self.driver.list(self.layout.uploads(name)):
            stamps += [self.driver.mtime(self.layout.upload_data(name, upload_id)), self.driver.mtime(self.layout.upload_startedat(name, upload_id))]
        return max((stamp for stamp in stamps if stamp is not None), default=0)

    def tag_digest(self, name: str, tag: str) -> str | None:
        """The digest a tag's current link holds, or None."""
        link = self.driver.read(self.layout.tag_current_link(name, tag))
        return link.decode(errors="replace").strip() if link is not None else None

    def revisions(self, name: str) -> list[str]:
        """Digests of every manifest revision linked in a repository (Distribution's deletes leave the directory, without link)."""
        digests = ("sha256:" + hexpart for hexpart in self.driver.list(self.layout.revisions(name)) if HEX_RE.fullmatch(hexpart))
        return [digest for digest in digests if self._linked(self.layout.revision_link(name, digest), digest)]

    def repositories(self, uploads: bool = False, markers: Iterable[str] | None = None) -> list[str]:
        """Repository names (with manifests, or with upload sessions, or with any of `markers`: e.g. "_layers"), in
        Distribution's order: path components compared one by one."""
        markers = set(markers or ["_uploads" if uploads else "_manifests"])
        found = []

        def walk(directory: str, prefix: str) -> None:
            entries = self.driver.list(directory)
            if prefix and markers.intersection(entries):
                found.append(prefix)
            for entry in entries:
                if entry.startswith("_"):
                    continue
                child = f"{prefix}/{entry}" if prefix else entry
                if self.driver.is_dir(self.layout.repo(child)):
                    walk(self.layout.repo(child), child)

        walk(self.layout.repositories, "")
        return sorted(found, key=lambda n: n.split("/"))

    def catalog(self) -> list[str]:
        """Every repository with manifests, in Distribution's order."""
        return self.repositories()

    def referrers(self, name: str, subject: str, artifact_type: str | None = None) -> list[dict[str, Any]]:
        """Descriptors of the repository's manifests whose subject is `subject`."""
        found = []
        for digest in self.revisions(name):
            info = self.manifest_info(digest)
            if info is None or info.subject != subject:
                continue
            if artifact_type and info.artifact_type != artifact_type:
                continue
            found.append(referrer_descriptor(digest, info))
        return found
