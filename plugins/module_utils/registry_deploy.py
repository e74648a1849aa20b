# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired state of the registry container / swarm service, read back from the engine, and what differs.

The comparison is pure functions over plain dicts (module parameters, `docker inspect` data); deploy_container and
deploy_service plan from it (deploy_plan) and apply the plan through the docker SDK.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.airgap.registry.plugins.module_utils import docker_common as dc
from ansible_collections.airgap.registry.plugins.module_utils.config_yaml import dump_config
from ansible_collections.airgap.registry.plugins.module_utils.deploy_names import is_secret_name

LABEL_PREFIX = "airgap.registry."
STORAGE_TARGET = "/var/lib/registry"
CERT_TARGET = "/certs/tls.crt"
KEY_TARGET = "/certs/tls.key"
HTPASSWD_TARGET = "/auth/htpasswd"
SECRET_DIR = "/run/secrets/"
CONFIG_TARGET_V2 = "/etc/docker/registry/config.yml"
CONFIG_TARGET_V3 = "/etc/distribution/config.yml"
DEFAULT_CONTAINER_PORT = 5000
COMPARED_KEYS = ("image", "env", "mounts", "ports", "restart_policy", "labels", "secrets", "replicas", "constraints", "update", "networks",
                 "endpoint_mode", "healthcheck")


def registry_major(image: str, image_labels: Optional[Dict[str, str]] = None) -> int:
    """Major version of the Distribution image: the OCI version label when set, else the tag; 2 when unknown."""
    version = (image_labels or {}).get("org.opencontainers.image.version") or ""
    if not version:
        name = image.split("@", 1)[0]
        last = name.rsplit("/", 1)[-1]
        version = last.split(":", 1)[1] if ":" in last else ""
    match = re.match(r"v?(\d+)", version)
    return int(match.group(1)) if match else 2


def config_target(image: str, image_labels: Optional[Dict[str, str]] = None) -> str:
    """Where the image reads its config.yml: /etc/distribution for Distribution 3.x, /etc/docker/registry before."""
    return CONFIG_TARGET_V3 if registry_major(image, image_labels) >= 3 else CONFIG_TARGET_V2


def render_config(config: Dict[str, Any]) -> bytes:
    """config.yml text for a config dict: block YAML as people write and edit it, keys sorted so it hashes stably."""
    return dump_config(config).encode("utf-8")


def container_port(env: Optional[Dict[str, str]] = None, config: Optional[Dict[str, Any]] = None) -> int:
    """The port the registry listens on inside the container (REGISTRY_HTTP_ADDR, config http.addr, or 5000)."""
    addr = (env or {}).get("REGISTRY_HTTP_ADDR") or ((config or {}).get("http") or {}).get("addr") or ""
    match = re.search(r":(\d+)$", str(addr))
    return int(match.group(1)) if match else DEFAULT_CONTAINER_PORT


def registry_env(env: Optional[Dict[str, Any]] = None, *, tls: bool = False, htpasswd: bool = False, htpasswd_realm: str = "Registry Realm",
                 cert_target: str = CERT_TARGET, key_target: str = KEY_TARGET, htpasswd_target: str = HTPASSWD_TARGET) -> Dict[str, str]:
    """The REGISTRY_* environment for the asked TLS and htpasswd settings, merged over the user's `env`."""
    out = {}
    for key, value in (env or {}).items():
        out[str(key)] = "" if value is None else str(value)
    if tls:
        out["REGISTRY_HTTP_TLS_CERTIFICATE"] = cert_target
        out["REGISTRY_HTTP_TLS_KEY"] = key_target
    if htpasswd:
        out["REGISTRY_AUTH"] = "htpasswd"
        out["REGISTRY_AUTH_HTPASSWD_REALM"] = htpasswd_realm
        out["REGISTRY_AUTH_HTPASSWD_PATH"] = htpasswd_target
    return out


def env_without_image_defaults(env: Dict[str, str], image_env: Dict[str, str]) -> Dict[str, str]:
    """Drop entries that only repeat the image's own environment, so asked and running env compare equal."""
    return {k: v for k, v in env.items() if image_env.get(k) != v}


def env_list_to_dict(items: Optional[List[str]]) -> Dict[str, str]:
    """`KEY=value` strings (a container's Env) as a dict."""
    out = {}
    for item in items or []:
        key, _sep, value = item.partition("=")
        out[key] = value
    return out


def bind(source: str, target: str, read_only: bool = False) -> Dict[str, Any]:
    return {"source": source, "target": target, "read_only": bool(read_only)}


def container_mounts(storage_path: Optional[str] = None, *, tls_cert: Optional[str] = None, tls_key: Optional[str] = None,
                     htpasswd_path: Optional[str] = None, config_path: Optional[str] = None,
                     config_file_target: Optional[str] = None) -> List[Dict[str, Any]]:
    """Bind mounts for the container, sorted by target."""
    mounts = []
    if storage_path:
        mounts.append(bind(storage_path, STORAGE_TARGET))
    if tls_cert:
        mounts.append(bind(tls_cert, CERT_TARGET, True))
        mounts.append(bind(tls_key, KEY_TARGET, True))
    if htpasswd_path:
        mounts.append(bind(htpasswd_path, HTPASSWD_TARGET, True))
    if config_path:
        mounts.append(bind(config_path, config_file_target, True))
    return sorted(mounts, key=lambda m: m["target"])


def hash_labels(hashes: Dict[str, Optional[str]]) -> Dict[str, str]:
    """Content-hash labels (config, tls-cert, tls-key, htpasswd -> sha256) so changed files recreate the container."""
    return {LABEL_PREFIX + name + "-sha256": digest for name, digest in sorted(hashes.items()) if digest}


def own_labels(labels: Optional[Dict[str, str]]) -> Dict[str, str]:
    return {k: v for k, v in (labels or {}).items() if k.startswith(LABEL_PREFIX)}


def desired_container(image_id: str, env: Dict[str, str], mounts: List[Dict[str, Any]], *, port: int, bind_address: str, published_port: int,
                      restart_policy: str, labels: Dict[str, str]) -> Dict[str, Any]:
    """The compared settings of the container that was asked for."""
    return {
        "image": image_id,
        "env": dict(sorted(env.items())),
        "mounts": mounts,
        "ports": {f"{port}/tcp": [bind_address, int(published_port)]},
        "restart_policy": restart_policy,
        "labels": dict(sorted(labels.items())),
    }


def current_container(attrs: Dict[str, Any], image_env: Dict[str, str]) -> Dict[str, Any]:
    """The compared settings of a running container, from `docker inspect` data."""
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    mounts = [bind(m.get("Source"), m.get("Target"), m.get("ReadOnly")) for m in host.get("Mounts") or []]
    ports = {}
    for port, bindings in sorted((host.get("PortBindings") or {}).items()):
        for binding in bindings or []:
            ports[port] = [binding.get("HostIp") or "0.0.0.0", int(binding.get("HostPort") or 0)]
    env = env_without_image_defaults(env_list_to_dict(config.get("Env")), image_env)
    return {
        "image": attrs.get("Image"),
        "env": dict(sorted(env.items())),
        "mounts": sorted(mounts, key=lambda m: m["target"]),
        "ports": ports,
        "restart_policy": (host.get("RestartPolicy") or {}).get("Name") or "no",
        "labels": dict(sorted(own_labels(config.get("Labels")).items())),
    }


def masked(settings: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """`settings` for a diff: env values whose names look secret (REGISTRY_HTTP_SECRET, S3 keys, ...) shown as ********."""
    if not settings or not isinstance(settings.get("env"), dict):
        return settings
    return dict(settings, env={k: "********" if is_secret_name(k) else v for k, v in settings["env"].items()})


def differences(desired: Dict[str, Any], current: Optional[Dict[str, Any]]) -> List[str]:
    """Names of the compared settings that differ (all of them when nothing runs)."""
    if current is None:
        return [key for key in COMPARED_KEYS if key in desired]
    return [key for key in COMPARED_KEYS if key in desired and desired.get(key) != current.get(key)]


def secret_name(service: str, kind: str, data: bytes) -> str:
    """Content-versioned secret name: <service>-<kind>-<sha256[:12]> (secrets are immutable)."""
    return f"{service}-{kind}-{hashlib.sha256(data).hexdigest()[:12]}"


def desired_service(image: str, env: Dict[str, str], mounts: List[Dict[str, Any]], secrets: List[Tuple[str, str]], *, published_port: int,
                    target_port: int, publish_mode: str, replicas: int, constraints: List[str], labels: Dict[str, str]) -> Dict[str, Any]:
    """The compared settings of the swarm service that was asked for. `secrets` is [(secret name, file name)]."""
    return {
        "image": image,
        "env": dict(sorted(env.items())),
        "mounts": sorted(mounts, key=lambda m: m["target"]),
        "secrets": sorted([list(s) for s in secrets]),
        "ports": [] if publish_mode == "none" else [[int(published_port), int(target_port), publish_mode]],
        "replicas": int(replicas),
        "constraints": sorted(constraints),
        "labels": dict(sorted(labels.items())),
    }


def current_service(spec: Dict[str, Any]) -> Dict[str, Any]:
    """The compared settings of a swarm service, from its Spec."""
    task = spec.get("TaskTemplate") or {}
    container = task.get("ContainerSpec") or {}
    endpoint = spec.get("EndpointSpec") or {}
    mode = spec.get("Mode") or {}
    replicated = mode.get("Replicated")
    return {
        "image": container.get("Image"),
        "env": dict(sorted(env_list_to_dict(container.get("Env")).items())),
        "mounts": sorted([bind(m.get("Source"), m.get("Target"), m.get("ReadOnly")) for m in container.get("Mounts") or []], key=lambda m: m["target"]),
        "secrets": sorted([[s.get("SecretName"), (s.get("File") or {}).get("Name")] for s in container.get("Secrets") or []]),
        "ports": [[int(p.get("PublishedPort") or 0), int(p.get("TargetPort") or 0), p.get("PublishMode") or "ingress"] for p in endpoint.get("Ports") or []],
        "replicas": int(replicated.get("Replicas", 1)) if replicated is not None else 0,
        "constraints": sorted((task.get("Placement") or {}).get("Constraints") or []),
        "labels": dict(sorted(own_labels(spec.get("Labels")).items())),
        "update": {"order": (spec.get("UpdateConfig") or {}).get("Order") or "stop-first",
                   "failure_action": (spec.get("UpdateConfig") or {}).get("FailureAction") or "pause"},
        "networks": sorted(n.get("Target") for n in task.get("Networks") or spec.get("Networks") or []),
        "endpoint_mode": endpoint.get("Mode") or "vip",
        "healthcheck": current_healthcheck(container.get("Healthcheck")),
    }


def current_healthcheck(check: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """A ContainerSpec.Healthcheck as {test, interval, timeout, start_period (ns), retries}, or None when it sets none."""
    if not check:
        return None
    return {"test": list(check.get("Test") or []), "interval": int(check.get("Interval") or 0), "timeout": int(check.get("Timeout") or 0),
            "retries": int(check.get("Retries") or 0), "start_period": int(check.get("StartPeriod") or 0)}


def missing_labels(current: Optional[Dict[str, str]], wanted: Dict[str, str]) -> Dict[str, str]:
    """The labels of `wanted` that `current` lacks or holds with another value."""
    return {k: v for k, v in wanted.items() if (current or {}).get(k) != v}


def swarm_status(client: Any, may_init: bool) -> Tuple[bool, Optional[str]]:
    """(whether the swarm must be initialised, the local node id or None) of this engine; reads only.

    A worker, or an engine outside a swarm when `init_swarm` is off, is a DeployError.
    """
    swarm = client.info().get("Swarm") or {}
    if swarm.get("LocalNodeState") == "active":
        if not swarm.get("ControlAvailable"):
            raise dc.DeployError("this Docker engine is a swarm worker, not a manager: run the task on a manager node")
        return False, swarm.get("NodeID")
    if not may_init:
        raise dc.DeployError(f"this Docker engine is not part of an active swarm (state: {swarm.get('LocalNodeState') or 'inactive'}); "
                             "set init_swarm: true to initialise a single-node swarm")
    return True, None


def init_swarm(client: Any, advertise_addr: Optional[str]) -> str:
    """Initialise a single-node swarm; returns the local node id."""
    try:
        client.swarm.init(advertise_addr=advertise_addr)
    except dc.APIError as exc:
        raise dc.DeployError(f"cannot initialise the swarm (advertise_addr {advertise_addr}): {exc.explanation or exc}") from None
    return client.info()["Swarm"]["NodeID"]


def ensure_swarm(client: Any, init: bool, advertise_addr: Optional[str], check_mode: bool) -> Tuple[bool, Optional[str]]:
    """Make sure this engine is an active swarm manager; returns (changed, local node id)."""
    needs_init, node_id = swarm_status(client, init)
    if not needs_init or check_mode:
        return needs_init, node_id
    return True, init_swarm(client, advertise_addr)


def ensure_node_labels(client: Any, node_id: str, labels: Dict[str, str], check_mode: bool) -> Dict[str, str]:
    """Add `labels` to the node; returns the labels that were missing."""
    try:
        node = client.nodes.get(node_id)
    except dc.NotFound:
        raise dc.DeployError(f"swarm node {node_id} not found") from None
    spec = node.attrs["Spec"]
    missing = missing_labels(spec.get("Labels"), labels)
    if missing and not check_mode:
        spec["Labels"] = dict(spec.get("Labels") or {}, **missing)
        node.update(spec)
    return missing
