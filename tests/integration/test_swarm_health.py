"""registry_swarm_service's health check on a single-node swarm: the task's container reaches `healthy` (the static
busybox in registry:2.8.3 asks Distribution's /debug/health on 127.0.0.1:5001), a second run changes nothing, a
start-first update with a new config keeps a healthy task answering /v2/ throughout, and a storage the driver can no
longer stat turns the task unhealthy (/debug/health answers 503)."""
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.conftest import require
from tests.helpers.ansible import run_module
from tests.helpers.swarm import ensure_swarm, remove_service

pytestmark = [pytest.mark.docker, pytest.mark.swarm]

MODULE = "airgap.registry.registry_swarm_service"
PROBE = ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5001/debug/health"]
# the registry's root inside the bind-mounted storage: replaced on the host by a plain file, stat fails with ENOTDIR
# (a missing root would pass: Distribution's check ignores "path not found")
ROOT_PARENT = "sub"


@pytest.fixture(scope="module")
def service(docker_client, tmp_path_factory):
    """({module args}, first run result, storage dir): one unpublished replica with a fast health check, removed at teardown."""
    require(docker_client.images.list(name="registry:2.8.3"), "image registry:2.8.3 missing: run scripts/build-images.sh")
    image = docker_client.images.get("registry:2.8.3")
    require(image.labels.get("airgap.image.content"), "registry:2.8.3 predates its health probe: run scripts/build-images.sh")
    ensure_swarm(docker_client)
    name = f"health-{uuid.uuid4().hex[:8]}"
    storage = tmp_path_factory.mktemp("health") / "storage"
    args = {"name": name, "publish_mode": "none", "replicas": 1, "http_secret": "health-secret-1", "storage_path": str(storage),
            "env": {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": f"/var/lib/registry/{ROOT_PARENT}/root"},
            "healthcheck": {"interval": 2, "timeout": 2, "retries": 2, "start_period": 5}, "wait_timeout": 90}
    try:
        first, _ = run_module(MODULE, args)
        yield args, first, storage
    finally:
        remove_service(docker_client, name)


def containers(client, name):
    """The service's running containers, each reloaded (its State.Health is current)."""
    return client.containers.list(filters={"label": f"com.docker.swarm.service.name={name}"})


def health(container):
    return ((container.attrs["State"].get("Health") or {}).get("Status")) or "none"


def v2_status(container):
    """HTTP status of GET /v2/ on the container's bridge address (the service publishes no port), or None."""
    for network in container.attrs["NetworkSettings"]["Networks"].values():
        if network.get("IPAddress"):
            try:
                with urllib.request.urlopen(f"http://{network['IPAddress']}:5000/v2/", timeout=3) as resp:
                    return resp.status
            except urllib.error.HTTPError as exc:
                return exc.code
            except OSError:
                return None
    return None


def test_task_becomes_healthy_and_second_run_changes_nothing(docker_client, service):
    args, first, _ = service
    assert first["changed"] and not first.get("failed"), first
    spec = docker_client.services.get(args["name"]).attrs["Spec"]
    check = spec["TaskTemplate"]["ContainerSpec"]["Healthcheck"]
    assert check == {"Test": PROBE, "Interval": 2_000_000_000, "Timeout": 2_000_000_000, "Retries": 2, "StartPeriod": 5_000_000_000}
    running = containers(docker_client, args["name"])
    assert len(running) == 1 and health(running[0]) == "healthy", [health(c) for c in running]
    assert v2_status(running[0]) == 200
    again, _ = run_module(MODULE, args)
    assert not again["changed"] and not again.get("failed"), again


def test_start_first_update_keeps_a_healthy_task_answering(docker_client, service):
    args, _, _ = service
    old = {c.id for c in containers(docker_client, args["name"])}
    outcome = {}
    update = threading.Thread(target=lambda: outcome.update(result=run_module(MODULE, dict(args, http_secret="health-secret-2"))[0]))
    update.start()
    samples, gaps, both_seen = 0, [], False
    deadline = time.monotonic() + 150
    while (update.is_alive() or samples == 0) and time.monotonic() < deadline:
        running = containers(docker_client, args["name"])
        answering = [c for c in running if health(c) == "healthy" and v2_status(c) == 200]
        if not answering:
            gaps.append([(c.short_id, c.status, health(c)) for c in running])
        if len(running) > 1:
            both_seen = True
        samples += 1
        time.sleep(0.3)
    update.join(timeout=5)
    result = outcome.get("result")
    assert result and result["changed"] and not result.get("failed"), result
    assert not gaps, f"{len(gaps)} of {samples} samples without a healthy task answering /v2/: {gaps[:5]}"
    assert both_seen, "the update never ran the new task beside the old one (start-first)"
    now = containers(docker_client, args["name"])
    assert len(now) == 1 and now[0].id not in old and health(now[0]) == "healthy"


def test_unreadable_storage_turns_the_task_unhealthy(docker_client, service):
    args, _, storage = service
    task_container = containers(docker_client, args["name"])[0]
    parent = storage / ROOT_PARENT
    shutil.rmtree(parent, ignore_errors=True)
    parent.write_text("not a directory\n")
    # storagedriver check: 3 failures 10 s apart make /debug/health answer 503; then 2 failed probes 2 s apart
    deadline = time.monotonic() + 90
    state = None
    while time.monotonic() < deadline:
        try:
            task_container.reload()
            state = health(task_container)
        except Exception:  # noqa: BLE001 - Swarm removed the failed task's container
            state = "removed"
        tasks = docker_client.services.get(args["name"]).tasks()
        if state == "unhealthy" or any("unhealthy" in ((t.get("Status") or {}).get("Err") or "") for t in tasks):
            break
        time.sleep(1)
    errors = [(t.get("Status") or {}).get("Err") for t in docker_client.services.get(args["name"]).tasks()]
    assert state == "unhealthy" or any("unhealthy" in (e or "") for e in errors), (state, errors)
