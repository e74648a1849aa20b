#!/usr/bin/python
# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: registry_swarm_service
short_description: Run a container registry as a Docker Swarm service
description:
  - Makes sure the engine is a swarm manager (initialising a single-node swarm when O(init_swarm) is set), labels
    the node that holds the registry storage, and runs the registry image as a replicated service with a placement
    constraint, a storage bind mount, C(REGISTRY_*) environment and a published port.
  - The TLS certificate and key (and the htpasswd file) become docker secrets with content-versioned names (C(<name>-cert-<sha256[:12]>),
    C(<name>-key-<sha256[:12]>)). A rotated certificate creates new secrets, updates the service to use them, waits
    until it converged, then removes the old secrets.
  - The service is created and updated through the Docker API without resolving the image against a registry, so
    an image loaded locally is enough.
  - The service is updated only when what was asked differs from its specification.
version_added: "0.1.0"
author:
  - airgap.registry contributors (@airgap-registry)
requirements:
  - docker (Python SDK) >= 5.0.3 (Debian 12 C(python3-docker) 5.0.3 with its C(python3-requests) 2.28 is tested)
extends_documentation_fragment:
  - airgap.registry.attributes
  - airgap.registry.deploy
attributes:
  check_mode:
    support: full
    details: Reports the actions and differences it would apply; creates no swarm, label, secret or service.
  diff_mode:
    support: full
    details: Shows image, environment, mounts, secret names, ports, replicas, constraints and update order before and after.
  idempotent:
    support: full
options:
  state:
    description: V(present) creates or updates the service; V(absent) removes it and its versioned secrets.
    type: str
    choices: [present, absent]
    default: present
  init_swarm:
    description: Initialise a single-node swarm when the engine is not part of one; otherwise such an engine is an error.
    type: bool
    default: false
  advertise_addr:
    description: Address advertised when initialising the swarm (for example V(127.0.0.1) or the host's fleet address).
    type: str
  node:
    description: Node (id or hostname) that gets O(node_labels); default the local node.
    type: str
  node_labels:
    description: Labels added to O(node) so the placement constraint pins the registry to it.
    type: dict
    default: {registry: "true"}
  constraints:
    description: Placement constraints of the service.
    type: list
    elements: str
    default: ["node.labels.registry==true"]
  publish_mode:
    description:
      - V(ingress) publishes through the routing mesh on every node; V(host) publishes on the node running the task;
        V(none) publishes no port (replicas reached by a front on a swarm network).
      - In V(host) mode only one task per node can bind O(published_port), so several replicas need as many nodes.
    type: str
    choices: [ingress, host, none]
    default: ingress
  replicas:
    description:
      - Number of replicas. More than one needs shared storage (O(storage_path) on a shared filesystem mounted on every
        node the constraints allow) and O(http_secret), so an upload started on one replica can finish on another.
    type: int
    default: 1
  http_secret:
    description:
      - The C(http.secret) every replica shares (it signs upload session state). Distribution 2.8 reads it only from
        its config file or C(REGISTRY_HTTP_SECRET), so it reaches the service as a content-versioned docker secret
        C(<name>-config-<sha256[:12]>) holding the registry's C(config.yml) (the image's base settings plus
        C(http.secret)), mounted over the image's config file; it is never put in the environment.
      - C(REGISTRY_*) entries of O(env) still override that file.
    type: str
  s3:
    description:
      - Store the registry's content in an S3 bucket (Distribution's C(s3) storage driver) instead of O(storage_path);
        every replica then shares it without a shared filesystem.
      - The settings, credentials included, reach the service inside the C(<name>-config-<sha256[:12]>) docker secret
        (the registry's C(config.yml)), never in its environment, the results or the diff.
    type: dict
    suboptions:
      bucket:
        description: Bucket name; it must exist.
        type: str
        required: true
      region:
        description: Region (S3-compatible stores usually accept any).
        type: str
        default: us-east-1
      regionendpoint:
        description: Endpoint URL of an S3-compatible store, for example V(http://s3.internal:9000).
        type: str
      accesskey:
        description: Access key; with O(s3.secretkey). Without them, the AWS credentials chain of the container applies.
        type: str
      secretkey:
        description: Secret key (never logged).
        type: str
      secure:
        description: Talk to the endpoint over HTTPS.
        type: bool
        default: true
      v4auth:
        description: Sign requests with AWS signature version 4.
        type: bool
        default: true
      rootdirectory:
        description: Prefix of every object the registry writes.
        type: str
      redirect:
        description: Redirect blob downloads to the store (clients then need a route to it); default the registry serves them.
        type: bool
        default: false
  networks:
    description:
      - Swarm (overlay) networks the tasks join, by name; they must exist. A front on the same network reaches the
        replicas by the service name.
    type: list
    elements: str
    default: []
  create_networks:
    description:
      - Create the O(networks) that do not exist, as attachable overlay networks labelled for this service;
        O(state=absent) removes them again (one still used by another service stays, reported in RV(networks_in_use)).
    type: bool
    default: false
  front_config:
    description:
      - Run an NGINX front instead of a registry - the content of its C(nginx.conf), which becomes a content-versioned
        docker secret C(<name>-nginx-<sha256[:12]>) mounted at C(/etc/nginx/nginx.conf) (a changed config rolls the
        service). NGINX must listen on O(published_port)'s target, 5000, in its container.
      - O(tls_cert) and O(tls_key) still become the secrets C(/run/secrets/tls.crt) and C(/run/secrets/tls.key) for the
        config to name; no C(REGISTRY_*) environment is set. Excludes O(htpasswd_path), O(http_secret) and O(s3) (those
        belong to the registry behind the front).
      - The role C(airgap.registry.registry_swarm) renders this config (C(registry_swarm_front)).
    type: str
  endpoint_mode:
    description:
      - V(vip) gives the service one virtual IP; V(dnsrr) makes its name resolve to every task's address (a front such
        as NGINX then spreads requests over the replicas itself). V(dnsrr) cannot publish in V(ingress) mode.
    type: str
    choices: [vip, dnsrr]
    default: vip
  update_order:
    description:
      - Order of a rolling update (and of its rollback). V(start-first) starts the new task before stopping the old one,
        so an image or config change never leaves the service without a replica.
      - Default V(start-first), except V(stop-first) when published in V(host) mode (a new task cannot bind the port the
        old one holds on the same node).
      - A failed update rolls back (C(failure_action=rollback)).
    type: str
    choices: [start-first, stop-first]
  healthcheck:
    description:
      - The service's health check, so that a V(start-first) rolling update stops an old task only once the new one is
        healthy, and Swarm replaces a task that turns unhealthy.
      - The probe asks Distribution's debug server (C(http.debug.addr) V(127.0.0.1:5001) in the registry's config, on the
        task's loopback, never published) for C(/debug/health), with C(/bin/busybox wget) (the image built by
        C(scripts/build-images.sh) carries Debian's static busybox). It answers 503, hence unhealthy, once the storage
        driver check (C(health.storagedriver)) fails.
      - An image of your own needs C(/bin/busybox) and a config with C(http.debug.addr) V(127.0.0.1:5001) (the config
        this module writes with O(http_secret) or O(s3) sets it), or O(healthcheck.enabled=false).
      - Not given, the defaults below apply, except for an NGINX front (O(front_config)), which gets no health check.
      - With the health check, a task counts as running (O(wait)) only once healthy.
    type: dict
    suboptions:
      enabled:
        description: Whether the service has the health check.
        type: bool
        default: true
      interval:
        description: Seconds between two probes.
        type: int
        default: 10
      timeout:
        description: Seconds a probe may take before it counts as failed.
        type: int
        default: 5
      retries:
        description: Consecutive failed probes that make the task unhealthy.
        type: int
        default: 3
      start_period:
        description: Seconds after the start during which failed probes do not count (a success makes the task healthy at once).
        type: int
        default: 10
  wait:
    description:
      - Wait until the tasks run the current specification and C(/v2/) answers 200 or 401 on 127.0.0.1.
      - With O(publish_mode=none), until O(replicas) tasks run it.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for convergence.
      - When the service does not converge or answer in time, the module fails with the last error seen on C(/v2/),
        the state of the service's tasks, what this run created (C(changed=true), RV(created)) and, in V(ingress)
        mode with nothing answering, the advice to publish in V(host) mode.
    type: int
    default: 120
notes:
  - Secrets are immutable in Swarm, hence the content-versioned names.
seealso:
  - module: airgap.registry.registry_container
  - module: airgap.registry.registry_tls
"""

EXAMPLES = r"""
- name: Registry service over TLS on a single-node swarm, published in host mode
  airgap.registry.registry_swarm_service:
    name: registry
    init_swarm: true
    advertise_addr: 127.0.0.1
    tls_cert: /etc/registry/tls.crt
    tls_key: /etc/registry/tls.key
    storage_path: /srv/registry
    published_port: 5000
    publish_mode: host

- name: Remove the service and its secrets
  airgap.registry.registry_swarm_service:
    name: registry
    state: absent
"""

RETURN = r"""
service:
  description: The service (empty when absent, or in check mode before it exists).
  returned: success
  type: dict
  sample: {id: 9xk2m1q0l3c7v8b5n4z6, name: registry}
secrets:
  description: Names of the secrets the service uses.
  returned: success
  type: list
  elements: str
  sample: [registry-cert-3b1f0c9a2d4e, registry-key-77aa01c2e9f0]
url:
  description: Base URL of the registry as reached on the manager.
  returned: when state is present
  type: str
  sample: https://127.0.0.1:5000
actions:
  description: What was done (or would be done in check mode).
  returned: always
  type: list
  elements: str
  sample: [secrets created, service updated, old secrets removed]
differences:
  description: The compared settings that differed from the service specification.
  returned: when state is present
  type: list
  elements: str
  sample: [env, secrets]
created:
  description:
    - On a failure after the engine was changed (the module then reports C(changed=true)), what this run created and
      left in place - C(service) (its name, or null when an existing service was updated) and C(secrets) (names).
    - A re-run with fixed settings updates them; O(state=absent) removes the service and its secrets.
  returned: on failure after changes
  type: dict
  sample: {service: registry, secrets: [registry-cert-3b1f0c9a2d4e, registry-key-77aa01c2e9f0]}
last_error:
  description: On a failure to answer on /v2/, the last network error seen (null when the registry answered with a status).
  returned: on failure while waiting
  type: str
  sample: "[Errno 111] Connection refused"
networks_in_use:
  description: With O(state=absent), networks created for the service that another service still uses (they stay).
  returned: when networks were removed
  type: list
  elements: str
  sample: []
secrets_in_use:
  description: Old secrets that could not be removed yet because tasks still held them.
  returned: when old secrets were removed
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.airgap.registry.plugins.module_utils.deploy_options import REQUIRED_TOGETHER, argument_spec, run_deploy  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.deploy_service import HEALTHCHECK_DEFAULTS, deploy_service  # noqa: E402


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(
            state=dict(type="str", default="present", choices=["present", "absent"]),
            init_swarm=dict(type="bool", default=False),
            advertise_addr=dict(type="str"),
            node=dict(type="str"),
            node_labels=dict(type="dict", default={"registry": "true"}),
            constraints=dict(type="list", elements="str", default=["node.labels.registry==true"]),
            publish_mode=dict(type="str", default="ingress", choices=["ingress", "host", "none"]),
            replicas=dict(type="int", default=1),
            http_secret=dict(type="str", no_log=True),
            update_order=dict(type="str", choices=["start-first", "stop-first"]),
            networks=dict(type="list", elements="str", default=[]),
            endpoint_mode=dict(type="str", default="vip", choices=["vip", "dnsrr"]),
            create_networks=dict(type="bool", default=False),
            s3=dict(type="dict", options=dict(
                bucket=dict(type="str", required=True), region=dict(type="str", default="us-east-1"), regionendpoint=dict(type="str"),
                accesskey=dict(type="str", no_log=True), secretkey=dict(type="str", no_log=True), secure=dict(type="bool", default=True),
                v4auth=dict(type="bool", default=True), rootdirectory=dict(type="str"), redirect=dict(type="bool", default=False))),
            front_config=dict(type="str"),
            healthcheck=dict(type="dict", options=dict(
                enabled=dict(type="bool", default=True), **{k: dict(type="int", default=v) for k, v in HEALTHCHECK_DEFAULTS.items()})),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=120),
        ),
        required_together=REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    params = module.params
    if params["endpoint_mode"] == "dnsrr" and params["publish_mode"] == "ingress":
        module.fail_json(msg="endpoint_mode dnsrr cannot publish through the ingress routing mesh: use publish_mode host or none")
    if params["front_config"] and (params["htpasswd_path"] or params["http_secret"] or params["s3"]):
        module.fail_json(msg="front_config (an NGINX front) excludes htpasswd_path, http_secret and s3: set them on the registry service behind it")
    if params["s3"] and params["storage_path"]:
        module.fail_json(msg="s3 and storage_path are exclusive: the registry stores its content in one place")
    if params["replicas"] < 0:
        module.fail_json(msg=f"replicas must not be negative, got {params['replicas']}")
    for key, value in (params["healthcheck"] or {}).items():
        if key != "enabled" and value < (1 if key in ("interval", "timeout", "retries") else 0):
            module.fail_json(msg=f"healthcheck.{key} must be {'positive' if key != 'start_period' else 'zero or more'}, got {value}")
    params["node_labels"] = {str(k): str(v) for k, v in (params["node_labels"] or {}).items()}
    run_deploy(module, deploy_service)


if __name__ == "__main__":
    main()
