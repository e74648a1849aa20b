"""registry_swarm_service with several replicas on shared storage: one http.secret shared through a config.yml docker
secret (an upload started on one replica continues and finishes on the others), start-first rolling updates with
rollback, idempotence, check mode and a diff that never shows the secret."""
import hashlib
import json
import urllib.request

import pytest

from tests.helpers.ansible import run_module
from tests.helpers.swarm import SERVICE_LABEL, ensure_swarm, remove_service

pytestmark = [pytest.mark.docker, pytest.mark.swarm]

MODULE = "airgap.registry.registry_swarm_service"
NAME = "dep-replicas"
HTTP_SECRET = "replica-shared-secret-value"


@pytest.fixture(scope="module")
def replicas(docker_client, tmp_path_factory):
    """Three replicas of one unpublished service on a shared storage bind mount, removed at teardown."""
    ensure_swarm(docker_client)
    remove_service(docker_client, NAME)
    args = {"name": NAME, "publish_mode": "none", "replicas": 3, "http_secret": HTTP_SECRET,
            "storage_path": str(tmp_path_factory.mktemp("replicas") / "storage"), "wait_timeout": 90}
    check, _ = run_module(MODULE, args, check=True, diff=True)
    first, _ = run_module(MODULE, args)
    yield args, check, first
    remove_service(docker_client, NAME)


def task_addresses(client):
    """Bridge addresses of the running replicas (tasks with no network and no published port sit on the default bridge)."""
    addresses = []
    for container in client.containers.list(filters={"label": f"com.docker.swarm.service.name={NAME}"}):
        networks = container.attrs["NetworkSettings"]["Networks"]
        addresses += [n["IPAddress"] for n in networks.values() if n.get("IPAddress")]
    return sorted(addresses)


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.headers


def test_three_replicas_created_idempotently_with_secret_kept_out_of_env_and_diff(docker_client, replicas):
    args, check, first = replicas
    assert check["changed"] and not check.get("failed"), check
    assert check["diff"]["after"]["update"] == {"order": "start-first", "failure_action": "rollback"}
    assert HTTP_SECRET not in json.dumps(check) and HTTP_SECRET not in json.dumps(first), "the http secret leaked into the result"
    assert first["changed"] and not first.get("failed"), first
    assert [s.split("-config-")[0] for s in first["secrets"]] == [NAME]
    spec = docker_client.services.get(NAME).attrs["Spec"]
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert not container.get("Env") and spec["Mode"]["Replicated"]["Replicas"] == 3
    assert [s["File"]["Name"] for s in container["Secrets"]] == ["/etc/docker/registry/config.yml"]
    assert spec["UpdateConfig"]["Order"] == "start-first" and spec["UpdateConfig"]["FailureAction"] == "rollback"
    assert spec["RollbackConfig"]["Order"] == "start-first"
    version = docker_client.services.get(NAME).version
    again, _ = run_module(MODULE, args)
    assert again["changed"] is False and again["actions"] == [], again
    assert docker_client.services.get(NAME).version == version
    for container in docker_client.containers.list(filters={"label": f"com.docker.swarm.service.name={NAME}"}):
        assert b"No HTTP secret provided" not in container.logs(), "a replica generated its own http.secret"


def test_upload_moves_between_replicas(docker_client, replicas):
    """POST on one replica, PATCH on the second, PUT on the third: only a shared http.secret lets the upload state pass."""
    addresses = task_addresses(docker_client)
    assert len(addresses) == 3, addresses
    a, b, c = (f"http://{ip}:5000" for ip in addresses)
    data = b"shared upload state " * 4096
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    status, headers = request("POST", f"{a}/v2/replicas/test/blobs/uploads/")
    assert status == 202
    location = headers["Location"].split("/v2/", 1)[1]
    status, headers = request("PATCH", f"{b}/v2/{location}", data, {"Content-Type": "application/octet-stream"})
    assert status == 202
    location = headers["Location"].split("/v2/", 1)[1]
    sep = "&" if "?" in location else "?"
    status, _ = request("PUT", f"{c}/v2/{location}{sep}digest={digest}", b"", {"Content-Length": "0"})
    assert status == 201
    for base in (a, b, c):
        with urllib.request.urlopen(f"{base}/v2/replicas/test/blobs/{digest}", timeout=10) as resp:
            assert hashlib.sha256(resp.read()).hexdigest() == digest.split(":")[1]


def test_rolling_update_is_start_first_and_keeps_three_replicas(docker_client, replicas):
    args = dict(replicas[0], env={"REGISTRY_LOG_LEVEL": "warn"})
    res, _ = run_module(MODULE, args, diff=True)
    assert res["changed"] and res["differences"] == ["env"] and not res.get("failed"), res
    service = docker_client.services.get(NAME)
    assert (service.attrs.get("UpdateStatus") or {}).get("State", "completed") == "completed"
    running = [t for t in service.tasks(filters={"desired-state": "running"}) if t["Status"]["State"] == "running"]
    assert len(running) == 3
    assert len(task_addresses(docker_client)) == 3


def test_changed_secret_rolls_new_config_and_removes_the_old(docker_client, replicas):
    args = dict(replicas[0], env={"REGISTRY_LOG_LEVEL": "warn"}, http_secret="rotated-" + HTTP_SECRET)
    before = sorted(s.name for s in docker_client.secrets.list(filters={"label": f"{SERVICE_LABEL}={NAME}"}))
    res, _ = run_module(MODULE, args)
    assert res["changed"] and res["differences"] == ["secrets"] and "old secrets removed" in res["actions"], res
    after = sorted(s.name for s in docker_client.secrets.list(filters={"label": f"{SERVICE_LABEL}={NAME}"}))
    assert after == res["secrets"] and not set(before) & set(after)


def test_role_runs_replicas_with_the_shared_secret(docker_client, tmp_path):
    """The registry_swarm role passes replicas, registry_http_secret (as a config secret, not env) and publish mode none."""
    from tests.helpers.ansible import run_playbook

    name = "dep-role-replicas"
    role_vars = {"registry_swarm_name": name, "registry_swarm_publish_mode": "none", "registry_swarm_replicas": 2,
                 "registry_http_secret": HTTP_SECRET, "registry_swarm_init": True, "registry_swarm_health_timeout": 90,
                 "registry_swarm_config_dir": str(tmp_path / "etc"), "registry_swarm_storage_dir": str(tmp_path / "storage")}
    play = [{"name": "replicas", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry_swarm", "vars": role_vars}]}]
    try:
        first = run_playbook(play)
        assert not first.failed, first.stdout[-3000:] + first.stderr[-2000:]
        assert HTTP_SECRET not in first.stdout
        spec = docker_client.services.get(name).attrs["Spec"]
        container = spec["TaskTemplate"]["ContainerSpec"]
        assert spec["Mode"]["Replicated"]["Replicas"] == 2 and not any("SECRET" in e for e in container.get("Env") or [])
        assert [s["File"]["Name"] for s in container["Secrets"]] == ["/etc/docker/registry/config.yml"]
        assert spec["UpdateConfig"]["Order"] == "start-first"
        again = run_playbook(play)
        assert not again.failed and not again.changed, again.stdout[-3000:]
    finally:
        remove_service(docker_client, name)


def test_replicas_on_an_overlay_network_with_dns_round_robin(docker_client, tmp_path):
    """networks + endpoint_mode dnsrr (what a front reaches the replicas by): the spec has both, a second run changes
    nothing, a missing network fails before anything is created."""
    name, net = "dep-dnsrr", "dep-dnsrr-net"
    ensure_swarm(docker_client)
    network = docker_client.networks.create(net, driver="overlay", attachable=True)
    args = {"name": name, "publish_mode": "none", "replicas": 2, "http_secret": HTTP_SECRET, "networks": [net],
            "endpoint_mode": "dnsrr", "storage_path": str(tmp_path / "storage"), "wait_timeout": 90}
    try:
        res, _ = run_module(MODULE, dict(args, networks=["dep-no-such-net"]))
        assert res.get("failed") and "dep-no-such-net not found" in res["msg"], res
        assert not [s for s in docker_client.services.list() if s.name == name]
        res, _ = run_module(MODULE, args)
        assert res["changed"] and not res.get("failed"), res
        spec = docker_client.services.get(name).attrs["Spec"]
        assert spec["EndpointSpec"]["Mode"] == "dnsrr"
        assert [n["Target"] for n in spec["TaskTemplate"]["Networks"]] == [network.id]
        res, _ = run_module(MODULE, args)
        assert res["changed"] is False, res
        res, _ = run_module(MODULE, dict(args, publish_mode="ingress", published_port=5999))
        assert res.get("failed") and "dnsrr" in res["msg"], res
    finally:
        remove_service(docker_client, name)
        for _ in range(30):
            try:
                network.remove()
                break
            except Exception:  # noqa: BLE001 - tasks still detaching
                import time
                time.sleep(1)
