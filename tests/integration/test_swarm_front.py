"""Issue 15: three registry replicas on the single-node swarm behind the registry_swarm role's NGINX front, over TLS.

One module-scoped deployment (role airgap.registry.registry_swarm with registry_swarm_front): docker login/push/pull
and skopeo copy through the front; Location headers with the public name and https; the API-version header on a 401
and a 404; a replica killed in the middle of a push (a 160 MB incompressible layer, not the issue's 500 MB, to keep
the test near a minute: docker gzips it at ~40 MB/s, so the stream lasts seconds) whose client retry completes with the
right digest; a rolling update under a bounded stream of pulls with no failed pull. The role's state=absent removes
the services, secrets, network and CA trust at the end.
"""
import http.client
import os
import re
import ssl
import subprocess
import tarfile
import threading
import time

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient
from tests.conftest import require
from tests.helpers.ansible import run_playbook
from tests.helpers.engine import docker_push
from tests.helpers.registries import free_port
from tests.helpers.swarm import ensure_swarm, remove_service

NAME = "f-front-reg"
FRONT = NAME + "-front"
NETWORK = NAME + "-net"
USER, PASSWORD = "fronttester", "front-pass-7Qz"
HTTP_SECRET = "front-http-secret-0d1e"
FRONT_IMAGE = "airgap-nginx:bookworm"
LAYER_MB = 160


def role_play(front, **extra):
    role_vars = {"registry_swarm_name": NAME, "registry_swarm_init": True, "registry_swarm_front": True,
                 "registry_swarm_front_port": front["port"], "registry_swarm_replicas": 3, "registry_http_secret": HTTP_SECRET,
                 "registry_swarm_tls": True, "registry_swarm_tls_subject_alt_names": ["localhost", "127.0.0.1"],
                 "registry_swarm_htpasswd_users": [{"name": USER, "password": PASSWORD}],
                 "registry_swarm_config_dir": front["etc"], "registry_swarm_storage_dir": front["storage"],
                 "registry_swarm_trust_hosts": [f"127.0.0.1:{front['port']}", f"localhost:{front['port']}"],
                 "registry_swarm_health_timeout": 150}
    role_vars.update(extra)
    return [{"name": "front", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry_swarm", "vars": role_vars}]}]


@pytest.fixture(scope="module")
def front(docker_client, tmp_path_factory):
    """The deployed front, the docker engine logged in: {port, registry (HOST:PORT), ca, etc, storage, first (the playbook result)}."""
    for image in ("registry:2.8.3", FRONT_IMAGE, "abox:1.0.1"):
        require(docker_client.images.list(name=image), f"image {image} missing: run scripts/build-images.sh")
    ensure_swarm(docker_client)
    base = tmp_path_factory.mktemp("front")
    port = free_port()
    state = {"port": port, "registry": f"127.0.0.1:{port}", "etc": str(base / "etc"), "storage": str(base / "storage")}
    state["ca"] = os.path.join(state["etc"], "tls", "ca.crt")
    try:
        state["first"] = run_playbook(role_play(state))
        assert not state["first"].failed, state["first"].stdout[-4000:] + state["first"].stderr[-2000:]
        login = subprocess.run(["docker", "login", "-u", USER, "--password-stdin", state["registry"]], check=False, input=PASSWORD,
                               capture_output=True, text=True, timeout=60)
        assert login.returncode == 0, login.stderr
        yield state
    finally:
        docker("logout", state["registry"], check=False)
        gone = run_playbook(role_play(state, registry_swarm_state="absent"))
        remove_service(docker_client, FRONT)
        remove_service(docker_client, NAME)
        # the swarm removes an overlay network from the node's list shortly after the manager deleted it
        deadline = time.monotonic() + 30
        while (left := [n.name for n in docker_client.networks.list(names=[NETWORK])]) and time.monotonic() < deadline:
            time.sleep(1)
        assert not gone.failed and not left, (left, gone.stdout[-2000:])


def client(front, retries=0):
    return RegistryClient(front["registry"], USER, PASSWORD, ca_file=front["ca"], retries=retries)


def request(front, method, path, *, host=None, auth=True, body=None):
    """(status, headers) of one HTTPS request to the front, with basic auth unless `auth` is false."""
    import base64

    conn = http.client.HTTPSConnection("127.0.0.1", front["port"], context=ssl.create_default_context(cafile=front["ca"]), timeout=30)
    headers = {"Host": host or front["registry"]}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.headers
    finally:
        conn.close()


def docker(*args, check=True):
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True, timeout=300)


def test_role_deploys_three_dnsrr_replicas_behind_a_host_published_front(docker_client, front):
    reg = docker_client.services.get(NAME).attrs["Spec"]
    nginx = docker_client.services.get(FRONT).attrs["Spec"]
    assert reg["Mode"]["Replicated"]["Replicas"] == 3 and reg["EndpointSpec"]["Mode"] == "dnsrr"
    assert not reg["EndpointSpec"].get("Ports"), "the registry publishes nothing behind the front"
    assert [p["PublishMode"] for p in nginx["EndpointSpec"]["Ports"]] == ["host"]
    net = docker_client.networks.get(NETWORK)
    assert net.attrs["Attachable"] and net.attrs["Driver"] == "overlay"
    secrets = sorted(s["File"]["Name"] for s in nginx["TaskTemplate"]["ContainerSpec"]["Secrets"])
    assert secrets == ["/etc/nginx/nginx.conf", "tls.crt", "tls.key"]
    assert not any(e.startswith("REGISTRY_HTTP_TLS") for e in reg["TaskTemplate"]["ContainerSpec"].get("Env") or [])
    again = run_playbook(role_play(front))
    assert not again.failed and not again.changed, again.stdout[-3000:]


def test_api_version_header_on_401_and_404_and_location_uses_the_public_name_over_https(front):
    status, headers = request(front, "GET", "/v2/", auth=False)
    assert status == 401 and headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert len(headers.get_all("Docker-Distribution-Api-Version")) == 1, "the registry's header must not be doubled"
    status, headers = request(front, "GET", "/v2/f/none/manifests/latest")
    assert status == 404 and headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    for host in (front["registry"], f"localhost:{front['port']}"):
        status, headers = request(front, "POST", "/v2/f/loc/blobs/uploads/", host=host, body=b"")
        assert status == 202, status
        assert headers["Location"].startswith(f"https://{host}/v2/f/loc/blobs/uploads/"), headers["Location"]


def test_docker_login_push_pull_and_skopeo_copy_through_the_front(front, tmp_path):
    target = f"{front['registry']}/f/abox:1"
    pushed = docker_push("abox:1.0.1", target)
    docker("rmi", target, check=False)
    pulled = docker("pull", target)
    assert pushed in pulled.stdout, pulled.stdout
    docker("rmi", target, check=False)
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(open(front["ca"], "rb").read())
    creds = f"{USER}:{PASSWORD}"
    copy = subprocess.run(["skopeo", "copy", "--src-cert-dir", str(certs), "--dest-cert-dir", str(certs), "--src-creds", creds,
                           "--dest-creds", creds, f"docker://{target}", f"docker://{front['registry']}/f/copied:1"],
                          check=False, capture_output=True, text=True, timeout=120)
    assert copy.returncode == 0, copy.stderr
    assert client(front).head_manifest("f/copied", "1")["digest"] == pushed


def _receiving_replica(docker_client, threshold):
    """The running replica container whose network interfaces received `threshold` bytes more than at the start of
    the push (read from its network namespace through /proc/PID/net/dev), or None."""
    def rx(container):
        pid = container.attrs["State"]["Pid"]
        with open(f"/proc/{pid}/net/dev") as f:
            return sum(int(line.split(":", 1)[1].split()[0]) for line in f.readlines()[2:] if not line.strip().startswith("lo:"))

    replicas = docker_client.containers.list(filters={"label": f"com.docker.swarm.service.name={NAME}", "status": "running"})
    start = {c.id: rx(c) for c in replicas}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for c in replicas:
            try:
                if rx(c) - start[c.id] > threshold:
                    return c
            except OSError:
                continue
        time.sleep(0.1)
    return None


def test_replica_killed_mid_push_client_retry_completes_with_the_right_digest(docker_client, front, tmp_path):
    """A LAYER_MB incompressible layer; the replica receiving it is killed once 30 MB arrived; docker's retry completes
    (through another replica, or the one Swarm restarts) and the pulled image has the pushed digest."""
    tar_path = tmp_path / "big.tar"
    with open(tmp_path / "blob", "wb") as f:
        for _ in range(LAYER_MB):
            f.write(os.urandom(1 << 20))
    with tarfile.open(tar_path, "w") as tar:
        tar.add(tmp_path / "blob", arcname="blob")
    os.unlink(tmp_path / "blob")
    image = "f-front-big:1"
    docker("import", str(tar_path), image)
    os.unlink(tar_path)
    target = f"{front['registry']}/f/big:1"
    docker("tag", image, target)
    push = None
    try:
        push = subprocess.Popen(["docker", "push", target], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        victim = _receiving_replica(docker_client, 30 << 20)
        assert victim is not None, "no replica received the layer within 60 s"
        victim.kill()
        out, _ = push.communicate(timeout=240)
        assert push.returncode == 0, out
        digest = re.search(r"digest: (sha256:[0-9a-f]{64})", out).group(1)
        docker("rmi", target, image)
        pulled = docker("pull", target)
        assert digest in pulled.stdout, pulled.stdout
        manifest = client(front).head_manifest("f/big", "1")
        assert manifest["digest"] == digest
    finally:
        if push is not None and push.poll() is None:
            push.kill()
        docker("rmi", target, image, check=False)


def test_rolling_update_under_a_stream_of_pulls_fails_no_pull(docker_client, front):
    """A changed registry config (log level) rolls the three replicas start-first while four threads pull (manifest
    and every blob, no client retries) until the update ends, at most 300 s: 0 failed pulls."""
    reg = client(front)
    if reg.head_manifest("f/abox", "1") is None:
        docker_push("abox:1.0.1", f"{front['registry']}/f/abox:1")
    body, _media_type, _digest = reg.get_manifest("f/abox", "1")
    import json

    blobs = [d["digest"] for d in [json.loads(body)["config"], *json.loads(body)["layers"]]]
    stop = threading.Event()
    counts = {"ok": 0, "failed": []}
    lock = threading.Lock()

    def pull_loop():
        local = client(front)
        deadline = time.monotonic() + 300
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                local.get_manifest("f/abox", "1")
                for blob in blobs:
                    with local.open_blob("f/abox", blob) as stream:
                        while stream.read(1 << 16):
                            pass
                with lock:
                    counts["ok"] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                with lock:
                    counts["failed"].append(repr(exc))
        local.close()

    threads = [threading.Thread(target=pull_loop) for _ in range(4)]
    before = docker_client.services.get(NAME).attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    for t in threads:
        t.start()
    try:
        update = run_playbook(role_play(front, registry_swarm_log_level="warn"))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not update.failed, update.stdout[-3000:]
    service = docker_client.services.get(NAME)
    assert service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] != before
    assert (service.attrs.get("UpdateStatus") or {}).get("State") == "completed", service.attrs.get("UpdateStatus")
    front_log = subprocess.run(["docker", "service", "logs", "--tail", "30", FRONT], check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True).stdout
    assert counts["failed"] == [], (len(counts["failed"]), counts["failed"][:3], front_log)
    # pulls ran through the whole update (tens of seconds): at least a few per thread
    assert counts["ok"] >= 8, counts
    print(f"rolling update: {counts['ok']} pulls, 0 failed")
