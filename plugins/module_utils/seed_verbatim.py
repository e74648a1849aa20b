# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Push indexes, manifest lists and non-image manifests (artifacts, signatures, attestations) byte for byte.

The index is the unit (seed_plan.VerbatimTarget): every blob of every child first (HEAD, mounted from a repository
this run filled, else uploaded from the tarball as it is), then every child manifest by digest, then the index under
its tag, so the tag resolves to the source digest.  Referrers (manifests whose `subject` is the unit) follow their
subject into its repository: through the OCI 1.1 referrers API where the registry has it (it lists them by itself),
else through the referrers tag scheme (image-spec / distribution-spec 1.1: an index tagged `sha256-<hex>` of the
subject's digest listing its referrers), which is what Distribution 2.8 gets.

Bundles (docs/bundles.md) go this way whole.  A delta bundle's blobs relied on at the site (ArchiveManifest.external)
are checked in the target registry before anything is pushed (`VerbatimPusher.check_delta`).  From a compressed
archive, the blobs no target repository has are uploaded in one pass through it, in tar order, before the targets.
"""
from __future__ import annotations

import json
import threading
from functools import partial
from typing import Any

from ansible_collections.airgap.registry.plugins.module_utils.image_archive import ArchiveManifest, ImageArchiveError, _blob_path
from ansible_collections.airgap.registry.plugins.module_utils.media_types import OCI_INDEX
from ansible_collections.airgap.registry.plugins.module_utils.referrers import Referrers, referrers_tag
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient, RegistryError
from ansible_collections.airgap.registry.plugins.module_utils.seed_plan import SeedPlan, VerbatimTarget
from ansible_collections.airgap.registry.plugins.module_utils.seed_report import NullProgress, SeedError


def survey_verbatim(client: RegistryClient, plan: SeedPlan, workers: int, abort: threading.Event) -> None:
    """Up to date: the tag has the source digest and every referrer is there (by digest).  The targets are asked on
    `workers` threads; SeedError (from a RegistryError) when the registry fails."""
    from ansible_collections.airgap.registry.plugins.module_utils.seed_transfer import run_parallel  # noqa: PLC0415 - cycle

    def ask(target: VerbatimTarget) -> None:
        head = client.head_manifest(target.repo, target.tag)
        target.existing = head["digest"] if head else None
        if target.existing != target.unit.digest:
            return
        if all(client.head_manifest(target.repo, m.digest) for m in _referrers(target.unit)):
            target.push = False
            target.result.digest = target.existing
    run_parallel(ask, plan.verbatim, workers, abort)


def _referrers(unit: ArchiveManifest) -> list[ArchiveManifest]:
    out = []
    for manifest in unit.walk():
        out.extend(manifest.referrers)
    return out


def check_engine(plan: SeedPlan) -> None:
    """The engine transport (Docker 20.10's image store: one platform per image) cannot hold an index or an artifact:
    SeedError naming the image, before anything is pushed."""
    for target in plan.verbatim:
        unit = target.unit
        what = (f"a multi-platform image (index {unit.digest}, platforms {', '.join(unit.platforms())})" if unit.is_index
                else f"an OCI artifact or non-image manifest ({unit.digest})")
        raise SeedError(f"{target.source} from {unit.archive.path} is {what}: the engine transport cannot hold it (the "
                        "Docker engine keeps one platform per image and would push another digest); use transport: "
                        "direct (airgap-seed --transport direct), which pushes it byte for byte")


def push_failed(target: VerbatimTarget, exc: RegistryError) -> SeedError:
    """SeedError naming the target and its archive; a blob the registry found not matching its digest
    (DIGEST_INVALID) means a damaged archive, so the error says to verify it."""
    hint = ""
    if exc.code == "DIGEST_INVALID":
        hint = (f"; a blob of {target.unit.archive.path} does not match its digest: the file is damaged "
                f"(airgap-bundle verify {target.unit.archive.path} names what; copy it again)")
    return SeedError(f"{target.target}: {target.unit.archive.path}: {exc}{hint}")


class _Borrowed:
    """The live member stream of a pass through a compressed archive: the pass closes it, not the upload."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        return self._stream.read(n)

    def close(self) -> None:
        """The pass moves on to the next member by itself."""


class VerbatimPusher:
    """Push the plan's VerbatimTargets.  `opts`: parallel, chunk_size, check_mode."""

    def __init__(self, client: RegistryClient, opts: dict[str, Any], progress: NullProgress, abort: threading.Event) -> None:
        self.client = client
        self.opts = opts
        self.progress = progress
        self.abort = abort
        self.homes: dict[str, str] = {}  # blob digest -> a repository that has it (this run)
        self.uploaded: set[tuple[str, str]] = set()  # (blob digest, repository) uploaded this run
        self.settling: dict[str, threading.Event] = {}  # blob digest -> set when its upload task has ended
        self.lock = threading.Lock()
        self.referrers = Referrers(client)

    def check_delta(self, plan: SeedPlan) -> None:
        """Every blob a delta bundle relies on at the site is in the target repository, or mounted there from the
        repository its document records (in check mode: HEAD in either); else SeedError naming every missing blob
        digest and the image needing it.  Call before anything is pushed."""
        missing: dict[str, list[str]] = {}
        settled: dict[tuple[str, str], bool] = {}
        for target in plan.verbatim:
            if not target.push:
                continue
            for manifest in target.unit.walk():
                for desc, repo in manifest.external:
                    key = (target.repo, desc.digest)
                    if key not in settled:
                        try:
                            settled[key] = self._site_has(target.repo, desc.digest, repo)
                        except RegistryError as exc:
                            raise SeedError(f"{target.target}: checking blob {desc.digest} of the delta bundle "
                                            f"{target.unit.archive.path}: {exc}") from None
                    if not settled[key]:
                        missing.setdefault(desc.digest, []).append(f"{target.source} ({target.unit.archive.path})")
        if missing:
            lines = "; ".join(f"{digest} needed by {', '.join(dict.fromkeys(who))}" for digest, who in missing.items())
            raise SeedError(f"the delta bundle relies on {len(missing)} blob(s) the registry {self.client.transport.host} lacks "
                            f"(seed the base bundle first, or make a delta from this registry's HAVE file): {lines}")

    def _site_has(self, repo: str, digest: str, recorded: str) -> bool:
        """True when `repo` has the blob, or it is mounted from `recorded` (only looked up there in check mode)."""
        if self.client.blob_size(repo, digest) is not None:
            return True
        if self.opts["check_mode"]:
            return self.client.blob_size(recorded, digest) is not None
        return recorded != repo and self.client.mount_blob(repo, digest, from_repo=recorded)

    def push(self, plan: SeedPlan) -> None:
        """Push every VerbatimTarget still to push: the blobs first (each once), then the targets, those of one
        repository in order (they may share a referrers tag), the repositories side by side, a target's manifests as
        soon as its own blobs are in; SeedError naming the target and archive that failed."""
        from ansible_collections.airgap.registry.plugins.module_utils.seed_transfer import run_parallel  # noqa: PLC0415 - cycle
        tasks = []
        if not self.opts["check_mode"]:
            self._stream_uploads(plan)
            tasks = self._upload_tasks(plan)
        by_repo: dict[str, list[VerbatimTarget]] = {}
        for target in plan.verbatim:
            by_repo.setdefault(target.repo, []).append(target)

        def push_repo(targets: list[VerbatimTarget]) -> None:
            for target in targets:
                if target.push and not self.abort.is_set():
                    self._push_target(target, run_parallel)
                self.progress.target_done(target.result)
        # One pool: the uploads, then the repositories, which a worker takes only once every upload has been taken, so a
        # target waits just for its own blobs still in flight (_await_blobs) while the others' manifests go up.
        tasks += [partial(push_repo, targets) for targets in by_repo.values()]
        run_parallel(lambda task: task(), tasks, self.opts["parallel"], self.abort)

    def _push_target(self, target: VerbatimTarget, run_parallel) -> None:
        try:
            self._push_one(target, run_parallel)
        except RegistryError as exc:
            self.abort.set()
            raise push_failed(target, exc) from None

    def _stream_uploads(self, plan: SeedPlan) -> None:
        """Compressed archives: upload each blob no target's repository has into the first repository needing it, in
        one pass through the archive (tar order); the targets then find them there or mount them."""
        wanted: dict[str, tuple[VerbatimTarget, Any]] = {}
        for target in plan.verbatim:
            if not target.push or target.unit.archive.seekable:
                continue
            for desc in target.unit.all_blobs():
                if desc.digest not in wanted and self.client.blob_size(target.repo, desc.digest) is None:
                    wanted[desc.digest] = (target, desc)
        by_archive: dict[str, dict[str, tuple[VerbatimTarget, Any]]] = {}
        for target, desc in wanted.values():
            by_archive.setdefault(target.unit.archive.path, {})[_blob_path(desc.digest)] = (target, desc)
        for members in by_archive.values():
            archive = next(iter(members.values()))[0].unit.archive
            try:
                for member, stream in archive.stream_members(list(members)):
                    target, desc = members[member]
                    self._upload(target, desc, stream)
                    if self.abort.is_set():
                        return
            except (ImageArchiveError, RegistryError) as exc:
                self.abort.set()
                raise SeedError(f"{archive.path}: {exc}") from None

    def _upload_tasks(self, plan: SeedPlan) -> list:
        """Seekable archives: a task per blob of every target, once, uploading it into the first repository needing it
        when absent there, largest first (to run in the pool `push` shares with the targets: no target waits on its own
        last blob before the next starts); the targets then find them there or mount them.  Each blob's event in
        `settling` is set when its task ends, however it ends."""
        jobs: dict[str, tuple[VerbatimTarget, Any]] = {}
        for target in plan.verbatim:
            if target.push and target.unit.archive.seekable:
                for desc in target.unit.all_blobs():
                    jobs.setdefault(desc.digest, (target, desc))

        def upload(target: VerbatimTarget, desc) -> None:
            try:
                if self.abort.is_set() or (desc.digest, target.repo) in self.uploaded:
                    return
                if self.client.blob_size(target.repo, desc.digest) is None:
                    self._upload(target, desc)
            except RegistryError as exc:
                raise push_failed(target, exc) from None
            finally:
                self.settling[desc.digest].set()
        self.settling = {digest: threading.Event() for digest in jobs}
        return [partial(upload, *job) for job in sorted(jobs.values(), key=lambda job: -job[1].size)]

    def _await_blobs(self, unit: ArchiveManifest) -> None:
        """Wait until every blob of `unit` whose upload task has been taken is settled (each task ends: see push)."""
        for desc in unit.all_blobs():
            event = self.settling.get(desc.digest)
            if event is not None:
                event.wait()

    def _upload(self, target: VerbatimTarget, desc, stream=None) -> None:
        """Upload blob `desc` into the target's repository from the archive (from `stream`, the member's live reader
        in a pass through a compressed archive, when given); counted in the target's result."""
        unit, result = target.unit, target.result
        key = (desc.digest, target.repo)
        label = f"{target.repo} blob {desc.digest[7:19]}"
        member = _blob_path(desc.digest)
        live = {"stream": stream} if stream is not None else {}

        def open_at(offset: int):
            first = live.pop("stream", None)
            if first is not None and offset == 0:
                return _Borrowed(first)
            return unit.archive.open_member(member, offset)
        self.progress.blob_start(key, label, desc.size)
        sent = self.client.upload_blob(target.repo, desc.digest, desc.size, open_at, chunk_size=self.opts["chunk_size"],
                                       progress=partial(self.progress.blob_advance, key))
        self.progress.blob_done(key, "pushed", label)
        with self.lock:
            result.blobs_pushed += 1
            result.bytes_sent += sent
            self.homes.setdefault(desc.digest, target.repo)
            self.uploaded.add(key)

    def _push_one(self, target: VerbatimTarget, run_parallel) -> None:
        unit, result = target.unit, target.result
        check = self.opts["check_mode"]
        result.changed = True
        result.manifests_pushed = 0
        if check:
            result.bytes_to_send = 0
            result.would_push = []
        lock = self.lock

        def blob(desc) -> None:
            if self.abort.is_set() or (desc.digest, target.repo) in self.uploaded:
                return
            if self.client.blob_size(target.repo, desc.digest) is not None:
                with lock:
                    result.blobs_skipped += 1
                return
            home = self.homes.get(desc.digest)
            if home and not check and self.client.mount_blob(target.repo, desc.digest, from_repo=home):
                with lock:
                    result.blobs_mounted += 1
                return
            if check:
                with lock:
                    result.blobs_pushed += 1
                    result.bytes_to_send += desc.size
                    result.would_push.append(f"blob {desc.digest}")
                return
            self._upload(target, desc)
        self._await_blobs(unit)
        # Those uploaded into this repository this run need no request (and no worker thread).
        todo = [desc for desc in unit.all_blobs() if (desc.digest, target.repo) not in self.uploaded]
        run_parallel(blob, todo, self.opts["parallel"], self.abort)
        # unit.walk() order: the children (each with its own children and referrers, in parallel), the unit under its
        # tag, then its referrers.
        run_parallel(partial(self._put_tree, target), unit.children, self.opts["parallel"], self.abort)
        self._put(target, unit, target.tag)
        for referrer in unit.referrers:
            self._put_tree(target, referrer)
        if check:
            result.digest = None
            return
        result.digest = self.client.head_manifest(target.repo, target.tag)["digest"]
        if result.digest != unit.digest:
            raise SeedError(f"{target.target}: the registry gives digest {result.digest} for the tag, not the source's "
                            f"{unit.digest} (it changed the manifest)")
        self._tag_referrers(target)

    def _put_tree(self, target: VerbatimTarget, manifest: ArchiveManifest) -> None:
        """Put by digest every manifest of `manifest`.walk() the repository lacks; SeedError naming the target."""
        try:
            for each in manifest.walk():
                if self.client.head_manifest(target.repo, each.digest) is None:
                    self._put(target, each, each.digest)
        except RegistryError as exc:
            raise push_failed(target, exc) from None

    def _put(self, target: VerbatimTarget, manifest: ArchiveManifest, ref: str) -> None:
        if self.opts["check_mode"]:
            with self.lock:
                target.result.would_push.append(f"manifest {manifest.digest} ({manifest.media_type})")
            return
        digest = self.client.put_manifest(target.repo, ref, manifest.body, manifest.media_type)
        with self.lock:
            target.result.manifests_pushed += 1
        if digest != manifest.digest:
            raise SeedError(f"{target.target}: put {manifest.digest} from {manifest.archive.path}, the registry "
                            f"answered digest {digest}")

    def _tag_referrers(self, target: VerbatimTarget) -> None:
        """Without the referrers API, list each subject's referrers in its `sha256-<hex>` tag (kept entries merged)."""
        subjects: dict[str, list[ArchiveManifest]] = {}
        for manifest in _referrers(target.unit):
            subjects.setdefault(manifest.subject, []).append(manifest)
        for subject, refs in subjects.items():
            if self.referrers.has_api(target.repo, subject):
                continue
            tag = referrers_tag(subject)
            entries = []
            if self.client.head_manifest(target.repo, tag):
                body, _mt, _d = self.client.get_manifest(target.repo, tag, accept=(OCI_INDEX,))
                try:
                    entries = json.loads(body).get("manifests") or []
                except ValueError:
                    entries = []
            known = {e.get("digest") for e in entries if isinstance(e, dict)}
            added = False
            for ref in refs:
                if ref.digest in known:
                    continue
                entry = {"mediaType": ref.media_type, "digest": ref.digest, "size": len(ref.body)}
                artifact_type = ref.doc.get("artifactType") or (ref.doc.get("config") or {}).get("mediaType")
                if artifact_type:
                    entry["artifactType"] = artifact_type
                if ref.doc.get("annotations"):
                    entry["annotations"] = ref.doc["annotations"]
                entries.append(entry)
                added = True
            if added:
                body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
                self.client.put_manifest(target.repo, tag, body, OCI_INDEX)
