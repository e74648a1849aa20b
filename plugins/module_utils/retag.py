# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image reference parsing and the seed's retag rule.

The rule (`docker tag $1 $REG/${1#*/}`, made exact): a name whose first component is a registry (Docker's rule:
it contains `.` or `:`, is `localhost`, or has upper-case letters) has that registry replaced by the target;
any other name gets the target prepended.  Docker Hub names are normalised first: `nginx`, `library/nginx`,
`docker.io/library/nginx` all mean the same image and land at `REG/nginx` (hub_library false, the default) or
`REG/library/nginx` (hub_library true).  A missing tag becomes `latest`; a digest is kept.
"""
from __future__ import annotations

import re

HUB_DOMAINS = ("docker.io", "index.docker.io", "registry-1.docker.io")
PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
TAG = re.compile(r"^[\w][\w.-]{0,127}$")
DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
REGISTRY = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")


class RetagError(ValueError):
    """An image reference or target registry that cannot be used."""


class ImageRef:
    """A parsed reference: registry (None for Docker Hub's implicit one), repository path, tag, digest."""

    __slots__ = ("digest", "path", "registry", "tag")

    def __init__(self, registry, path, tag=None, digest=None):
        self.registry = registry
        self.path = path
        self.tag = tag
        self.digest = digest

    @property
    def reference(self):
        """What to put after /manifests/: the digest when there is one, else the tag (default latest)."""
        return self.digest or self.tag or "latest"

    def __str__(self):
        out = f"{self.registry}/{self.path}" if self.registry else self.path
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def __repr__(self):
        return f"ImageRef({str(self)!r})"


def is_registry_part(component):
    """Docker's rule: the first path component names a registry when it has `.` or `:`, is localhost, or has capitals."""
    return "." in component or ":" in component or component == "localhost" or component != component.lower()


def parse_ref(ref):
    """Parse an image reference; RetagError when it is not valid."""
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
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        path, tag = name[:colon], name[colon + 1:]
        if not TAG.match(tag):
            raise RetagError(f"invalid image reference {ref!r}: bad tag {tag!r}")
    if not path or not all(PATH_COMPONENT.match(c) for c in path.split("/")):
        raise RetagError(f"invalid image reference {ref!r}: repository {path!r} must be lower-case "
                         "letters, digits and separators (. _ __ -) between / components")
    return ImageRef(registry, path, tag, digest or None)


def normalize_hub(ref, hub_library=False):
    """Drop Docker Hub's registry part and set the `library/` prefix of official images as asked."""
    if ref.registry is not None and ref.registry.lower() not in HUB_DOMAINS:
        return ref
    path = ref.path
    if hub_library and "/" not in path:
        path = "library/" + path
    elif not hub_library and path.startswith("library/") and path.count("/") == 1:
        path = path[len("library/"):]
    return ImageRef(None, path, ref.tag, ref.digest)


def check_registry(registry):
    """The target registry as HOST[:PORT] (a scheme is dropped); RetagError when it is not one."""
    if not isinstance(registry, str):
        raise RetagError(f"invalid target registry {registry!r}")
    target = re.sub(r"^[a-z]+://", "", registry.strip()).rstrip("/")
    if not target or "/" in target or not REGISTRY.match(target):
        raise RetagError(f"invalid target registry {registry!r}: expected HOST or HOST:PORT")
    return target


def _rename_lookup(ref, rename, hub_library):
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


def retag(ref, registry, hub_library=False, rename=None):
    """The target name of `ref` in `registry` (see the module docstring for the rule)."""
    target = check_registry(registry)
    parsed = parse_ref(ref)
    new = _rename_lookup(parsed, rename, hub_library)
    if new is not None:
        renamed = parse_ref(new)
        parsed = ImageRef(renamed.registry, renamed.path, renamed.tag or parsed.tag, renamed.digest or parsed.digest)
    parsed = normalize_hub(parsed, hub_library) if parsed.registry is None or parsed.registry.lower() in HUB_DOMAINS else parsed
    if not parsed.tag and not parsed.digest:
        parsed.tag = "latest"
    return str(ImageRef(target, parsed.path, parsed.tag, parsed.digest))


def split_target(ref):
    """(registry, repository path, reference) of a fully qualified target name."""
    parsed = parse_ref(ref)
    return parsed.registry, parsed.path, parsed.reference
