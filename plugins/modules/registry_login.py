#!/usr/bin/python
# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: registry_login
short_description: Log in to a container registry by writing the Docker client config, no daemon needed
version_added: 0.1.0
description:
  - The seed's C(docker login REGISTRY -u USER -p PASSWORD) without a Docker daemon. The credentials are checked
    against the registry's C(/v2/) endpoint (Basic auth and the Bearer token flow), then written as the
    C(auths) entry C({"auth":"<base64 of USER:PASSWORD>"}) of the Docker client config file, which the C(docker) CLI,
    skopeo and the Docker SDK read.
  - The file is merged, never replaced; every other key and registry entry is kept. It is written atomically
    (temporary file, then rename) with mode V(0600).
  - O(state=absent) logs out by removing the registry's entry.
  - When the config file names a credential helper (C(credsStore), or C(credHelpers) for this registry), the
    C(docker) CLI would ignore the C(auths) entry, so the task fails instead of writing one.
author:
  - airgap.registry contributors (@airgap-registry)
extends_documentation_fragment:
  - airgap.registry.attributes
  - airgap.registry.registry_connection
attributes:
  check_mode:
    support: full
    details: Verifies the credentials against the registry and reports whether the file would change; writes nothing.
  diff_mode:
    support: full
    details: Shows the registry and user name before and after, and whether the password changes; never the password.
  idempotent:
    support: full
options:
  registry:
    description:
      - The registry, as C(HOST:PORT), C(HOST) or C(https://HOST:PORT). The config entry is keyed by C(HOST[:PORT])
        (C(https://index.docker.io/v1/) for Docker Hub), as the C(docker) CLI does.
    type: str
    required: true
    aliases: [registry_url]
  state:
    description:
      - V(present) logs in, V(absent) logs out.
    type: str
    choices: [present, absent]
    default: present
  reauthorize:
    description:
      - Check the credentials against the registry even when the config file already holds exactly them.
      - When V(false), an entry that already holds the same user name and password is left alone without
        contacting the registry; any other change is always checked before it is written.
    type: bool
    default: false
  config_path:
    description:
      - The Docker client config file. Defaults to C($DOCKER_CONFIG/config.json), else C(~/.docker/config.json).
    type: path
    aliases: [dockercfg_path]
notes:
  - The password is stored base64-encoded, not encrypted, exactly as C(docker login) stores it without a
    credential helper; the file is readable by its owner only.
seealso:
  - module: airgap.registry.registry_info
"""

EXAMPLES = r"""
- name: Log in to the private registry, as docker login does
  airgap.registry.registry_login:
    registry: reg.local:5000
    username: seed
    password: "{{ registry_password }}"
    ca_file: /etc/docker/certs.d/reg.local:5000/ca.crt

- name: Log in for a deploy user, in their own config file
  airgap.registry.registry_login:
    registry: ghcr.io
    username: robot
    password: "{{ ghcr_token }}"
    config_path: /home/deploy/.docker/config.json

- name: Log out
  airgap.registry.registry_login:
    registry: reg.local:5000
    state: absent
"""

RETURN = r"""
registry:
  description: The key of the registry's entry in C(auths).
  returned: always
  type: str
  sample: reg.local:5000
username:
  description: The user name logged in (present), or the one that was logged out (absent; null when none was).
  returned: always
  type: str
  sample: seed
config_path:
  description: The Docker client config file.
  returned: always
  type: str
  sample: /root/.docker/config.json
verified:
  description: Whether the credentials were checked against the registry in this run.
  returned: always
  type: bool
  sample: true
"""

import os  # noqa: E402 - validate-modules wants imports below the documentation

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.airgap.registry.plugins.module_utils.docker_config import (  # noqa: E402
    DockerConfigError,
    auth_key,
    credential_helper,
    default_config_path,
    get_credentials,
    load_config,
    with_credentials,
    without_credentials,
    write_config,
)
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import CONNECTION_ARGUMENT_SPEC, RegistryAuthError, RegistryError, client_from_params  # noqa: E402


def verify(module: AnsibleModule) -> None:
    """Check the credentials with GET /v2/ through the registry's auth flow; fail the task when refused."""
    p = module.params
    try:
        client = client_from_params(p["registry"], p, retries=2)
    except RegistryError as exc:
        module.fail_json(msg=f"login to {p['registry']} as {p['username']} failed: {exc.message}")
    try:
        client.ping()
    except RegistryAuthError as exc:
        module.fail_json(msg=f"login to {p['registry']} as {p['username']} failed: the registry refused the credentials ({exc.message})")
    except RegistryError as exc:
        module.fail_json(msg=f"login to {p['registry']} as {p['username']} failed: {exc.message}")
    finally:
        client.close()


def main() -> None:
    """Run the module: add or remove the registry's credentials in the Docker client config."""
    module = AnsibleModule(
        argument_spec={
            "registry": {"type": "str", "required": True, "aliases": ["registry_url"]},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "reauthorize": {"type": "bool", "default": False},
            "config_path": {"type": "path", "aliases": ["dockercfg_path"]},
            **CONNECTION_ARGUMENT_SPEC,
        },
        required_if=[("state", "present", ("username", "password"))],
        supports_check_mode=True,
    )
    p = module.params
    path = p["config_path"] or default_config_path()
    option = "config_path" if p["config_path"] else "config_path (default)"
    key = auth_key(p["registry"])
    try:
        config = load_config(path, option)
    except DockerConfigError as exc:
        module.fail_json(msg=str(exc))
    stored = get_credentials(config, p["registry"])
    verified = False
    if p["state"] == "present":
        helper = credential_helper(config, p["registry"])
        if helper:
            module.fail_json(msg=f"{path} sends credentials for {key} to the credential helper docker-credential-{helper}; "
                                 "the docker CLI would ignore an auths entry, so none is written")
        new = with_credentials(config, p["registry"], p["username"], p["password"])
        if p["reauthorize"] or new != config:
            verify(module)
            verified = True
        username = p["username"]
        after = {"registry": key, "username": username, "password": "unchanged" if stored == (p["username"], p["password"]) else "changed"}
    else:
        new = without_credentials(config, p["registry"])
        username = stored[0] if stored else None
        after = {}
    before = {"registry": key, "username": stored[0]} if stored else {}
    changed = new != config
    if changed and not module.check_mode:
        try:
            write_config(path, new, option)
        except DockerConfigError as exc:
            module.fail_json(msg=str(exc))
    result = {"changed": changed, "registry": key, "username": username, "config_path": os.path.abspath(path), "verified": verified}
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
