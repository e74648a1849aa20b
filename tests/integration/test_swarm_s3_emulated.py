"""Issue 15: registry replicas on object storage, against an S3 EMULATOR (moto's server), not a real S3 store.

No real S3-compatible server installs from the package registries reachable here (MinIO, SeaweedFS, Garage are not
packaged there; Debian's radosgw needs a Ceph cluster), so moto[server] (PyPI, requirements-dev.txt) runs in a
container (the fleet-host image's Debian python3 with the venv's site-packages mounted read-only) on an attachable
overlay network, reached by the registry as http://f-s3:5000; published on 127.0.0.1 only for the test's checks.
Two replicas of registry:2.8.3 behind the NGINX front (plain HTTP on 127.0.0.1), through the role
airgap.registry.registry_swarm with registry_swarm_s3: docker push and
pull round trip, the blobs are objects in the bucket, the credentials are in no environment, spec or output; then a
manifest delete and `registry garbage-collect` remove the layer's object.
"""
import importlib.util
import json
import subprocess
import sysconfig
import time

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient
from tests.conftest import require
from tests.helpers.ansible import run_playbook
from tests.helpers.engine import docker_push
from tests.helpers.registries import free_port
from tests.helpers.swarm import ensure_swarm, remove_service

NAME = "f-s3-reg"
NETWORK = "f-s3-net"
S3_CONTAINER = "f-s3"
BUCKET = "registry-bucket"
ACCESS, SECRET = "AKIAFS3TESTKEY", "f-s3-secret-key-Zr81q"
FLEET_IMAGE = "airgap-fleet-host:bookworm"


def play(state, port):
    role_vars = {"registry_swarm_name": NAME, "registry_swarm_init": True, "registry_swarm_state": state, "registry_swarm_port": port,
                 "registry_swarm_front": True, "registry_swarm_replicas": 2, "registry_http_secret": "f-s3-http-secret",
                 "registry_swarm_tls": False, "registry_swarm_htpasswd_users": [], "registry_swarm_health_timeout": 120,
                 "registry_swarm_config_dir": f"/tmp/{NAME}-etc",
                 "registry_swarm_s3": {"bucket": BUCKET, "regionendpoint": f"http://{S3_CONTAINER}:5000", "accesskey": ACCESS,
                                       "secretkey": SECRET, "secure": False},
                 "registry_swarm_networks": [NETWORK]}
    return [{"name": "s3", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry_swarm", "vars": role_vars}]}]


def wait_s3(s3, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return s3.create_bucket(Bucket=BUCKET)
        except Exception:  # noqa: BLE001 - the emulator is still starting
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@pytest.fixture(scope="module")
def s3_registry(docker_client):
    """{port, s3 (boto3 client on the emulator)}: the emulator on the overlay network, the bucket, the registry."""
    require(all(importlib.util.find_spec(m) for m in ("boto3", "moto", "flask")), "moto[server] missing: pip install -r requirements-dev.txt")
    for image in ("registry:2.8.3", FLEET_IMAGE, "abox:1.0.1"):
        require(docker_client.images.list(name=image), f"image {image} missing: run scripts/build-images.sh and scripts/fleet-image.sh")
    import boto3

    ensure_swarm(docker_client)
    site = sysconfig.get_paths()["purelib"]
    s3_port, port = free_port(), free_port()
    network = docker_client.networks.create(NETWORK, driver="overlay", attachable=True)
    try:
        docker_client.containers.run(FLEET_IMAGE, ["-m", "moto.server", "-H", "0.0.0.0", "-p", "5000"], entrypoint="/usr/bin/python3",
                                     name=S3_CONTAINER, detach=True, network=NETWORK, environment={"PYTHONPATH": "/opt/site"},
                                     volumes={site: {"bind": "/opt/site", "mode": "ro"}}, ports={"5000/tcp": ("127.0.0.1", s3_port)})
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}", aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                         region_name="us-east-1")
        wait_s3(s3)
        result = run_playbook(play("present", port), env={"ANSIBLE_DISPLAY_ARGS_TO_STDOUT": "1"})
        assert not result.failed, result.stdout[-4000:] + result.stderr[-2000:]
        yield {"port": port, "s3": s3, "first": result}
    finally:
        run_playbook(play("absent", port))
        remove_service(docker_client, NAME + "-front")
        remove_service(docker_client, NAME)
        subprocess.run(["docker", "rm", "-f", S3_CONTAINER], check=False, capture_output=True)
        for _ in range(60):
            try:
                network.remove()
                break
            except Exception:  # noqa: BLE001 - tasks still detaching
                time.sleep(1)


def objects(s3):
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_credentials_reach_the_replicas_only_in_the_config_secret(docker_client, s3_registry):
    spec = docker_client.services.get(NAME).attrs["Spec"]
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 2 and not container.get("Mounts"), "no filesystem storage with s3"
    assert SECRET not in repr(spec) and ACCESS not in repr(spec)
    assert [s["File"]["Name"] for s in container["Secrets"]] == ["/etc/docker/registry/config.yml"]
    assert SECRET not in s3_registry["first"].stdout and SECRET not in s3_registry["first"].stderr


def test_push_pull_round_trip_on_s3_then_garbage_collect(docker_client, s3_registry):
    port = s3_registry["port"]
    target = f"127.0.0.1:{port}/f/abox:1"
    digest = docker_push("abox:1.0.1", target)
    pulled = subprocess.run(["docker", "pull", target], check=True, capture_output=True, text=True, timeout=120).stdout
    assert digest in pulled
    subprocess.run(["docker", "rmi", target], check=False, capture_output=True)
    client = RegistryClient(f"127.0.0.1:{port}", scheme="http", retries=0)
    body, _type, _digest = client.get_manifest("f/abox", digest)
    layer = json.loads(body)["layers"][0]["digest"]
    layer_key = f"docker/registry/v2/blobs/sha256/{layer[7:9]}/{layer[7:]}/data"
    assert layer_key in objects(s3_registry["s3"]), objects(s3_registry["s3"])[:10]
    client.delete_manifest("f/abox", digest)
    replica = docker_client.containers.list(filters={"label": f"com.docker.swarm.service.name={NAME}", "status": "running"})[0]
    gc = replica.exec_run(["registry", "garbage-collect", "/etc/docker/registry/config.yml"])
    assert gc.exit_code == 0, gc.output.decode()[-2000:]
    assert layer_key not in objects(s3_registry["s3"]), "garbage-collect left the deleted image's layer in the bucket"
    assert SECRET not in gc.output.decode()
