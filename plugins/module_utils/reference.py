# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image references, registry addresses, Docker Hub's names and the seed's retag rule.

References follow the grammar of distribution/reference (what the docker CLI accepts); tags and digests follow the
OCI distribution-spec ("Pulling manifests": `<reference>` is a tag matching `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}` or a
digest, image-spec descriptor.md "Digests").

The retag rule (`docker tag $1 $REG/${1#*/}`, made exact): a name whose first component is a registry (Docker's rule:
it contains `.` or `:`, is `localhost`, or has upper-case letters) has that registry replaced by the target;
any other name gets the target prepended.  Docker Hub names are normalised first: `nginx`, `library/nginx`,
`docker.io/library/nginx` all mean the same image and land at `REG/nginx` (hub_library false, the default) or
`REG/library/nginx` (hub_library true).  A missing tag becomes `latest`; a digest is kept.
"""
from __future__ import annotations

import re

from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError

# Docker Hub: the domain Docker names its images with, the legacy one it also accepts (distribution/reference
# normalize.go), the host that serves its registry API, and the web name; every one of them means Docker Hub.
HUB_DOMAIN = "docker.io"
HUB_LEGACY_DOMAIN = "index.docker.io"
HUB_API_HOST = "registry-1.docker.io"
HUB_NAMES = (HUB_DOMAIN, HUB_LEGACY_DOMAIN, HUB_API_HOST, "registry.hub.docker.com")
# The two that the docker CLI drops from a name (`docker.io/library/nginx` is shown as `nginx`).
HUB_NAME_DOMAINS = HUB_NAMES[:2]

PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
TAG = re.compile(r"^[\w][\w.-]{0,127}$")
DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
REGISTRY = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")
SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


class RetagError(AirgapError, ValueError):
    """An image reference or target registry that cannot be used."""


class ImageRef:
    """A parsed reference: registry (None for Docker Hub's implicit one), repository path, tag, digest."""

    __slots__ = ("digest", "path", "registry", "tag")

    def __init__(self, registry: str | None, path: str, tag: str | None = None, digest: str | None = None) -> None:
        self.registry = registry
        self.path = path
        self.tag = tag
        self.digest = digest

    @property
    def reference(self) -> str:
        """What to put after /manifests/: the digest when there is one, else the tag (default latest)."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        out = f"{self.registry}/{self.path}" if self.registry else self.path
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def __repr__(self) -> str:
        return f"ImageRef({str(self)!r})"


# --- registry addresses --------------------------------------------------------------------------------------------
def split_address(address: str) -> tuple[str | None, str, str]:
    """(scheme lower-cased or None, HOST[:PORT], path) of a registry given as `host:port`, `https://host:port/`,
    `https://host/v1/` (a docker config key) and the like; surrounding white space is dropped, nothing is validated."""
    text = address.strip()
    match = SCHEME.match(text)
    scheme = match.group(1).lower() if match else None
    rest = text[match.end():] if match else text
    host, sep, path = rest.partition("/")
    return scheme, host, sep + path


def registry_host(address: str) -> str:
    """HOST[:PORT] of a registry address (see split_address): scheme and path dropped."""
    return split_address(address)[1]


def is_hub(address: str) -> bool:
    """True when a registry address names Docker Hub (any of HUB_NAMES, with or without scheme and path)."""
    return registry_host(address).lower() in HUB_NAMES


def check_registry(registry: str) -> str:
    """The target registry as HOST[:PORT] (a scheme and a trailing / are dropped); RetagError when it is not one."""
    if not isinstance(registry, str):
        raise RetagError(f"invalid target registry {registry!r}")
    _scheme, target, path = split_address(registry)
    if not target or path.strip("/") or not REGISTRY.match(target):
        raise RetagError(f"invalid target registry {registry!r}: expected HOST or HOST:PORT")
    return target


# --- references ----------------------------------------------------------------------------------------------------
def is_registry_part(component: str) -> bool:
    """Docker's rule: the first path component names a registry when it has `.` or `:`, is localhost, or has capitals."""
    return "." in component or ":" in component or component == "localhost" or component != component.lower()


def parse_ref(ref: str) -> ImageRef:
    """Parse an image reference `[REGISTRY/]PATH[:TAG][@DIGEST]`; RetagError naming the bad part when it is not valid."""
    if not isinstance(ref, str) or not ref.strip():
        raise RetagError(f"invalid image reference {ref!r}: empty")
    ref = ref.strip()
    name, _sep, digest = ref.partition("@")
    if digest and not DIGEST.match(digest):
        raise RetagError(f"invalid image reference {ref!r}: bad digest {digest!r}")
    registry = None
    first, sep, rest = name.partition("/")
    if sep and is_registry_part(first):
        registry, name = first, rest
        if not REGISTRY.match(registry):
            raise RetagError(f"invalid image reference {ref!r}: bad registry {registry!r}")
    path, tag = name, None
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        path, tag = name[:colon], name[colon + 1:]
        if not TAG.match(tag):
            raise RetagError(f"invalid image reference {ref!r}: bad tag {tag!r}")
    if not path or not all(PATH_COMPONENT.match(c) for c in path.split("/")):
        raise RetagError(f"invalid image reference {ref!r}: repository {path!r} must be lower-case "
                         "letters, digits and separators (. _ __ -) between / components")
    return ImageRef(registry, path, tag, digest or None)


def normalize_hub(ref: ImageRef, hub_library: bool = False) -> ImageRef:
    """Drop Docker Hub's registry part and set the `library/` prefix of official images as asked."""
    if ref.registry is not None and ref.registry.lower() not in HUB_NAMES:
        return ref
    path = ref.path
    if hub_library and "/" not in path:
        path = "library/" + path
    elif not hub_library and path.startswith("library/") and path.count("/") == 1:
        path = path[len("library/"):]
    return ImageRef(None, path, ref.tag, ref.digest)


def _rename_lookup(ref: ImageRef, rename: dict | None, hub_library: bool) -> str | None:
    """The rename map entry for `ref`: matched by full ref, normalised repo:tag, or repository."""
    if not rename:
        return None
    normal = normalize_hub(ref, hub_library)
    plain = normalize_hub(ref, False)
    candidates = [str(ref), str(normal), str(plain)]
    if ref.tag:
        candidates += [f"{normal.path}:{ref.tag}", f"{plain.path}:{ref.tag}"]
    candidates += [(f"{ref.registry}/" if ref.registry else "") + ref.path, normal.path, plain.path]
    for key in candidates:
        if key in rename:
            return rename[key]
    return None


def retag(ref: str, registry: str, hub_library: bool = False, rename: dict | None = None) -> str:
    """The target name `REGISTRY/PATH:TAG[@DIGEST]` of `ref` in `registry` (the rule in the module docstring);
    RetagError when `ref`, a rename value or `registry` is not valid."""
    target = check_registry(registry)
    parsed = parse_ref(ref)
    new = _rename_lookup(parsed, rename, hub_library)
    if new is not None:
        renamed = parse_ref(new)
        parsed = ImageRef(renamed.registry, renamed.path, renamed.tag or parsed.tag, renamed.digest or parsed.digest)
    parsed = normalize_hub(parsed, hub_library)
    if not parsed.tag and not parsed.digest:
        parsed.tag = "latest"
    return str(ImageRef(target, parsed.path, parsed.tag, parsed.digest))
