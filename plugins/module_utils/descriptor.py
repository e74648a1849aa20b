# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Descriptors, image manifests, indexes and platforms as small typed classes, parsed from JSON with clear errors.

OCI image-spec v1.1: descriptor.md (mediaType, digest, size, urls, annotations, platform), manifest.md (schemaVersion
2, config, layers), image-index.md (manifests with platform: os, architecture, variant); the Docker schema 2 manifest
and manifest list have the same shape.
"""
from __future__ import annotations

import re

from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError

# image-spec descriptor.md "Digests": algorithm ":" encoded; the registered algorithms' encodings.
DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")


class DescriptorError(AirgapError, ValueError):
    """A descriptor, manifest or index that is not what the image-spec says; the message names the field."""


class Platform:
    """The platform of an index entry (image-spec image-index.md): os, architecture, variant (may be None)."""

    __slots__ = ("architecture", "os", "variant")

    def __init__(self, os: str | None, architecture: str | None, variant: str | None = None) -> None:
        self.os = os
        self.architecture = architecture
        self.variant = variant

    @classmethod
    def parse(cls, obj: dict | None) -> Platform:
        """From a descriptor's `platform` object (missing fields are None)."""
        obj = obj if isinstance(obj, dict) else {}
        return cls(obj.get("os"), obj.get("architecture"), obj.get("variant"))

    @classmethod
    def from_string(cls, text: str) -> Platform:
        """From `os[/architecture[/variant]]`, e.g. `linux/arm64/v8`."""
        parts = text.split("/")
        return cls(parts[0], parts[1] if len(parts) > 1 else None, parts[2] if len(parts) > 2 else None)

    def matches(self, wanted: Platform) -> bool:
        """True when this platform is `wanted`: same os and architecture, and variant when `wanted` names one."""
        return self.os == wanted.os and self.architecture == wanted.architecture and \
            (wanted.variant is None or self.variant == wanted.variant)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p) or "unknown"


class Descriptor:
    """A content descriptor (image-spec descriptor.md): media_type, digest (`algorithm:hex`), size in bytes, urls,
    annotations, platform (index entries only) and the JSON object it was parsed from (`raw`)."""

    __slots__ = ("annotations", "digest", "media_type", "platform", "raw", "size", "urls")

    def __init__(self, media_type: str | None, digest: str, size: int, *, urls: list | None = None,
                 annotations: dict | None = None, platform: Platform | None = None, raw: dict | None = None) -> None:
        self.media_type = media_type
        self.digest = digest
        self.size = size
        self.urls = urls or []
        self.annotations = annotations or {}
        self.platform = platform
        self.raw = raw

    @classmethod
    def parse(cls, obj: object, what: str = "descriptor") -> Descriptor:
        """From a JSON object; DescriptorError naming `what` when digest or size is missing or malformed."""
        if not isinstance(obj, dict):
            raise DescriptorError(f"{what} is not a JSON object")
        digest, size = obj.get("digest"), obj.get("size")
        if not isinstance(digest, str) or not DIGEST.match(digest):
            raise DescriptorError(f"{what} has no valid digest (got {digest!r})")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise DescriptorError(f"{what} has no valid size (got {size!r})")
        platform = Platform.parse(obj["platform"]) if "platform" in obj else None
        return cls(obj.get("mediaType"), digest, size, urls=obj.get("urls"), annotations=obj.get("annotations"),
                   platform=platform, raw=obj)


def _schema2(doc: object, what: str) -> dict:
    if not isinstance(doc, dict):
        raise DescriptorError(f"{what} is not a JSON object")
    if doc.get("schemaVersion") != 2:
        raise DescriptorError(f"{what} has schemaVersion {doc.get('schemaVersion')!r}, not 2")
    return doc


class Manifest:
    """An image manifest (image-spec manifest.md, Docker schema 2): media_type (may be None), config, layers."""

    def __init__(self, media_type: str | None, config: Descriptor, layers: list[Descriptor]) -> None:
        self.media_type = media_type
        self.config = config
        self.layers = layers

    @classmethod
    def parse(cls, doc: object, what: str = "manifest") -> Manifest:
        """From a parsed JSON document; DescriptorError naming `what` and the field at fault."""
        doc = _schema2(doc, what)
        if not isinstance(doc.get("config"), dict):
            raise DescriptorError(f"{what} has no config object")
        layers = doc.get("layers") or []
        if not isinstance(layers, list):
            raise DescriptorError(f"{what}: layers is not a list")
        return cls(doc.get("mediaType"), Descriptor.parse(doc["config"], f"{what}: config"),
                   [Descriptor.parse(d, f"{what}: layer {i}") for i, d in enumerate(layers)])


class Index:
    """An image index or manifest list (image-spec image-index.md): media_type (may be None), manifests."""

    def __init__(self, media_type: str | None, manifests: list[Descriptor]) -> None:
        self.media_type = media_type
        self.manifests = manifests

    @classmethod
    def parse(cls, doc: object, what: str = "index") -> Index:
        """From a parsed JSON document; DescriptorError naming `what` and the entry at fault."""
        doc = _schema2(doc, what)
        entries = doc.get("manifests") or []
        if not isinstance(entries, list):
            raise DescriptorError(f"{what}: manifests is not a list")
        return cls(doc.get("mediaType"), [Descriptor.parse(d, f"{what}: manifest {i}") for i, d in enumerate(entries)])

    def for_platform(self, wanted: Platform) -> list[Descriptor]:
        """The entries for `wanted`, in index order."""
        return [d for d in self.manifests if d.platform is not None and d.platform.matches(wanted)]

    def platforms(self) -> list[str]:
        """The platforms the index offers, sorted, as `os/architecture[/variant]` ('unknown' for an entry without)."""
        return sorted({str(d.platform or Platform(None, None)) for d in self.manifests})
