# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by every module that talks to a registry's API (see registry_api.CONNECTION_ARGUMENT_SPEC), and the action
group they form (meta/runtime.yml), so that module_defaults sets the connection once."""
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  action_group:
    description: Use C(group/airgap.registry.registry) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - airgap.registry.registry
options:
  username:
    description:
      - User name for the registry (Basic auth, or the Bearer token flow when the registry asks for it).
    type: str
  password:
    description:
      - Password or token for the registry. Never shown in output.
    type: str
  ca_file:
    description:
      - CA certificate (PEM) to trust for the registry's TLS certificate.
    type: path
  validate_certs:
    description:
      - Verify the registry's TLS certificate.
    type: bool
    default: true
  scheme:
    description:
      - Protocol for the registry. When omitted, HTTPS, falling back to HTTP only for a loopback registry.
    type: str
    choices: [http, https]
  timeout:
    description:
      - Seconds to wait for a single answer of the registry.
    type: int
    default: 60
"""
