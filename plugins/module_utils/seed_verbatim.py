# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Push indexes, manifest lists and non-image manifests (artifacts, signatures, attestations) byte for byte.

The index is the unit (seed_plan.VerbatimTarget): every blob of every child first (HEAD, mounted from a repository
this run filled, else uploaded from the tarball as it is), then every child manifest by digest, then the index under
its tag, so the tag resolves to the source digest.  Referrers (manifests whose `subject` is the unit) follow their
subject into its repository: through the OCI 1.1 referrers API where the registry has it (it lists them by itself),
else through the referrers tag scheme (image-spec / distribution-spec 1.1: an index tagged `sha256-<hex>` of the
subject's digest listing its referrers), which is what Distribution 2.8 gets.
"""
from __future__ import annotations

import json
import threading
from functools import partial
from typing import Any

from ansible_collections.airgap.registry.plugins.module_utils.image_archive import ArchiveManifest, _blob_path
from ansible_collections.airgap.registry.plugins.module_utils.media_types import OCI_INDEX
from ansible_collections.airgap.registry.plugins.module_utils.referrers import Referrers, referrers_tag
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient, RegistryError
from ansible_collections.airgap.registry.plugins.module_utils.seed_plan import SeedPlan, VerbatimTarget
from ansible_collections.airgap.registry.plugins.module_utils.seed_report import NullProgress, SeedError


def survey_verbatim(client: RegistryClient, plan: SeedPlan) -> None:
    """Up to date: the tag has the source digest and every referrer is there (by digest)."""
    for target in plan.verbatim:
        head = client.head_manifest(target.repo, target.tag)
        target.existing = head["digest"] if head else None
        if target.existing != target.unit.digest:
            continue
        if all(client.head_manifest(target.repo, m.digest) for m in _referrers(target.unit)):
            target.push = False
            target.result.digest = target.existing


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


class VerbatimPusher:
    """Push the plan's VerbatimTargets.  `opts`: parallel, chunk_size, check_mode."""

    def __init__(self, client: RegistryClient, opts: dict[str, Any], progress: NullProgress, abort: threading.Event) -> None:
        self.client = client
        self.opts = opts
        self.progress = progress
        self.abort = abort
        self.homes: dict[str, str] = {}  # blob digest -> a repository that has it (this run)
        self.referrers = Referrers(client)

    def push(self, plan: SeedPlan) -> None:
        from ansible_collections.airgap.registry.plugins.module_utils.seed_transfer import run_parallel  # noqa: PLC0415 - cycle
        for target in plan.verbatim:
            if not target.push:
                self.progress.target_done(target.result)
                continue
            try:
                self._push_one(target, run_parallel)
            except RegistryError as exc:
                self.abort.set()
                raise SeedError(f"{target.target}: {target.unit.archive.path}: {exc}") from None
            self.progress.target_done(target.result)

    def _push_one(self, target: VerbatimTarget, run_parallel) -> None:
        unit, result = target.unit, target.result
        check = self.opts["check_mode"]
        result.changed = True
        result.manifests_pushed = 0
        if check:
            result.bytes_to_send = 0
            result.would_push = []
        lock = threading.Lock()

        def blob(desc) -> None:
            if self.abort.is_set():
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
            key = (desc.digest, target.repo)
            label = f"{target.repo} blob {desc.digest[7:19]}"
            self.progress.blob_start(key, label, desc.size)
            member = _blob_path(desc.digest)
            sent = self.client.upload_blob(target.repo, desc.digest, desc.size,
                                           lambda off: unit.archive.open_member(member, off),
                                           chunk_size=self.opts["chunk_size"], progress=partial(self.progress.blob_advance, key))
            self.progress.blob_done(key, "pushed", label)
            with lock:
                result.blobs_pushed += 1
                result.bytes_sent += sent
                self.homes.setdefault(desc.digest, target.repo)
        run_parallel(blob, unit.all_blobs(), self.opts["parallel"], self.abort)
        for manifest in unit.walk():
            if manifest is unit:
                self._put(target, manifest, target.tag)
            elif self.client.head_manifest(target.repo, manifest.digest) is None:
                self._put(target, manifest, manifest.digest)
        if check:
            result.digest = None
            return
        result.digest = self.client.head_manifest(target.repo, target.tag)["digest"]
        if result.digest != unit.digest:
            raise SeedError(f"{target.target}: the registry gives digest {result.digest} for the tag, not the source's "
                            f"{unit.digest} (it changed the manifest)")
        self._tag_referrers(target)

    def _put(self, target: VerbatimTarget, manifest: ArchiveManifest, ref: str) -> None:
        if self.opts["check_mode"]:
            target.result.would_push.append(f"manifest {manifest.digest} ({manifest.media_type})")
            return
        digest = self.client.put_manifest(target.repo, ref, manifest.body, manifest.media_type)
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
