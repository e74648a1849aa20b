"""docs/fleet.md "Swarm", run as written: swarm.yml with a copy of inventories/example (adapted to this machine) plans
in check mode, deploys the inventory's registry as a swarm service in host mode (TLS, htpasswd, the inventory's port),
seeds it, points a client at it, changes nothing the second time, and comes down with -e registry_state=absent."""
import os
import re
import shutil
import uuid

import pytest

from tests.helpers.docs import run_as_written, section_commands
from tests.helpers.example_site import local_example, tls_catalog
from tests.helpers.registries import free_port
from tests.helpers.swarm import SERVICE_LABEL, ensure_swarm, remove_service

pytestmark = [pytest.mark.docker, pytest.mark.swarm, pytest.mark.timeout(1500)]

CERTS_DIRS = ("/etc/docker/certs.d", "/etc/containers/certs.d")
CHANGED = re.compile(r"changed=[1-9]")


@pytest.fixture
def mysite(tmp_path, sample_tarballs, docker_client):
    """A copy of inventories/example: its registry host and one client are this machine, its paths under tmp_path."""
    ensure_swarm(docker_client)
    site = {"name": f"swarm-docs-{uuid.uuid4().hex[:8]}", "port": free_port(), "config_dir": str(tmp_path / "etc")}
    site["inventory"] = local_example(tmp_path, sample_tarballs, site["name"], site["port"], fleet_hosts=["node1.site-a.example"],
                                      registry_client_docker_config=str(tmp_path / "docker-config" / "config.json"))
    yield site
    remove_service(docker_client, site["name"])
    for base in CERTS_DIRS:
        shutil.rmtree(f"{base}/127.0.0.1:{site['port']}", ignore_errors=True)


def catalog(site):
    return tls_catalog(site["config_dir"], site["port"])


def test_swarm_section_as_written(mysite, docker_client):
    commands = section_commands("fleet.md", "Swarm")
    deploy = [c for c in commands if "registry_state=absent" not in c]
    teardown = [c for c in commands if "registry_state=absent" in c]
    assert len(deploy) == 3 and len(teardown) == 1, commands
    name, port = mysite["name"], mysite["port"]

    for command in deploy:
        proc = run_as_written(command, inventory=mysite["inventory"])
        assert proc.returncode == 0, command + "\n" + proc.stdout[-6000:] + proc.stderr[-2000:]
        if "--check" in command:
            assert not [s for s in docker_client.services.list() if s.name == name], "check mode created the service"
            planned = re.sub(r"\s+", "", re.sub(r"(?m)^\+", "", proc.stdout))  # the service's planned settings, from --diff
            assert f'"ports":[[{port},5000,"host"]]' in planned and '"REGISTRY_AUTH":"htpasswd"' in planned, proc.stdout[-6000:]
    service = docker_client.services.get(name)
    ports = service.attrs["Spec"]["EndpointSpec"]["Ports"]
    assert [(p["PublishedPort"], p["PublishMode"]) for p in ports] == [(port, "host")]
    env = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "REGISTRY_AUTH=htpasswd" in env and "REGISTRY_HTTP_TLS_CERTIFICATE=/run/secrets/tls.crt" in env, env
    assert catalog(mysite) == ["abox", "nginx", "tools/busyish"]
    for base in CERTS_DIRS:
        assert os.path.isfile(f"{base}/127.0.0.1:{port}/ca.crt")
    assert f"registry 127.0.0.1:{port}: 3 repositories" in proc.stdout, proc.stdout[-3000:]

    again = run_as_written(deploy[-1], inventory=mysite["inventory"])
    assert again.returncode == 0 and "changed=0" in again.stdout and not CHANGED.search(again.stdout), again.stdout[-4000:]

    down = run_as_written(teardown[0], inventory=mysite["inventory"])
    assert down.returncode == 0, down.stdout[-6000:] + down.stderr[-2000:]
    assert not [s for s in docker_client.services.list() if s.name == name]
    assert not docker_client.secrets.list(filters={"label": f"{SERVICE_LABEL}={name}"})
    for base in CERTS_DIRS:
        assert not os.path.exists(f"{base}/127.0.0.1:{port}")
    assert os.path.isfile(os.path.join(mysite["config_dir"], "tls", "ca.crt")), "the CA must stay"
    down_again = run_as_written(teardown[0], inventory=mysite["inventory"])
    assert down_again.returncode == 0 and not CHANGED.search(down_again.stdout), down_again.stdout[-3000:]
