"""swarm.yml and the registry_swarm role read the inventory a user writes for site.yml: one set of registry_* variables
for one registry, whichever backend runs it. The role README's example runs as written (adapted to localhost)."""
import os
import re
import shutil
import sys

import pytest
import yaml

from tests.helpers.ansible import run_playbook
from tests.helpers.registries import REPO_ROOT, free_port, wait_http
from tests.helpers.swarm import SERVICE_LABEL, ensure_swarm, remove_service

pytestmark = [pytest.mark.docker, pytest.mark.swarm]

SWARM_YML = os.path.join(REPO_ROOT, "playbooks", "swarm.yml")


def localhost_inventory(path, groups=("registry_hosts",), host_vars=None):
    """An inventory at `path` (a copied example's hosts.yml) with localhost, reached locally, in `groups`."""
    localhost = {"ansible_connection": "local", "ansible_host": "127.0.0.1", "ansible_python_interpreter": sys.executable, **(host_vars or {})}
    children = {group: {"hosts": {"localhost": localhost} if group in groups else {}} for group in ("registry_hosts", "fleet")}
    with open(path, "w") as fh:
        yaml.safe_dump({"all": {"children": children}}, fh, sort_keys=False)


@pytest.fixture
def swarm_name(docker_client):
    """(name, port) of a service made through the playbooks; the service, its secrets and certs.d entries go at teardown."""
    ensure_swarm(docker_client)
    port = free_port()
    name = f"dep-inv-{port}"
    yield name, port
    remove_service(docker_client, name)
    for host in ("localhost", "127.0.0.1"):
        shutil.rmtree(f"/etc/docker/certs.d/{host}:{port}", ignore_errors=True)


def test_swarm_yml_with_the_example_inventory_plans_the_inventory_registry(docker_client, swarm_name, tmp_path):
    name, port = swarm_name
    inventory = tmp_path / "mysite"
    shutil.copytree(os.path.join(REPO_ROOT, "inventories", "example"), inventory)
    localhost_inventory(inventory / "hosts.yml")
    extra = {"fleet_registry_port": port, "registry_name": name, "registry_config_dir": str(tmp_path / "etc"),
             "registry_storage_dir": str(tmp_path / "storage"), "registry_swarm_publish_mode": "host",
             "registry_seed_enabled": False, "site_registry_image_tarball": ""}
    res = run_playbook(SWARM_YML, extra, inventory=str(inventory), check=True, diff=True)
    assert not res.failed, res.stdout[-4000:] + res.stderr[-2000:]
    planned = res.result("Run the registry as a swarm service")
    assert planned.get("changed") and "service created" in planned["actions"], planned
    after = planned["diff"]["after"]
    # the inventory's port (fleet_registry_port via registry_port), TLS and htpasswd users: not 5000, plain, open
    assert after["ports"] == [[port, 5000, "host"]], after
    assert after["env"]["REGISTRY_HTTP_TLS_CERTIFICATE"] == "/run/secrets/tls.crt", after["env"]
    assert after["env"]["REGISTRY_AUTH"] == "htpasswd", after["env"]
    assert sorted(s[1] for s in after["secrets"]) == ["htpasswd", "tls.crt", "tls.key"], after["secrets"]
    assert all(s[0].startswith(f"{name}-") for s in after["secrets"]), after["secrets"]
    assert not [s for s in docker_client.services.list() if s.name == name], "check mode created the service"
    assert not docker_client.secrets.list(filters={"label": f"{SERVICE_LABEL}={name}"}), "check mode created secrets"


def readme_example():
    with open(os.path.join(REPO_ROOT, "roles", "registry_swarm", "README.md")) as fh:
        text = fh.read()
    section = text[text.index("## Example"):]
    return yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))


def test_role_readme_example_runs_as_written(docker_client, swarm_name, tmp_path):
    name, port = swarm_name
    plays = readme_example()
    assert plays[0]["gather_facts"] is False
    inventory = tmp_path / "hosts.yml"
    localhost_inventory(inventory)
    # The example as written; only what a test must not share with a real registry comes from the command line.
    extra = {"registry_port": port, "registry_name": name, "registry_config_dir": str(tmp_path / "etc"),
             "registry_storage_dir": str(tmp_path / "storage"), "registry_admin_password": "readme-pass",
             "registry_health_timeout": 90}
    playbook = tmp_path / "registry.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    res = run_playbook(str(playbook), extra, inventory=str(inventory))
    assert not res.failed, res.stdout[-4000:] + res.stderr[-2000:]
    service = docker_client.services.get(name)
    assert service.attrs["Spec"]["EndpointSpec"]["Ports"][0]["PublishMode"] == "host"
    assert wait_http(f"https://127.0.0.1:{port}/v2/", cafile=str(tmp_path / "etc" / "tls" / "ca.crt"), ok=(401,)) == 401
    assert os.path.isfile(f"/etc/docker/certs.d/localhost:{port}/ca.crt")
