"""Garbage collection: mark every blob a kept manifest needs (config, layers, index children, referrers), sweep the rest.

Safe while pushes happen: blobs and links written within the grace period are never swept (uploads, mounts, manifest
pushes and HEAD checks refresh a blob's mtime), the mark phase runs a second time right before the sweep so manifests
pushed meanwhile protect their blobs, and each blob's age is checked once more just before it is deleted.
"""
import os
import re
import time
from dataclasses import dataclass, field

from pyregistry import driver
from pyregistry.storage import Storage

HEX_RE = re.compile(r"[a-f0-9]{64}")


@dataclass
class Report:
    """What a collection marked and deleted (or would delete, in a dry run)."""

    dry_run: bool
    marked: int = 0
    blobs: list = field(default_factory=list)
    manifests: list = field(default_factory=list)  # (repo, digest) of untagged manifests

    def lines(self):
        verb = "would delete" if self.dry_run else "deleted"
        out = [f"{verb} manifest {repo}@{digest}" for repo, digest in self.manifests]
        out += [f"{verb} blob {digest}" for digest in self.blobs]
        outcome = "eligible for deletion" if self.dry_run else "deleted"
        out.append(f"{self.marked} blobs marked, {len(self.blobs)} blobs and {len(self.manifests)} manifests {outcome}")
        return out


def _keep_set(storage, repo, revisions, delete_untagged):
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


def mark(storage, delete_untagged=False, grace=0.0, now=None):
    """(blob digests in use, [(repo, digest)] of untagged manifests to delete)."""
    now = time.time() if now is None else now
    marked, untagged = set(), []
    for repo in storage.catalog():
        revisions = set(storage.revisions(repo))
        keep = _keep_set(storage, repo, revisions, delete_untagged)
        for digest in sorted(revisions - keep):
            linked = driver.mtime(storage.layout.revision_link(repo, digest)) or 0
            if now - linked < grace:
                keep.add(digest)
            else:
                untagged.append((repo, digest))
        for digest in keep:
            marked.add(digest)
            info = storage.manifest_info(digest)
            if info is not None:
                marked.update(info.blobs)
                marked.update(child for child, _ in info.children)
    return marked, untagged


def all_blobs(storage):
    """Digests of every blob in the store."""
    root = os.path.join(storage.layout.blobs, "sha256")
    found = []
    for prefix in driver.list_dir(root):
        for hexpart in driver.list_dir(os.path.join(root, prefix)):
            if HEX_RE.fullmatch(hexpart):
                found.append("sha256:" + hexpart)
    return found


def _newest_links(storage):
    """digest -> newest mtime of any repository's layer link to it."""
    newest = {}
    for repo in storage.catalog() + storage.repositories(uploads=True):
        layers = os.path.join(storage.layout.layers(repo), "sha256")
        for hexpart in driver.list_dir(layers):
            stamp = driver.mtime(os.path.join(layers, hexpart, "link"))
            digest = "sha256:" + hexpart
            if stamp is not None and stamp > newest.get(digest, 0):
                newest[digest] = stamp
    return newest


def collect(root, dry_run=False, delete_untagged=False, grace=60.0):
    """Run a collection over the store at `root`; returns a Report."""
    storage = Storage(root, delete_enabled=True)
    now = time.time()
    marked, untagged = mark(storage, delete_untagged, grace, now)
    report = Report(dry_run=dry_run, manifests=untagged)
    if not dry_run:
        for repo, digest in untagged:
            for tag in storage.tags(repo) or []:
                driver.remove_tree(os.path.dirname(storage.layout.tag_index_link(repo, tag, digest)))
            driver.remove_tree(os.path.dirname(storage.layout.revision_link(repo, digest)))
    links = _newest_links(storage)
    candidates = []
    for digest in all_blobs(storage):
        if digest in marked:
            continue
        fresh = max(driver.mtime(storage.layout.blob_data(digest)) or 0, links.get(digest, 0))
        if now - fresh >= grace:
            candidates.append(digest)
    if candidates and not dry_run:
        remarked, _ = mark(storage, False, grace)
        candidates = [d for d in candidates if d not in remarked]
    report.marked = len(marked)
    report.blobs = sorted(candidates)
    if dry_run:
        return report
    doomed = set()
    for digest in report.blobs:
        if time.time() - (driver.mtime(storage.layout.blob_data(digest)) or 0) < grace:
            continue  # pushed, mounted or checked again while we marked
        driver.remove_tree(storage.layout.blob_dir(digest))
        doomed.add(digest)
    report.blobs = sorted(doomed)
    for repo in set(storage.catalog() + storage.repositories(uploads=True)):
        layers = os.path.join(storage.layout.layers(repo), "sha256")
        for hexpart in driver.list_dir(layers):
            if "sha256:" + hexpart in doomed:
                driver.remove_tree(os.path.join(layers, hexpart))
    return report
