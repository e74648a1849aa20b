# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where each upstream registry's images live in the site registry, and how every runtime is told so.

The seed's retag rule (module_utils/reference.py) drops an image's registry: `ghcr.io/acme/api:1.4` lands at
`REG/acme/api:1.4`, `registry.k8s.io/pause:3.9` at `REG/pause:3.9`.  Docker Hub names are normalised:
`docker.io/library/nginx` lands at `REG/nginx` (hub_library false, the seed's default) or `REG/library/nginx`
(hub_library true).  An upstream may also carry a `prefix`: the site keeps its images under `REG/PREFIX/...`
(seeded with a rename).  Runtimes ask the mirror for the upstream's own path (`library/nginx`), so:

- containers-registries.conf (podman, CRI-O, skopeo) rewrites by prefix: `docker.io/library` -> `REG` covers the
  hub_library false case exactly, and `UPSTREAM` -> `REG[/PREFIX]` every other one;
- k3s/RKE2 registries.yaml has `rewrite` (regular expressions on the repository), so it covers every case;
- containerd's hosts.toml can only add a path prefix (`override_path`), not drop `library/`: with hub_library false
  Docker Hub's official images (`docker.io/library/X`) do not resolve through containerd (nor Docker's
  registry-mirrors, which asks for `library/X` too); `gaps` says so, and the fix is to seed with hub_library true.

Standard library only (runs in filters and on managed hosts).
"""
from __future__ import annotations

from typing import Any

from ansible_collections.airgap.registry.plugins.module_utils.reference import (
    HUB_DOMAIN, HUB_NAMES, REGISTRY, RetagError, check_registry, parse_ref)

PREFIX_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-/")


def _upstream(item) -> tuple[str, str]:
    """(name, prefix) of one registry_client_upstreams entry: `ghcr.io` or {name: ghcr.io, prefix: ghcr}."""
    if isinstance(item, str):
        name, prefix = item, ""
    elif isinstance(item, dict) and isinstance(item.get("name"), str):
        name, prefix = item["name"], item.get("prefix") or ""
        if not isinstance(prefix, str):
            raise RetagError(f"upstream {item!r}: prefix must be a string")
    else:
        raise RetagError(f"upstream {item!r}: expected a registry name or {{name: ..., prefix: ...}}")
    name = name.strip().lower()
    if name in HUB_NAMES:
        name = HUB_DOMAIN
    if not name or not REGISTRY.match(name):
        raise RetagError(f"upstream {item!r}: not a registry name (HOST or HOST:PORT)")
    prefix = prefix.strip("/")
    if prefix and (not set(prefix) <= PREFIX_CHARS or "//" in prefix):
        raise RetagError(f"upstream {item!r}: prefix {prefix!r} must be a repository path (lower-case, digits, . _ - /)")
    return name, prefix


def site_path(upstream_path: str, hub: bool, prefix: str, hub_library: bool) -> str:
    """The site registry repository of an upstream repository path, by the retag rule (plus the upstream's prefix)."""
    path = upstream_path
    if hub:
        if hub_library and "/" not in path:
            path = "library/" + path
        elif not hub_library and path.startswith("library/") and path.count("/") == 1:
            path = path[len("library/"):]
    return f"{prefix}/{path}" if prefix else path


def mirror_plan(upstreams: list[Any], registry: str, hub_library: bool = False, tls: bool = True) -> list[dict]:
    """One entry per upstream: what each runtime's configuration says for it (see the module docstring)."""
    target = check_registry(registry)
    scheme = "https" if tls else "http"
    url = f"{scheme}://{target}"
    seen = set()
    plan = []
    for item in upstreams or []:
        name, prefix = _upstream(item)
        if name in seen:
            raise RetagError(f"upstream {name!r} is listed twice")
        if name == target.lower():
            raise RetagError(f"upstream {name!r} is the site registry itself")
        seen.add(name)
        hub = name == HUB_DOMAIN
        location = f"{target}/{prefix}" if prefix else target
        containers = []
        rewrite = {}
        gaps = []
        if hub and not hub_library:
            # docker.io/library/X lives at REG[/PREFIX]/X: a longer prefix than docker.io, so it wins for those.
            containers.append({"prefix": f"{name}/library", "location": location})
            rewrite["^library/(.*)$"] = f"{prefix}/$1" if prefix else "$1"
            gaps.append("containerd and Docker ask the mirror for library/NAME, which the site keeps at NAME "
                        "(seeded with hub_library false): official Docker Hub images resolve only when seeded with "
                        "hub_library: true (registry_seed_hub_library)")
        containers.append({"prefix": name, "location": location})
        if prefix:
            rewrite["^(.*)$"] = f"{prefix}/$1"
        plan.append({
            "name": name,
            "hub": hub,
            "prefix": prefix,
            "location": location,
            "url": url,
            # containerd: hosts.toml in HOSTS_DIR/<name>/; the host URL carries /v2/PREFIX when there is a prefix.
            "containerd": {"server": url,
                           "host": f"{url}/v2/{prefix}" if prefix else url,
                           "override_path": bool(prefix)},
            "containers": containers,
            "k3s": {"endpoint": [url], "rewrite": rewrite},
            "docker_mirror": hub and not prefix,
            "gaps": gaps,
        })
    return plan


def upstream_to_site(ref_path: str, plan_entry: dict, hub_library: bool) -> str:
    """The site repository for `ref_path` (a repository under the entry's upstream), as the runtimes resolve it."""
    return site_path(ref_path, plan_entry["hub"], plan_entry["prefix"], hub_library)


def site_image(ref: str, upstreams: list[Any], registry: str, hub_library: bool = False) -> dict:
    """Where an upstream image name resolves: {upstream, upstream_image, site_image, entry} (the entry of its upstream,
    None when its registry is not among `upstreams`)."""
    parsed = parse_ref(ref)
    upstream = (parsed.registry or HUB_DOMAIN).lower()
    if upstream in HUB_NAMES:
        upstream = HUB_DOMAIN
    hub = upstream == HUB_DOMAIN
    path = parsed.path
    if hub and "/" not in path:
        path = "library/" + path
    entry = next((e for e in mirror_plan(upstreams, registry, hub_library) if e["name"] == upstream), None)
    target = check_registry(registry)
    site = site_path(path, hub, entry["prefix"] if entry else "", hub_library)
    suffix = (f":{parsed.tag}" if parsed.tag else ("" if parsed.digest else ":latest")) + (f"@{parsed.digest}" if parsed.digest else "")
    return {"upstream": upstream, "upstream_image": f"{upstream}/{path}{suffix}", "site_image": f"{target}/{site}{suffix}",
            "entry": entry}
