# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""registry_container's engine work: observe the container and files, plan the steps, then apply them.

Planning only reads (the engine's container and image, the certificate, key, htpasswd and config files). The one
thing done before the container is planned is the image pull that `pull` asks for, as the comparison needs the id of
the image the container will run; in check mode the pull is planned and the image compared by its reference.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

from ansible_collections.airgap.registry.plugins.module_utils import deploy_plan as dp
from ansible_collections.airgap.registry.plugins.module_utils import docker_common as dc
from ansible_collections.airgap.registry.plugins.module_utils import registry_deploy as rd
from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_bytes_atomically

PULL = "pull"
NOT_WRITTEN_YET = "not written yet"  # check mode: the task that writes the file did not run either


def deploy_container(client: Any, p: Dict[str, Any], check_mode: bool) -> Dict[str, Any]:
    """Bring the registry container named p['name'] to p['state']; return the module result (without failing)."""
    container = _find_container(client, p["name"])
    if p["state"] == "absent":
        plan = plan_absent(container)
    else:
        hashes = _file_hashes(p, check_mode)
        image, pulled = dc.ensure_image(client, p["image"], p["pull"], check_mode)
        plan = plan_container(p, container, image, hashes)
        if pulled:
            plan.steps.insert(0, dp.Step(PULL, "pulled"))
    result = dict(plan.report, changed=plan.changed, actions=plan.actions, container={})
    if not check_mode:
        container = _ContainerApplier(client, p, container).apply(plan)
    if container is not None and p["state"] != "absent":
        result["container"] = _container_info(container)
    return result


def _find_container(client: Any, name: str) -> Optional[Any]:
    try:
        return client.containers.get(name)
    except dc.NotFound:
        return None


def _running(container: Any) -> bool:
    return (container.attrs.get("State") or {}).get("Running", False)


def _state(container: Any) -> str:
    if container is None:
        return "absent"
    return "running" if _running(container) else "stopped"


def plan_absent(container: Optional[Any]) -> dp.Plan:
    """Remove the container when there is one."""
    plan = dp.Plan(report={"url": ""})
    if container is None:
        plan.report["diff"] = {"before": {"state": "absent"}, "after": {"state": "absent"}}
        return plan
    plan.add(dp.REMOVE, "removed")
    plan.report["diff"] = {"before": dict(rd.current_container(container.attrs, {}), state=_state(container)), "after": {"state": "absent"}}
    return plan


def _file_hashes(p: Dict[str, Any], check_mode: bool) -> Dict[str, str]:
    """sha256 of the certificate, key and htpasswd file (read here, so an unreadable one fails before any change)."""
    files = []
    if p.get("tls_cert"):
        files += [("tls-cert", p["tls_cert"], "TLS certificate"), ("tls-key", p["tls_key"], "TLS key")]
    if p.get("htpasswd_path"):
        files.append(("htpasswd", p["htpasswd_path"], "htpasswd file"))
    hashes = {}
    for label, path, what in files:
        if check_mode and not os.path.exists(path):
            hashes[label] = NOT_WRITTEN_YET
        else:
            hashes[label] = dc.sha256_hex(dc.read_file(path, what))
    return hashes


def _abspath(path: Optional[str]) -> Optional[str]:
    return os.path.abspath(path) if path else None


def desired_settings(p: Dict[str, Any], image: Optional[Any], hashes: Dict[str, str]) -> Tuple[Dict[str, Any], Dict[str, str], int]:
    """(the compared settings asked for, the full REGISTRY_* environment, the container port) from the parameters."""
    image_labels = (image.labels or {}) if image is not None else {}
    image_env = rd.env_list_to_dict((image.attrs.get("Config") or {}).get("Env") if image is not None else [])
    labels = dict(hashes)
    if p.get("config") is not None:
        labels["config"] = dc.sha256_hex(rd.render_config(p["config"]))
    env = rd.registry_env(p.get("env"), tls=bool(p.get("tls_cert")), htpasswd=bool(p.get("htpasswd_path")), htpasswd_realm=p["htpasswd_realm"])
    mounts = rd.container_mounts(_abspath(p.get("storage_path")), tls_cert=_abspath(p.get("tls_cert")), tls_key=_abspath(p.get("tls_key")),
                                 htpasswd_path=_abspath(p.get("htpasswd_path")),
                                 config_path=_abspath(p["config_path"]) if p.get("config") is not None else None,
                                 config_file_target=rd.config_target(p["image"], image_labels))
    port = rd.container_port(env, p.get("config"))
    desired = rd.desired_container(image.id if image is not None else p["image"], rd.env_without_image_defaults(env, image_env), mounts,
                                   port=port, bind_address=p["bind_address"], published_port=p["published_port"],
                                   restart_policy=p["restart_policy"], labels=rd.hash_labels(labels))
    return desired, env, port


def container_url(p: Dict[str, Any], env: Dict[str, str]) -> str:
    """The registry's base URL as probed from the managed host."""
    tls = p.get("tls_cert") or env.get("REGISTRY_HTTP_TLS_CERTIFICATE") or ((p.get("config") or {}).get("http") or {}).get("tls")
    return f"{'https' if tls else 'http'}://{dc.probe_host(p['bind_address'])}:{p['published_port']}"


def _config_differs(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read() != data
    except OSError:
        return True


def plan_container(p: Dict[str, Any], container: Optional[Any], image: Optional[Any], hashes: Dict[str, str]) -> dp.Plan:
    """The steps that bring the container to p['state'] (started, stopped or restarted), from what was observed."""
    desired, env, port = desired_settings(p, image, hashes)
    image_env = rd.env_list_to_dict((image.attrs.get("Config") or {}).get("Env") if image is not None else [])
    current = rd.current_container(container.attrs, image_env) if container is not None else None
    diffs = rd.differences(desired, current)
    running = container is not None and _running(container)
    want_running = p["state"] in ("started", "restarted")
    plan = dp.Plan(report={"url": container_url(p, env), "differences": diffs, "diff": {
        "before": rd.masked(dict(current or {}, state=_state(container))),
        "after": rd.masked(dict(desired, state="running" if want_running else "stopped"))}})
    storage = _abspath(p.get("storage_path"))
    if storage and not os.path.isdir(storage):
        plan.add(dp.CREATE_STORAGE, "storage created", target=storage)
    if p.get("config") is not None:
        config_bytes = rd.render_config(p["config"])
        if _config_differs(os.path.abspath(p["config_path"]), config_bytes):
            plan.add(dp.WRITE_CONFIG, "config written", target=os.path.abspath(p["config_path"]), data=config_bytes)
    if diffs:
        if container is not None:
            plan.add(dp.REMOVE)
        plan.add(dp.CREATE, "recreated" if container is not None else "created", spec={"desired": desired, "env": env, "port": port})
    if want_running and (diffs or not running):
        plan.add(dp.START, "started")
    elif p["state"] == "restarted" or (want_running and plan.has(dp.WRITE_CONFIG)):
        plan.add(dp.RESTART, "restarted")
    elif p["state"] == "stopped" and running and not diffs:
        plan.add(dp.STOP, "stopped")
    if want_running:
        plan.add(dp.WAIT, target=plan.report["url"])
    return plan


class _ContainerApplier:
    """Applies a container plan; a container this run created is removed again when starting or waiting fails."""

    def __init__(self, client: Any, p: Dict[str, Any], container: Optional[Any]) -> None:
        self.client, self.p, self.container, self.created = client, p, container, False

    def apply(self, plan: dp.Plan) -> Any:
        handlers = {PULL: lambda step: None, dp.CREATE_STORAGE: _create_storage, dp.WRITE_CONFIG: _write_config, dp.REMOVE: self.remove,
                    dp.CREATE: self.create, dp.START: self.start, dp.RESTART: lambda step: self.container.restart(),
                    dp.STOP: lambda step: self.container.stop(), dp.WAIT: self.wait}
        try:
            dp.apply_steps(plan.steps, handlers)
        except dc.DeployError:
            if self.created:
                self.container.remove(force=True)
            raise
        if self.container is not None:
            self.container.reload()
        return self.container

    def remove(self, step: dp.Step) -> None:
        self.container.remove(force=True)
        self.container = None

    def create(self, step: dp.Step) -> None:
        self.container = _create_container(self.client, self.p, **step.spec)
        self.created = True

    def start(self, step: dp.Step) -> None:
        try:
            self.container.start()
        except dc.APIError as exc:
            raise dc.DeployError(f"cannot start container {self.p['name']} (port {self.p['bind_address']}:{self.p['published_port']}): "
                                 f"{exc.explanation or exc}") from None

    def wait(self, step: dp.Step) -> None:
        try:
            dc.wait_v2(step.target, self.p["wait_timeout"])
        except dc.DeployError as exc:
            raise dc.DeployError(f"{exc}; container logs:\n{_logs_tail(self.container)}") from None


def _create_storage(step: dp.Step) -> None:
    os.makedirs(step.target, mode=0o755)


def _write_config(step: dp.Step) -> None:
    parent = os.path.dirname(step.target)
    if not os.path.isdir(parent):
        os.makedirs(parent, mode=0o755)
    write_bytes_atomically(step.target, step.data, mode=0o640)  # it may hold http.secret or storage keys


def _container_info(container: Any) -> Dict[str, Any]:
    ports = (container.attrs.get("HostConfig") or {}).get("PortBindings") or {}
    return {"id": container.id, "name": container.name, "image": (container.attrs.get("Config") or {}).get("Image"), "ports": ports}


def _logs_tail(container: Any) -> str:
    try:
        return container.logs(tail=20).decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001 - logs are a courtesy in an error message
        return ""


def _create_container(client: Any, p: Dict[str, Any], *, desired: Dict[str, Any], env: Dict[str, str], port: int) -> Any:
    from docker.types import Mount

    mounts = [Mount(m["target"], m["source"], type="bind", read_only=m["read_only"]) for m in desired["mounts"]]
    ports = {f"{port}/tcp": (p["bind_address"], p["published_port"])}
    restart = {"Name": p["restart_policy"]}
    if p["restart_policy"] == "on-failure":
        restart["MaximumRetryCount"] = 0
    try:
        return client.containers.create(p["image"], name=p["name"], environment=env, mounts=mounts, ports=ports, restart_policy=restart,
                                        labels=desired["labels"], detach=True)
    except dc.APIError as exc:
        raise dc.DeployError(f"cannot create container {p['name']}: {exc.explanation or exc}") from None
