"""registry_container on the real engine: push/pull through it, TLS + htpasswd logins, cert rotation, bad input."""
import hashlib
import os
import shutil
import socket
import subprocess

import pytest

from tests.helpers.ansible import run_module
from tests.helpers.certs import file_fingerprint, make_tls, served_fingerprint
from tests.helpers.registries import free_port, wait_http

pytestmark = pytest.mark.docker

MODULE = "airgap.registry.registry_container"


def docker_cli(*args, config_dir=None, check=True, stdin=None):
    env = dict(os.environ)
    if config_dir:
        env["DOCKER_CONFIG"] = str(config_dir)
    proc = subprocess.run(["docker", *args], check=False, capture_output=True, text=True, env=env, input=stdin, timeout=180)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {proc.stderr}")
    return proc


@pytest.fixture
def deployed(docker_client):
    """Names of containers (and certs.d dirs, pushed tags) to remove at teardown."""
    made = {"containers": [], "certs_d": [], "images": []}
    yield made
    for name in made["containers"]:
        try:
            docker_client.containers.get(name).remove(force=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
    for path in made["certs_d"]:
        shutil.rmtree(path, ignore_errors=True)
    for tag in made["images"]:
        docker_cli("rmi", tag, check=False)


def container_exists(docker_client, name):
    return any(c.name == name for c in docker_client.containers.list(all=True))


def test_plain_container_push_pull_restart_keeps_data(docker_client, sample_images, deployed, tmp_path):
    port = free_port()
    name = f"dep-plain-{port}"
    deployed["containers"].append(name)
    storage = tmp_path / "storage"
    args = {"name": name, "published_port": port, "bind_address": "127.0.0.1", "storage_path": str(storage)}

    res, _ = run_module(MODULE, args, check=True, diff=True)
    assert res["changed"] and not res.get("failed"), res
    assert "created" in res["actions"] and res["diff"]["before"]["state"] == "absent"
    assert not container_exists(docker_client, name) and not storage.exists(), "check mode changed something"

    res, _ = run_module(MODULE, args, diff=True)
    assert res["changed"] and not res.get("failed"), res
    assert res["url"] == f"http://127.0.0.1:{port}"
    assert res["container"]["ports"]["5000/tcp"][0] == {"HostIp": "127.0.0.1", "HostPort": str(port)}
    first_id = res["container"]["id"]

    tag = f"127.0.0.1:{port}/abox:1.0.1"
    deployed["images"].append(tag)
    docker_cli("tag", "abox:1.0.1", tag)
    docker_cli("push", tag)
    docker_cli("rmi", tag)
    docker_cli("pull", tag)
    assert (storage / "docker" / "registry" / "v2" / "repositories" / "abox").is_dir()

    res, _ = run_module(MODULE, args)
    assert res["changed"] is False and res["actions"] == [] and res["container"]["id"] == first_id, res

    res, _ = run_module(MODULE, {**args, "state": "restarted"})
    assert res["changed"] and res["actions"] == ["restarted"] and res["container"]["id"] == first_id, res
    docker_cli("rmi", tag)
    docker_cli("pull", tag)

    changed_env = {**args, "env": {"REGISTRY_STORAGE_DELETE_ENABLED": "true"}}
    res, _ = run_module(MODULE, changed_env, check=True, diff=True)
    assert res["changed"] and res["differences"] == ["env"], res
    assert res["diff"]["before"]["env"] == {} and res["diff"]["after"]["env"] == {"REGISTRY_STORAGE_DELETE_ENABLED": "true"}
    assert docker_client.containers.get(name).id == first_id, "check mode recreated the container"
    res, _ = run_module(MODULE, changed_env)
    assert res["changed"] and "recreated" in res["actions"] and res["container"]["id"] != first_id, res
    assert "REGISTRY_STORAGE_DELETE_ENABLED=true" in docker_client.containers.get(name).attrs["Config"]["Env"]
    docker_cli("rmi", tag)
    docker_cli("pull", tag)

    res, _ = run_module(MODULE, {**changed_env, "state": "stopped"})
    assert res["changed"] and res["actions"] == ["stopped"], res
    assert docker_client.containers.get(name).status == "exited"
    res, _ = run_module(MODULE, {**changed_env, "state": "stopped"})
    assert res["changed"] is False, res

    res, _ = run_module(MODULE, {"name": name, "state": "absent"}, check=True)
    assert res["changed"] and container_exists(docker_client, name)
    res, _ = run_module(MODULE, {"name": name, "state": "absent"})
    assert res["changed"] and not container_exists(docker_client, name)
    res, _ = run_module(MODULE, {"name": name, "state": "absent"})
    assert res["changed"] is False


def test_generated_config_file_is_mounted_and_hashed(docker_client, deployed, tmp_path):
    port = free_port()
    name = f"dep-config-{port}"
    deployed["containers"].append(name)
    config_path = tmp_path / "etc" / "config.yml"
    config = {"version": 0.1, "storage": {"filesystem": {"rootdirectory": "/var/lib/registry"}}, "http": {"addr": ":5001"}}
    args = {"name": name, "published_port": port, "bind_address": "127.0.0.1", "config": config, "config_path": str(config_path)}
    res, _ = run_module(MODULE, args)
    assert res["changed"] and not res.get("failed"), res
    assert config_path.is_file()
    attrs = docker_client.containers.get(name).attrs
    assert "5001/tcp" in attrs["HostConfig"]["PortBindings"]
    assert any(m["Target"] == "/etc/docker/registry/config.yml" and m["Source"] == str(config_path) for m in attrs["HostConfig"]["Mounts"])
    assert attrs["Config"]["Labels"]["airgap.registry.config-sha256"] == hashlib.sha256(config_path.read_bytes()).hexdigest()
    res, _ = run_module(MODULE, args)
    assert res["changed"] is False, res

    config["http"]["headers"] = {"X-Dep-Test": ["yes"]}
    res, _ = run_module(MODULE, args)
    assert res["changed"] and res["differences"] == ["labels"] and "config written" in res["actions"], res
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/") as resp:
        assert resp.headers["X-Dep-Test"] == "yes"


def test_tls_htpasswd_login_push_pull_and_cert_rotation(docker_client, sample_images, deployed, tmp_path):
    port = free_port()
    name = f"dep-tls-{port}"
    deployed["containers"].append(name)
    ca, cert, key = make_tls(tmp_path / "pki")
    htpasswd = tmp_path / "htpasswd"
    out = subprocess.run(["htpasswd", "-Bbn", "depuser", "s3cret-pass"], capture_output=True, text=True, check=True).stdout
    htpasswd.write_text(out)
    certs_d = f"/etc/docker/certs.d/127.0.0.1:{port}"
    deployed["certs_d"].append(certs_d)
    os.makedirs(certs_d, exist_ok=True)
    shutil.copy(ca, os.path.join(certs_d, "ca.crt"))

    args = {"name": name, "published_port": port, "bind_address": "127.0.0.1", "storage_path": str(tmp_path / "storage"),
            "tls_cert": cert, "tls_key": key, "htpasswd_path": str(htpasswd)}
    res, _ = run_module(MODULE, args)
    assert res["changed"] and not res.get("failed"), res
    assert res["url"] == f"https://127.0.0.1:{port}"
    assert wait_http(f"https://127.0.0.1:{port}/v2/", cafile=ca, ok=(401,)) == 401
    assert served_fingerprint(port) == file_fingerprint(cert)
    res, _ = run_module(MODULE, args)
    assert res["changed"] is False, res

    cfg = tmp_path / "dockercfg"
    cfg.mkdir()
    wrong = docker_cli("login", "-u", "depuser", "--password-stdin", f"127.0.0.1:{port}", config_dir=cfg, check=False, stdin="wrong")
    assert wrong.returncode != 0 and "unauthorized" in (wrong.stderr + wrong.stdout).lower()
    docker_cli("login", "-u", "depuser", "--password-stdin", f"127.0.0.1:{port}", config_dir=cfg, stdin="s3cret-pass")
    tag = f"127.0.0.1:{port}/tools/busyish:2.0"
    deployed["images"].append(tag)
    docker_cli("tag", "tools/busyish:2.0", tag)
    docker_cli("push", tag, config_dir=cfg)
    docker_cli("rmi", tag)
    docker_cli("pull", tag, config_dir=cfg)
    docker_cli("rmi", tag)
    anonymous = docker_cli("pull", tag, config_dir=tmp_path, check=False)
    assert anonymous.returncode != 0

    first_id = docker_client.containers.get(name).id
    new_ca, new_cert, new_key = make_tls(tmp_path / "pki2", name="rotated")
    shutil.copy(new_cert, cert)
    shutil.copy(new_key, key)
    res, _ = run_module(MODULE, args, diff=True)
    assert res["changed"] and res["differences"] == ["labels"], res
    assert res["diff"]["before"]["labels"]["airgap.registry.tls-cert-sha256"] != res["diff"]["after"]["labels"]["airgap.registry.tls-cert-sha256"]
    assert docker_client.containers.get(name).id != first_id
    assert served_fingerprint(port) == file_fingerprint(new_cert)
    shutil.copy(new_ca, os.path.join(certs_d, "ca.crt"))
    docker_cli("pull", tag, config_dir=cfg)


def test_missing_image_fails_clearly_and_creates_nothing(docker_client, deployed):
    port = free_port()
    name = f"dep-noimage-{port}"
    deployed["containers"].append(name)
    res, _ = run_module(MODULE, {"name": name, "image": "registry:9.9.9-absent", "published_port": port})
    assert res.get("failed") and "registry:9.9.9-absent" in res["msg"] and "not present" in res["msg"], res
    assert not container_exists(docker_client, name)


def test_port_in_use_fails_and_removes_the_container(docker_client, deployed):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        name = f"dep-busy-{port}"
        deployed["containers"].append(name)
        res, _ = run_module(MODULE, {"name": name, "published_port": port, "bind_address": "127.0.0.1"})
    assert res.get("failed") and f"127.0.0.1:{port}" in res["msg"], res
    assert "address already in use" in res["msg"] or "port is already allocated" in res["msg"], res
    assert not container_exists(docker_client, name)


def test_unreadable_cert_fails_clearly_and_creates_nothing(docker_client, deployed, tmp_path):
    port = free_port()
    name = f"dep-nocert-{port}"
    deployed["containers"].append(name)
    _ca, _cert, key = make_tls(tmp_path)
    missing = str(tmp_path / "missing.crt")
    res, _ = run_module(MODULE, {"name": name, "published_port": port, "tls_cert": missing, "tls_key": key})
    assert res.get("failed") and missing in res["msg"] and "TLS certificate" in res["msg"], res
    assert not container_exists(docker_client, name)
    res, _ = run_module(MODULE, {"name": name, "published_port": port, "tls_cert": missing})
    assert res.get("failed") and "tls_cert" in res["msg"] and "tls_key" in res["msg"], res


def test_check_mode_before_the_files_exist_and_secret_env_masked_in_diff(docker_client, deployed, tmp_path):
    """A first check-mode run of a play that would write the cert, key and htpasswd just before: it reports a create."""
    port = free_port()
    name = f"dep-checkfirst-{port}"
    deployed["containers"].append(name)
    args = {"name": name, "published_port": port, "tls_cert": str(tmp_path / "not-yet.crt"), "tls_key": str(tmp_path / "not-yet.key"),
            "htpasswd_path": str(tmp_path / "not-yet.htpasswd"), "env": {"REGISTRY_HTTP_SECRET": "s3cr3t-value-7", "REGISTRY_LOG_LEVEL": "info"}}
    res, _ = run_module(MODULE, args, check=True, diff=True)
    assert res.get("changed") is True and not res.get("failed"), res
    assert "created" in res["actions"]
    after_env = res["diff"]["after"]["env"]
    assert after_env["REGISTRY_HTTP_SECRET"] == "********" and after_env["REGISTRY_LOG_LEVEL"] == "info"
    assert not container_exists(docker_client, name)


@pytest.fixture
def distribution3_image(docker_client, tmp_path):
    """A local image laid out like Distribution 3.x (config at /etc/distribution/config.yml, version label), built offline."""
    tag = "dep-registry3:3.0.0"
    (tmp_path / "Dockerfile").write_text('FROM registry:2.8.3\nLABEL org.opencontainers.image.version="3.0.0"\n'
                                         'CMD ["serve", "/etc/distribution/config.yml"]\n')
    docker_client.images.build(path=str(tmp_path), tag=tag, pull=False, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def test_distribution3_image_reads_generated_config_from_etc_distribution(docker_client, distribution3_image, deployed, tmp_path):
    port = free_port()
    name = f"dep-v3-{port}"
    deployed["containers"].append(name)
    config = {"version": 0.1, "storage": {"filesystem": {"rootdirectory": "/var/lib/registry"}}, "http": {"addr": ":5000"}}
    args = {"name": name, "image": distribution3_image, "published_port": port, "bind_address": "127.0.0.1", "config": config,
            "config_path": str(tmp_path / "config.yml")}
    res, _ = run_module(MODULE, args)
    assert res["changed"] and not res.get("failed"), res
    mounts = docker_client.containers.get(name).attrs["HostConfig"]["Mounts"]
    assert [m["Target"] for m in mounts] == ["/etc/distribution/config.yml"]
    assert wait_http(f"http://127.0.0.1:{port}/v2/") == 200


def test_pull_missing_reports_the_failed_pull_and_unreachable_engine_fails_clearly(docker_client, deployed):
    port = free_port()
    name = f"dep-pull-{port}"
    deployed["containers"].append(name)
    image = f"127.0.0.1:{free_port()}/absent/registry:2"
    res, _ = run_module(MODULE, {"name": name, "image": image, "pull": "missing", "published_port": port})
    assert res.get("failed") and f"cannot pull image {image}" in res["msg"], res
    assert not container_exists(docker_client, name)

    res, _ = run_module(MODULE, {"name": name, "published_port": port, "docker_host": "unix:///nonexistent/docker.sock"})
    assert res.get("failed") and "cannot reach the Docker engine at unix:///nonexistent/docker.sock" in res["msg"], res
