"""registry_swarm_service on a real single-node swarm: TLS secrets, host-mode publish, certificate rotation, bad input."""
import os
import shutil
import subprocess

import pytest

from tests.helpers.ansible import run_module
from tests.helpers.certs import file_fingerprint, make_tls, served_fingerprint
from tests.helpers.registries import free_port, wait_http
from tests.helpers.swarm import SERVICE_LABEL, ensure_swarm, remove_service

pytestmark = [pytest.mark.docker, pytest.mark.swarm]

MODULE = "airgap.registry.registry_swarm_service"
LABEL = SERVICE_LABEL


@pytest.fixture
def swarm(docker_client):
    """An active single-node swarm (initialised when needed and left active: others use it too)."""
    ensure_swarm(docker_client)
    return docker_client


@pytest.fixture
def services(swarm):
    """Names of services to remove (with their versioned secrets) at teardown."""
    names = []
    yield names
    for name in names:
        remove_service(swarm, name)


def service_names(client, name):
    return [s.name for s in client.services.list(filters={"name": name}) if s.name == name]


def secret_names(client, name):
    return sorted(s.name for s in client.secrets.list(filters={"label": f"{LABEL}={name}"}))


def test_tls_service_host_publish_idempotent_and_cert_rotation(swarm, services, tmp_path):
    port = free_port()
    name = f"dep-svc-{port}"
    services.append(name)
    ca, cert, key = make_tls(tmp_path / "pki")
    args = {"name": name, "published_port": port, "publish_mode": "host", "tls_cert": cert, "tls_key": key,
            "storage_path": str(tmp_path / "storage"), "init_swarm": True, "advertise_addr": "127.0.0.1", "wait_timeout": 90}

    res, _ = run_module(MODULE, args, check=True, diff=True)
    assert res["changed"] and not res.get("failed"), res
    assert "service created" in res["actions"] and "secrets created" in res["actions"]
    assert res["diff"]["before"]["state"] == "absent" and res["diff"]["after"]["ports"] == [[port, 5000, "host"]]
    assert service_names(swarm, name) == [] and secret_names(swarm, name) == [], "check mode changed something"

    res, _ = run_module(MODULE, args)
    assert res["changed"] and not res.get("failed"), res
    assert res["url"] == f"https://127.0.0.1:{port}"
    first_secrets = sorted(res["secrets"])
    assert secret_names(swarm, name) == first_secrets and all(s.startswith(f"{name}-") for s in first_secrets)
    assert wait_http(f"https://127.0.0.1:{port}/v2/", cafile=ca) == 200
    assert served_fingerprint(port) == file_fingerprint(cert)
    node = swarm.nodes.get(swarm.info()["Swarm"]["NodeID"])
    assert node.attrs["Spec"]["Labels"].get("registry") == "true"
    spec = swarm.services.get(name).attrs["Spec"]
    assert spec["TaskTemplate"]["Placement"]["Constraints"] == ["node.labels.registry==true"]
    version = swarm.services.get(name).version

    res, _ = run_module(MODULE, args)
    assert res["changed"] is False and res["actions"] == [], res
    assert swarm.services.get(name).version == version, "an unchanged run updated the service"

    new_ca, new_cert, new_key = make_tls(tmp_path / "pki2", name="rotated")
    shutil.copy(new_cert, cert)
    shutil.copy(new_key, key)
    res, _ = run_module(MODULE, args, check=True, diff=True)
    assert res["changed"] and res["differences"] == ["secrets"], res
    assert res["diff"]["before"]["secrets"] != res["diff"]["after"]["secrets"]
    assert secret_names(swarm, name) == first_secrets

    res, _ = run_module(MODULE, args)
    assert res["changed"] and res["actions"] == ["secrets created", "service updated", "old secrets removed"], res
    assert res.get("secrets_in_use") == [], res
    assert served_fingerprint(port) == file_fingerprint(new_cert)
    assert wait_http(f"https://127.0.0.1:{port}/v2/", cafile=new_ca) == 200
    assert secret_names(swarm, name) == sorted(res["secrets"]) and not set(first_secrets) & set(res["secrets"]), "old secret still there"

    res, _ = run_module(MODULE, {"name": name, "state": "absent"}, check=True)
    assert res["changed"] and service_names(swarm, name) == [name]
    res, _ = run_module(MODULE, {"name": name, "state": "absent"})
    assert res["changed"] and res["actions"] == ["service removed", "secrets removed"], res
    assert service_names(swarm, name) == [] and secret_names(swarm, name) == []
    res, _ = run_module(MODULE, {"name": name, "state": "absent"})
    assert res["changed"] is False, res


def test_plain_service_env_update_and_replicas(swarm, services, tmp_path):
    port = free_port()
    name = f"dep-plain-svc-{port}"
    services.append(name)
    args = {"name": name, "published_port": port, "publish_mode": "host", "storage_path": str(tmp_path / "storage")}
    res, _ = run_module(MODULE, args)
    assert res["changed"] and not res.get("failed") and res["url"] == f"http://127.0.0.1:{port}", res
    assert os.path.isdir(tmp_path / "storage")
    res, _ = run_module(MODULE, {**args, "env": {"REGISTRY_STORAGE_DELETE_ENABLED": "true"}}, diff=True)
    assert res["changed"] and res["differences"] == ["env"] and res["actions"] == ["service updated"], res
    assert res["diff"]["after"]["env"] == {"REGISTRY_STORAGE_DELETE_ENABLED": "true"} and res["diff"]["before"]["env"] == {}
    env = swarm.services.get(name).attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert env == ["REGISTRY_STORAGE_DELETE_ENABLED=true"]
    assert wait_http(f"http://127.0.0.1:{port}/v2/") == 200

    scaled = {**args, "env": {"REGISTRY_STORAGE_DELETE_ENABLED": "true"}, "replicas": 0}
    res, _ = run_module(MODULE, scaled)
    assert res["changed"] and res["differences"] == ["replicas"], res
    assert not [t for t in swarm.services.get(name).tasks(filters={"desired-state": "running"})]
    res, _ = run_module(MODULE, scaled)
    assert res["changed"] is False, res


def test_missing_image_and_unreadable_cert_fail_clearly_leaving_nothing(swarm, services, tmp_path):
    port = free_port()
    name = f"dep-bad-svc-{port}"
    services.append(name)
    res, _ = run_module(MODULE, {"name": name, "image": "registry:9.9.9-absent", "published_port": port, "publish_mode": "host"})
    assert res.get("failed") and "registry:9.9.9-absent" in res["msg"], res
    assert service_names(swarm, name) == [] and secret_names(swarm, name) == []

    _ca, cert, _key = make_tls(tmp_path)
    missing = str(tmp_path / "missing.key")
    res, _ = run_module(MODULE, {"name": name, "published_port": port, "publish_mode": "host", "tls_cert": cert, "tls_key": missing})
    assert res.get("failed") and missing in res["msg"] and "TLS key" in res["msg"], res
    assert service_names(swarm, name) == [] and secret_names(swarm, name) == []


def basic_status(port, user, password):
    import base64
    import urllib.error
    import urllib.request

    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/", headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_htpasswd_secret_turns_on_auth_and_rolls_on_change(swarm, services, tmp_path):
    port = free_port()
    name = f"dep-auth-svc-{port}"
    services.append(name)
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(subprocess.run(["htpasswd", "-Bbn", "alice", "first-pass"], capture_output=True, text=True, check=True).stdout)
    args = {"name": name, "published_port": port, "publish_mode": "host", "htpasswd_path": str(htpasswd), "htpasswd_realm": "dep realm"}
    res, _ = run_module(MODULE, args)
    assert res["changed"] and not res.get("failed"), res
    first = res["secrets"]
    assert len(first) == 1 and first[0].startswith(f"{name}-htpasswd-")
    assert wait_http(f"http://127.0.0.1:{port}/v2/", ok=(401,)) == 401
    assert basic_status(port, "alice", "first-pass") == 200
    assert basic_status(port, "alice", "wrong") == 401

    htpasswd.write_text(subprocess.run(["htpasswd", "-Bbn", "alice", "second-pass"], capture_output=True, text=True, check=True).stdout)
    res, _ = run_module(MODULE, args)
    assert res["changed"] and res["differences"] == ["secrets"] and "old secrets removed" in res["actions"], res
    assert secret_names(swarm, name) == res["secrets"] != first
    assert basic_status(port, "alice", "second-pass") == 200
    assert basic_status(port, "alice", "first-pass") == 401
    res, _ = run_module(MODULE, args)
    assert res["changed"] is False, res
