"""site.yml with a copy of inventories/example, as docs/fleet.md tells a new user to run it (issue 16, items 1 and 5).

The copy points every host at this machine (ansible_connection=local) and every path under a tmp dir; the registry
runs as a container (the example's backend) with TLS and htpasswd on a free port. Check mode on the fresh fleet plans
without failing; the switches the playbooks read (registry_seed_enabled, registry_state) work, and a site comes down.
"""
import json
import os
import shutil
import uuid

import pytest
import yaml

from tests.helpers.ansible import run_playbook
from tests.helpers.docs import run_as_written, section_commands
from tests.helpers.example_site import local_example, tls_catalog
from tests.helpers.registries import REPO_ROOT, free_port

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1200)]

SITE = os.path.join(REPO_ROOT, "playbooks", "site.yml")


class Site:
    """A copy of inventories/example whose hosts are this machine and whose paths are under `tmp`."""

    def __init__(self, tmp, tarballs, docker_client):
        self.tmp = tmp
        self.docker = docker_client
        self.name = f"example-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.config_dir = str(tmp / "etc")
        self.storage_dir = str(tmp / "storage")
        self.inventory = local_example(tmp, tarballs, self.name, self.port, registry_client_docker_config=str(tmp / "docker-config"),
                                       registry_client_trust_docker=False)
        self.containers_ca = f"/etc/containers/certs.d/127.0.0.1:{self.port}/ca.crt"  # the clients' trust (this machine)

    def container(self):
        found = self.docker.containers.list(all=True, filters={"name": f"^{self.name}$"})
        return found[0] if found else None

    def cleanup(self):
        container = self.container()
        if container is not None:
            container.remove(force=True)
        shutil.rmtree(os.path.dirname(self.containers_ca), ignore_errors=True)


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


def catalog(site):
    return tls_catalog(site.config_dir, site.port)


def test_skip_seeding_then_seed_then_take_the_registry_down_and_up_again(site):
    registry_hosts_only(site)
    host = "registry1.site-a.example"
    unseeded = run_playbook(SITE, inventory=site.inventory, extra_vars={"registry_seed_enabled": False})
    assert unseeded.rc == 0, unseeded.stdout[-6000:] + unseeded.stderr[-2000:]
    assert unseeded.result("Print the catalog and tags", host)["msg"] == [f"registry 127.0.0.1:{site.port}: 0 repositories"]
    assert site.container().status == "running"

    seeded = run_playbook(SITE, inventory=site.inventory)
    assert seeded.rc == 0, seeded.stdout[-6000:]
    assert catalog(site) == ["abox", "nginx", "tools/busyish"]
    with open(os.path.join(site.config_dir, "tls", "ca.crt")) as fh:
        ca = fh.read()

    down = run_playbook(SITE, inventory=site.inventory, extra_vars={"registry_state": "absent"})
    assert down.rc == 0, down.stdout[-6000:]
    assert site.container() is None
    # The CA stays (clients keep trusting a redeploy), the storage stays; config, server key and htpasswd go.
    assert sorted(os.listdir(site.config_dir)) == ["tls"]
    assert sorted(os.listdir(os.path.join(site.config_dir, "tls"))) == ["ca.crt", "ca.key"]
    assert os.path.isdir(os.path.join(site.storage_dir, "docker"))
    names = [name.split(" : ", 1)[-1] for name, res in down.tasks(host) if res and not res.get("skipped")]
    assert "Reach the registry" not in names and "Read the catalog and tags" not in names
    again = run_playbook(SITE, inventory=site.inventory, extra_vars={"registry_state": "absent"})
    assert again.rc == 0 and again.changed_on(host) == 0, again.stdout[-4000:]

    up = run_playbook(SITE, inventory=site.inventory)
    assert up.rc == 0, up.stdout[-6000:]
    with open(os.path.join(site.config_dir, "tls", "ca.crt")) as fh:
        assert fh.read() == ca
    assert catalog(site) == ["abox", "nginx", "tools/busyish"]
    pushed = up.result("Seed the registry from the tarballs", host)["images"]
    assert sum(i["bytes_sent"] for i in pushed) == 0


def test_tear_down_as_written_in_docs(site):
    """The whole site up (registry, seeding, both clients trusting, logged in, pulling), then down as docs/fleet.md says."""
    up = run_playbook(SITE, inventory=site.inventory)
    assert up.rc == 0, up.stdout[-6000:]
    assert site.container() is not None
    assert os.path.isfile(site.containers_ca)
    with open(site.tmp / "docker-config") as fh:
        assert f"127.0.0.1:{site.port}" in json.load(fh)["auths"]
    commands = section_commands("fleet.md", "Tear down")
    for command in commands:
        proc = run_as_written(command, inventory=site.inventory)
        assert proc.returncode == 0, command + "\n" + proc.stdout[-4000:] + proc.stderr[-2000:]
    assert site.container() is None
    assert sorted(os.listdir(os.path.join(site.config_dir, "tls"))) == ["ca.crt", "ca.key"]
    assert not os.path.exists(os.path.join(site.config_dir, "config.yml"))
    # The clients no longer trust the registry nor hold its login.
    assert not os.path.exists(site.containers_ca)
    with open(site.tmp / "docker-config") as fh:
        assert f"127.0.0.1:{site.port}" not in json.load(fh).get("auths", {})
    again = run_as_written(commands[-1], inventory=site.inventory)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]


def test_check_mode_on_a_fresh_fleet_with_its_clients_plans(site):
    """The whole example (registry host and client hosts) in check mode on a fresh fleet: a plan for every host."""
    res = run_playbook(SITE, inventory=site.inventory, check=True, diff=True)
    assert res.rc == 0, res.stdout[-6000:] + res.stderr[-2000:]
    assert set(res.hosts) == {"registry1.site-a.example", "node1.site-a.example", "node2.site-a.example"}
    assert all(res.stats_for(h).get("failures", 0) == 0 for h in res.hosts)
    assert not os.path.exists(site.config_dir) and site.container() is None
