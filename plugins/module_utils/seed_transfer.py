# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed's transfer step: ask the registry what it has (`survey`), then the `direct` transport pushes the plan.

Direct transport, per target still to push: every blob is settled once per run (HEAD first, mounted from a
repository that has it, else uploaded, in parallel), mounted into the other repositories that need it, then the
manifest is put as soon as the target's blobs are in.  Scheduling: configs first (tiny), then layers largest first,
so that the last uploads run side by side rather than alone.  Worker threads are plain threads (no
concurrent.futures: its import costs start-up time on every warm run).
"""
from __future__ import annotations

import hashlib
import io
import json
import threading
from abc import ABC, abstractmethod
from functools import partial
from typing import Any, BinaryIO, Callable, Iterable

from ansible_collections.airgap.registry.plugins.module_utils.descriptor import Descriptor
from ansible_collections.airgap.registry.plugins.module_utils.image_archive import ImageArchive, ImageArchiveError
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient, RegistryError
from ansible_collections.airgap.registry.plugins.module_utils.compression import CompressError, convert
from ansible_collections.airgap.registry.plugins.module_utils.retry import RetryPolicy
from ansible_collections.airgap.registry.plugins.module_utils.seed_plan import BlobJob, SeedPlan, Target
from ansible_collections.airgap.registry.plugins.module_utils.seed_report import NullProgress, SeedError

BLOB_ERRORS = (RegistryError, CompressError, ImageArchiveError, OSError)
STORAGE_HINT = " (the registry could not store the blob: is its disk full? see its log)"


def run_parallel(fn: Callable[[Any], None], items: Iterable[Any], workers: int, abort: threading.Event) -> None:
    """Run fn over items, in order, on `workers` threads; sets `abort` on an error and re-raises the first one (a
    SeedError first; a RegistryError as SeedError) after all threads have stopped."""
    items = list(items)
    if min(int(workers), len(items)) <= 1:
        _run_here(fn, items, abort)
        return
    pending = iter(items)
    lock = threading.Lock()
    errors: list[Exception] = []

    def work() -> None:
        while True:
            with lock:
                item = next(pending, pending)
            if item is pending:
                return
            try:
                fn(item)
            except Exception as exc:  # noqa: BLE001 - collected, re-raised below in the caller's thread
                abort.set()
                errors.append(exc)
    threads = [threading.Thread(target=work, daemon=True) for _n in range(min(int(workers), len(items)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        first = next((e for e in errors if isinstance(e, SeedError)), errors[0])
        if isinstance(first, RegistryError):
            raise SeedError(str(first)) from None
        raise first


def _run_here(fn: Callable[[Any], None], items: list, abort: threading.Event) -> None:
    """run_parallel with one worker: on the caller's thread (and its open connection, no new thread), same errors."""
    for item in items:
        try:
            fn(item)
        except RegistryError as exc:
            abort.set()
            raise SeedError(str(exc)) from None
        except Exception:
            abort.set()
            raise


def survey(client: RegistryClient, plan: SeedPlan, workers: int, abort: threading.Event) -> None:
    """Ask the registry for every target's manifest in parallel (one HEAD for a target that is up to date with the
    manifest this run would put; a GET otherwise) and record the answers in the plan, in target order.
    RegistryError (as SeedError from the workers) when the registry fails."""
    answers: dict[int, tuple[str, Any]] = {}

    def ask(index: int) -> None:
        target = plan.targets[index]
        head = client.head_manifest(target.repo, target.tag)
        if head is None:
            return
        planned = plan.planned_manifest(target.image)
        if planned and head["digest"] == "sha256:" + hashlib.sha256(planned[0]).hexdigest():
            answers[index] = (head["digest"], json.loads(planned[0]))
            return
        body, _media_type, digest = client.get_manifest(target.repo, head["digest"] or target.tag)
        try:
            answers[index] = (digest, json.loads(body))
        except ValueError:
            answers[index] = (digest, None)
    run_parallel(ask, range(len(plan.targets)), workers, abort)
    for index, (digest, manifest) in sorted(answers.items()):
        plan.record_existing(plan.targets[index], digest, manifest)
    if plan.verbatim:
        from ansible_collections.airgap.registry.plugins.module_utils.seed_verbatim import survey_verbatim  # noqa: PLC0415 - cycle
        survey_verbatim(client, plan, workers, abort)


class _NoClose:
    """The live member stream of a compressed tar: its owner (the tar pass) closes it, not the upload."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        return self._stream.read(n)

    def close(self) -> None:
        """The tar pass moves on to the next member by itself."""


class Transport(ABC):
    """The interface of a seed transport: built with the registry client, the seed's options, the progress observer and
    the run's abort event (set by a failing worker); `transfer(plan)` pushes a plan that `survey` has filled."""

    def __init__(self, client: RegistryClient, opts: dict[str, Any], progress: NullProgress, abort: threading.Event) -> None:
        self.client = client
        self.opts = opts
        self.progress = progress
        self.abort = abort

    @abstractmethod
    def transfer(self, plan: SeedPlan) -> None:
        """Push every target of `plan` still to push; SeedError naming what failed."""


class DirectTransport(Transport):
    """Push a surveyed plan through the registry API.  `opts`: parallel, retries, chunk_size, check_mode."""

    def __init__(self, client: RegistryClient, opts: dict[str, Any], progress: NullProgress, abort: threading.Event) -> None:
        super().__init__(client, opts, progress, abort)
        self.plan: SeedPlan | None = None
        self._lock = threading.Lock()

    def transfer(self, plan: SeedPlan) -> None:
        """Push every target of `plan` still to push (in check mode, count what would be pushed); SeedError naming the
        target and tarball on the first failure (the others stop)."""
        self.plan = plan
        pusher = None
        if plan.verbatim:
            from ansible_collections.airgap.registry.plugins.module_utils.seed_verbatim import VerbatimPusher  # noqa: PLC0415 - cycle
            pusher = VerbatimPusher(self.client, self.opts, self.progress, self.abort)
            pusher.check_delta(plan)
        for target in plan.targets:
            if self.opts["check_mode"]:
                target.result.bytes_to_send = 0
            if not target.push:
                self.progress.target_done(target.result)
        plan.schedule_blobs()
        configs, layers, streamed = [], [], {}
        for job in plan.jobs.values():
            if job.layer is None:
                configs.append(partial(self._settle, job))
            elif job.image.archive.seekable:
                layers.append((job.size, partial(self._settle, job)))
            else:
                streamed.setdefault(job.image.archive.path, (job.image.archive, []))[1].append(job)
        layers += [(sum(j.size for j in jobs), partial(self._settle_streamed, archive, jobs)) for archive, jobs in streamed.values()]
        layers.sort(key=lambda task: -task[0])
        run_parallel(lambda task: task(), configs + [task for _size, task in layers], self.opts["parallel"], self.abort)
        if pusher:
            pusher.push(plan)

    # --- blobs ---------------------------------------------------------------------------------------------------
    def _count(self, target: Target, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(target.result, name, (getattr(target.result, name) or 0) + n)

    def _open(self, job: BlobJob, offset: int = 0, live: dict | None = None) -> BinaryIO:
        """A reader of the blob's source bytes as stored in the tarball, from `offset`."""
        if job.layer is None:
            return io.BytesIO(job.image.config[offset:])
        if live is not None and offset == 0 and not live.get("used"):
            live["used"] = True
            return _NoClose(live["stream"])
        return job.image.archive.open_member(job.layer.member, offset)

    def _upload(self, job: BlobJob, repo: str, live: dict | None = None) -> tuple[Descriptor, int]:
        """Upload a blob to `repo` from its source; (where it is, bytes sent)."""
        key = (job.key, repo)
        advance = partial(self.progress.blob_advance, key)
        if not job.converted:
            self.progress.blob_start(key, job.label, job.size)
            sent = self.client.upload_blob(repo, job.known_digest, job.size, lambda off: self._open(job, off, live),
                                           chunk_size=self.opts["chunk_size"], progress=advance)
            return Descriptor(None, job.known_digest, job.size), sent
        self.progress.blob_start(key, job.label, None)
        attempt = 0
        while True:
            reader = convert(self._open(job, 0, live), job.layer.compression, job.want)
            try:
                digest, size = self.client.upload_stream(repo, reader, progress=advance)
                return Descriptor(None, digest, size), size
            except RegistryError as exc:
                attempt += 1
                if exc.status is not None and exc.status < 500 or attempt > self.opts["retries"]:
                    raise
                RetryPolicy(self.opts["retries"]).sleep(attempt)
            finally:
                reader.close()

    def _settle(self, job: BlobJob, live: dict | None = None) -> None:
        """Get one blob into its home repository: there already, mounted from a repository that has it, or uploaded."""
        if self.abort.is_set():
            return
        try:
            self._get_in(job, live)
        except BLOB_ERRORS as exc:
            raise self._failed(job, exc) from None
        self._settled(job)

    def _failed(self, job: BlobJob, exc: Exception) -> SeedError:
        """Stop the run; the SeedError to raise for `exc`, naming the target, the tarball and the member."""
        self.abort.set()
        where = job.image.archive.path + (f" ({job.layer.member})" if job.layer else "")
        hint = STORAGE_HINT if isinstance(exc, RegistryError) and (exc.status or 0) >= 500 else ""
        return SeedError(f"{job.home.target}: {where}: {exc}{hint}")

    def _get_in(self, job: BlobJob, live: dict | None) -> None:
        target = job.home
        learned = None if job.layer is None else self.plan.known.get((job.layer.diff_id, job.want))
        digest = job.known_digest or (learned.layer.digest if learned else None)
        if digest:
            if self._present(job, digest):
                return
            if learned and not self.opts["check_mode"] and self.client.mount_blob(target.repo, digest, from_repo=learned.repo):
                job.desc = Descriptor(None, digest, learned.layer.size)
                self._count(target, blobs_mounted=1)
                self.progress.blob_done((job.key, target.repo), "mounted", job.label)
                return
        if self.opts["check_mode"]:
            self._count(target, blobs_pushed=1, bytes_to_send=job.size)
            self.progress.blob_done((job.key, target.repo), "would push", job.label)
            return
        job.desc, sent = self._upload(job, target.repo, live)
        self._count(target, blobs_pushed=1, bytes_sent=sent)
        self.progress.blob_done((job.key, target.repo), "pushed", job.label)

    def _present(self, job: BlobJob, digest: str) -> bool:
        """True, the blob counted as skipped, when its home repository already has `digest` (one HEAD)."""
        size = self.client.blob_size(job.home.repo, digest)
        if size is None:
            return False
        job.desc = Descriptor(None, digest, size if job.converted else job.size)
        self._count(job.home, blobs_skipped=1)
        self.progress.blob_done((job.key, job.home.repo), "skipped", job.label)
        return True

    def _settled(self, job: BlobJob) -> None:
        """A blob is in its home repository: finish the targets that were waiting only for it (on this thread)."""
        ready = []
        with self._lock:
            for target in self.plan.waiting.pop(job.key, ()):
                target.pending.discard(job.key)
                if not target.pending:
                    ready.append(target)
        for target in ready:
            self._finish_target(target)

    def _settle_streamed(self, archive: ImageArchive, jobs: list[BlobJob]) -> None:
        """Settle the blobs of a compressed tarball: lookups first, then uploads in one pass through the tar."""
        if self.opts["check_mode"]:
            for job in jobs:
                self._settle(job)
            return
        by_member: dict[str, list[BlobJob]] = {}
        for job in jobs:
            try:
                if not job.converted and job.known_digest is not None and self._present(job, job.known_digest):
                    self._settled(job)
                    continue
            except BLOB_ERRORS as exc:
                raise self._failed(job, exc) from None
            by_member.setdefault(job.layer.member, []).append(job)
        if not by_member or self.abort.is_set():
            return
        try:
            for member, stream in archive.stream_members(list(by_member)):
                for i, job in enumerate(by_member[member]):
                    self._settle(job, live={"stream": stream} if i == 0 else None)
                if self.abort.is_set():
                    return
        except ImageArchiveError as exc:
            self.abort.set()
            raise SeedError(str(exc)) from None

    # --- manifests -----------------------------------------------------------------------------------------------
    def _finish_target(self, target: Target) -> None:
        """Mount the blobs pushed to other repositories this run, then put the manifest."""
        if self.abort.is_set():
            return
        try:
            for key in dict.fromkeys(target.keys):
                job = self.plan.jobs[key]
                if job.home is target or job.home.repo == target.repo:
                    continue
                if self.opts["check_mode"] or self.client.mount_blob(target.repo, job.desc.digest, from_repo=job.home.repo):
                    self._count(target, blobs_mounted=1)
                    continue
                sent = self._copy(job, target.repo) if job.converted else self._upload(job, target.repo)[1]
                self._count(target, blobs_pushed=1, bytes_sent=sent)
            target.result.changed = True
            if not self.opts["check_mode"]:
                body, media_type = self.plan.manifest(target.image, [self.plan.jobs[k].desc for k in target.keys[1:]])
                target.result.digest = self.client.put_manifest(target.repo, target.tag, body, media_type)
        except BLOB_ERRORS as exc:
            self.abort.set()
            raise SeedError(f"{target.target}: {exc}") from None
        self.progress.target_done(target.result)

    def _copy(self, job: BlobJob, repo: str) -> int:
        """Upload a recompressed blob into `repo` from its home repository (a registry that refuses mounts): the registry's
        bytes, not a new compression, which could differ from a blob another tool pushed; returns bytes sent."""
        digest, size = job.desc.digest, job.desc.size
        key = (job.key, repo)

        def open_at(offset: int) -> BinaryIO:
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
                                       progress=partial(self.progress.blob_advance, key))
