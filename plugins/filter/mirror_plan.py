# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: mirror_plan
short_description: How each runtime resolves upstream registry names to the site registry, by the retag rule
version_added: "0.2.0"
author:
  - airgap.registry contributors (@airgap-registry)
description:
  - For each upstream registry (C(docker.io), C(ghcr.io), ...) gives the site registry location, the containerd
    C(hosts.toml) server and host (with C(override_path) when the site keeps the upstream under a prefix), the
    containers-registries.conf prefix/location rewrites, the k3s/RKE2 mirror endpoint and rewrites, whether Docker's
    C(registry-mirrors) applies, and the gaps (what a runtime cannot resolve and how to fix it).
  - The repository path follows the seed's retag rule (M(airgap.registry.image_seed), C(hub_library)).
  - The same file provides C(airgap.registry.mirror_site_image) - C(IMAGE | mirror_site_image(upstreams, registry,
    hub_library)) - which gives an upstream image name's upstream, full upstream name, site registry name and plan entry.
positional: registry
options:
  _input:
    description: Upstream registries, each a name (C(ghcr.io)) or a dict with C(name) and C(prefix).
    type: list
    elements: raw
    required: true
  registry:
    description: The site registry, C(HOST) or C(HOST:PORT).
    type: str
    required: true
  hub_library:
    description: The seed kept Docker Hub's C(library/) prefix (C(registry_seed_hub_library)).
    type: bool
    default: false
  tls:
    description: The site registry serves https.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Where docker.io and ghcr.io images resolve
  ansible.builtin.debug:
    msg: "{{ ['docker.io', 'ghcr.io'] | airgap.registry.mirror_plan('reg.local:5000') }}"
"""

RETURN = r"""
_value:
  description: One dict per upstream (name, hub, prefix, location, url, containerd, containers, k3s, docker_mirror, gaps).
  type: list
"""

from ansible.errors import AnsibleFilterError  # noqa: E402 - documentation first

from ansible_collections.airgap.registry.plugins.module_utils.mirror_plan import mirror_plan, site_image  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.reference import RetagError  # noqa: E402


def mirror_plan_filter(upstreams: list, registry: str, hub_library: bool = False, tls: bool = True) -> list:
    """Jinja2 filter: the per-upstream mirror plan (module_utils/mirror_plan.py)."""
    try:
        return mirror_plan(upstreams, registry, hub_library=bool(hub_library), tls=bool(tls))
    except RetagError as exc:
        raise AnsibleFilterError(f"registry_client_upstreams: {exc}") from exc


def mirror_site_image_filter(image: str, upstreams: list, registry: str, hub_library: bool = False) -> dict:
    """Jinja2 filter: where an upstream image name resolves (upstream, upstream_image, site_image, entry)."""
    try:
        return site_image(image, upstreams, registry, hub_library=bool(hub_library))
    except RetagError as exc:
        raise AnsibleFilterError(f"registry_client_proof_image: {exc}") from exc


class FilterModule:
    """The collection's mirror filters."""

    def filters(self) -> dict:
        """Filter name -> function."""
        return {"mirror_plan": mirror_plan_filter, "mirror_site_image": mirror_site_image_filter}
