# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""registry_swarm_service's engine work: observe the swarm, service, secrets and files, plan the steps, apply them.

Planning only reads (swarm state, the service, its secrets, the node's labels, the image, the certificate, key and
htpasswd files). Applying runs the steps in order: initialise the swarm, label the node, create the storage
directory, create the new versioned secrets, create or update the service, wait until it converged, remove the
secrets it no longer uses.
"""
from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.airgap.registry.plugins.module_utils import deploy_plan as dp
from ansible_collections.airgap.registry.plugins.module_utils import docker_common as dc
from ansible_collections.airgap.registry.plugins.module_utils import registry_deploy as rd

SERVICE_LABEL = rd.LABEL_PREFIX + "service"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
HTPASSWD_FILE = "htpasswd"
# An NGINX front (front_config): its nginx.conf secret replaces the image's config; it listens on the registry's port.
FRONT_CONFIG_TARGET = "/etc/nginx/nginx.conf"
# Pause between two tasks of a rolling update: longer than the NGINX front's DNS cache (resolver valid=5s), so the
# addresses it holds always include running replicas (without it Swarm replaced 3 replicas within 3 s here).
UPDATE_DELAY_NS = 10_000_000_000
# Swarm networks the module creates (create_networks) carry this label too, so state=absent removes them.
CREATE_NETWORKS = "create_networks"
REMOVE_NETWORKS = "remove_networks"
# The registry's base settings (those of the image scripts/build-images.sh builds) for the config.yml secret that
# carries http.secret; REGISTRY_* environment still overrides them.
BASE_CONFIG: Dict[str, Any] = {
    "version": 0.1,
    "log": {"fields": {"service": "registry"}},
    "storage": {"cache": {"blobdescriptor": "inmemory"}, "filesystem": {"rootdirectory": rd.STORAGE_TARGET}},
    "http": {"addr": ":5000", "debug": {"addr": "127.0.0.1:5001"}, "headers": {"X-Content-Type-Options": ["nosniff"]}},
    "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
}
# The health probe (Distribution's debug server, http.debug.addr above, on the task's loopback: plain HTTP, no auth):
# /debug/health answers 200, or 503 once a health check (health.storagedriver) fails. busybox is the static one
# scripts/build-images.sh puts in the image (the image has no shell); wget exits non-zero on a 503.
HEALTH_PROBE = ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5001/debug/health"]
# healthcheck suboptions (seconds, except retries) when the module is not given them
HEALTHCHECK_DEFAULTS = {"interval": 10, "timeout": 5, "retries": 3, "start_period": 10}
_NS = 1_000_000_000
# a failure in these steps reports what the run created and left in place
_ENGINE_STEPS = (dp.CREATE_SECRETS, dp.APPLY_SERVICE, dp.WAIT)


def deploy_service(client: Any, p: Dict[str, Any], check_mode: bool) -> Dict[str, Any]:
    """Bring the swarm service p['name'] (and its versioned TLS secrets) to p['state']; return the module result."""
    name = p["name"]
    needs_init, local_node = rd.swarm_status(client, p["init_swarm"])
    service = _find_service(client, name) if local_node else None
    owned = _service_secrets(client, name) if local_node else {}
    if p["state"] == "absent":
        plan = plan_absent(service, owned, _service_networks(client, name) if local_node else {})
    else:
        plan = plan_service(client, p, local_node, service, owned, check_mode=check_mode)
    if needs_init:
        plan.steps.insert(0, dp.Step(dp.INIT_SWARM, "swarm initialised", target=p["advertise_addr"] or ""))
    result = dict(plan.report, changed=plan.changed, actions=plan.actions, service={})
    if check_mode:
        if service is not None and p["state"] != "absent":
            result["service"] = {"id": service.id, "name": name}
        return result
    applier = _ServiceApplier(client, p, service, owned, local_node)
    applier.apply(plan)
    result.update(applier.outcome)
    if p["state"] != "absent":
        result["service"] = {"id": applier.service_id, "name": name}
    return result


def _find_service(client: Any, name: str) -> Optional[Any]:
    for service in client.services.list(filters={"name": name}):
        if service.name == name:
            return service
    return None


def _service_secrets(client: Any, name: str) -> Dict[str, Any]:
    """The versioned secrets this module made for service `name`, {secret name: secret}."""
    return {s.name: s for s in client.secrets.list(filters={"label": f"{SERVICE_LABEL}={name}"})}


def _service_networks(client: Any, name: str) -> Dict[str, Any]:
    """The swarm networks this module created for service `name` (create_networks), {network name: network}."""
    return {n.name: n for n in client.networks.list(filters={"label": f"{SERVICE_LABEL}={name}"})}


def plan_absent(service: Optional[Any], owned: Dict[str, Any], networks: Optional[Dict[str, Any]] = None) -> dp.Plan:
    """Remove the service, the secrets made for it and the networks created for it."""
    plan = dp.Plan(report={"secrets": [], "url": "", "diff": {
        "before": {"state": "present" if service is not None else "absent", "secrets": sorted(owned)}, "after": {"state": "absent", "secrets": []}}})
    if service is not None:
        plan.add(dp.REMOVE, "service removed")
    if networks:
        plan.add(REMOVE_NETWORKS, "networks removed", names=tuple(sorted(networks)), spec=dict(networks))
    if owned:
        plan.add(dp.REMOVE_SECRETS, "secrets removed", names=tuple(owned))
    return plan


def read_secrets(p: Dict[str, Any], check_mode: bool) -> Tuple[List[Tuple[str, str]], Dict[str, Optional[bytes]]]:
    """([(secret name, file name)], {secret name: content}) for the certificate, key and htpasswd file."""
    files = []
    if p.get("tls_cert"):
        files += [("cert", p["tls_cert"], CERT_FILE, "TLS certificate"), ("key", p["tls_key"], KEY_FILE, "TLS key")]
    if p.get("htpasswd_path"):
        files.append(("htpasswd", p["htpasswd_path"], HTPASSWD_FILE, "htpasswd file"))
    secrets, data = [], {}
    for kind, path, filename, what in files:
        if check_mode and not os.path.exists(path):
            # check mode: the task that writes the file did not run either; plan the secret without its content
            secret, content = f"{p['name']}-{kind}-(not written yet)", None
        else:
            content = dc.read_file(path, what)
            secret = rd.secret_name(p["name"], kind, content)
        secrets.append((secret, filename))
        data[secret] = content
    config = registry_config(p)
    if config is not None:
        content = rd.render_config(config)
        secret = rd.secret_name(p["name"], "config", content)
        secrets.append((secret, rd.config_target(p["image"])))
        data[secret] = content
    if p.get("front_config"):
        content = p["front_config"].encode()
        secret = rd.secret_name(p["name"], "nginx", content)
        secrets.append((secret, FRONT_CONFIG_TARGET))
        data[secret] = content
    return secrets, data


def s3_storage(s3: Dict[str, Any]) -> Dict[str, Any]:
    """Distribution's `storage` section for the s3 driver (configuration reference, storage.s3): bucket, region,
    regionendpoint (S3-compatible stores), credentials, secure, v4auth, rootdirectory; redirects to the store disabled
    unless asked (clients then need no route to it)."""
    driver = {"bucket": s3["bucket"], "region": s3.get("region") or "us-east-1", "secure": bool(s3.get("secure", True)),
              "v4auth": bool(s3.get("v4auth", True))}
    for key in ("regionendpoint", "accesskey", "secretkey", "rootdirectory"):
        if s3.get(key):
            driver[key] = s3[key]
    return {"cache": BASE_CONFIG["storage"]["cache"], "s3": driver, "redirect": {"disable": not s3.get("redirect")}}


def registry_config(p: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The registry's config.yml (the image's base settings plus http.secret and the s3 storage), or None when neither
    is asked (the image's own config then serves).

    Distribution 2.8 reads http.secret from its config or REGISTRY_HTTP_SECRET only (no _FILE variant), and the s3
    credentials from its config, the environment or the AWS credentials chain: both reach every replica in this
    config.yml, a docker secret mounted over the image's config, never in the environment."""
    if not p.get("http_secret") and not p.get("s3"):
        return None
    config = dict(BASE_CONFIG)
    if p.get("http_secret"):
        config["http"] = dict(BASE_CONFIG["http"], secret=p["http_secret"])
    if p.get("s3"):
        config["storage"] = s3_storage(p["s3"])
    return config


def update_order(p: Dict[str, Any]) -> str:
    """start-first unless asked otherwise; stop-first when published in host mode (the new task could not bind the port
    the old one holds on a single node)."""
    if p.get("update_order"):
        return p["update_order"]
    return "stop-first" if p["publish_mode"] == "host" else "start-first"


def desired_healthcheck(p: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The service's health check, {test, interval, timeout, start_period (ns), retries} as Swarm's
    ContainerSpec.Healthcheck holds it (registry_deploy.current_healthcheck reads it back), or None (the image's own:
    none for registry:2.8.3). p['healthcheck'] None means the defaults, unless the service is an NGINX front (its
    image has no probe); its `enabled` false turns it off."""
    asked = p.get("healthcheck")
    if asked is None and p.get("front_config"):
        return None
    asked = {**HEALTHCHECK_DEFAULTS, "enabled": True, **{k: v for k, v in (asked or {}).items() if v is not None}}
    if not asked["enabled"]:
        return None
    return {"test": list(HEALTH_PROBE), "interval": int(asked["interval"] * _NS), "timeout": int(asked["timeout"] * _NS),
            "retries": int(asked["retries"]), "start_period": int(asked["start_period"] * _NS)}


def desired_service(p: Dict[str, Any], secrets: List[Tuple[str, str]], network_ids: Optional[List[str]] = None) -> Dict[str, Any]:
    """The compared settings of the service that was asked for (a front gets no REGISTRY_* TLS or auth environment:
    its nginx.conf names the certificate and key secrets)."""
    front = bool(p.get("front_config"))
    env = rd.registry_env(p.get("env"), tls=bool(p.get("tls_cert")) and not front, htpasswd=bool(p.get("htpasswd_path")),
                          htpasswd_realm=p["htpasswd_realm"], cert_target=rd.SECRET_DIR + CERT_FILE, key_target=rd.SECRET_DIR + KEY_FILE,
                          htpasswd_target=rd.SECRET_DIR + HTPASSWD_FILE)
    mounts = [rd.bind(os.path.abspath(p["storage_path"]), rd.STORAGE_TARGET)] if p.get("storage_path") else []
    desired = rd.desired_service(p["image"], env, mounts, secrets, published_port=p["published_port"], target_port=rd.container_port(env),
                                 publish_mode=p["publish_mode"], replicas=p["replicas"], constraints=p["constraints"], labels={})
    desired["update"] = {"order": update_order(p), "failure_action": "rollback"}
    desired["networks"] = sorted(network_ids or [])
    desired["endpoint_mode"] = p.get("endpoint_mode") or "vip"
    desired["healthcheck"] = desired_healthcheck(p)
    return desired


def resolve_networks(client: Any, names: List[str], missing_ok: bool = False) -> Tuple[List[str], List[str]]:
    """([ids of the swarm networks `names`], [names that do not exist]); a missing one is an error unless `missing_ok`
    (create_networks: the plan creates it)."""
    ids, missing = [], []
    for name in names or []:
        try:
            network = client.networks.get(name)
        except dc.NotFound:
            if missing_ok:
                missing.append(name)
                continue
            raise dc.DeployError(f"network {name} not found: create it first (docker network create --driver overlay --attachable {name}) "
                                 "or set create_networks") from None
        if (network.attrs.get("Scope") or "") != "swarm":
            raise dc.DeployError(f"network {name} is not a swarm network (scope {network.attrs.get('Scope')}): use an overlay network")
        ids.append(network.id)
    return ids, missing


def missing_node_labels(client: Any, node: Optional[str], labels: Dict[str, str]) -> Dict[str, str]:
    """The labels `node` lacks (all of them when the swarm, hence the node, does not exist yet)."""
    if not node:
        return dict(labels)
    try:
        current = client.nodes.get(node).attrs["Spec"].get("Labels")
    except dc.NotFound:
        raise dc.DeployError(f"swarm node {node} not found") from None
    return rd.missing_labels(current, labels)


def plan_service(client: Any, p: Dict[str, Any], local_node: Optional[str], service: Optional[Any], owned: Dict[str, Any], *,
                 check_mode: bool) -> dp.Plan:
    """The steps that bring the service to the asked settings, from what was observed."""
    node = p.get("node") or local_node
    secrets, secret_data = read_secrets(p, check_mode)
    on_this_node = node in (None, local_node)
    if on_this_node:
        dc.ensure_image(client, p["image"], "never", check_mode)
    network_ids, new_networks = resolve_networks(client, p.get("networks") or [], missing_ok=bool(p.get("create_networks")))
    # a network still to create is compared by name (the service is then applied with its new id)
    desired = desired_service(p, secrets, network_ids + new_networks)
    current = rd.current_service(service.attrs["Spec"]) if service is not None else None
    diffs = rd.differences(desired, current)
    url = f"{'https' if p.get('tls_cert') else 'http'}://127.0.0.1:{p['published_port']}"
    if p["publish_mode"] == "none":
        url = ""
    plan = dp.Plan(report={"url": url, "differences": diffs, "secrets": [s[0] for s in secrets], "diff": {
        "before": rd.masked(dict(current or {}, state="present" if service is not None else "absent")),
        "after": rd.masked(dict(desired, state="present"))}})
    missing = missing_node_labels(client, node, p["node_labels"]) if p["node_labels"] else {}
    if missing:
        plan.add(dp.LABEL_NODE, "node labelled", target=node or "", spec=missing)
    if p.get("storage_path") and on_this_node and not os.path.isdir(desired["mounts"][0]["source"]):
        plan.add(dp.CREATE_STORAGE, "storage created", target=desired["mounts"][0]["source"])
    if new_networks:
        plan.add(CREATE_NETWORKS, "networks created", names=tuple(new_networks))
    new = tuple(s for s, _f in secrets if s not in owned)
    if new:
        plan.add(dp.CREATE_SECRETS, "secrets created", names=new, spec={s: secret_data[s] for s in new})
    if diffs:
        plan.add(dp.APPLY_SERVICE, "service updated" if service is not None else "service created", spec=desired)
    if p["wait"]:
        plan.add(dp.WAIT, target=url, spec=desired)
    stale = tuple(n for n in owned if n not in secret_data)
    if stale:
        plan.add(dp.REMOVE_SECRETS, "old secrets removed", names=stale)
    return plan


class _ServiceApplier:
    """Applies a service plan; `outcome` collects what the module reports beside the plan (secrets_in_use)."""

    def __init__(self, client: Any, p: Dict[str, Any], service: Optional[Any], owned: Dict[str, Any], local_node: Optional[str]) -> None:
        self.client, self.p, self.service, self.owned, self.local_node = client, p, service, owned, local_node
        self.secret_ids = {n: s.id for n, s in owned.items()}
        self.service_id = service.id if service is not None else None
        self.network_ids: Dict[str, str] = {}
        self.created_secrets: List[str] = []
        self.outcome: Dict[str, Any] = {}

    def apply(self, plan: dp.Plan) -> None:
        handlers = {dp.INIT_SWARM: self.init_swarm, dp.LABEL_NODE: self.label_node, dp.CREATE_STORAGE: lambda step: os.makedirs(step.target, mode=0o755),
                    dp.CREATE_SECRETS: self.create_secrets, dp.APPLY_SERVICE: self.apply_service, dp.WAIT: self.wait,
                    dp.REMOVE: lambda step: self.service.remove(), dp.REMOVE_SECRETS: self.remove_secrets,
                    CREATE_NETWORKS: self.create_networks, REMOVE_NETWORKS: self.remove_networks}
        done: List[dp.Step] = []
        for step in plan.steps:
            try:
                dp.apply_steps([step], handlers, done)
            except dc.DeployError as exc:
                if step.kind not in _ENGINE_STEPS:
                    raise
                raise self.failure(exc, plan, done) from None

    def init_swarm(self, step: dp.Step) -> None:
        self.local_node = rd.init_swarm(self.client, step.target or None)

    def label_node(self, step: dp.Step) -> None:
        rd.ensure_node_labels(self.client, step.target or self.local_node, dict(step.spec), False)

    def create_secrets(self, step: dp.Step) -> None:
        for secret in step.names:
            try:
                self.secret_ids[secret] = self.client.secrets.create(name=secret, data=step.spec[secret], labels={SERVICE_LABEL: self.p["name"]}).id
            except dc.APIError as exc:
                raise dc.DeployError(f"cannot create secret {secret}: {exc.explanation or exc}") from None
            self.created_secrets.append(secret)

    def create_networks(self, step: dp.Step) -> None:
        """Attachable overlay networks (a front or a one-off container can join them), labelled for this service."""
        for network in step.names:
            try:
                self.network_ids[network] = self.client.networks.create(network, driver="overlay", attachable=True,
                                                                        labels={SERVICE_LABEL: self.p["name"]}).id
            except dc.APIError as exc:
                raise dc.DeployError(f"cannot create network {network}: {exc.explanation or exc}") from None

    def remove_networks(self, step: dp.Step) -> None:
        """Remove the networks once the removed service's tasks left them; one another service (a front) still uses
        after wait_timeout stays and is reported."""
        self.outcome["networks_in_use"] = _remove_all([step.spec[n] for n in step.names], self.p["wait_timeout"])

    def apply_service(self, step: dp.Step) -> None:
        desired = dict(step.spec, networks=[self.network_ids.get(n, n) for n in step.spec["networks"]])
        self.service_id = _apply_service(self.client, self.service, self.p["name"], desired, self.secret_ids)

    def wait(self, step: dp.Step) -> None:
        _wait_converged(self.client, self.p["name"], dict(step.spec), step.target, self.p["wait_timeout"])

    def remove_secrets(self, step: dp.Step) -> None:
        stale = self.p["state"] != "absent"
        timeout = self.p["wait_timeout"] if (self.p["wait"] or not stale) else 0
        self.outcome["secrets_in_use"] = _remove_all([self.owned[n] for n in step.names], timeout)

    def failure(self, exc: dc.DeployError, plan: dp.Plan, done: List[dp.Step]) -> dc.DeployError:
        """The error of a failed engine step, with what the steps before it (and the failed one, in part) did."""
        actions = [s.action for s in done if s.action]
        created = plan.step(dp.CREATE_SECRETS)
        if self.created_secrets and created not in done:
            actions.append(created.action)
        applied = plan.step(dp.APPLY_SERVICE) in done
        result = {"actions": actions, "secrets": plan.report["secrets"]}
        return _failure_after_changes(exc, name=self.p["name"], p=self.p, result=result, created_secrets=self.created_secrets,
                                      service_created=applied and self.service is None, service_updated=applied and self.service is not None,
                                      url=plan.report["url"])


def _wait_converged(client: Any, name: str, desired: Dict[str, Any], url: str, timeout: int) -> None:
    """Wait until `replicas` tasks of the service run with the desired image, secrets and environment (an update's old
    UpdateStatus can still read completed just after it was asked), the update completed, and /v2/ answers."""
    wanted_secrets = sorted(s[0] for s in desired["secrets"])

    def converged():
        service = _find_service(client, name)
        if service is None:
            return False
        if ((service.attrs.get("UpdateStatus") or {}).get("State") or "completed") not in ("completed", "rollback_completed"):
            return False
        running = 0
        for task in service.tasks(filters={"desired-state": "running"}):
            spec = (task.get("Spec") or {}).get("ContainerSpec") or {}
            if (task.get("Status") or {}).get("State") != "running":
                return False
            if spec.get("Image") != desired["image"] or sorted(s.get("SecretName") for s in spec.get("Secrets") or []) != wanted_secrets:
                return False
            if rd.env_list_to_dict(spec.get("Env")) != desired["env"]:
                return False
            running += 1
        return running == desired["replicas"]

    if desired["replicas"] == 0 or not url:
        deadline = time.monotonic() + timeout
        while not converged():
            if time.monotonic() >= deadline:
                raise dc.DeployError(f"service {name} did not converge to {desired['replicas']} running tasks within {timeout}s; "
                                     f"tasks: {_task_report(client, name)}")
            time.sleep(0.5)
        return
    try:
        dc.wait_v2(url, timeout, until=converged)
    except dc.DeployError as exc:
        raise dc.DeployError(f"service {name} did not converge: {exc}; tasks: {_task_report(client, name)}", **exc.result) from None


def _task_report(client: Any, name: str) -> str:
    """The service's current tasks as `state (error)`, e.g. `running`, `rejected (No such image: ...)`, for an error message."""
    service = _find_service(client, name)
    if service is None:
        return "the service is gone"
    try:
        tasks = service.tasks(filters={"desired-state": "running"}) or service.tasks()
    except dc.APIError as exc:
        return f"cannot list them ({exc.explanation or exc})"
    states = []
    for task in tasks[:5]:
        status = task.get("Status") or {}
        err = status.get("Err") or ""
        states.append(f"{status.get('State') or 'unknown'}" + (f" ({err})" if err else ""))
    return ", ".join(states) or "none scheduled (is a node labelled for the placement constraints?)"


def _failure_after_changes(exc: dc.DeployError, *, name: str, p: Dict[str, Any], result: Dict[str, Any], created_secrets: List[str],
                           service_created: bool, service_updated: bool, url: str) -> dc.DeployError:
    """The DeployError of a failure while applying or waiting: the real error, what this run created or updated (then
    changed: true, as the engine did change), and the likely fix."""
    created = {"service": name if service_created else None, "secrets": list(created_secrets)}
    made = []
    if service_created:
        made.append(f"service {name}")
    elif service_updated:
        made.append(f"an update of service {name}")
    if created_secrets:
        made.append("secrets " + ", ".join(created_secrets))
    msg = str(exc)
    if made:
        msg += (f". This run created {' and '.join(made)}, left in place (a re-run with fixed settings takes them over; "
                "state: absent removes the service and its secrets)")
    last = exc.result
    nothing_listens = "last_status" in last and last.get("last_status") is None
    if p["publish_mode"] == "ingress" and nothing_listens:
        msg += (f". Nothing answered on port {p['published_port']} published in ingress mode: the ingress routing mesh does not work on "
                "every host (inside containers, on some CI machines and hardened kernels); publish on the node itself with "
                "publish_mode: host (role registry_swarm: registry_swarm_publish_mode: host)")
    return dc.DeployError(msg, changed=bool(made), actions=result["actions"], created=created, secrets=result["secrets"], url=url,
                          service={"name": name} if (service_created or service_updated) else {},
                          last_status=last.get("last_status"), last_error=last.get("last_error"))


def _apply_service(client: Any, service: Optional[Any], name: str, desired: Dict[str, Any], secret_ids: Dict[str, str]) -> str:
    """Create the service, or update it in place, from the desired settings; returns its id."""
    from docker.types import (ContainerSpec, EndpointSpec, Healthcheck, Mount, Placement, RollbackConfig, SecretReference, ServiceMode, TaskTemplate,
                              UpdateConfig)

    mounts = [Mount(m["target"], m["source"], type="bind", read_only=m["read_only"]) for m in desired["mounts"]]
    private = (KEY_FILE, rd.CONFIG_TARGET_V2, rd.CONFIG_TARGET_V3, FRONT_CONFIG_TARGET)
    secrets = [SecretReference(secret_ids[s], s, filename=f, mode=0o400 if f in private else 0o444) for s, f in desired["secrets"]]
    check = desired.get("healthcheck")
    healthcheck = Healthcheck(test=check["test"], interval=check["interval"], timeout=check["timeout"], retries=check["retries"],
                              start_period=check["start_period"]) if check else None
    container = ContainerSpec(desired["image"], env=[f"{k}={v}" for k, v in desired["env"].items()], mounts=mounts, secrets=secrets,
                              healthcheck=healthcheck)
    task = TaskTemplate(container, placement=Placement(constraints=desired["constraints"]), networks=list(desired["networks"]))
    endpoint = EndpointSpec(mode=desired["endpoint_mode"], ports={p[0]: (p[1], "tcp", p[2]) for p in desired["ports"]})
    order = desired["update"]["order"]
    # a failed update rolls back, in the same order, so an image or config change never leaves the service without a replica;
    # tasks are replaced UPDATE_DELAY_NS apart, so a front's DNS cache never holds only replaced tasks
    update = UpdateConfig(parallelism=1, delay=UPDATE_DELAY_NS, order=order, failure_action="rollback", monitor=5_000_000_000)
    rollback = RollbackConfig(parallelism=1, delay=UPDATE_DELAY_NS, order=order, failure_action="pause", monitor=5_000_000_000)
    settings = dict(name=name, labels=desired["labels"], mode=ServiceMode("replicated", replicas=desired["replicas"]), endpoint_spec=endpoint,
                    update_config=update, rollback_config=rollback)
    try:
        if service is None:
            return client.api.create_service(task, **settings)["ID"]
        client.api.update_service(service.id, service.version, task_template=task, **settings)
        return service.id
    except dc.APIError as exc:
        raise dc.DeployError(f"cannot {'create' if service is None else 'update'} service {name}: {exc.explanation or exc}") from None


def _remove_all(objects: List[Any], timeout: float) -> List[str]:
    """Remove secrets or networks, retrying while tasks that are shutting down still hold them; the names of those still
    in use after `timeout` seconds (they stay)."""
    deadline = time.monotonic() + timeout
    pending = list(objects)
    while pending:
        still = []
        for obj in pending:
            try:
                obj.remove()
            except dc.APIError as exc:
                if not isinstance(exc, dc.NotFound):
                    still.append(obj)
        pending = still
        if not pending or time.monotonic() >= deadline:
            return [s.name for s in pending]
        time.sleep(0.5)
    return []
