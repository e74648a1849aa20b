"""site.yml with a copy of inventories/example, as docs/fleet.md tells a new user to run it (issue 16, items 1 and 5).

The copy points every host at this machine (ansible_connection=local) and every path under a tmp dir; the registry
runs as a container (the example's backend) with TLS and htpasswd on a free port. Check mode on the fresh fleet plans
without failing; the switches the playbooks read (registry_seed_enabled, registry_state) work, and a site comes down.
"""
import os
import shutil
import sys
import uuid

import pytest
import yaml

from tests.helpers.ansible import run_playbook
from tests.helpers.registries import REPO_ROOT, free_port

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1200)]

EXAMPLE = os.path.join(REPO_ROOT, "inventories", "example")
SITE = os.path.join(REPO_ROOT, "playbooks", "site.yml")


def edit(path, **changes):
    with open(path) as fh:
        data = yaml.safe_load(fh)
    data.update(changes)
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)


class Site:
    """A copy of inventories/example whose hosts are this machine and whose paths are under `tmp`."""

    def __init__(self, tmp, tarballs, docker_client):
        self.tmp = tmp
        self.docker = docker_client
        self.inventory = str(tmp / "mysite")
        shutil.copytree(EXAMPLE, self.inventory)
        self.name = f"example-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.config_dir = str(tmp / "etc")
        self.storage_dir = str(tmp / "storage")
        with open(os.path.join(self.inventory, "hosts.yml")) as fh:
            hosts = yaml.safe_load(fh)
        hosts["all"]["vars"] = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        for group in hosts["all"]["children"].values():
            for host in group["hosts"].values():
                host["ansible_host"] = "127.0.0.1"
        with open(os.path.join(self.inventory, "hosts.yml"), "w") as fh:
            yaml.safe_dump(hosts, fh, sort_keys=False)
        gv = os.path.join(self.inventory, "group_vars")
        edit(os.path.join(gv, "all.yml"), fleet_registry_host="127.0.0.1", fleet_registry_port=self.port)
        edit(os.path.join(gv, "registry_hosts.yml"), registry_name=self.name, registry_config_dir=self.config_dir,
             registry_storage_dir=self.storage_dir, registry_seed_controller_dir=str(tarballs),
             registry_seed_tarballs_dir=str(tmp / "tarballs"))
        edit(os.path.join(gv, "fleet.yml"), registry_client_ca_cert_host_path=os.path.join(self.config_dir, "tls", "ca.crt"),
             registry_client_docker_config=str(tmp / "docker-config"), registry_client_pull_with="skopeo",
             registry_client_skopeo_dir=str(tmp / "images"), registry_client_trust_docker=False,
             registry_client_trust_containers=False)

    def container(self):
        found = self.docker.containers.list(all=True, filters={"name": f"^{self.name}$"})
        return found[0] if found else None

    def cleanup(self):
        container = self.container()
        if container is not None:
            container.remove(force=True)


@pytest.fixture
def site(tmp_path, sample_tarballs, docker_client):
    st = Site(tmp_path, sample_tarballs, docker_client)
    yield st
    st.cleanup()


def registry_hosts_only(site):
    """The site without its client hosts."""
    path = os.path.join(site.inventory, "hosts.yml")
    with open(path) as fh:
        hosts = yaml.safe_load(fh)
    hosts["all"]["children"]["fleet"]["hosts"] = {}
    with open(path, "w") as fh:
        yaml.safe_dump(hosts, fh, sort_keys=False)


def test_check_mode_on_fresh_registry_hosts_plans_and_changes_nothing(site):
    """`site.yml --check --diff` on a fresh TLS registry host: no CA yet, no registry yet; the seed plans instead of failing."""
    registry_hosts_only(site)
    res = run_playbook(SITE, inventory=site.inventory, check=True, diff=True)
    assert res.rc == 0, res.stdout[-6000:] + res.stderr[-2000:]
    host = "registry1.site-a.example"
    assert res.changed_on(host) > 0
    note = res.result("Say what check mode cannot know", host)["msg"]
    assert f"127.0.0.1:{site.port}" in note and "would be seeded" in note, note
    assert not os.path.exists(site.config_dir) and not os.path.exists(site.storage_dir)
    assert site.container() is None


def test_a_missing_seed_ca_file_names_the_file_and_the_option(sample_tarballs, tmp_path):
    missing = str(tmp_path / "no-such-ca.crt")
    play = [{"hosts": "localhost", "gather_facts": False, "roles": [{"role": "airgap.registry.registry_seed", "vars": {
        "registry_seed_registry": f"127.0.0.1:{free_port()}", "registry_seed_scheme": "https", "registry_seed_ca_file": missing,
        "registry_seed_tarballs_dir": str(sample_tarballs)}}]}]
    res = run_playbook(play)
    assert res.rc != 0
    msg = res.failures()["localhost"]
    assert msg.startswith(f"localhost: registry_seed_ca_file '{missing}' does not exist on this host."), msg
    assert "reachable" not in msg and "Errno" not in msg
    planned = run_playbook(play, check=True)
    assert planned.rc == 0, planned.stdout[-3000:]
    assert "its CA file " + missing + " is not written yet" in planned.result("Say what check mode cannot know")["msg"]
