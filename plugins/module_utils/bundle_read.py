# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a bundle in any form (docs/bundles.md: a layout directory, `.tar`, `.tar.zst`, split parts) without unpacking
it, as a graph of descriptors: index.json's entries, what each manifest or index names (children, config, layers,
subject), airgap-bundle.json and its delta.  Nothing is checked beyond what reading needs: `bundle_verify` checks,
`image_archive.ImageArchive` parses for the seed.
"""
from __future__ import annotations

import json
from typing import Any, Iterator, NamedTuple

from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import (
    BUNDLE_FILE,
    INDEX_FILE,
    BundleError,
    blob_path,
    parse_bundle_document,
    reference_of,
)
from ansible_collections.airgap.registry.plugins.module_utils.descriptor import DIGEST, Platform
from ansible_collections.airgap.registry.plugins.module_utils.image_archive import ImageArchiveError, TarballReader
from ansible_collections.airgap.registry.plugins.module_utils.platform_policy import is_attestation


class Edge(NamedTuple):
    """One reference inside the bundle: `where` names who refers (index.json, or `manifest <digest>`), `kind` is
    manifest, config, layer or subject, `desc` the descriptor (dict) as written."""

    where: str
    kind: str
    desc: dict


class BundleReader:
    """The members of a bundle (`reader`, a TarballReader: `form` directory, tar or tar.zst, `parts` when split), its
    index.json (`index`) and airgap-bundle.json (`document`, None when absent).  BundleError naming the path when it
    is not readable, or when index.json or airgap-bundle.json is not what the format says."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.reader = TarballReader(path)
        except ImageArchiveError as exc:
            raise BundleError(str(exc)) from None
        self.index = self._json(INDEX_FILE)
        if not isinstance(self.index, dict) or not isinstance(self.index.get("manifests"), list):
            raise BundleError(f"{self.reader.path}: {INDEX_FILE} is not an image index (no manifests list)")
        self.document = None
        if self.reader.has(BUNDLE_FILE):
            self.document = parse_bundle_document(self._read(BUNDLE_FILE), self.reader.path)

    def _read(self, name: str) -> bytes:
        try:
            return self.reader.read(name)
        except ImageArchiveError as exc:
            raise BundleError(str(exc)) from None

    def _json(self, name: str) -> Any:
        try:
            return json.loads(self._read(name))
        except ValueError as exc:
            raise BundleError(f"{self.reader.path}: {name} is not JSON: {exc}") from None

    @property
    def delta(self) -> dict | None:
        """airgap-bundle.json's delta ({registry, have_created, blobs}), or None."""
        return (self.document or {}).get("delta")

    @property
    def delta_blobs(self) -> dict[str, str]:
        """{digest: site repository} of the blobs a delta relies on at the site; {} for a full bundle."""
        return (self.delta or {}).get("blobs") or {}

    def blob_members(self) -> dict[str, str]:
        """{digest: member name} of every file under blobs/<algorithm>/."""
        out = {}
        for name in self.reader.members:
            algorithm, _sep, rest = name[len("blobs/"):].partition("/") if name.startswith("blobs/") else ("", "", "")
            if rest and "/" not in rest:
                out[f"{algorithm}:{rest}"] = name
        return out

    def has(self, digest: str) -> bool:
        return self.reader.has(blob_path(digest))

    def document_of(self, digest: str) -> dict | None:
        """The JSON object blob `digest` holds, or None when it is absent or not a JSON object."""
        if not DIGEST.match(digest or "") or not self.has(digest):
            return None
        try:
            doc = json.loads(self.reader.read(blob_path(digest)))
        except (ImageArchiveError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def entries(self) -> list[dict]:
        """index.json's descriptors (dicts)."""
        return [d for d in self.index["manifests"] if isinstance(d, dict)]

    def edges(self, digest: str) -> list[Edge]:
        """What manifest or index `digest` names: children (kind manifest), config, layers, subject."""
        doc = self.document_of(digest)
        if doc is None:
            return []
        where = f"manifest {digest}"
        out = [Edge(where, "manifest", d) for d in doc.get("manifests") or [] if isinstance(d, dict)]
        if isinstance(doc.get("config"), dict):
            out.append(Edge(where, "config", doc["config"]))
        out += [Edge(where, "layer", d) for d in doc.get("layers") or [] if isinstance(d, dict)]
        if isinstance(doc.get("subject"), dict):
            out.append(Edge(where, "subject", doc["subject"]))
        return out

    def walk(self) -> Iterator[Edge]:
        """Every reference reachable from index.json, each manifest's once (index.json's entries first)."""
        seen: set[str] = set()
        todo = [Edge(INDEX_FILE, "manifest", d) for d in self.entries()]
        while todo:
            edge = todo.pop(0)
            yield edge
            digest = edge.desc.get("digest")
            if edge.kind in ("manifest", "subject") and digest not in seen:
                seen.add(digest)
                todo += self.edges(digest)

    def tree(self, digest: str) -> dict[str, int]:
        """{digest: size} of every blob manifest `digest` needs (itself, children, configs, layers; not subjects); a
        descriptor without a valid digest is left out, one without an integer size counts 0 (verify names both)."""
        sizes: dict[str, int] = {}
        todo = [digest]
        while todo:
            current = todo.pop()
            if current in sizes:
                continue
            body = self.reader.members.get(blob_path(current))
            sizes[current] = body.size if body else 0
            for edge in self.edges(current):
                child, size = edge.desc.get("digest"), edge.desc.get("size")
                if not isinstance(child, str) or not DIGEST.match(child):
                    continue  # bundle_verify names it
                if edge.kind == "manifest":
                    todo.append(child)
                elif edge.kind in ("config", "layer"):
                    sizes.setdefault(child, size if isinstance(size, int) else 0)
        return sizes

    def referrers(self) -> dict[str, list[str]]:
        """{subject digest: [digests of index.json's unnamed entries whose subject it is]}."""
        out: dict[str, list[str]] = {}
        for desc in self.entries():
            if reference_of(desc) is None:
                subject = (self.document_of(desc.get("digest", "")) or {}).get("subject")
                if isinstance(subject, dict):
                    out.setdefault(subject.get("digest"), []).append(desc["digest"])
        return out

    def images(self) -> list[dict]:
        """airgap-bundle.json's image entries computed from the layout: {reference, digest, mediaType, platforms (an
        index's children, attestations left out; [] for a manifest), size (bytes of every blob it and its referrers
        need), referrers (digests, of the image or its children)}."""
        by_subject = self.referrers()
        out = []
        for desc in self.entries():
            reference = reference_of(desc)
            if reference is None:
                continue
            digest = desc.get("digest", "")
            tree = self.tree(digest)
            referrers = [r for d in tree for r in by_subject.get(d, [])]
            for referrer in referrers:
                tree.update(self.tree(referrer))
            children = [e.desc for e in self.edges(digest) if e.kind == "manifest"]
            out.append({"reference": reference, "digest": digest, "mediaType": desc.get("mediaType"),
                        "platforms": [str(Platform.parse(c.get("platform"))) for c in children if not is_attestation(c)],
                        "size": sum(tree.values()), "referrers": referrers})
        return out
