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
    wanted = _check_request(source_digest, platforms, policy)
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


def _check_request(digest: str, platforms: list[str], policy: str) -> list[Platform]:
    if policy not in POLICIES:
        raise PlatformPolicyError(f"platform_policy {policy!r} is not one of {', '.join(POLICIES)}")
    wanted = [parse_platform(p) for p in platforms or []]
    if policy == "full" and wanted:
        raise PlatformPolicyError(f"index {digest}: platform_policy full keeps every platform, but platforms "
                                  f"{', '.join(platforms)} were named; use platform_policy sparse (digest kept) or "
                                  "filter (new index, new digest)")
    if policy != "full" and not wanted:
        raise PlatformPolicyError(f"index {digest}: platform_policy {policy} needs the platforms to keep (platforms "
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
