# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: retag
short_description: Name an image in a private registry, the way image_seed pushes it
version_added: "0.1.0"
author:
  - airgap.registry contributors (@airgap-registry)
description:
  - Replaces the registry part of an image name when it has one, else prepends the target registry
    (the seed's C(docker tag $1 $REG/${1#*/}) with Docker's rule for what a registry part is, namely
    a first component containing C(.) or C(:), C(localhost), or upper-case letters).
  - Docker Hub names are normalised first, so C(nginx), C(library/nginx) and C(docker.io/library/nginx) give the same target.
  - A missing tag becomes C(latest); a digest is kept.
  - Accepts one name or a list of names (then returns a list).
positional: registry
options:
  _input:
    description: Image name(s).
    type: raw
    required: true
  registry:
    description: Target registry, C(HOST) or C(HOST:PORT).
    type: str
    required: true
  hub_library:
    description: Keep Docker Hub's C(library/) prefix for official images (C(nginx) -> C(REG/library/nginx)); default drops it (C(REG/nginx)).
    type: bool
    default: false
  rename:
    description:
      - Explicit renames, matched by full name, C(repo:tag) or repository; the value is the new C(repo) or C(repo:tag).
    type: dict
"""

EXAMPLES = r"""
- name: Where nginx lands in the private registry
  ansible.builtin.debug:
    msg: "{{ 'nginx:1.25' | airgap.registry.retag('reg.local:5000') }}"   # reg.local:5000/nginx:1.25

- name: Several names, keeping library/ and renaming one
  ansible.builtin.debug:
    msg: "{{ ['ghcr.io/org/app:2', 'redis'] | airgap.registry.retag('reg.local:5000', hub_library=true, rename={'redis': 'cache/redis'}) }}"
"""

RETURN = r"""
_value:
  description: The target name(s), e.g. C(reg.local:5000/nginx:1.25).
  type: raw
"""

from ansible.errors import AnsibleFilterError  # noqa: E402 - documentation first

from ansible_collections.airgap.registry.plugins.module_utils.reference import RetagError, retag  # noqa: E402


def retag_filter(value: str | list, registry: str, hub_library: bool = False, rename: dict | None = None) -> str | list:
    """Jinja2 filter: the target name(s) of image name(s) `value` in `registry`."""
    try:
        if isinstance(value, (list, tuple)):
            return [retag(v, registry, hub_library=hub_library, rename=rename) for v in value]
        return retag(value, registry, hub_library=hub_library, rename=rename)
    except RetagError as exc:
        raise AnsibleFilterError(f"airgap.registry.retag: {exc}") from None


class FilterModule:
    """airgap.registry filters."""

    def filters(self) -> dict:
        return {"retag": retag_filter}
