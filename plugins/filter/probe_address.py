# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: probe_address
short_description: The address that reaches a port published on a bind address, from the same host
version_added: "0.1.0"
author:
  - airgap.registry contributors (@airgap-registry)
description:
  - C(0.0.0.0) and the empty address give C(127.0.0.1), C(::) gives C(::1), any other address is itself.
  - The same rule the deploy modules use to probe C(/v2/) (one definition, in module_utils/deploy_names).
options:
  _input:
    description: The bind address.
    type: str
    required: true
  url_host:
    description: Put an IPv6 address in brackets, as the host part of a URL.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: The registry's URL as probed on the registry host
  ansible.builtin.debug:
    msg: "http://{{ '::' | airgap.registry.probe_address(url_host=true) }}:5000"   # http://[::1]:5000
"""

RETURN = r"""
_value:
  description: The address, e.g. C(127.0.0.1) or C(::1) (C([::1]) with O(url_host)).
  type: str
"""

from ansible_collections.airgap.registry.plugins.module_utils.deploy_names import probe_address, probe_host  # noqa: E402


def probe_address_filter(bind_address: str, url_host: bool = False) -> str:
    """Jinja2 filter: the address that reaches a port published on `bind_address` from the same host."""
    return probe_host(bind_address) if url_host else probe_address(bind_address)


class FilterModule:
    """airgap.registry filters."""

    def filters(self) -> dict:
        return {"probe_address": probe_address_filter}
