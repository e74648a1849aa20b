# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired state of the registry container / swarm service, read back from the engine, and what differs.

Pure functions over plain dicts: the modules feed them module parameters and `docker inspect` data.
"""
from __future__ import annotations

import hashlib
import json
import os
import re

LABEL_PREFIX = "airgap.registry."
STORAGE_TARGET = "/var/lib/registry"
CERT_TARGET = "/certs/tls.crt"
KEY_TARGET = "/certs/tls.key"
HTPASSWD_TARGET = "/auth/htpasswd"
SECRET_DIR = "/run/secrets/"
CONFIG_TARGET_V2 = "/etc/docker/registry/config.yml"
CONFIG_TARGET_V3 = "/etc/distribution/config.yml"
DEFAULT_CONTAINER_PORT = 5000
COMPARED_KEYS = ("image", "env", "mounts", "ports", "restart_policy", "labels", "secrets", "replicas", "constraints")


def registry_major(image, image_labels=None):
    """Major version of the Distribution image: the OCI version label when set, else the tag; 2 when unknown."""
    version = (image_labels or {}).get("org.opencontainers.image.version") or ""
    if not version:
        name = image.split("@", 1)[0]
        last = name.rsplit("/", 1)[-1]
        version = last.split(":", 1)[1] if ":" in last else ""
    match = re.match(r"v?(\d+)", version)
    return int(match.group(1)) if match else 2


def config_target(image, image_labels=None):
    """Where the image reads its config.yml: /etc/distribution for Distribution 3.x, /etc/docker/registry before."""
    return CONFIG_TARGET_V3 if registry_major(image, image_labels) >= 3 else CONFIG_TARGET_V2


def render_config(config):
    """config.yml text for a config dict: JSON, which every YAML parser reads, with sorted keys so it hashes stably."""
    return (json.dumps(config, indent=2, sort_keys=True) + "\n").encode("utf-8")


def container_port(env=None, config=None):
    """The port the registry listens on inside the container (REGISTRY_HTTP_ADDR, config http.addr, or 5000)."""
    addr = (env or {}).get("REGISTRY_HTTP_ADDR") or ((config or {}).get("http") or {}).get("addr") or ""
    match = re.search(r":(\d+)$", str(addr))
    return int(match.group(1)) if match else DEFAULT_CONTAINER_PORT


def registry_env(env=None, *, tls=False, htpasswd=False, htpasswd_realm="Registry Realm", cert_target=CERT_TARGET, key_target=KEY_TARGET):
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
        out["REGISTRY_AUTH_HTPASSWD_PATH"] = HTPASSWD_TARGET
    return out


def env_without_image_defaults(env, image_env):
    """Drop entries that only repeat the image's own environment, so asked and running env compare equal."""
    return {k: v for k, v in env.items() if image_env.get(k) != v}


def env_list_to_dict(items):
    out = {}
    for item in items or []:
        key, _sep, value = item.partition("=")
        out[key] = value
    return out


def bind(source, target, read_only=False):
    return {"source": source, "target": target, "read_only": bool(read_only)}


def container_mounts(storage_path=None, *, tls_cert=None, tls_key=None, htpasswd_path=None, config_path=None, config_file_target=None):
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


def hash_labels(hashes):
    """Content-hash labels (config, tls-cert, tls-key, htpasswd -> sha256) so changed files recreate the container."""
    return {LABEL_PREFIX + name + "-sha256": digest for name, digest in sorted(hashes.items()) if digest}


def own_labels(labels):
    return {k: v for k, v in (labels or {}).items() if k.startswith(LABEL_PREFIX)}


def desired_container(image_id, env, mounts, *, port, bind_address, published_port, restart_policy, labels):
    """The compared settings of the container that was asked for."""
    return {
        "image": image_id,
        "env": dict(sorted(env.items())),
        "mounts": mounts,
        "ports": {f"{port}/tcp": [bind_address, int(published_port)]},
        "restart_policy": restart_policy,
        "labels": dict(sorted(labels.items())),
    }


def current_container(attrs, image_env):
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


def differences(desired, current):
    """Names of the compared settings that differ (all of them when nothing runs)."""
    if current is None:
        return [key for key in COMPARED_KEYS if key in desired]
    return [key for key in COMPARED_KEYS if key in desired and desired.get(key) != current.get(key)]


def secret_name(service, kind, data):
    """Content-versioned secret name: <service>-<kind>-<sha256[:12]> (secrets are immutable)."""
    return f"{service}-{kind}-{hashlib.sha256(data).hexdigest()[:12]}"


def desired_service(image, env, mounts, secrets, *, published_port, target_port, publish_mode, replicas, constraints, labels):
    """The compared settings of the swarm service that was asked for. `secrets` is [(secret name, file name)]."""
    return {
        "image": image,
        "env": dict(sorted(env.items())),
        "mounts": sorted(mounts, key=lambda m: m["target"]),
        "secrets": sorted([list(s) for s in secrets]),
        "ports": [[int(published_port), int(target_port), publish_mode]],
        "replicas": int(replicas),
        "constraints": sorted(constraints),
        "labels": dict(sorted(labels.items())),
    }


def current_service(spec):
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
    }


def missing_labels(current, wanted):
    """The labels of `wanted` that `current` lacks or holds with another value."""
    return {k: v for k, v in wanted.items() if (current or {}).get(k) != v}


def _running(container):
    return (container.attrs.get("State") or {}).get("Running", False)


def _container_info(container, url):
    ports = (container.attrs.get("HostConfig") or {}).get("PortBindings") or {}
    return {"id": container.id, "name": container.name, "image": (container.attrs.get("Config") or {}).get("Image"), "ports": ports}, url


def _logs_tail(container):
    try:
        return container.logs(tail=20).decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001 - logs are a courtesy in an error message
        return ""


def deploy_container(client, p, check_mode):
    """Bring the registry container named p['name'] to p['state']; return the module result (without failing)."""
    from ansible_collections.airgap.registry.plugins.module_utils import docker_common as dc

    name = p["name"]
    try:
        container = client.containers.get(name)
    except dc.NotFound:
        container = None
    result = {"changed": False, "actions": [], "container": {}, "url": ""}

    if p["state"] == "absent":
        if container is not None:
            before = current_container(container.attrs, {})
            if not check_mode:
                container.remove(force=True)
            result.update(changed=True, actions=["removed"], diff={"before": dict(before, state="running" if _running(container) else "stopped"),
                                                                   "after": {"state": "absent"}})
        else:
            result["diff"] = {"before": {"state": "absent"}, "after": {"state": "absent"}}
        return result

    tls = bool(p.get("tls_cert"))
    hashes = {}
    if tls:
        hashes["tls-cert"] = dc.sha256_hex(dc.read_file(p["tls_cert"], "TLS certificate"))
        hashes["tls-key"] = dc.sha256_hex(dc.read_file(p["tls_key"], "TLS key"))
    if p.get("htpasswd_path"):
        hashes["htpasswd"] = dc.sha256_hex(dc.read_file(p["htpasswd_path"], "htpasswd file"))
    image, pulled = dc.ensure_image(client, p["image"], p["pull"], check_mode)
    if pulled:
        result["actions"].append("pulled")
        result["changed"] = True
    image_labels = (image.labels or {}) if image is not None else {}
    image_env = env_list_to_dict(((image.attrs.get("Config") or {}).get("Env")) if image is not None else [])

    config_bytes = None
    config_path = None
    if p.get("config") is not None:
        config_bytes = render_config(p["config"])
        config_path = os.path.abspath(p["config_path"])
        hashes["config"] = dc.sha256_hex(config_bytes)
    storage_path = os.path.abspath(p["storage_path"]) if p.get("storage_path") else None
    env = registry_env(p.get("env"), tls=tls, htpasswd=bool(p.get("htpasswd_path")), htpasswd_realm=p["htpasswd_realm"])
    mounts = container_mounts(storage_path, tls_cert=p.get("tls_cert") and os.path.abspath(p["tls_cert"]),
                              tls_key=p.get("tls_key") and os.path.abspath(p["tls_key"]),
                              htpasswd_path=p.get("htpasswd_path") and os.path.abspath(p["htpasswd_path"]), config_path=config_path,
                              config_file_target=config_target(p["image"], image_labels))
    port = container_port(env, p.get("config"))
    desired = desired_container(image.id if image is not None else p["image"], env_without_image_defaults(env, image_env), mounts, port=port,
                                bind_address=p["bind_address"], published_port=p["published_port"], restart_policy=p["restart_policy"],
                                labels=hash_labels(hashes))
    current = current_container(container.attrs, image_env) if container is not None else None
    diffs = differences(desired, current)
    running = container is not None and _running(container)
    want_running = p["state"] in ("started", "restarted")
    result["diff"] = {"before": dict(current or {}, state=("running" if running else "stopped") if container is not None else "absent"),
                      "after": dict(desired, state="running" if want_running else "stopped")}
    result["differences"] = diffs
    scheme = "https" if tls or env.get("REGISTRY_HTTP_TLS_CERTIFICATE") or ((p.get("config") or {}).get("http") or {}).get("tls") else "http"
    url = f"{scheme}://{dc.probe_host(p['bind_address'])}:{p['published_port']}"
    result["url"] = url

    if storage_path and not os.path.isdir(storage_path):
        result["actions"].append("storage created")
        if not check_mode:
            os.makedirs(storage_path, mode=0o755)
    config_written = False
    if config_bytes is not None:
        try:
            with open(config_path, "rb") as fh:
                on_disk = fh.read()
        except OSError:
            on_disk = None
        if on_disk != config_bytes:
            config_written = True
            result["actions"].append("config written")
            if not check_mode:
                parent = os.path.dirname(config_path)
                if not os.path.isdir(parent):
                    os.makedirs(parent, mode=0o755)
                dc.write_atomic(config_path, config_bytes)

    recreate = bool(diffs)
    if recreate:
        result["actions"].append("recreated" if container is not None else "created")
    if want_running and (recreate or not running):
        result["actions"].append("started")
    elif p["state"] == "restarted" or (want_running and config_written):
        result["actions"].append("restarted")
    elif p["state"] == "stopped" and running and not recreate:
        result["actions"].append("stopped")
    result["changed"] = bool(result["actions"])
    if check_mode:
        if container is not None:
            result["container"], result["url"] = _container_info(container, url)
        return result

    created = False
    if recreate:
        if container is not None:
            container.remove(force=True)
        container = _create_container(client, dc, p, desired, env=env, port=port)
        created = True
    try:
        if "started" in result["actions"]:
            try:
                container.start()
            except dc.APIError as exc:
                raise dc.DeployError(f"cannot start container {name} (port {p['bind_address']}:{p['published_port']}): {exc.explanation or exc}") from None
        elif "restarted" in result["actions"]:
            container.restart()
        elif "stopped" in result["actions"]:
            container.stop()
        if want_running:
            try:
                dc.wait_v2(url, p["wait_timeout"])
            except dc.DeployError as exc:
                raise dc.DeployError(f"{exc}; container logs:\n{_logs_tail(container)}") from None
    except dc.DeployError:
        if created:
            container.remove(force=True)
        raise
    container.reload()
    result["container"], result["url"] = _container_info(container, url)
    return result


def _create_container(client, dc, p, desired, *, env, port):
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
