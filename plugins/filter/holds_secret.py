# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: holds_secret
short_description: Whether a registry configuration has a setting that holds a secret
version_added: "0.1.0"
author:
  - airgap.registry contributors (@airgap-registry)
description:
  - True when a key of the nested configuration, read as its C(REGISTRY_*) path (for example C(HTTP_SECRET) or
    C(STORAGE_S3_SECRETKEY)), names a secret, a password, a token, a credential or an access key; paths ending in
    C(_PATH) or C(_REALM) do not.
  - The same rule registry_container and registry_swarm_service use to mask environment values in their diffs
    (one definition, in module_utils/deploy_names).
options:
  _input:
    description: The registry configuration.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Hide a config with credentials
  ansible.builtin.copy:
    content: "{{ registry_config | to_nice_yaml }}"
    dest: /etc/registry/config.yml
    mode: "0640"
  no_log: "{{ registry_config | airgap.registry.holds_secret }}"
"""

RETURN = r"""
_value:
  description: Whether the configuration holds a secret.
  type: bool
"""

from ansible_collections.airgap.registry.plugins.module_utils.deploy_names import holds_secret  # noqa: E402


def holds_secret_filter(config: dict) -> bool:
    """Jinja2 filter: whether the nested registry `config` has a setting that holds a secret."""
    return holds_secret(config)


class FilterModule:
    """airgap.registry filters."""

    def filters(self) -> dict:
        return {"holds_secret": holds_secret_filter}
