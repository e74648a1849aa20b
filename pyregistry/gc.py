"""Garbage collection: mark every blob a kept manifest needs (config, layers, index children, referrers), sweep the rest.

Safe while pushes happen. A push is a run of steps in one repository (upload sessions written to, layers linked,
manifests put); a repository whose last step is younger than the grace period is *pushing*, and everything linked
into it (its layer links and, with delete_untagged, its untagged manifests) is kept whatever its age. So a push is
never broken by a collection as long as no pause between two of its steps is longer than the grace period.
Blobs and links written or refreshed (upload, mount, manifest push, HEAD) within the grace period are kept too.

The sweep decides and deletes while holding the gc lock exclusively; every write that links a blob or a manifest
holds it shared, so a manifest put, a commit or a mount happens wholly before the sweep's decision (and protects
its blobs) or wholly after the deletions (and sees them: 400 MANIFEST_BLOB_UNKNOWN or a fresh upload).
"""
from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field

from pyregistry.storage import Storage


@dataclass
class Report:
    """What a collection marked and deleted (or would delete, in a dry run)."""

    dry_run: bool
    marked: int = 0
    blobs: list = field(default_factory=list)
    manifests: list = field(default_factory=list)  # (repo, digest) of untagged manifests

    def lines(self) -> list[str]:
        """What garbage-collect prints: one line per manifest and blob, then the counts."""
        verb = "would delete" if self.dry_run else "deleted"
        out = [f"{verb} manifest {repo}@{digest}" for repo, digest in self.manifests]
        out += [f"{verb} blob {digest}" for digest in self.blobs]
        outcome = "eligible for deletion" if self.dry_run else "deleted"
        out.append(f"{self.marked} blobs marked, {len(self.blobs)} blobs and {len(self.manifests)} manifests {outcome}")
        return out


def _keep_set(storage: Storage, repo: str, revisions: set[str], delete_untagged: bool) -> set[str]:
    """Manifests of `repo` to keep: all of them, or (delete_untagged) those reachable from tags."""
    if not delete_untagged:
        return set(revisions)
    by_subject = {}
    for digest in revisions:
        info = storage.manifest_info(digest)
        if info is not None and info.subject:
            by_subject.setdefault(info.subject, []).append(digest)
    queue = [d for d in (storage.tag_digest(repo, tag) for tag in storage.tags(repo) or []) if d]
    keep = set()
    while queue:
        digest = queue.pop()
        if digest in keep or digest not in revisions:
            continue
        keep.add(digest)
        info = storage.manifest_info(digest)
        if info is not None:
            queue.extend(child for child, _ in info.children)
        queue.extend(by_subject.get(digest, []))
    return keep


def pushing(storage: Storage, grace: float, now: float) -> set[str]:
    """Repositories whose last push step (upload session written, layer linked, manifest put) is younger than `grace`."""
    return {repo for repo in storage.repositories(markers=("_layers", "_uploads", "_manifests"))
            if now - storage.last_push_activity(repo) < grace}


def mark(storage: Storage, delete_untagged: bool = False, grace: float = 0.0, now: float | None = None,
         active: Collection[str] = ()) -> tuple[set[str], list[tuple[str, str]]]:
    """(blob digests in use, [(repo, digest)] of untagged manifests to delete); `active`: repositories being pushed,
    whose layer links and manifests are all kept."""
    now = time.time() if now is None else now
    marked, untagged = set(), []
    for repo in storage.catalog():
        revisions = set(storage.revisions(repo))
        keep = _keep_set(storage, repo, revisions, delete_untagged)
        for digest in sorted(revisions - keep):
            linked = storage.revision_mtime(repo, digest) or 0
            if repo in active or now - linked < grace:
                keep.add(digest)
            else:
                untagged.append((repo, digest))
        for digest in keep:
            marked.add(digest)
            info = storage.manifest_info(digest)
            if info is not None:
                marked.update(info.blobs)
                marked.update(child for child, _ in info.children)
    for repo in active:
        marked.update(storage.layer_digests(repo))
    return marked, untagged


def _newest_links(storage: Storage) -> dict[str, float]:
    """digest -> newest mtime of any repository's layer link to it."""
    newest = {}
    for repo in storage.repositories(markers=("_layers",)):
        for digest in storage.layer_digests(repo):
            stamp = storage.layer_mtime(repo, digest)
            if stamp is not None and stamp > newest.get(digest, 0):
                newest[digest] = stamp
    return newest


def plan(storage: Storage, delete_untagged: bool, grace: float, now: float) -> tuple[set[str], list[tuple[str, str]], list[str]]:
    """(blobs marked, untagged manifests to delete, blobs to delete) as the store stands now."""
    marked, untagged = mark(storage, delete_untagged, grace, now, pushing(storage, grace, now))
    links = _newest_links(storage)
    candidates = []
    for digest in storage.all_blobs():
        if digest in marked:
            continue
        fresh = max(storage.blob_mtime(digest) or 0, links.get(digest, 0))
        if now - fresh >= grace:
            candidates.append(digest)
    return marked, untagged, candidates


def _delete_blobs(storage: Storage, candidates: set[str], grace: float) -> set[str]:
    """Delete the blobs (those not refreshed meanwhile), then every repository's layer links to them; returns the
    set deleted."""
    doomed = {digest for digest in sorted(candidates) if storage.sweep_blob(digest, grace)}
    for repo in storage.repositories(markers=("_layers",)):
        for digest in storage.layer_digests(repo):
            if digest in doomed:
                storage.unlink_layer(repo, digest)
    return doomed


def collect(root: str, dry_run: bool = False, delete_untagged: bool = False, grace: float = 60.0) -> Report:
    """Run a collection over the store at `root`; returns a Report.

    A first pass runs without a lock; when it finds garbage, a second pass under the exclusive gc lock decides again
    (only what both passes doom is deleted) and deletes, while pushes wait to link anything."""
    storage = Storage(root, delete_enabled=True)
    marked, untagged, candidates = plan(storage, delete_untagged, grace, time.time())
    report = Report(dry_run=dry_run, marked=len(marked), manifests=untagged, blobs=sorted(candidates))
    if dry_run or not (untagged or candidates):
        return report
    with storage.sweeping():
        marked, again, fresh_candidates = plan(storage, delete_untagged, grace, time.time())
        report.marked = len(marked)
        report.manifests = [item for item in untagged if item in set(again)]
        for repo, digest in report.manifests:
            storage.unlink_revision(repo, digest)
        if report.manifests:  # their blobs may be garbage now: decide on blobs with the manifests gone
            marked, _, fresh_candidates = plan(storage, delete_untagged, grace, time.time())
        doomed = _delete_blobs(storage, set(candidates) & set(fresh_candidates), grace)
    report.blobs = sorted(doomed)
    return report
