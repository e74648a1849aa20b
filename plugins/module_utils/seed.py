# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Seed a registry from image tarballs: plan (what is there already), then push blobs and manifests.

`direct` transport: straight from the tarball to the registry API.  Per target (image x tag): skip it when the
registry's manifest for the tag has the same config; otherwise every blob is pushed once per run (HEAD first,
mounted from a repository that has it, else uploaded, in parallel), mounted into the other repositories that
need it, then the manifest is put.  `engine` transport lives in seed_engine.
"""
from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import threading
import time
from functools import partial

from ansible_collections.airgap.registry.plugins.module_utils.image_archive import (
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_MANIFEST,
    ImageArchiveError,
    read_archive,
)
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryError, client_from_params
from ansible_collections.airgap.registry.plugins.module_utils.retag import RetagError, check_registry, parse_ref, retag
from ansible_collections.airgap.registry.plugins.module_utils.seed_compress import CompressError, convert

TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd", ".tzst")
LAYER_TYPES = {
    ("docker", "none"): "application/vnd.docker.image.rootfs.diff.tar",
    ("docker", "gzip"): "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ("oci", "none"): "application/vnd.oci.image.layer.v1.tar",
    ("oci", "gzip"): "application/vnd.oci.image.layer.v1.tar+gzip",
    ("oci", "zstd"): "application/vnd.oci.image.layer.v1.tar+zstd",
}
BLOB_ERRORS = (RegistryError, CompressError, ImageArchiveError, OSError)
STORAGE_HINT = " (the registry could not store the blob: is its disk full? see its log)"
DEFAULTS = {
    "transport": "direct", "layers": "preserve", "hub_library": False, "rename": None, "username": None, "password": None,
    "ca_file": None, "validate_certs": True, "scheme": None, "timeout": 60, "parallel": 4, "retries": 4, "chunk_size": None,
    "check_mode": False, "option_names": None,
}
# How errors name the options (the module's; the CLI passes its flags, see registry_api.MODULE_OPTION_NAMES).
SEED_OPTION_NAMES = {"src": "src"}


def human(n):
    """A byte count for people: 512 B, 1.5 KiB, 3.2 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n:.1f} GiB"


def summarize(images, check_mode=False):
    """One line about a run: images pushed (or that would be) and present, bytes sent (or to send), blobs."""
    pushed = sum(1 for i in images if i["changed"])
    blobs = {key: sum(i[key] for i in images) for key in ("blobs_pushed", "blobs_mounted", "blobs_skipped")}
    if check_mode:
        size = sum(i.get("bytes_to_send", 0) for i in images)
        return (f"{len(images)} images: {pushed} would be pushed, {len(images) - pushed} present; about {human(size)} to send "
                f"({blobs['blobs_pushed']} blobs to upload, {blobs['blobs_mounted']} to mount, {blobs['blobs_skipped']} present)")
    size = sum(i["bytes_sent"] for i in images)
    return (f"{len(images)} images: {pushed} pushed, {len(images) - pushed} present; {human(size)} sent "
            f"({blobs['blobs_pushed']} blobs uploaded, {blobs['blobs_mounted']} mounted, {blobs['blobs_skipped']} present)")


class SeedError(Exception):
    """The seed cannot go on; the message names the tarball, image or registry and the problem."""


class NullProgress:
    """Progress sink (the CLI draws bars; the module stays quiet)."""

    def blob_start(self, key, label, total):
        """A blob transfer begins (total may be None when unknown)."""

    def blob_advance(self, key, n):
        """n more bytes of a blob were sent."""

    def blob_done(self, key, how, label):
        """A blob is settled: how is pushed, skipped or mounted."""

    def target_done(self, result):
        """One target is settled (its result dict)."""


def compression_of_media_type(media_type):
    media_type = media_type or ""
    if media_type.endswith("gzip"):
        return "gzip"
    if media_type.endswith("zstd"):
        return "zstd"
    return "none"


def expand_sources(src, option="src"):
    """Tarball paths from files, directories (their *.tar, *.tar.gz, *.tgz, *.tar.zst files) and globs.

    Errors name `option` (the option that gave the paths) and the path.
    """
    if isinstance(src, str):
        src = [src]
    out = []
    for given in src or []:
        item = os.path.expanduser(str(given))
        if os.path.isdir(item):
            try:
                names = os.listdir(item)
            except OSError as exc:
                raise SeedError(f"{option} {item}: cannot list the directory: {exc.strerror or exc}") from None
            found = sorted(os.path.join(item, n) for n in names
                           if n.endswith(TARBALL_SUFFIXES) and os.path.isfile(os.path.join(item, n)))
        elif os.path.isfile(item):
            found = [item]
        elif glob.has_magic(item):
            found = sorted(p for p in glob.glob(item) if os.path.isfile(p))
            if not found:
                raise SeedError(f"{option} {item}: the pattern matches no file")
        else:
            raise SeedError(f"{option} {item}: no such file or directory")
        out.extend(found)
    out = list(dict.fromkeys(os.path.abspath(p) for p in out))
    if not out:
        raise SeedError(f"{option}: no image tarballs found in {', '.join(map(str, src or [])) or '(empty)'} "
                        "(*.tar, *.tar.gz, *.tgz, *.tar.zst)")
    return out


class Target:
    """One image pushed under one name."""

    def __init__(self, image, source, target):
        self.image = image
        self.source = source
        self.target = target
        ref = parse_ref(target)
        self.repo = ref.path
        self.tag = ref.tag or ref.reference
        self.existing = None
        self.push = True
        self.keys = []
        self.pending = set()
        self.result = {"source": source, "archive": image.archive.path, "target": target, "config_digest": image.config_digest,
                       "digest": None, "bytes_sent": 0, "blobs_pushed": 0, "blobs_mounted": 0, "blobs_skipped": 0, "changed": False}


class BlobJob:
    """One blob (config or layer) to get into the registry once per run."""

    def __init__(self, key, image, layer, want, home):
        self.key = key
        self.image = image
        self.layer = layer
        self.want = want
        self.home = home
        self.desc = None

    @property
    def label(self):
        if self.layer is None:
            return f"{self.home.repo} config {self.image.config_digest[7:19]}"
        return f"{self.home.repo} layer {(self.layer.digest or self.layer.diff_id)[7:19]}"

    @property
    def size(self):
        return len(self.image.config) if self.layer is None else self.layer.size

    @property
    def converted(self):
        return self.layer is not None and self.layer.compression != self.want

    @property
    def known_digest(self):
        if self.desc:
            return self.desc["digest"]
        if self.layer is None:
            return self.image.config_digest
        return None if self.converted else self.layer.digest


class Seeder:
    """One seed run (direct transport)."""

    def __init__(self, opts, progress=None):
        self.opts = {**DEFAULTS, **{k: v for k, v in opts.items() if v is not None}}
        if self.opts["layers"] not in ("preserve", "gzip", "zstd"):
            raise SeedError(f"layers must be preserve, gzip or zstd, not {self.opts['layers']!r}")
        if self.opts["transport"] not in ("direct", "engine"):
            raise SeedError(f"transport must be direct or engine, not {self.opts['transport']!r}")
        if int(self.opts["parallel"]) < 1:
            raise SeedError("parallel must be at least 1")
        try:
            check_registry(self.opts["registry"])
        except RetagError as exc:
            raise SeedError(str(exc)) from None
        self.names = {**SEED_OPTION_NAMES, **(self.opts["option_names"] or {})}
        self.progress = progress or NullProgress()
        self.client = None
        self.archives = []
        self.targets = []
        self.jobs = {}
        self.waiting = {}
        self.present = {}
        self.warnings = []
        self._abort = threading.Event()
        self._stats_lock = threading.Lock()

    # --- planning ------------------------------------------------------------------------------------------------
    def load(self):
        """Read every tarball and name every target; nothing is pushed before all of them parse."""
        for path in expand_sources(self.opts["src"], self.names["src"]):
            try:
                self.archives.append(read_archive(path))
            except ImageArchiveError as exc:
                raise SeedError(f"{self.names['src']} {exc}") from None
        by_target = {}
        for archive in self.archives:
            for image in archive.images:
                if not image.refs:
                    self.warnings.append(f"{archive.path}: image {image.config_digest} has no tag; skipped")
                for ref in image.refs:
                    try:
                        name = retag(ref, self.opts["registry"], hub_library=self.opts["hub_library"], rename=self.opts["rename"])
                    except RetagError as exc:
                        raise SeedError(f"{archive.path}: {exc}") from None
                    other = by_target.get(name)
                    if other is not None:
                        if other.image.config_digest != image.config_digest:
                            raise SeedError(f"{name} would receive two different images: {other.source} from {other.image.archive.path} "
                                            f"and {ref} from {archive.path}")
                        continue
                    target = Target(image, ref, name)
                    by_target[name] = target
                    self.targets.append(target)
        return self.targets

    def connect(self):
        opts = self.opts
        self.client = client_from_params(opts["registry"], opts, retries=opts["retries"])
        self.client.ping()
        return self.client

    def _check_target(self, target):
        """Up to date when the tag's manifest is the one this run would put (one HEAD), or has the same config."""
        head = self.client.head_manifest(target.repo, target.tag)
        if head is None:
            return
        planned = self._planned_manifest(target.image)
        if planned and head["digest"] == "sha256:" + hashlib.sha256(planned[0]).hexdigest():
            manifest, digest = json.loads(planned[0]), head["digest"]
        else:
            body, _media_type, digest = self.client.get_manifest(target.repo, head["digest"] or target.tag)
            try:
                manifest = json.loads(body)
            except ValueError:
                manifest = None
        target.existing = digest
        if not isinstance(manifest, dict) or (manifest.get("config") or {}).get("digest") != target.image.config_digest:
            return
        target.push = False
        target.result["digest"] = digest
        layers = manifest.get("layers") or []
        if len(layers) == len(target.image.layers):
            with self._stats_lock:
                for layer, desc in zip(target.image.layers, layers):  # noqa: B905 - lengths checked; Python 3.8
                    self.present.setdefault((layer.diff_id, compression_of_media_type(desc.get("mediaType"))),
                                            ({"mediaType": desc.get("mediaType"), "digest": desc.get("digest"), "size": desc.get("size")},
                                             target.repo))

    def plan(self):
        """Compare every target with the registry, then list the blobs the targets to push need."""
        self._parallel(self._check_target, self.targets)
        for target in self.targets:
            if self.opts["check_mode"]:
                target.result["bytes_to_send"] = 0
            if not target.push:
                self.progress.target_done(target.result)
                continue
            image = target.image
            keys = [("config", image.config_digest)]
            for layer in image.layers:
                want = self._want(layer)
                keys.append(("layer", layer.digest, want))
                if keys[-1] not in self.jobs:
                    self.jobs[keys[-1]] = BlobJob(keys[-1], image, layer, want, target)
            if keys[0] not in self.jobs:
                self.jobs[keys[0]] = BlobJob(keys[0], image, None, None, target)
            target.keys = keys
            target.pending = set(keys)
            for key in target.pending:
                self.waiting.setdefault(key, []).append(target)

    # --- blobs ---------------------------------------------------------------------------------------------------
    def _count(self, target, field, n=1):
        with self._stats_lock:
            target.result[field] = target.result.get(field, 0) + n

    def _open(self, job, offset=0, live=None):
        """A reader of the blob's source bytes as stored in the tarball, from `offset`."""
        if job.layer is None:
            return io.BytesIO(job.image.config[offset:])
        if live is not None and offset == 0 and not live.get("used"):
            live["used"] = True
            return _NoClose(live["stream"])
        return job.image.archive.open_member(job.layer.member, offset)

    def _upload(self, job, repo, live=None):
        """Upload a blob to `repo` from its source; returns its descriptor."""
        client = self.client
        key = (job.key, repo)
        if not job.converted:
            digest = job.known_digest
            size = job.size
            self.progress.blob_start(key, job.label, size)
            sent = client.upload_blob(repo, digest, size, lambda off: self._open(job, off, live), chunk_size=self.opts["chunk_size"],
                                      progress=lambda n: self.progress.blob_advance(key, n))
            return {"digest": digest, "size": size}, sent
        self.progress.blob_start(key, job.label, None)
        attempt = 0
        while True:
            source = self._open(job, 0, live)
            reader = convert(source, job.layer.compression, job.want)
            try:
                digest, size = client.upload_stream(repo, reader, progress=lambda n: self.progress.blob_advance(key, n))
                return {"digest": digest, "size": size}, size
            except RegistryError as exc:
                attempt += 1
                if exc.status is not None and exc.status < 500 or attempt > self.opts["retries"]:
                    raise
                time.sleep(min(0.25 * 2 ** attempt, 8))
            finally:
                reader.close()

    def _want(self, layer):
        """The compression a layer is pushed with."""
        return layer.compression if self.opts["layers"] == "preserve" else self.opts["layers"]

    def _settle(self, job, live=None):
        """Get one blob into its home repository: there already, mounted from a repository that has it, or uploaded."""
        if self._abort.is_set():
            return
        try:
            self._get_in(job, live)
        except BLOB_ERRORS as exc:
            raise self._failed(job, exc) from None
        self._settled(job)

    def _failed(self, job, exc):
        """Stop the run; the SeedError to raise for `exc`, naming the target, the tarball and the member."""
        self._abort.set()
        where = job.image.archive.path + (f" ({job.layer.member})" if job.layer else "")
        hint = STORAGE_HINT if isinstance(exc, RegistryError) and (exc.status or 0) >= 500 else ""
        return SeedError(f"{job.home.target}: {where}: {exc}{hint}")

    def _get_in(self, job, live):
        target = job.home
        repo = target.repo
        learned = None if job.layer is None else self.present.get((job.layer.diff_id, job.want))
        digest = job.known_digest or (learned[0]["digest"] if learned else None)
        if digest:
            if self._present(job, digest):
                return
            if learned and not self.opts["check_mode"] and self.client.mount_blob(repo, digest, from_repo=learned[1]):
                job.desc = {"digest": digest, "size": learned[0]["size"]}
                self._count(target, "blobs_mounted")
                self.progress.blob_done((job.key, repo), "mounted", job.label)
                return
        if self.opts["check_mode"]:
            self._count(target, "blobs_pushed")
            self._count(target, "bytes_to_send", job.size)
            self.progress.blob_done((job.key, repo), "would push", job.label)
            return
        job.desc, sent = self._upload(job, repo, live)
        self._count(target, "blobs_pushed")
        self._count(target, "bytes_sent", sent)
        self.progress.blob_done((job.key, repo), "pushed", job.label)

    def _present(self, job, digest):
        """True, the blob counted as skipped, when its home repository already has `digest` (one HEAD)."""
        size = self.client.blob_size(job.home.repo, digest)
        if size is None:
            return False
        job.desc = {"digest": digest, "size": size if job.converted else job.size}
        self._count(job.home, "blobs_skipped")
        self.progress.blob_done((job.key, job.home.repo), "skipped", job.label)
        return True

    def _settled(self, job):
        """A blob is in its home repository: finish the targets that were waiting only for it (on this thread)."""
        ready = []
        with self._stats_lock:
            for target in self.waiting.pop(job.key, ()):
                target.pending.discard(job.key)
                if not target.pending:
                    ready.append(target)
        for target in ready:
            self._finish_target(target)

    def _settle_streamed(self, archive, jobs):
        """Settle the blobs of a compressed tarball: lookups first, then uploads in one pass through the tar."""
        if self.opts["check_mode"]:
            for job in jobs:
                self._settle(job)
            return
        pending = []
        for job in jobs:
            if job.converted or job.known_digest is None:
                pending.append(job)
            else:
                try:
                    self._settle_lookup_only(job, pending)
                except BLOB_ERRORS as exc:
                    raise self._failed(job, exc) from None
        by_member = {}
        for job in pending:
            by_member.setdefault(job.layer.member, []).append(job)
        if not by_member or self._abort.is_set():
            return
        try:
            for member, stream in archive.stream_members(list(by_member)):
                for i, job in enumerate(by_member[member]):
                    self._settle(job, live={"stream": stream} if i == 0 else None)
                if self._abort.is_set():
                    return
        except ImageArchiveError as exc:
            self._abort.set()
            raise SeedError(str(exc)) from None

    def _settle_lookup_only(self, job, pending):
        """HEAD a blob in its home repository; queue it for upload when missing."""
        if self._present(job, job.known_digest):
            self._settled(job)
        else:
            pending.append(job)

    def push(self):
        """Settle every blob: configs first (tiny), then layers largest first, so the last uploads to finish run side by
        side rather than alone.  Each target's manifest is put as soon as its blobs are in."""
        configs = []
        layers = []
        streamed = {}
        for job in self.jobs.values():
            if job.layer is None:
                configs.append(partial(self._settle, job))
            elif job.image.archive.seekable:
                layers.append((job.size, partial(self._settle, job)))
            else:
                streamed.setdefault(job.image.archive.path, (job.image.archive, []))[1].append(job)
        layers += [(sum(j.size for j in jobs), partial(self._settle_streamed, archive, jobs)) for archive, jobs in streamed.values()]
        layers.sort(key=lambda task: -task[0])
        self._parallel(lambda task: task(), configs + [task for _size, task in layers])

    # --- manifests -----------------------------------------------------------------------------------------------
    def _manifest(self, image, layer_descs):
        """(body, media type) of the manifest to put for `image`, whose layers are in the registry as `layer_descs`."""
        wants = [self._want(layer) for layer in image.layers]
        converted = [layer.compression != want for layer, want in zip(image.layers, wants)]  # noqa: B905 - same list; Python 3.8
        if image.source_manifest and not any(converted):
            return image.source_manifest
        fmt = "oci" if "zstd" in wants or (image.source_manifest and image.source_manifest[1] == OCI_MANIFEST) else "docker"
        layers = []
        for layer, want, changed, desc in zip(image.layers, wants, converted, layer_descs):  # noqa: B905 - one per layer; Python 3.8
            media_type = layer.media_type if layer.media_type and not changed else LAYER_TYPES[(fmt, want)]
            layers.append({"mediaType": media_type, "digest": desc["digest"], "size": desc["size"]})
        doc = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST if fmt == "oci" else DOCKER_MANIFEST,
            "config": {"mediaType": OCI_CONFIG if fmt == "oci" else DOCKER_CONFIG, "digest": image.config_digest, "size": len(image.config)},
            "layers": layers,
        }
        return json.dumps(doc, indent=3).encode(), doc["mediaType"]

    def _planned_manifest(self, image):
        """The manifest this run would put for `image` when it is known before pushing (no layer is recompressed), else None."""
        if any(layer.compression != self._want(layer) for layer in image.layers):
            return None
        return self._manifest(image, [{"digest": layer.digest, "size": layer.size} for layer in image.layers])

    def _finish_target(self, target):
        """Mount the blobs pushed to other repositories this run, then put the manifest."""
        if self._abort.is_set():
            return
        try:
            for key in dict.fromkeys(target.keys):
                job = self.jobs[key]
                if job.home is target or job.home.repo == target.repo:
                    continue
                if self.opts["check_mode"]:
                    self._count(target, "blobs_mounted")
                    continue
                if self.client.mount_blob(target.repo, job.desc["digest"], from_repo=job.home.repo):
                    self._count(target, "blobs_mounted")
                    continue
                sent = self._copy(job, target.repo) if job.converted else self._upload(job, target.repo)[1]
                self._count(target, "blobs_pushed")
                self._count(target, "bytes_sent", sent)
            target.result["changed"] = True
            if not self.opts["check_mode"]:
                body, media_type = self._manifest(target.image, [self.jobs[k].desc for k in target.keys[1:]])
                target.result["digest"] = self.client.put_manifest(target.repo, target.tag, body, media_type)
        except BLOB_ERRORS as exc:
            self._abort.set()
            raise SeedError(f"{target.target}: {exc}") from None
        self.progress.target_done(target.result)

    def _copy(self, job, repo):
        """Upload a recompressed blob into `repo` from its home repository (a registry that refuses mounts): the registry's
        bytes, not a new compression, which could differ from a blob another tool pushed; returns bytes sent."""
        digest, size = job.desc["digest"], job.desc["size"]
        key = (job.key, repo)

        def open_at(offset):
            stream = self.client.open_blob(job.home.repo, digest)
            left = offset
            while left > 0:
                skipped = len(stream.read(min(left, 1024 * 1024)))
                if not skipped:
                    stream.close()
                    raise RegistryError(f"GET blob {job.home.repo}@{digest}: ended before byte {offset}")
                left -= skipped
            return stream
        self.progress.blob_start(key, job.label, size)
        return self.client.upload_blob(repo, digest, size, open_at, chunk_size=self.opts["chunk_size"],
                                       progress=lambda n: self.progress.blob_advance(key, n))

    # --- run -----------------------------------------------------------------------------------------------------
    def _parallel(self, fn, items):
        """Run fn over items, in order, on `parallel` threads; re-raise the first error after all have stopped."""
        items = list(items)
        pending = iter(items)
        lock = threading.Lock()
        errors = []

        def work():
            while True:
                with lock:
                    item = next(pending, pending)
                if item is pending:
                    return
                try:
                    fn(item)
                except Exception as exc:  # noqa: BLE001 - collected, re-raised below in the caller's thread
                    self._abort.set()
                    errors.append(exc)
        threads = [threading.Thread(target=work, daemon=True) for _n in range(min(int(self.opts["parallel"]), len(items)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            first = next((e for e in errors if isinstance(e, SeedError)), errors[0])
            if isinstance(first, RegistryError):
                raise SeedError(str(first)) from None
            raise first

    def run(self):
        """Seed; returns {changed, images: [...], warnings}."""
        self.load()
        if self.opts["transport"] == "engine":
            from ansible_collections.airgap.registry.plugins.module_utils.seed_engine import seed_with_engine
            try:
                self.connect()
            except RegistryError as exc:
                raise SeedError(str(exc)) from None
            result = seed_with_engine(self)
            result.setdefault("summary", summarize(result["images"], self.opts["check_mode"]))
            return result
        if self.targets:
            try:
                self.connect()
                self.plan()
            except RegistryError as exc:
                raise SeedError(str(exc)) from None
            self.push()
        images = [t.result for t in self.targets]
        return {"changed": any(r["changed"] for r in images), "images": images, "warnings": self.warnings,
                "diff": diff_of(self.targets), "summary": summarize(images, self.opts["check_mode"])}


class _NoClose:
    """The live member stream of a compressed tar: its owner (the tar pass) closes it, not the upload."""

    def __init__(self, stream):
        self._stream = stream

    def read(self, n=-1):
        return self._stream.read(n)

    def close(self):
        """The tar pass moves on to the next member by itself."""


def diff_of(targets):
    """before/after of the targets' manifest digests (existing digest, or None; after: pushed or unchanged)."""
    before = {t.target: t.existing for t in targets}
    after = {t.target: t.result["digest"] or ("(new)" if t.push else t.existing) for t in targets}
    return {"before": before, "after": after}


def seed(opts, progress=None):
    """Run one seed with `opts` (the module's options plus check_mode); see Seeder."""
    return Seeder(opts, progress).run()
