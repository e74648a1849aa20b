#!/usr/bin/python
# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: registry_tls
short_description: A private CA and a registry server certificate signed by it
version_added: 0.1.0
description:
  - Keeps a CA (generated when its two files are absent, or used as given) and a server key and certificate signed
    by it, with DNS and IP subject alternative names, for a private container registry.
  - The server certificate is reissued when its SANs, common name, key or CA change, or when it expires within
    O(renew_before) days; otherwise the files are left alone.
  - Keys are written with mode V(0600), certificates with V(0644), each atomically (temp file in the same directory,
    then rename).
  - Missing directories of the four files are created (V(0750) for those that hold a key, else V(0755)).
  - The CA certificate is what clients trust, for example in C(/etc/docker/certs.d/HOST:PORT/ca.crt).
author:
  - airgap.registry contributors (@airgap-registry)
requirements:
  - cryptography
extends_documentation_fragment:
  - airgap.registry.attributes
attributes:
  check_mode:
    support: full
    details: Reports what would be (re)generated and writes nothing.
  diff_mode:
    support: full
    details: Shows the subject, SANs and expiry of the server certificate before and after; never key material.
  idempotent:
    support: full
options:
  ca_cert:
    description:
      - Path of the CA certificate (PEM).
      - When neither O(ca_cert) nor O(ca_key) exists, a new CA is generated into both; when both exist they are used.
    type: path
    required: true
  ca_key:
    description:
      - Path of the CA private key (unencrypted PEM).
    type: path
    required: true
  ca_common_name:
    description:
      - Common name of a generated CA (1 to 64 characters).
    type: str
    default: airgap.registry CA
  cert:
    description:
      - Path of the server certificate (PEM).
    type: path
    required: true
  key:
    description:
      - Path of the server private key (unencrypted PEM).
    type: path
    required: true
  common_name:
    description:
      - Common name of the server certificate (at most 64 characters). Defaults to the first subject alternative name, cut to 64 characters.
    type: str
  subject_alt_names:
    description:
      - DNS names and IP addresses the registry is reached at, as C(DNS:name), C(IP:address), or bare names and
        addresses (detected automatically). Clients match only these, never the common name.
      - An entry that is neither a DNS name nor an IP address fails the task.
    type: list
    elements: str
    required: true
  valid_days:
    description:
      - Validity of a newly issued server certificate, in days.
    type: int
    default: 365
  ca_valid_days:
    description:
      - Validity of a newly generated CA, in days.
    type: int
    default: 3650
  renew_before:
    description:
      - Reissue the server certificate when it expires within this many days.
    type: int
    default: 30
  key_type:
    description:
      - Type of newly generated keys (V(ec) is P-256, V(rsa) is 2048 bits). An existing server key of another type is replaced.
    type: str
    choices: [ec, rsa]
    default: ec
"""

EXAMPLES = r"""
- name: CA and server certificate for the registry
  airgap.registry.registry_tls:
    ca_cert: /etc/airgap/tls/ca.crt
    ca_key: /etc/airgap/tls/ca.key
    cert: /etc/airgap/tls/registry.crt
    key: /etc/airgap/tls/registry.key
    subject_alt_names:
      - registry.internal
      - IP:10.0.0.5
      - 127.0.0.1

- name: Server certificate signed by an existing company CA, RSA keys, renewed 60 days ahead
  airgap.registry.registry_tls:
    ca_cert: /etc/pki/company-ca.crt
    ca_key: /etc/pki/company-ca.key
    cert: /etc/airgap/tls/registry.crt
    key: /etc/airgap/tls/registry.key
    common_name: registry.example.internal
    subject_alt_names: [DNS:registry.example.internal]
    key_type: rsa
    renew_before: 60
"""

RETURN = r"""
ca_cert:
  description: Path of the CA certificate.
  returned: always
  type: str
  sample: /etc/airgap/tls/ca.crt
cert:
  description: Path of the server certificate.
  returned: always
  type: str
  sample: /etc/airgap/tls/registry.crt
key:
  description: Path of the server key.
  returned: always
  type: str
  sample: /etc/airgap/tls/registry.key
subject_alt_names:
  description: The requested subject alternative names, normalized.
  returned: always
  type: list
  elements: str
  sample: ["DNS:registry.internal", "IP:10.0.0.5", "IP:127.0.0.1"]
fingerprint:
  description: SHA-256 fingerprint of the server certificate (in check mode, of the current one when it is kept, else null).
  returned: always
  type: str
  sample: "3B:0F:6C:...:9A"
not_after:
  description: Expiry of the server certificate, UTC ISO 8601 (predicted in check mode when it would be reissued).
  returned: always
  type: str
  sample: "2027-11-27T11:20:41Z"
generated:
  description: What was (or in check mode would be) generated, among V(ca), V(key), V(cert).
  returned: always
  type: list
  elements: str
  sample: ["key", "cert"]
reasons:
  description: Why anything is (re)generated.
  returned: always
  type: list
  elements: str
  sample: ["the subject alt names changed"]
directories_created:
  description: Directories that were missing and were created (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/airgap/tls]
"""

import os  # noqa: E402 - validate-modules wants imports below the documentation

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.airgap.registry.plugins.module_utils.tls import (  # noqa: E402
    CRYPTOGRAPHY_ERROR,
    HAS_CRYPTOGRAPHY,
    TLSError,
    TLSPlan,
    cert_summary,
    fingerprint,
    iso,
    not_after,
    san_strings,
)


def make_directories(p: dict, check_mode: bool) -> list[str]:
    """Create the missing directories of the four files (0750 where a key goes, else 0755); return them."""
    created = []
    for name in ("ca_key", "key", "ca_cert", "cert"):
        directory = os.path.dirname(os.path.abspath(p[name]))
        if directory in created or os.path.isdir(directory):
            continue
        created.append(directory)
        if not check_mode:
            os.makedirs(directory, mode=0o750 if name.endswith("key") else 0o755)
    return created


def main() -> None:
    """Run the module: plan, apply (unless check mode) and report the CA and server certificate."""
    module = AnsibleModule(
        argument_spec={
            "ca_cert": {"type": "path", "required": True},
            "ca_key": {"type": "path", "required": True},
            "ca_common_name": {"type": "str", "default": "airgap.registry CA"},
            "cert": {"type": "path", "required": True},
            "key": {"type": "path", "required": True},
            "common_name": {"type": "str"},
            "subject_alt_names": {"type": "list", "elements": "str", "required": True},
            "valid_days": {"type": "int", "default": 365},
            "ca_valid_days": {"type": "int", "default": 3650},
            "renew_before": {"type": "int", "default": 30},
            "key_type": {"type": "str", "choices": ["ec", "rsa"], "default": "ec"},
        },
        supports_check_mode=True,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(CRYPTOGRAPHY_ERROR))
    p = module.params
    try:
        created = make_directories(p, module.check_mode)
        plan = TLSPlan(p, check_mode=module.check_mode)
        before = cert_summary(plan.cert)
        if plan.changed and not module.check_mode:
            plan.apply()
    except (TLSError, OSError) as exc:
        module.fail_json(msg=str(exc))

    changed = plan.changed or bool(created)
    for path in (p["ca_key"], p["key"]):
        if os.path.exists(path):
            changed = module.set_mode_if_different(path, "0600", changed) or changed

    cert = plan.cert if (not plan.new_cert or not module.check_mode) else None
    after = cert_summary(cert) if cert is not None else plan.predicted_summary()
    result = {
        "changed": changed,
        "ca_cert": p["ca_cert"],
        "cert": p["cert"],
        "key": p["key"],
        "subject_alt_names": san_strings(plan.sans),
        "fingerprint": fingerprint(cert) if cert is not None else None,
        "not_after": iso(not_after(cert)) if cert is not None else after["not_after"],
        "generated": plan.generated,
        "reasons": plan.reasons,
        "directories_created": created,
    }
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
