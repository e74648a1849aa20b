# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bundle's on-disk layout in one place: file names, annotations, the forms a bundle takes, split parts, and the
airgap-bundle.json and HAVE documents (docs/bundles.md, "Bundle format").

A bundle is an OCI image layout (image-spec image-layout.md): a directory, a tarball of it (`.tar`, `.tar.zst`), or
that tarball cut in parts (`NAME.part001`... with `NAME.sha256`).  Everything else (writing, reading, seeding,
serving) asks this module where things are.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any

from ansible_collections.airgap.registry.plugins.module_utils.descriptor import DIGEST
from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError
from ansible_collections.airgap.registry.plugins.module_utils.media_types import ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME
from ansible_collections.airgap.registry.plugins.module_utils.reference import PATH_COMPONENT

OCI_LAYOUT_FILE = "oci-layout"
OCI_LAYOUT_VERSION = "1.0.0"
INDEX_FILE = "index.json"
BUNDLE_FILE = "airgap-bundle.json"
BLOBS_DIR = "blobs"
BUNDLE_VERSION = 1
HAVE_VERSION = 1
NAME_ANNOTATIONS = (ANNOTATION_REF_NAME, ANNOTATION_CONTAINERD_NAME)

PART_SUFFIX = ".part"
PART_DIGITS = 3
CHECKSUM_SUFFIX = ".sha256"
TAR_SUFFIXES = (".tar", ".tar.zst")
_PART = re.compile(r"^(?P<base>.+)\.part(?P<n>[0-9]{3,})$")
_SIZE = re.compile(r"^\s*([0-9]+)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
_CHECKSUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}


class BundleError(AirgapError):
    """A bundle that cannot be written or read as asked; the message names the path and the problem."""


def blob_path(digest: str) -> str:
    """`blobs/<algorithm>/<hex>`: where a blob lives inside the layout (image-layout.md "Blobs")."""
    algorithm, _sep, hexdigest = digest.partition(":")
    return f"{BLOBS_DIR}/{algorithm}/{hexdigest}"


def checked_digest(digest: Any, what: str) -> str:
    """`digest` when it is `sha256:<64 hex>` or `sha512:<128 hex>` (image-spec descriptor.md "Digests", the
    algorithms a layout can hold), so it is safe as a file name; BundleError naming `what` and the digest otherwise
    (`sha256:../../etc` from a registry or an index.json must never become a path)."""
    if not isinstance(digest, str) or not DIGEST.match(digest):
        raise BundleError(f"{what}: {digest!r} is not a valid digest (sha256:<64 hex> or sha512:<128 hex>)")
    return digest


def image_annotations(reference: str) -> dict[str, str]:
    """The index.json annotations that name an image by its full source reference."""
    return {key: reference for key in NAME_ANNOTATIONS}


def reference_of(descriptor: dict) -> str | None:
    """The full source reference an index.json descriptor names, or None (a referrer goes with its subject)."""
    annotations = descriptor.get("annotations") or {}
    return annotations.get(ANNOTATION_CONTAINERD_NAME) or annotations.get(ANNOTATION_REF_NAME)


def output_form(path: str) -> str:
    """The form `create --output PATH` writes: "directory" (PATH ends in `/` or is a directory), "tar" or "tar.zst";
    BundleError for any other name."""
    if path.endswith(os.sep) or os.path.isdir(path):
        return "directory"
    if path.endswith(".tar.zst"):
        return "tar.zst"
    if path.endswith(".tar"):
        return "tar"
    raise BundleError(f"--output {path}: name a directory (ending in /), a .tar or a .tar.zst file")


def part_name(path: str, number: int) -> str:
    """The name of part `number` (from 1) of tarball `path`: `PATH.part001`."""
    return f"{path}{PART_SUFFIX}{number:0{PART_DIGITS}d}"


def checksum_name(path: str) -> str:
    """The checksum file of a split tarball `path`: `PATH.sha256` (sha256sum's format)."""
    return path + CHECKSUM_SUFFIX


def parts_of(path: str) -> list[str]:
    """The parts of the split tarball `path` names (`NAME.tar`, `NAME.tar.zst` or one of its parts), in order, or []
    when it is not split (the tarball itself exists, or no part does)."""
    match = _PART.match(path)
    base = match.group("base") if match else path
    if not match and os.path.exists(base):
        return []
    parts = []
    while os.path.exists(part_name(base, len(parts) + 1)):
        parts.append(part_name(base, len(parts) + 1))
    return parts


def read_checksums(path: str) -> list[tuple[str, str]]:
    """[(hex sha256, part file name)] from `NAME.sha256` of the split tarball `path` (sha256sum's format: `<hex>  NAME`,
    `*` before the name in binary mode), in file order; [] when there is no checksum file.  BundleError naming the
    file and line for a line that is not `<hex>  <name>`, or whose name is not `NAME.partNNN` (a part beside it: no
    directory, so a checksum file never leads outside)."""
    base = os.path.basename(split_base(path))
    name = checksum_name(split_base(path))
    try:
        with open(name, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise BundleError(f"{name}: cannot read: {exc.strerror}") from None
    out = []
    for number, line in enumerate(lines, 1):
        match = _CHECKSUM_LINE.match(line)
        if not match:
            if line.strip():
                raise BundleError(f"{name} line {number}: not '<sha256 hex>  <part name>'")
            continue
        part = _PART.match(match.group(2))
        if not part or part.group("base") != base:
            raise BundleError(f"{name} line {number}: names {match.group(2)}, not a part of {base} beside it "
                              f"({base}{PART_SUFFIX}NNN)")
        out.append((match.group(1).lower(), match.group(2)))
    return out


def split_base(path: str) -> str:
    """`NAME.tar` for `NAME.tar.part001` (any part); the path itself otherwise."""
    match = _PART.match(path)
    return match.group("base") if match else path


def parse_size(text: str | int) -> int:
    """Bytes of `--split-size` (`500M`, `4G`, `4000000000`; K, M, G, T are powers of 1024); BundleError when it is
    not a positive size."""
    match = _SIZE.match(str(text))
    if not match or int(match.group(1)) <= 0:
        raise BundleError(f"--split-size {text}: give a positive size such as 500M, 4G or 4000000000")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def bundle_document(images: list[dict[str, Any]], created: str, delta: dict | None = None) -> bytes:
    """The bytes of airgap-bundle.json: {bundleVersion, created, images, delta} (docs/bundles.md)."""
    doc = {"bundleVersion": BUNDLE_VERSION, "created": created, "images": images, "delta": delta}
    return json.dumps(doc, indent=2, sort_keys=False).encode() + b"\n"


def parse_bundle_document(data: bytes, where: str) -> dict[str, Any]:
    """airgap-bundle.json parsed and checked (bundleVersion, images list, delta object or null, delta.blobs digests
    and repository names: the seed puts them in URLs and token scopes); BundleError naming `where` otherwise."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise BundleError(f"{where}: {BUNDLE_FILE} is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("bundleVersion") != BUNDLE_VERSION:
        raise BundleError(f"{where}: {BUNDLE_FILE} is not a version {BUNDLE_VERSION} bundle document")
    if not isinstance(doc.get("images"), list) or not isinstance(doc.get("delta") or {}, dict):
        raise BundleError(f"{where}: {BUNDLE_FILE} needs an images list and a delta object or null")
    delta = doc.get("delta")
    if delta is not None and not isinstance(delta.get("blobs"), dict):
        raise BundleError(f"{where}: {BUNDLE_FILE} delta needs blobs {{digest: repository}}")
    for digest, repository in ((delta or {}).get("blobs") or {}).items():
        checked_digest(digest, f"{where}: {BUNDLE_FILE} delta.blobs")
        if not isinstance(repository, str) or not all(PATH_COMPONENT.match(c) for c in repository.split("/")):
            raise BundleError(f"{where}: {BUNDLE_FILE} delta.blobs gives {digest} the repository {repository!r}, "
                              "which is not a repository name")
    return doc


def parse_have(data: bytes, where: str) -> dict[str, Any]:
    """A HAVE document ({haveVersion, registry, created, repositories, manifests, blobs}) parsed and checked;
    BundleError naming `where` otherwise."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise BundleError(f"--have {where}: not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("haveVersion") != HAVE_VERSION:
        raise BundleError(f"--have {where}: not a HAVE file (haveVersion {HAVE_VERSION}); write one with airgap-bundle have")
    if not isinstance(doc.get("blobs"), dict) or not isinstance(doc.get("manifests"), list) \
            or not isinstance(doc.get("repositories"), dict):
        raise BundleError(f"--have {where}: needs repositories, manifests and blobs")
    return doc
