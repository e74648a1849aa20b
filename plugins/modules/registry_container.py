#!/usr/bin/python
# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: registry_container
short_description: Run a container registry (CNCF Distribution) as a Docker container
description:
  - Runs the registry image as a container with a published port, a storage bind mount, optional TLS certificate
    and key, optional htpasswd authentication, C(REGISTRY_*) environment and an optional generated C(config.yml).
  - The container is recreated only when what was asked differs from what runs (image id, environment, mounts,
    ports, restart policy, and the content hashes of the config file, certificate, key and htpasswd file, kept
    as labels so that a rotated certificate restarts the registry).
  - After starting, waits until C(/v2/) answers 200 or 401 (over https when TLS is set; the certificate is not verified
    by this probe).
  - Never pulls from a registry unless O(pull) asks for it; a missing image is a clear error naming it.
version_added: "0.1.0"
author:
  - airgap.registry contributors (@airgap-registry)
requirements:
  - docker (Python SDK) >= 5.0.3 (Debian 12 C(python3-docker) 5.0.3 is tested)
extends_documentation_fragment:
  - airgap.registry.attributes
  - airgap.registry.deploy
attributes:
  check_mode:
    support: full
    details: Reports the actions and differences it would apply; creates, writes and starts nothing.
  diff_mode:
    support: full
    details: Shows image id, environment, mounts, ports, restart policy, content-hash labels and state before and after.
  idempotent:
    support: partial
    details: V(state=restarted) restarts the container on every run; the other states are idempotent.
options:
  state:
    description:
      - V(started) creates or updates the container and runs it; V(stopped) keeps it created but stopped;
        V(absent) removes it; V(restarted) is V(started) plus a restart when nothing else changed.
    type: str
    choices: [started, stopped, absent, restarted]
    default: started
  bind_address:
    description: Host address the port is published on.
    type: str
    default: 0.0.0.0
  config:
    description:
      - Registry configuration, rendered to a C(config.yml) (block YAML, keys sorted) written atomically to
        O(config_path) and mounted read-only where the image reads its configuration.
    type: dict
  config_path:
    description: Host path where the generated C(config.yml) is written. Required with O(config).
    type: path
  restart_policy:
    description: Docker restart policy of the container.
    type: str
    choices: ['no', always, unless-stopped, on-failure]
    default: always
  pull:
    description: When to pull O(image) from its registry.
    type: str
    choices: [never, missing, always]
    default: never
  wait_timeout:
    description: Seconds to wait for C(/v2/) to answer after starting.
    type: int
    default: 60
notes:
  - A port already in use fails the task and removes the container it had just created.
seealso:
  - module: airgap.registry.registry_swarm_service
  - module: airgap.registry.registry_tls
"""

EXAMPLES = r"""
- name: Plain registry on port 5000 with storage on the host
  airgap.registry.registry_container:
    name: registry
    storage_path: /srv/registry

- name: Registry with TLS and htpasswd on 127.0.0.1:5443
  airgap.registry.registry_container:
    name: registry
    published_port: 5443
    bind_address: 127.0.0.1
    storage_path: /srv/registry
    tls_cert: /etc/registry/tls.crt
    tls_key: /etc/registry/tls.key
    htpasswd_path: /etc/registry/htpasswd
    env:
      REGISTRY_STORAGE_DELETE_ENABLED: "true"

- name: Registry with a generated config.yml
  airgap.registry.registry_container:
    name: registry
    config_path: /etc/registry/config.yml
    config:
      version: 0.1
      storage:
        filesystem:
          rootdirectory: /var/lib/registry
      http:
        addr: ":5000"

- name: Remove the registry container
  airgap.registry.registry_container:
    name: registry
    state: absent
"""

RETURN = r"""
container:
  description: The container (empty when absent).
  returned: success
  type: dict
  sample:
    id: 3f9c1e0d2b7a
    name: registry
    image: registry:2.8.3
    ports: {"5000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "5000"}]}
url:
  description: Base URL of the registry as reached from the managed host.
  returned: success
  type: str
  sample: https://127.0.0.1:5000
actions:
  description: What was done (or would be done in check mode).
  returned: always
  type: list
  elements: str
  sample: [created, started]
differences:
  description: The compared settings that differed from the running container (all of them when none existed).
  returned: when state is not absent
  type: list
  elements: str
  sample: [env, labels]
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.airgap.registry.plugins.module_utils.deploy_container import deploy_container  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.deploy_options import REQUIRED_TOGETHER, argument_spec, run_deploy  # noqa: E402


def main() -> None:
    """Run the module: deploy the registry as a Docker container."""
    module = AnsibleModule(
        argument_spec=argument_spec(
            state=dict(type="str", default="started", choices=["started", "stopped", "absent", "restarted"]),
            bind_address=dict(type="str", default="0.0.0.0"),
            config=dict(type="dict"),
            config_path=dict(type="path"),
            restart_policy=dict(type="str", default="always", choices=["no", "always", "unless-stopped", "on-failure"]),
            pull=dict(type="str", default="never", choices=["never", "missing", "always"]),
            wait_timeout=dict(type="int", default=60),
        ),
        required_together=REQUIRED_TOGETHER,
        required_by={"config": "config_path"},
        supports_check_mode=True,
    )
    run_deploy(module, deploy_container)


if __name__ == "__main__":
    main()
