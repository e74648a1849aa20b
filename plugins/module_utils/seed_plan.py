# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed's plan: what to push, from the tarballs and what the registry has.  No request is sent here.

`load_plan()` reads every tarball and names every target (image x tag) by the retag rule.  The transfer step asks
the registry for each target's manifest and hands the answer to `SeedPlan.record_existing()`; `schedule_blobs()` then
lists each blob (config or layer) the targets still to push need, once per run, in the repository of the first
target that needs it (its home).  `manifest()` builds the manifest a target gets once its blobs are in.
"""
from __future__ import annotations

import glob
import json
import os
from typing import Any, NamedTuple

from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import OCI_LAYOUT_FILE, parts_of, split_base
from ansible_collections.airgap.registry.plugins.module_utils.descriptor import Descriptor
from ansible_collections.airgap.registry.plugins.module_utils.image_archive import (
    ArchiveImage,
    ArchiveManifest,
    ImageArchiveError,
    Layer,
    read_archive,
)
from ansible_collections.airgap.registry.plugins.module_utils.media_types import (
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    LAYER_TYPES,
    OCI_CONFIG,
    OCI_MANIFEST,
)
from ansible_collections.airgap.registry.plugins.module_utils.reference import RetagError, parse_ref, retag
from ansible_collections.airgap.registry.plugins.module_utils.seed_report import SeedError, TargetResult

TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd", ".tzst")


class BlobKey(NamedTuple):
    """One blob of the run: kind "config" (digest = config digest) or "layer" (digest in the tarball, want = the
    compression it is pushed with: none, gzip or zstd)."""

    kind: str
    digest: str | None
    want: str | None = None


class Known(NamedTuple):
    """A layer the registry already holds in `repo` (learned from an up-to-date target's manifest; its descriptor as
    the registry gave it, not validated)."""

    layer: Descriptor
    repo: str


class NamedTarget:
    """What every target of the plan has: `source` (the name in the tarball), `target` (REGISTRY/repo:tag, parsed into
    `repo` and `tag`), `existing` (the registry's manifest digest before the run, once asked), `push` (False once found
    up to date) and `result` (a TargetResult for `archive_path` and `config_digest`).

    Raises RetagError (from parse_ref) when `target` is not a valid reference."""

    def __init__(self, source: str, target: str, archive_path: str, config_digest: str | None) -> None:
        self.source = source
        self.target = target
        ref = parse_ref(target)
        self.repo = ref.path
        self.tag = ref.tag or ref.reference
        self.existing: str | None = None
        self.push = True
        self.result = TargetResult(source, archive_path, target, config_digest)


class Target(NamedTarget):
    """One image pushed under one name: `target` is REGISTRY/repo:tag; `push` is False once found up to date; `keys`
    are the blobs it needs, `pending` those not yet in the registry; `existing` the registry's manifest digest before."""

    def __init__(self, image: ArchiveImage, source: str, target: str) -> None:
        super().__init__(source, target, image.archive.path, image.config_digest)
        self.image = image
        self.keys: list[BlobKey] = []
        self.pending: set[BlobKey] = set()

    @property
    def identity(self) -> str:
        """What makes two images under one name the same: the config digest."""
        return self.image.config_digest


class VerbatimTarget(NamedTarget):
    """An index, manifest list or non-image manifest (artifact, signature) pushed byte for byte under one name, with
    every child manifest, blob and referrer (`unit`, an ArchiveManifest): the tag gets the source digest.  `push` is
    False once the registry has the tag at that digest and every referrer."""

    def __init__(self, unit: ArchiveManifest, source: str, target: str) -> None:
        super().__init__(source, target, unit.archive.path, None)
        self.unit = unit
        self.result.source_digest = unit.digest
        if unit.is_index:
            self.result.platforms = unit.platforms()

    @property
    def identity(self) -> str:
        """What makes two units under one name the same: the manifest digest."""
        return self.unit.digest


class BlobJob:
    """One blob (config when `layer` is None) to get into its home target's repository once per run; `desc` (digest and
    size in the registry) once settled."""

    def __init__(self, key: BlobKey, image: ArchiveImage, layer: Layer | None, want: str | None, home: Target) -> None:  # noqa: PLR0917 - a plain record
        self.key = key
        self.image = image
        self.layer = layer
        self.want = want
        self.home = home
        self.desc: Descriptor | None = None

    @property
    def label(self) -> str:
        """How progress lines name the blob: REPO config|layer SHORT-DIGEST."""
        if self.layer is None:
            return f"{self.home.repo} config {self.image.config_digest[7:19]}"
        return f"{self.home.repo} layer {(self.layer.digest or self.layer.diff_id)[7:19]}"

    @property
    def size(self) -> int:
        """Bytes of the blob in the tarball (before any recompression)."""
        return len(self.image.config) if self.layer is None else self.layer.size

    @property
    def converted(self) -> bool:
        """True when the layer is pushed with another compression than it has in the tarball."""
        return self.layer is not None and self.layer.compression != self.want

    @property
    def known_digest(self) -> str | None:
        """The blob's digest in the registry when known before pushing (None for a layer still to recompress)."""
        if self.desc:
            return self.desc.digest
        if self.layer is None:
            return self.image.config_digest
        return None if self.converted else self.layer.digest


def compression_of_media_type(media_type: str | None) -> str:
    """none, gzip or zstd, from a layer media type's suffix."""
    media_type = media_type or ""
    if media_type.endswith("gzip"):
        return "gzip"
    if media_type.endswith("zstd"):
        return "zstd"
    return "none"


def expand_sources(src: str | list[str] | None, option: str = "src") -> list[str]:
    """Absolute tarball paths (no duplicates, in order) from files, directories (their *.tar, *.tar.gz, *.tgz, *.tar.zst
    files) and globs; a bundle (docs/bundles.md) is one source: an OCI layout directory (holding `oci-layout`), or a
    split tarball named as `NAME.tar` (only its parts exist) or by a part (`NAME.tar.part001`, given as `NAME.tar`).
    SeedError naming `option` (the option that gave the paths) and the path."""
    out = []
    for given in [src] if isinstance(src, str) else src or []:
        out.extend(_expand_one(os.path.expanduser(str(given)), option))
    out = list(dict.fromkeys(os.path.abspath(p) for p in out))
    if not out:
        raise SeedError(f"{option}: no image tarballs found in {', '.join(map(str, src or [])) or '(empty)'} "
                        "(*.tar, *.tar.gz, *.tgz, *.tar.zst)")
    return out


def _expand_one(item: str, option: str) -> list[str]:
    """The tarballs one `src` entry names (see expand_sources)."""
    if os.path.isdir(item) and os.path.isfile(os.path.join(item, OCI_LAYOUT_FILE)):
        return [item]
    if split_base(item) != item or (not os.path.exists(item) and parts_of(item)):
        return [split_base(item)]
    if os.path.isdir(item):
        try:
            names = os.listdir(item)
        except OSError as exc:
            raise SeedError(f"{option} {item}: cannot list the directory: {exc.strerror or exc}") from None
        return sorted(os.path.join(item, n) for n in names if n.endswith(TARBALL_SUFFIXES) and os.path.isfile(os.path.join(item, n)))
    if os.path.isfile(item):
        return [item]
    if glob.has_magic(item):
        found = sorted(p for p in glob.glob(item) if os.path.isfile(p))
        if not found:
            raise SeedError(f"{option} {item}: the pattern matches no file")
        return found
    raise SeedError(f"{option} {item}: no such file or directory")


class SeedPlan:
    """What a run pushes.  `layers` is preserve, gzip or zstd; `jobs` ({BlobKey: BlobJob}) and `waiting` ({BlobKey:
    [Target]}) are filled by schedule_blobs(); `known` ({(diff ID, compression): Known}) by record_existing()."""

    def __init__(self, layers: str) -> None:
        self.layers = layers
        self.targets: list[Target] = []
        self.verbatim: list[VerbatimTarget] = []
        self.warnings: list[str] = []
        self.jobs: dict[BlobKey, BlobJob] = {}
        self.waiting: dict[BlobKey, list[Target]] = {}
        self.known: dict[tuple[str, str], Known] = {}

    def want(self, layer: Layer) -> str:
        """The compression a layer is pushed with: none, gzip or zstd."""
        return layer.compression if self.layers == "preserve" else self.layers

    def manifest(self, image: ArchiveImage, layer_descs: list[Descriptor]) -> tuple[bytes, str]:
        """(body, media type) of the manifest to put for `image`, whose layers are in the registry as `layer_descs`."""
        wants = [self.want(layer) for layer in image.layers]
        converted = [layer.compression != want for layer, want in zip(image.layers, wants)]  # noqa: B905 - same list; Python 3.8
        if image.source_manifest and not any(converted):
            return image.source_manifest
        fmt = "oci" if "zstd" in wants or (image.source_manifest and image.source_manifest[1] == OCI_MANIFEST) else "docker"
        layers = []
        for layer, want, changed, desc in zip(image.layers, wants, converted, layer_descs):  # noqa: B905 - one per layer; Python 3.8
            media_type = layer.media_type if layer.media_type and not changed else LAYER_TYPES[(fmt, want)]
            layers.append({"mediaType": media_type, "digest": desc.digest, "size": desc.size})
        doc = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST if fmt == "oci" else DOCKER_MANIFEST,
            "config": {"mediaType": OCI_CONFIG if fmt == "oci" else DOCKER_CONFIG, "digest": image.config_digest, "size": len(image.config)},
            "layers": layers,
        }
        return json.dumps(doc, indent=3).encode(), doc["mediaType"]

    def planned_manifest(self, image: ArchiveImage) -> tuple[bytes, str] | None:
        """The manifest this run would put for `image` when known before pushing (no layer is recompressed), else None."""
        if any(layer.compression != self.want(layer) for layer in image.layers):
            return None
        return self.manifest(image, [Descriptor(None, layer.digest, layer.size) for layer in image.layers])

    def record_existing(self, target: Target, digest: str, manifest: Any) -> None:
        """The registry has manifest `digest` (parsed JSON, or None) for `target`: up to date when it has the image's config;
        then its layers are remembered (by diff ID and compression) as blobs other targets can mount."""
        target.existing = digest
        if not isinstance(manifest, dict) or (manifest.get("config") or {}).get("digest") != target.image.config_digest:
            return
        target.push = False
        target.result.digest = digest
        layers = manifest.get("layers") or []
        if len(layers) != len(target.image.layers):
            return
        for layer, desc in zip(target.image.layers, layers):  # noqa: B905 - lengths checked; Python 3.8
            self.known.setdefault((layer.diff_id, compression_of_media_type(desc.get("mediaType"))),
                                  Known(Descriptor(desc.get("mediaType"), desc.get("digest"), desc.get("size")), target.repo))

    def schedule_blobs(self) -> None:
        """List the blobs of every target still to push (a BlobJob per BlobKey, homed in the first target needing it)."""
        for target in self.targets:
            if not target.push:
                continue
            image = target.image
            keys = [BlobKey("config", image.config_digest)]
            for layer in image.layers:
                want = self.want(layer)
                keys.append(BlobKey("layer", layer.digest, want))
                if keys[-1] not in self.jobs:
                    self.jobs[keys[-1]] = BlobJob(keys[-1], image, layer, want, target)
            if keys[0] not in self.jobs:
                self.jobs[keys[0]] = BlobJob(keys[0], image, None, None, target)
            target.keys = keys
            target.pending = set(keys)
            for key in target.pending:
                self.waiting.setdefault(key, []).append(target)

    def diff(self) -> dict[str, dict[str, str | None]]:
        """before/after of the targets' manifest digests (existing digest, or None; after: pushed or unchanged)."""
        every = [*self.targets, *self.verbatim]
        before = {t.target: t.existing for t in every}
        after = {t.target: t.result.digest or ("(new)" if t.push else t.existing) for t in every}
        return {"before": before, "after": after}


def load_plan(opts: dict[str, Any], src_option: str = "src") -> SeedPlan:
    """Read every tarball of opts["src"] and name every target; nothing is pushed before all of them parse.

    `opts` holds src, registry, layers, hub_library, rename.  SeedError naming the tarball (and `src_option`) when one
    cannot be read, an image cannot be renamed, or two different images would get one name.
    """
    plan = SeedPlan(opts["layers"])
    by_target: dict[str, Target] = {}
    archives = []
    for path in expand_sources(opts["src"], src_option):
        try:
            archives.append(read_archive(path))
        except ImageArchiveError as exc:
            raise SeedError(f"{src_option} {exc}") from None
    for archive in archives:
        plan.warnings.extend(archive.warnings)
        for unit in archive.manifests:
            if not unit.refs:
                where = f"its subject {unit.subject} is not" if unit.subject else "no subject is"
                plan.warnings.append(f"{archive.path}: manifest {unit.digest} has no name and {where} in the archive; skipped")
            for ref in unit.refs:
                _add_target(plan, by_target, unit, ref, opts)
        for image in archive.images:
            if not image.refs:
                plan.warnings.append(f"{archive.path}: image {image.config_digest} has no tag; skipped")
            for ref in image.refs:
                _add_target(plan, by_target, image, ref, opts)
    return plan


def _add_target(plan: SeedPlan, by_target: dict[str, Any], image: ArchiveImage | ArchiveManifest, ref: str,
                opts: dict[str, Any]) -> None:
    """Add the target `ref` of `image` (an image, or a unit pushed verbatim) becomes (once per name); SeedError when
    another image has that name."""
    path = image.archive.path
    try:
        name = retag(ref, opts["registry"], hub_library=opts["hub_library"], rename=opts["rename"])
    except RetagError as exc:
        raise SeedError(f"{path}: {exc}") from None
    other = by_target.get(name)
    new = VerbatimTarget(image, ref, name) if isinstance(image, ArchiveManifest) else Target(image, ref, name)
    if other is None:
        by_target[name] = new
        (plan.verbatim if isinstance(new, VerbatimTarget) else plan.targets).append(new)
    elif other.identity != new.identity:
        raise SeedError(f"{name} would receive two different images: {other.source} from {other.result.archive} "
                        f"and {ref} from {path}")
