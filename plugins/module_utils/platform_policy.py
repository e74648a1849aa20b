# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The digest policy for a platform subset of an image index or manifest list (issue 12).  Standard library only.

- `full` (the default): every child, the index byte for byte (digest kept).  `full` with platforms named is an
  error (PlatformPolicyError): it would silently carry platforms that were not asked for; name `sparse` or `filter`.
- `sparse`: the original index byte for byte (digest kept), but only the chosen platforms' children travel; only a
  registry that accepts sparse indexes takes it (Distribution 3's `validation.manifests.indexes.platforms`, pyregistry's
  option of the same name).
- `filter`: a new index listing only the chosen children (new digest; the caller records source -> seeded digest).
  When the choice keeps every child the original bytes are returned (digest kept).

Platform matching follows containerd's `platforms.Normalize` then equality (containerd platforms/database.go):
`linux/arm64` is `linux/arm64/v8`, `linux/arm` is `linux/arm/v7`, `linux/amd64` is `linux/amd64/v1`; aarch64, x86_64,
armhf, armel are read as their Go names.  An architecture without a variant therefore matches its default variant only,
not every variant (`linux/arm` does not take `linux/arm/v6`; name it).

Attestation manifests (BuildKit: annotation `vnd.docker.reference.type: attestation-manifest`, platform
unknown/unknown, `vnd.docker.reference.digest` naming the child they describe) are kept exactly when their subject
child is kept.
"""
from __future__ import annotations

import copy
import hashlib
import json
from typing import NamedTuple

from ansible_collections.airgap.registry.plugins.module_utils.descriptor import DescriptorError, Index, Platform
from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError
from ansible_collections.airgap.registry.plugins.module_utils.media_types import INDEX_TYPES, OCI_INDEX

POLICIES = ("full", "sparse", "filter")
ATTESTATION_TYPE = "vnd.docker.reference.type"
ATTESTATION_DIGEST = "vnd.docker.reference.digest"

# containerd platforms/database.go normalizeArch: (architecture, variant) aliases -> (architecture, variant).
_ARCH_ALIASES = {"aarch64": "arm64", "x86_64": "amd64", "x86-64": "amd64", "i386": "386"}
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7", "amd64": "v1"}


class PlatformPolicyError(AirgapError):
    """A platform policy that cannot hold: unknown policy, bad platform string, a platform the index lacks, a body that
    is not an index.  The message names the index digest and why."""


class Selection(NamedTuple):
    """What to push for one index under a policy.

    body: the index bytes to push (the original for full/sparse, a new index for filter); digest: `sha256:<hex>` of
    body; media_type: the index's media type; children: the kept child descriptors (dicts, index order, attestations
    included); source_digest: `sha256:<hex>` of the original index; policy: the policy applied."""

    body: bytes
    digest: str
    media_type: str
    children: list
    source_digest: str
    policy: str


def normalize(platform: Platform) -> tuple:
    """(os, architecture, variant) the way containerd normalizes them: lower case, Go architecture names, the default
    variant filled in (arm64 -> v8, arm -> v7, amd64 -> v1; armhf -> arm/v7, armel -> arm/v6; `8` -> `v8`)."""
    os_name = (platform.os or "").lower()
    arch = (platform.architecture or "").lower()
    variant = (platform.variant or "").lower()
    if arch == "armhf":
        arch, variant = "arm", "v7"
    elif arch == "armel":
        arch, variant = "arm", "v6"
    arch = _ARCH_ALIASES.get(arch, arch)
    if variant.isdigit():
        variant = "v" + variant
    if variant == "v8.0":
        variant = "v8"
    return os_name, arch, variant or _DEFAULT_VARIANT.get(arch, "")


def parse_platform(text: str) -> Platform:
    """A Platform from `os/architecture[/variant]` (e.g. `linux/arm64/v8`); PlatformPolicyError when os or architecture
    is missing."""
    if not isinstance(text, str) or not 2 <= len(text.strip().split("/")) <= 3 or "" in text.strip().split("/"):
        raise PlatformPolicyError(f"platform {text!r} is not os/architecture[/variant] (e.g. linux/amd64, linux/arm/v7)")
    return Platform.from_string(text.strip())


def is_attestation(entry: dict) -> bool:
    """True for a BuildKit attestation manifest entry (annotation vnd.docker.reference.type: attestation-manifest)."""
    return (entry.get("annotations") or {}).get(ATTESTATION_TYPE) == "attestation-manifest"


def select_platforms(index_body: bytes, platforms: list[str], policy: str) -> Selection:
    """Apply `policy` (full|sparse|filter) choosing `platforms` (`os/arch[/variant]` strings) to an image index or
    manifest list given as its bytes.  Returns a Selection.  Raises PlatformPolicyError (before anything is pushed) for
    an unknown policy, `full` with platforms, sparse/filter without platforms, a platform no child has, or a body that
    is not an index (image-spec image-index.md)."""
    source_digest = "sha256:" + hashlib.sha256(index_body).hexdigest()
    doc = _index_doc(index_body, source_digest)
    media_type = doc.get("mediaType") or OCI_INDEX
    entries = doc["manifests"]
    wanted = check_request(platforms, policy, f"index {source_digest}: ")
    if policy == "full":
        return Selection(index_body, source_digest, media_type, entries, source_digest, policy)
    kept = _choose(source_digest, entries, wanted)
    if policy == "sparse" or len(kept) == len(entries):
        return Selection(index_body, source_digest, media_type, kept, source_digest, policy)
    new_doc = dict(doc)
    new_doc["manifests"] = kept
    body = json.dumps(new_doc, separators=(",", ":")).encode()
    return Selection(body, "sha256:" + hashlib.sha256(body).hexdigest(), media_type, kept, source_digest, policy)


def _index_doc(body: bytes, digest: str) -> dict:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise PlatformPolicyError(f"index {digest} is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("manifests"), list) or \
            doc.get("mediaType") not in (None, *INDEX_TYPES):
        raise PlatformPolicyError(f"{digest} is not an image index or manifest list: a platform policy applies to "
                                  "multi-platform images only")
    try:
        Index.parse(doc, f"index {digest}")
    except DescriptorError as exc:
        raise PlatformPolicyError(str(exc)) from None
    return doc


def check_request(platforms: list[str], policy: str, where: str = "") -> list[Platform]:
    """The wanted Platforms of a request; PlatformPolicyError (message prefixed by `where`) for an unknown policy, a bad
    platform string, `full` with platforms, sparse/filter without."""
    if policy not in POLICIES:
        raise PlatformPolicyError(f"{where}platform_policy {policy!r} is not one of {', '.join(POLICIES)}")
    wanted = [parse_platform(p) for p in platforms or []]
    if policy == "full" and wanted:
        raise PlatformPolicyError(f"{where}platform_policy full keeps every platform, but platforms "
                                  f"{', '.join(platforms)} were named; use platform_policy sparse (digest kept) or "
                                  "filter (new index, new digest)")
    if policy != "full" and not wanted:
        raise PlatformPolicyError(f"{where}platform_policy {policy} needs the platforms to keep (platforms "
                                  "option, airgap-seed --platform)")
    return wanted


def _choose(digest: str, entries: list[dict], wanted: list[Platform]) -> list[dict]:
    """The entries (validated descriptors) whose platform is wanted, plus the attestations describing them, in index order."""
    keys = {normalize(w) for w in wanted}
    chosen = {i for i, e in enumerate(entries)
              if not is_attestation(e) and isinstance(e.get("platform"), dict) and normalize(Platform.parse(e["platform"])) in keys}
    found = {normalize(Platform.parse(entries[i]["platform"])) for i in chosen}
    missing = [str(w) for w in wanted if normalize(w) not in found]
    if missing:
        offered = Index.parse({"schemaVersion": 2, "manifests": [e for e in entries if not is_attestation(e)]}).platforms()
        raise PlatformPolicyError(f"index {digest} has no manifest for platform {', '.join(missing)} (it offers "
                                  f"{', '.join(offered) or 'none'})")
    subjects = {entries[i]["digest"] for i in chosen}
    return [e for i, e in enumerate(entries)
            if i in chosen or (is_attestation(e) and (e.get("annotations") or {}).get(ATTESTATION_DIGEST) in subjects)]


def narrow_plan(plan, platforms: list[str], policy: str) -> list[str]:
    """Apply the policy to every index of a seed plan (seed_plan.SeedPlan: its `verbatim` targets), before anything is
    pushed: each VerbatimTarget's `unit` (image_archive.ArchiveManifest) becomes a copy carrying only the kept children
    (sparse), or the filtered index itself (filter: new body and digest; the result keeps `source_digest`, the index's
    own referrers are dropped with a warning in plan.warnings, as they name the source digest).  Single-platform images
    and artifacts are left as they are.  Returns the target names of sparse indexes (see `sparse_hint`).  Raises
    PlatformPolicyError naming the image and tarball when the policy cannot hold for one index."""
    check_request(platforms, policy)
    sparse = []
    for target in plan.verbatim if policy != "full" else []:
        unit = target.unit
        if not unit.is_index:
            continue
        try:
            chosen = select_platforms(unit.body, platforms, policy)
        except PlatformPolicyError as exc:
            raise PlatformPolicyError(f"{target.source} from {unit.archive.path}: {exc}") from None
        target.unit = _narrowed(unit, chosen, plan.warnings, target.source)
        target.result.platforms = target.unit.platforms()
        if policy == "sparse" and len(chosen.children) < len(unit.children):
            sparse.append(target.target)
    return sparse


def _narrowed(unit, chosen: Selection, warnings: list, source: str):
    kept = {c["digest"] for c in chosen.children}
    out = copy.copy(unit)
    out.children = [c for c in unit.children if c.digest in kept]
    if chosen.digest != unit.digest:
        out.body, out.digest, out.doc = chosen.body, chosen.digest, json.loads(chosen.body)
        if unit.referrers:
            warnings.append(f"{source}: {len(unit.referrers)} referrer(s) of index {unit.digest} (signatures, "
                            f"attestations) not carried: platform_policy filter seeds index {chosen.digest}, which "
                            "they do not name")
        out.referrers = []
    return out


def sparse_hint(message: str, sparse_targets: list[str]) -> str:
    """`message` (a seed error) with the registry setting a sparse index needs, when it names one of `sparse_targets`."""
    if not any(message.startswith(f"{t}:") for t in sparse_targets):
        return message
    return (f"{message} (platform_policy sparse pushes an index whose other platforms' manifests are absent: the "
            "registry must accept sparse indexes, Distribution 3 and pyregistry with validation.manifests.indexes."
            "platforms set to none or list; Distribution 2.8 cannot; use platform_policy filter there)")
