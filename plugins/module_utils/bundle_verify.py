# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check and list a bundle (docs/bundles.md) in any form: what `airgap-bundle verify` and `airgap-bundle list` print.

`verify_bundle` re-hashes every part of a split bundle against NAME.sha256 and every blob against its name (streamed,
one pass through a compressed tarball), follows every reference (index.json -> manifests and indexes -> children,
configs, layers, subjects) and checks airgap-bundle.json against index.json.  Each problem is one line naming the
file and the digest.
"""
from __future__ import annotations

import hashlib
import os
from typing import Any

from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import (
    BUNDLE_FILE,
    INDEX_FILE,
    OCI_LAYOUT_FILE,
    BundleError,
    checksum_name,
    read_checksums,
    split_base,
)
from ansible_collections.airgap.registry.plugins.module_utils.bundle_read import BundleReader
from ansible_collections.airgap.registry.plugins.module_utils.descriptor import DIGEST
from ansible_collections.airgap.registry.plugins.module_utils.image_archive import READ_BLOCK, ImageArchiveError

HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}


def _hash_file(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(READ_BLOCK), b""):
            hasher.update(block)
    return hasher.hexdigest()


def check_parts(path: str) -> tuple[list[str], bool]:
    """(problems, readable) of a split bundle's parts: each part NAME.sha256 lists is there and has its sha256, and
    no part is left out of it; readable is False when a listed part is missing.  ([], True) when `path` is not split."""
    base = split_base(path)
    if base == path and os.path.exists(path) or os.path.isdir(path):
        return [], True
    directory = os.path.dirname(base)
    name = os.path.basename(base)
    present = {os.path.join(directory, n) for n in os.listdir(directory or ".") if n != name and split_base(n) == name}
    try:
        listed = read_checksums(base)
    except BundleError as exc:
        return [str(exc)], False
    if not listed and not present:
        return [f"{path}: no such bundle (no file, directory or parts)"], False
    if not listed:
        return [f"{checksum_name(base)}: missing, so the parts of {base} cannot be checked"], True
    problems, readable = [], True
    for expected, name in listed:
        part = os.path.join(directory, name)
        present.discard(part)
        if not os.path.exists(part):
            problems.append(f"{part}: missing (listed in {checksum_name(base)})")
            readable = False
            continue
        actual = _hash_file(part)
        if actual != expected:
            problems.append(f"{part}: sha256 {actual}, but {checksum_name(base)} says {expected} (altered, truncated "
                            "or from another bundle)")
    problems += [f"{part}: a part {checksum_name(base)} does not list" for part in sorted(present)]
    return problems, readable


def _check_blobs(bundle: BundleReader) -> list[str]:
    """Every blob re-hashed (streamed; one pass through a compressed tarball): its content has the digest of its name."""
    names = {member: digest for digest, member in bundle.blob_members().items()}
    problems = []
    try:
        for member, stream in bundle.reader.stream_members(list(names)):
            algorithm, _sep, expected = names[member].partition(":")
            if algorithm not in HASHES:
                problems.append(f"{bundle.reader.path}: {member}: unknown digest algorithm {algorithm}")
                continue
            hasher = HASHES[algorithm]()
            for block in iter(lambda s=stream: s.read(READ_BLOCK), b""):
                hasher.update(block)
            if hasher.hexdigest() != expected:
                problems.append(f"{bundle.reader.path}: {member}: content has digest {algorithm}:{hasher.hexdigest()}, "
                                f"not {names[member]} (altered)")
    except (ImageArchiveError, OSError) as exc:
        problems.append(f"{bundle.reader.path}: cannot read every blob: {exc}")
    return problems


def _check_references(bundle: BundleReader) -> list[str]:
    """Every descriptor reachable from index.json resolves inside the bundle with its size (a delta's config or layer:
    or is declared in delta.blobs; a foreign layer with urls may be absent)."""
    problems = []
    declared = bundle.delta_blobs
    for edge in bundle.walk():
        digest, size = edge.desc.get("digest"), edge.desc.get("size")
        where = f"{bundle.reader.path}: {edge.where}"
        if not isinstance(digest, str) or not DIGEST.match(digest):
            problems.append(f"{where} names a {edge.kind} with no valid digest ({digest!r})")
            continue
        member = bundle.reader.members.get(f"blobs/{digest.replace(':', '/', 1)}")
        if member is None:
            if edge.kind in ("config", "layer") and (digest in declared or edge.desc.get("urls")):
                continue
            tail = " nor declared in delta.blobs" if bundle.delta is not None else ""
            problems.append(f"{where} names {edge.kind} {digest}, which is not in the bundle{tail}")
        elif member.size != size:
            problems.append(f"{where} names {edge.kind} {digest} of {size} bytes; the bundle's blob has {member.size}")
        elif edge.kind in ("manifest", "subject") and bundle.document_of(digest) is None:
            problems.append(f"{where} names {edge.kind} {digest}, which is not a JSON manifest or index")
    return list(dict.fromkeys(problems))


def _check_document(bundle: BundleReader) -> list[str]:
    """airgap-bundle.json agrees with index.json: the same references, each with the same digest and media type, and
    every referrer it lists is in the bundle."""
    path = bundle.reader.path
    if bundle.document is None:
        return [f"{path}: {BUNDLE_FILE} is missing (not a bundle written by airgap-bundle create)"]
    problems = []
    listed = {i.get("reference"): i for i in bundle.document["images"] if isinstance(i, dict)}
    named = {i["reference"]: i for i in bundle.images()}
    for reference, image in named.items():
        doc = listed.get(reference)
        if doc is None:
            problems.append(f"{path}: {INDEX_FILE} names {reference} ({image['digest']}), {BUNDLE_FILE} does not")
            continue
        for key in ("digest", "mediaType"):
            if doc.get(key) != image[key]:
                problems.append(f"{path}: {BUNDLE_FILE} gives {reference} {key} {doc.get(key)}, {INDEX_FILE} {image[key]}")
        problems += [f"{path}: {BUNDLE_FILE} lists referrer {d} of {reference}, which is not in the bundle"
                     for d in doc.get("referrers") or [] if not bundle.has(str(d))]
    problems += [f"{path}: {BUNDLE_FILE} lists {reference} ({(doc or {}).get('digest')}), {INDEX_FILE} does not name it"
                 for reference, doc in listed.items() if reference not in named]
    if not bundle.reader.has(OCI_LAYOUT_FILE):
        problems.append(f"{path}: {OCI_LAYOUT_FILE} is missing (not an OCI image layout)")
    return problems


def verify_bundle(path: str) -> list[str]:
    """The problems of the bundle at `path` (directory, .tar, .tar.zst, NAME.tar of split parts or a part), one line
    each naming the file and digest; [] for a good bundle.  Reads everything once (twice for split parts: the parts'
    checksums, then the blobs)."""
    problems, readable = check_parts(path)
    if not readable:
        return problems
    try:
        bundle = BundleReader(path)
    except BundleError as exc:
        return [*problems, str(exc)]
    return problems + _check_blobs(bundle) + _check_references(bundle) + _check_document(bundle)


def list_bundle(path: str) -> dict[str, Any]:
    """What the bundle at `path` holds: {form (directory, tar, tar.zst; `split ` before a split tarball's), parts
    (count), images: [{reference, digest, mediaType, platforms, size, referrers}] (airgap-bundle.json's, else computed
    from index.json), blobs (count of blobs held), bytes (their total size), delta (airgap-bundle.json's, or None)}.
    BundleError naming the path when it cannot be read."""
    bundle = BundleReader(path)
    blobs = bundle.blob_members()
    reader = bundle.reader
    images = bundle.document["images"] if bundle.document else bundle.images()
    return {"form": ("split " if reader.parts else "") + reader.form, "parts": len(reader.parts), "images": images,
            "blobs": len(blobs), "bytes": sum(reader.members[m].size for m in blobs.values()), "delta": bundle.delta}
