"""Manifest media types and parsing: what a manifest is, what it references, what it is a referrer of, and which pushed
manifests Go clients read as this registry does (check_go_readable; OCI image-spec manifest.md, descriptor.md)."""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from pyregistry.errors import ManifestInvalid, ManifestTooLarge

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
LIST_TYPES = (DOCKER_LIST, OCI_INDEX)
KNOWN_TYPES = IMAGE_TYPES + LIST_TYPES
FOREIGN_LAYER_TYPES = ("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",  # pulled from their urls: not stored here
                       "application/vnd.oci.image.layer.nondistributable.v1.tar",
                       "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                       "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd")

DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}")
ANY_DIGEST_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

# The JSON types of the fields Go clients decode (Distribution's schema2/manifestlist/ocischema, image-spec v1.1):
# (check, shape named in the error). null passes every check: Go reads it as the field's zero value.
STRING = (lambda value: isinstance(value, str), "a string")
INT64 = (lambda value: type(value) is int and INT64_MIN <= value <= INT64_MAX, "an integer that fits an int64")
STRINGS = (lambda value: isinstance(value, list) and all(isinstance(item, str) for item in value), "a list of strings")
STRING_MAP = (lambda value: isinstance(value, dict) and all(isinstance(item, str) for item in value.values()), "an object of strings")
OBJECT = (lambda value: isinstance(value, dict), "an object")
LIST = (lambda value: isinstance(value, list), "a list")


def _is_base64(value: Any) -> bool:
    """Go decodes a []byte field as standard padded base64 (skipping \\r and \\n)."""
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


BASE64 = (_is_base64, "base64")
TOP_FIELDS = {"schemaVersion": INT64, "mediaType": STRING, "artifactType": STRING, "config": OBJECT, "layers": LIST,
              "manifests": LIST, "subject": OBJECT, "annotations": STRING_MAP}
DESCRIPTOR_FIELDS = {"mediaType": STRING, "digest": STRING, "size": INT64, "urls": STRINGS, "annotations": STRING_MAP,
                     "data": BASE64, "platform": OBJECT, "artifactType": STRING}
PLATFORM_FIELDS = {"architecture": STRING, "os": STRING, "os.version": STRING, "os.features": STRINGS, "variant": STRING,
                   "features": STRINGS}


@dataclass
class ManifestInfo:
    """The parts of a manifest the registry acts on."""

    media_type: str
    size: int
    blobs: list = field(default_factory=list)  # digests of config + layers the repo must hold
    children: list = field(default_factory=list)  # (digest, platform) of an index's manifests
    subject: str | None = None
    artifact_type: str | None = None
    annotations: dict | None = None


def check_size(length: int) -> None:
    """Raise ManifestTooLarge (413) when a manifest body of `length` bytes exceeds MAX_MANIFEST_BYTES, as Distribution
    limits it; the one place this limit is checked (declared length, bytes read so far, bytes stored)."""
    if length > MAX_MANIFEST_BYTES:
        raise ManifestTooLarge(message="manifest too large", detail={"limit": MAX_MANIFEST_BYTES})


def _descriptor_digest(desc: Any, where: str) -> str:
    if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
        raise ManifestInvalid(detail=f"{where}: descriptor without a digest")
    digest = desc["digest"]
    if not ANY_DIGEST_RE.fullmatch(digest):
        raise ManifestInvalid(detail=f"{where}: invalid digest {digest!r}")
    return digest


def _invalid(detail: str) -> ManifestInvalid:
    return ManifestInvalid(detail=detail[:300])


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _go_int(text: str) -> int | float:
    """An integer literal: an int when it can fit an int64, else inf, which no integer field accepts (Go skips it in a
    field it ignores; Python's int() of thousands of digits costs quadratic time, then refuses)."""
    return int(text) if len(text) <= 20 else float("inf")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object_pairs_hook: the object as a dict, or ValueError naming a key that it holds twice."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        duplicate = next(key for key, _value in pairs if key in seen or seen.add(key))
        raise ValueError(f"duplicate key {duplicate[:100]!r}")
    return obj


def decode(data: bytes) -> Any:
    """Manifest bytes -> the JSON value, or raise MANIFEST_INVALID for bytes that Go's encoding/json (Distribution, docker,
    containerd) refuses or reads differently than Python.

    Refused as Distribution refuses them: anything but UTF-8 (json.loads(bytes) would sniff UTF-16/32 and skip a
    byte-order mark), NaN/Infinity/-Infinity (not JSON). Refused as ambiguous, where Distribution would store what a
    client then reads otherwise: invalid UTF-8 and lone UTF-16 surrogate escapes (Go reads U+FFFD), a key twice in one
    object (parsers differ on which one counts)."""
    try:
        text = data.decode("utf-8")
        if text.startswith("\ufeff"):
            raise ValueError("a UTF-8 byte-order mark starts the body")
        doc = json.loads(text, parse_constant=_reject_constant, parse_int=_go_int, object_pairs_hook=_unique_keys)
        json.dumps(doc, ensure_ascii=False).encode("utf-8")  # a lone surrogate (an escaped \ud800) cannot be encoded
    except UnicodeError as exc:
        raise _invalid(f"not UTF-8 JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser's stack
        raise _invalid(f"not JSON: {exc}") from None
    return doc


def _check_fields(obj: dict, fields: dict[str, tuple[Callable[[Any], bool], str]], where: str) -> None:
    """Check `obj` as Go decodes it into a struct with `fields` (name -> (check, shape)): a key that Go matches to a
    field without being its exact name is refused (Go matches keys case-insensitively, "Layers" or "LAYERS" is layers and
    the last one wins), and so is a value of the wrong type (Go refuses those)."""
    folded = {name.casefold(): name for name in fields}
    for key, value in obj.items():
        if key not in fields:
            if key.casefold() in folded:
                raise _invalid(f"{where}: key {key!r} is read as {folded[key.casefold()]!r} by Go clients")
            continue
        check, shape = fields[key]
        if value is not None and not check(value):
            raise _invalid(f"{where}.{key} must be {shape}")


def _descriptors(doc: dict) -> Iterator[tuple[str, dict]]:
    """(where, descriptor) for each object in the descriptor positions of a manifest or index."""
    for key in ("config", "subject"):
        if isinstance(doc.get(key), dict):
            yield key, doc[key]
    for key in ("layers", "manifests"):
        for i, desc in enumerate(doc.get(key) or []):
            if isinstance(desc, dict):
                yield f"{key}[{i}]", desc


def check_go_readable(data: bytes) -> None:
    """Raise MANIFEST_INVALID unless Go clients read the manifest `data` as this registry does: decode()'s rules, a JSON
    object, and every known field of the manifest, its descriptors and their platforms of the type Go decodes
    (schemaVersion 2.0, a size "11", an annotation 1 are refused, as Distribution refuses them)."""
    doc = decode(data)
    if not isinstance(doc, dict):
        raise _invalid("manifest is not a JSON object")
    _check_fields(doc, TOP_FIELDS, "manifest")
    for where, desc in _descriptors(doc):
        _check_fields(desc, DESCRIPTOR_FIELDS, where)
        if isinstance(desc.get("platform"), dict):
            _check_fields(desc["platform"], PLATFORM_FIELDS, f"{where}.platform")


def _media_type(doc: dict, content_type: str | None) -> str:
    """The manifest's media type: its mediaType, else a known Content-Type, else guessed from its fields (an index
    holds "manifests"); raises ManifestInvalid for a mediaType that is no string, disagrees with the Content-Type, or
    is no manifest type this registry stores."""
    declared = doc.get("mediaType")
    ctype = (content_type or "").split(";")[0].strip()
    if declared is not None and not isinstance(declared, str):
        raise ManifestInvalid(detail="mediaType must be a string")
    if declared and ctype in KNOWN_TYPES and declared != ctype:
        raise ManifestInvalid(detail=f"mediaType {declared} does not match Content-Type {ctype}")
    media_type = declared or (ctype if ctype in KNOWN_TYPES else (OCI_INDEX if "manifests" in doc else OCI_MANIFEST))
    if media_type not in KNOWN_TYPES:
        raise ManifestInvalid(detail=f"unsupported manifest media type {media_type}")
    return media_type


def _read_image(doc: dict, info: ManifestInfo) -> None:
    """An image manifest's config and (non-foreign) layer digests into info.blobs, and its artifact type (OCI
    image-spec manifest.md); raises ManifestInvalid for a bad descriptor or a foreign layer without urls (or the reverse)."""
    config = doc.get("config")
    info.blobs.append(_descriptor_digest(config, "config"))
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ManifestInvalid(detail="layers must be a list")
    for i, layer in enumerate(layers):
        digest = _descriptor_digest(layer, f"layers[{i}]")
        foreign = layer.get("mediaType") in FOREIGN_LAYER_TYPES
        if foreign != bool(layer.get("urls")):
            problem = "a foreign layer needs urls" if foreign else "only foreign layers have urls"
            raise ManifestInvalid(detail=f"layers[{i}]: {problem}")
        if not foreign:
            info.blobs.append(digest)
    info.artifact_type = doc.get("artifactType") or config.get("mediaType")


def _read_index(doc: dict, info: ManifestInfo) -> None:
    """An index's (digest, platform) children into info.children, and its artifact type (OCI image-spec
    image-index.md); raises ManifestInvalid for a bad descriptor or platform."""
    children = doc.get("manifests")
    if not isinstance(children, list):
        raise ManifestInvalid(detail="manifests must be a list")
    for i, child in enumerate(children):
        digest = _descriptor_digest(child, f"manifests[{i}]")
        platform = child.get("platform")
        platform = {} if platform is None else platform
        if not isinstance(platform, dict):
            raise ManifestInvalid(detail=f"manifests[{i}].platform must be an object")
        info.children.append((digest, platform))
    info.artifact_type = doc.get("artifactType")


INDEX_PLATFORM_RULES = ("all", "none", "list")


@dataclass(frozen=True)
class IndexRule:
    """validation.manifests.indexes (Distribution 3): which child manifests of a pushed index must already be in the
    repository.  `platforms`: "all" (every child; the default, and Distribution 2.8's only behaviour), "none" (no child:
    sparse indexes accepted), "list" (only children whose platform's os and architecture are in `platformlist`, a
    tuple of (os, architecture))."""

    platforms: str = "all"
    platformlist: tuple = ()

    def required(self, info: ManifestInfo) -> list[str]:
        """The digests of `info`'s children that must exist before the index is stored."""
        if self.platforms == "none":
            return []
        if self.platforms == "list":
            return [d for d, p in info.children if (p.get("os"), p.get("architecture")) in self.platformlist]
        return [d for d, _p in info.children]


def parse(data: bytes, content_type: str | None = None) -> ManifestInfo:
    """Manifest bytes (schema 2: Docker or OCI image manifest or index) -> ManifestInfo: media type, size, the blobs
    and child manifests it references, subject, artifact type, annotations; raises ManifestInvalid."""
    try:
        doc = json.loads(data, parse_int=_go_int)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested deeper than the parser's stack
        raise ManifestInvalid(detail=f"not JSON: {str(exc)[:200]}") from None
    if not isinstance(doc, dict):
        raise ManifestInvalid(detail="manifest is not a JSON object")
    if doc.get("schemaVersion") != 2:
        raise ManifestInvalid(detail="only schemaVersion 2 manifests are supported")
    info = ManifestInfo(media_type=_media_type(doc, content_type), size=len(data))
    (_read_image if info.media_type in IMAGE_TYPES else _read_index)(doc, info)
    subject = doc.get("subject")
    if subject is not None:
        info.subject = _descriptor_digest(subject, "subject")
    annotations = doc.get("annotations")
    if isinstance(annotations, dict):
        info.annotations = annotations
    return info
