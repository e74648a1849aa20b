# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired state of the registry container / swarm service, read back from the engine, and what differs.

The comparison is pure functions over plain dicts (module parameters, `docker inspect` data); `deploy_container` and
`deploy_service` apply the difference through the docker SDK.
"""
from __future__ import annotations

import hashlib
import os
import re
import time

from ansible_collections.airgap.registry.plugins.module_utils import docker_common as dc
from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_bytes_atomically
from ansible_collections.airgap.registry.plugins.module_utils.config_yaml import dump_config

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
    """config.yml text for a config dict: block YAML as people write and edit it, keys sorted so it hashes stably."""
    return dump_config(config).encode("utf-8")


def container_port(env=None, config=None):
    """The port the registry listens on inside the container (REGISTRY_HTTP_ADDR, config http.addr, or 5000)."""
    addr = (env or {}).get("REGISTRY_HTTP_ADDR") or ((config or {}).get("http") or {}).get("addr") or ""
    match = re.search(r":(\d+)$", str(addr))
    return int(match.group(1)) if match else DEFAULT_CONTAINER_PORT


def registry_env(env=None, *, tls=False, htpasswd=False, htpasswd_realm="Registry Realm", cert_target=CERT_TARGET, key_target=KEY_TARGET,
                 htpasswd_target=HTPASSWD_TARGET):
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


NOT_SECRET_SUFFIXES = ("_PATH", "_REALM")  # REGISTRY_AUTH_HTPASSWD_PATH names a file; its realm is shown to every client
SECRET_ENV = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|ACCESSKEY|ACCOUNTKEY|SECRETKEY", re.IGNORECASE)


def masked(settings):
    """`settings` for a diff: env values whose names look secret (REGISTRY_HTTP_SECRET, S3 keys, ...) shown as ********."""
    if not settings or not isinstance(settings.get("env"), dict):
        return settings
    return dict(settings, env={k: "********" if SECRET_ENV.search(k) and not k.endswith(NOT_SECRET_SUFFIXES) else v
                               for k, v in settings["env"].items()})


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

    def file_hash(path, what):
        if check_mode and not os.path.exists(path):
            return "not written yet"  # check mode: the task that writes it did not run either
        return dc.sha256_hex(dc.read_file(path, what))

    tls = bool(p.get("tls_cert"))
    hashes = {}
    if tls:
        hashes["tls-cert"] = file_hash(p["tls_cert"], "TLS certificate")
        hashes["tls-key"] = file_hash(p["tls_key"], "TLS key")
    if p.get("htpasswd_path"):
        hashes["htpasswd"] = file_hash(p["htpasswd_path"], "htpasswd file")
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
    result["diff"] = {"before": masked(dict(current or {}, state=("running" if running else "stopped") if container is not None else "absent")),
                      "after": masked(dict(desired, state="running" if want_running else "stopped"))}
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
                write_bytes_atomically(config_path, config_bytes, mode=0o640)  # it may hold http.secret or storage keys

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
        container = _create_container(client, p, desired, env=env, port=port)
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


def _create_container(client, p, desired, *, env, port):
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


SERVICE_LABEL = LABEL_PREFIX + "service"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
HTPASSWD_FILE = "htpasswd"


def _find_service(client, name):
    for service in client.services.list(filters={"name": name}):
        if service.name == name:
            return service
    return None


def _service_secrets(client, name):
    """The versioned secrets this module made for service `name`, {secret name: secret}."""
    return {s.name: s for s in client.secrets.list(filters={"label": f"{SERVICE_LABEL}={name}"})}


def ensure_swarm(client, init_swarm, advertise_addr, check_mode):
    """Make sure this engine is an active swarm manager; returns (changed, local node id)."""
    swarm = client.info().get("Swarm") or {}
    if swarm.get("LocalNodeState") == "active":
        if not swarm.get("ControlAvailable"):
            raise dc.DeployError("this Docker engine is a swarm worker, not a manager: run the task on a manager node")
        return False, swarm.get("NodeID")
    if not init_swarm:
        raise dc.DeployError(f"this Docker engine is not part of an active swarm (state: {swarm.get('LocalNodeState') or 'inactive'}); "
                             "set init_swarm: true to initialise a single-node swarm")
    if check_mode:
        return True, None
    try:
        client.swarm.init(advertise_addr=advertise_addr)
    except dc.APIError as exc:
        raise dc.DeployError(f"cannot initialise the swarm (advertise_addr {advertise_addr}): {exc.explanation or exc}") from None
    return True, client.info()["Swarm"]["NodeID"]


def ensure_node_labels(client, node_id, labels, check_mode):
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


def _wait_converged(client, name, desired, url, timeout):
    """Wait until `replicas` tasks of the service run with the desired image and secrets and /v2/ answers."""
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
            running += 1
        return running == desired["replicas"]

    if desired["replicas"] == 0:
        deadline = time.monotonic() + timeout
        while not converged():
            if time.monotonic() >= deadline:
                raise dc.DeployError(f"service {name} did not scale to 0 within {timeout}s")
            time.sleep(0.5)
        return
    try:
        dc.wait_v2(url, timeout, until=converged)
    except dc.DeployError as exc:
        raise dc.DeployError(f"service {name} did not converge: {exc}; tasks: {_task_report(client, name)}", **exc.result) from None


def _task_report(client, name):
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


def _failure_after_changes(exc, *, name, p, result, created_secrets, service_created, service_updated, url):
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


def deploy_service(client, p, check_mode):
    """Bring the swarm service p['name'] (and its versioned TLS secrets) to p['state']; return the module result."""
    name = p["name"]
    result = {"changed": False, "actions": [], "service": {}, "secrets": [], "url": ""}
    swarm_changed, local_node = ensure_swarm(client, p["init_swarm"], p["advertise_addr"], check_mode)
    if swarm_changed:
        result["actions"].append("swarm initialised")
    service = _find_service(client, name) if local_node else None
    owned = _service_secrets(client, name) if local_node else {}

    if p["state"] == "absent":
        if service is not None:
            result["actions"].append("service removed")
            if not check_mode:
                service.remove()
        if owned:
            result["actions"].append("secrets removed")
            if not check_mode:
                result["secrets_in_use"] = _remove_secrets(list(owned.values()), p["wait_timeout"])
        result["changed"] = bool(result["actions"])
        result["diff"] = {"before": {"state": "present" if service is not None else "absent", "secrets": sorted(owned)},
                          "after": {"state": "absent", "secrets": []}}
        return result

    node = p.get("node") or local_node
    secrets = []
    secret_data = {}
    files = []
    if p.get("tls_cert"):
        files += [("cert", p["tls_cert"], CERT_FILE, "TLS certificate"), ("key", p["tls_key"], KEY_FILE, "TLS key")]
    if p.get("htpasswd_path"):
        files.append(("htpasswd", p["htpasswd_path"], HTPASSWD_FILE, "htpasswd file"))
    for kind, path, filename, what in files:
        if check_mode and not os.path.exists(path):
            # check mode: the task that writes the file did not run either; plan the secret without its content
            secret = f"{name}-{kind}-(not written yet)"
            secrets.append((secret, filename))
            secret_data[secret] = None
            continue
        data = dc.read_file(path, what)
        secret = secret_name(name, kind, data)
        secrets.append((secret, filename))
        secret_data[secret] = data
    if node in (None, local_node):
        dc.ensure_image(client, p["image"], "never", check_mode)
    env = registry_env(p.get("env"), tls=bool(p.get("tls_cert")), htpasswd=bool(p.get("htpasswd_path")), htpasswd_realm=p["htpasswd_realm"],
                       cert_target=SECRET_DIR + CERT_FILE, key_target=SECRET_DIR + KEY_FILE, htpasswd_target=SECRET_DIR + HTPASSWD_FILE)
    mounts = [bind(os.path.abspath(p["storage_path"]), STORAGE_TARGET)] if p.get("storage_path") else []
    desired = desired_service(p["image"], env, mounts, secrets, published_port=p["published_port"], target_port=container_port(env),
                              publish_mode=p["publish_mode"], replicas=p["replicas"], constraints=p["constraints"], labels={})
    current = current_service(service.attrs["Spec"]) if service is not None else None
    diffs = differences(desired, current)
    scheme = "https" if env.get("REGISTRY_HTTP_TLS_CERTIFICATE") else "http"
    url = f"{scheme}://127.0.0.1:{p['published_port']}"
    result.update(url=url, differences=diffs, secrets=[s[0] for s in secrets],
                  diff={"before": masked(dict(current or {}, state="present" if service is not None else "absent")),
                        "after": masked(dict(desired, state="present"))})

    if p["node_labels"]:
        missing = ensure_node_labels(client, node, p["node_labels"], check_mode) if node else dict(p["node_labels"])
        if missing:
            result["actions"].append("node labelled")
    if p.get("storage_path") and node in (None, local_node) and not os.path.isdir(mounts[0]["source"]):
        result["actions"].append("storage created")
        if not check_mode:
            os.makedirs(mounts[0]["source"], mode=0o755)
    new_secrets = [s for s, _f in secrets if s not in owned]
    if new_secrets:
        result["actions"].append("secrets created")
    if diffs:
        result["actions"].append("service updated" if service is not None else "service created")
    stale = [s for n, s in owned.items() if n not in secret_data]
    if stale:
        result["actions"].append("old secrets removed")
    result["changed"] = bool(result["actions"])
    if check_mode:
        if service is not None:
            result["service"] = {"id": service.id, "name": name}
        return result

    ids = {n: s.id for n, s in owned.items()}
    created_secrets = []
    service_id = service.id if service is not None else None
    applied = False
    try:
        for secret in new_secrets:
            try:
                ids[secret] = client.secrets.create(name=secret, data=secret_data[secret], labels={SERVICE_LABEL: name}).id
            except dc.APIError as exc:
                raise dc.DeployError(f"cannot create secret {secret}: {exc.explanation or exc}") from None
            created_secrets.append(secret)
        if diffs:
            service_id = _apply_service(client, service, name, desired, ids)
            applied = True
        if p["wait"]:
            _wait_converged(client, name, desired, url, p["wait_timeout"])
    except dc.DeployError as exc:
        done = [a for a in result["actions"] if a not in ("secrets created", "service created", "service updated", "old secrets removed")]
        result["actions"] = done + (["secrets created"] if created_secrets else []) + (
            [("service updated" if service is not None else "service created")] if applied else [])
        raise _failure_after_changes(exc, name=name, p=p, result=result, created_secrets=created_secrets,
                                     service_created=applied and service is None, service_updated=applied and service is not None,
                                     url=url) from None
    if stale:
        result["secrets_in_use"] = _remove_secrets(stale, p["wait_timeout"] if p["wait"] else 0)
    result["service"] = {"id": service_id, "name": name}
    return result


def _apply_service(client, service, name, desired, secret_ids):
    """Create the service, or update it in place, from the desired settings; returns its id."""
    from docker.types import ContainerSpec, EndpointSpec, Mount, Placement, SecretReference, ServiceMode, TaskTemplate

    mounts = [Mount(m["target"], m["source"], type="bind", read_only=m["read_only"]) for m in desired["mounts"]]
    secrets = [SecretReference(secret_ids[s], s, filename=f, mode=0o400 if f == KEY_FILE else 0o444) for s, f in desired["secrets"]]
    container = ContainerSpec(desired["image"], env=[f"{k}={v}" for k, v in desired["env"].items()], mounts=mounts, secrets=secrets)
    task = TaskTemplate(container, placement=Placement(constraints=desired["constraints"]))
    published, target, mode = desired["ports"][0]
    endpoint = EndpointSpec(ports={published: (target, "tcp", mode)})
    try:
        if service is None:
            return client.api.create_service(task, name=name, mode=ServiceMode("replicated", replicas=desired["replicas"]), endpoint_spec=endpoint,
                                             labels=desired["labels"])["ID"]
        client.api.update_service(service.id, service.version, task_template=task, name=name, labels=desired["labels"],
                                  mode=ServiceMode("replicated", replicas=desired["replicas"]), endpoint_spec=endpoint)
        return service.id
    except dc.APIError as exc:
        raise dc.DeployError(f"cannot {'create' if service is None else 'update'} service {name}: {exc.explanation or exc}") from None


def _remove_secrets(secrets, timeout):
    """Remove secrets, retrying while tasks that are shutting down still hold them; those still in use after `timeout` stay."""
    deadline = time.monotonic() + timeout
    pending = list(secrets)
    while pending:
        still = []
        for secret in pending:
            try:
                secret.remove()
            except dc.APIError as exc:
                if not isinstance(exc, dc.NotFound):
                    still.append(secret)
        pending = still
        if not pending or time.monotonic() >= deadline:
            return [s.name for s in pending]
        time.sleep(0.5)
    return []
