#!/usr/bin/python
# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: registry_htpasswd
short_description: Users of a registry in an htpasswd file (bcrypt)
version_added: 0.1.0
description:
  - Adds, updates or removes users in an htpasswd file, hashing passwords with bcrypt, the only scheme the
    registry (CNCF Distribution C(auth.htpasswd), pyregistry) accepts. The file also works with Apache's C(htpasswd -v).
  - A present user whose stored bcrypt hash already verifies the given password is left untouched, so a second run
    reports no change.
  - The file is replaced atomically (temp file in the same directory, then rename).
author:
  - airgap.registry contributors (@airgap-registry)
requirements:
  - passlib (from libpass)
  - bcrypt
extends_documentation_fragment:
  - airgap.registry.attributes
attributes:
  check_mode:
    support: full
    details: Reports which users would be added, updated or removed and writes nothing.
  diff_mode:
    support: full
    details: Shows the user names before and after, never hashes or passwords.
  idempotent:
    support: full
    details: A stored hash that verifies the password is kept.
options:
  path:
    description:
      - Path of the htpasswd file. Created (with its users) when absent and O(state=present).
    type: path
    required: true
  users:
    description:
      - Several users at once. Mutually exclusive with O(name) and O(password).
    type: list
    elements: dict
    suboptions:
      name:
        description: User name (no C(:) and no whitespace).
        type: str
        required: true
      password:
        description: Password, at most 72 bytes (the bcrypt limit). Required when O(state=present).
        type: str
  name:
    description:
      - One user name, instead of O(users).
    type: str
  password:
    description:
      - Password of O(name). Required when O(state=present).
    type: str
  state:
    description:
      - Whether the users are in the file.
    type: str
    choices: [present, absent]
    default: present
  update_password:
    description:
      - V(always) rewrites the hash of an existing user whose stored hash does not verify the password (or is not
        bcrypt); V(on_create) only sets passwords of new users.
    type: str
    choices: [always, on_create]
    default: always
  exclusive:
    description:
      - With O(state=present), also remove every user of the file that is not listed, so the list is authoritative.
    type: bool
    default: false
  bcrypt_cost:
    description:
      - bcrypt cost (log2 rounds) of new hashes. The registry verifies a hash on every authenticated request, so keep it moderate.
    type: int
    default: 10
  mode:
    description:
      - Permissions of the file, octal (V('0640')) or symbolic.
    type: raw
    default: '0640'
  owner:
    description:
      - Owner of the file.
    type: str
  group:
    description:
      - Group of the file.
    type: str
"""

EXAMPLES = r"""
- name: Registry users
  airgap.registry.registry_htpasswd:
    path: /etc/airgap/registry/htpasswd
    users:
      - name: ci
        password: "{{ vault_registry_ci_password }}"
      - name: fleet
        password: "{{ vault_registry_fleet_password }}"

- name: One user, password set only when the user is created
  airgap.registry.registry_htpasswd:
    path: /etc/airgap/registry/htpasswd
    name: admin
    password: "{{ vault_registry_admin_password }}"
    update_password: on_create

- name: Exactly these users (others are removed)
  airgap.registry.registry_htpasswd:
    path: /etc/airgap/registry/htpasswd
    users: "{{ registry_users }}"
    exclusive: true

- name: Remove a user
  airgap.registry.registry_htpasswd:
    path: /etc/airgap/registry/htpasswd
    name: olduser
    state: absent
"""

RETURN = r"""
path:
  description: Path of the htpasswd file.
  returned: always
  type: str
  sample: /etc/airgap/registry/htpasswd
added:
  description: Users added (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [ci]
updated:
  description: Users whose password hash was rewritten.
  returned: always
  type: list
  elements: str
  sample: [fleet]
removed:
  description: Users removed (listed with O(state=absent), or unlisted with O(exclusive)).
  returned: always
  type: list
  elements: str
  sample: [olduser]
users:
  description: All user names in the file afterwards.
  returned: always
  type: list
  elements: str
  sample: [ci, fleet]
"""

import os  # noqa: E402 - validate-modules wants imports below the documentation

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.airgap.registry.plugins.module_utils.htpasswd import (  # noqa: E402
    HAS_PASSLIB,
    PASSLIB_ERROR,
    HtpasswdChange,
    HtpasswdError,
    requested_users,
)


def argument_spec() -> dict:
    """The module's options (see DOCUMENTATION)."""
    return {
        "path": {"type": "path", "required": True},
        "users": {
            "type": "list",
            "elements": "dict",
            "options": {
                "name": {"type": "str", "required": True},
                "password": {"type": "str", "no_log": True},
            },
        },
        "name": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "update_password": {"type": "str", "choices": ["always", "on_create"], "default": "always", "no_log": False},
        "exclusive": {"type": "bool", "default": False},
        "bcrypt_cost": {"type": "int", "default": 10},
        "mode": {"type": "raw", "default": "0640"},
        "owner": {"type": "str"},
        "group": {"type": "str"},
    }


def run(module: AnsibleModule) -> HtpasswdChange:
    """Compute the change and write it (unless check mode); fail the task on bad input or an I/O error."""
    p = module.params
    if not 4 <= p["bcrypt_cost"] <= 31:
        module.fail_json(msg=f"bcrypt_cost must be between 4 and 31, got {p['bcrypt_cost']}")
    try:
        users = requested_users(p["users"], p["name"], p["password"], p["state"])
        change = HtpasswdChange(p["path"], users, p["state"], p["update_password"], p["bcrypt_cost"], exclusive=p["exclusive"],
                                check_mode=module.check_mode)
        if change.changed and not module.check_mode:
            change.write()
    except (HtpasswdError, OSError) as exc:
        module.fail_json(msg=str(exc))
    return change


def result_of(module: AnsibleModule, change: HtpasswdChange) -> dict:
    """The module's result; sets the file's mode, owner and group first (they count as a change)."""
    p = module.params
    changed = change.changed
    if os.path.exists(p["path"]):
        changed = module.set_mode_if_different(p["path"], p["mode"], changed) or changed
        changed = module.set_owner_if_different(p["path"], p["owner"], changed) or changed
        changed = module.set_group_if_different(p["path"], p["group"], changed) or changed
    result = {
        "changed": changed,
        "path": p["path"],
        "added": change.added,
        "updated": change.updated,
        "removed": change.removed,
        "users": change.after,
    }
    if module._diff:
        result["diff"] = {"before": {"users": change.before}, "after": {"users": change.after}}
    return result


def main() -> None:
    """Run the module: make the htpasswd file hold the requested users."""
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("users", "name"), ("users", "password")],
        required_one_of=[("users", "name")],
        supports_check_mode=True,
    )
    if not HAS_PASSLIB:
        module.fail_json(msg=missing_required_lib("passlib (libpass) and bcrypt"), exception=str(PASSLIB_ERROR))
    change = run(module)
    module.exit_json(**result_of(module, change))


if __name__ == "__main__":
    main()
