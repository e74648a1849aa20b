"""Manifest media types and parsing: what a manifest is, what it references, what it is a referrer of."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pyregistry.errors import RegistryError

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


def _descriptor_digest(desc, where):
    if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
        raise RegistryError("MANIFEST_INVALID", detail=f"{where}: descriptor without a digest")
    digest = desc["digest"]
    if not ANY_DIGEST_RE.fullmatch(digest):
        raise RegistryError("MANIFEST_INVALID", detail=f"{where}: invalid digest {digest!r}")
    return digest


def parse(data, content_type=None):
    """Parse manifest bytes into ManifestInfo, or raise MANIFEST_INVALID."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested deeper than the parser's stack
        raise RegistryError("MANIFEST_INVALID", detail=f"not JSON: {str(exc)[:200]}") from None
    if not isinstance(doc, dict):
        raise RegistryError("MANIFEST_INVALID", detail="manifest is not a JSON object")
    if doc.get("schemaVersion") != 2:
        raise RegistryError("MANIFEST_INVALID", detail="only schemaVersion 2 manifests are supported")
    declared = doc.get("mediaType")
    ctype = (content_type or "").split(";")[0].strip()
    if declared is not None and not isinstance(declared, str):
        raise RegistryError("MANIFEST_INVALID", detail="mediaType must be a string")
    if declared and ctype in KNOWN_TYPES and declared != ctype:
        raise RegistryError("MANIFEST_INVALID", detail=f"mediaType {declared} does not match Content-Type {ctype}")
    media_type = declared or (ctype if ctype in KNOWN_TYPES else (OCI_INDEX if "manifests" in doc else OCI_MANIFEST))
    if media_type not in KNOWN_TYPES:
        raise RegistryError("MANIFEST_INVALID", detail=f"unsupported manifest media type {media_type}")
    info = ManifestInfo(media_type=media_type, size=len(data))
    if media_type in IMAGE_TYPES:
        config = doc.get("config")
        info.blobs.append(_descriptor_digest(config, "config"))
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise RegistryError("MANIFEST_INVALID", detail="layers must be a list")
        for i, layer in enumerate(layers):
            digest = _descriptor_digest(layer, f"layers[{i}]")
            foreign = layer.get("mediaType") in FOREIGN_LAYER_TYPES
            if foreign != bool(layer.get("urls")):
                problem = "a foreign layer needs urls" if foreign else "only foreign layers have urls"
                raise RegistryError("MANIFEST_INVALID", detail=f"layers[{i}]: {problem}")
            if not foreign:
                info.blobs.append(digest)
        info.artifact_type = doc.get("artifactType") or config.get("mediaType")
    else:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise RegistryError("MANIFEST_INVALID", detail="manifests must be a list")
        for i, child in enumerate(children):
            digest = _descriptor_digest(child, f"manifests[{i}]")
            platform = child.get("platform")
            platform = {} if platform is None else platform
            if not isinstance(platform, dict):
                raise RegistryError("MANIFEST_INVALID", detail=f"manifests[{i}].platform must be an object")
            info.children.append((digest, platform))
        info.artifact_type = doc.get("artifactType")
    subject = doc.get("subject")
    if subject is not None:
        info.subject = _descriptor_digest(subject, "subject")
    annotations = doc.get("annotations")
    if isinstance(annotations, dict):
        info.annotations = annotations
    return info
