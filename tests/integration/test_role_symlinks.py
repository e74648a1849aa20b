"""A destination that is a user's symlink is written through, not replaced (issue 16; the kind of issue 10, item 12).

/etc/docker/daemon.json, a containerd hosts.toml, a report file or a registry's certs.d ca.crt are often symlinks into
a configuration repository or another disk. The roles' copy/template tasks follow them (follow: true): after a run the
link is still a link and its target holds the new content.
"""
import json
import os
import shutil

import pytest

from tests.helpers.ansible import run_playbook
from tests.helpers.registries import free_port
from tests.helpers.swarm import ensure_swarm, remove_service

pytestmark = [pytest.mark.docker]


def role_play(role, role_vars):
    return [{"name": role, "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": f"airgap.registry.{role}", "vars": role_vars}]}]


def linked(tmp_path, name, content):
    """A symlink tmp_path/links/name to tmp_path/real/name holding `content`: (link path, target path)."""
    target, link = tmp_path / "real" / name, tmp_path / "links" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    link.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    link.symlink_to(target)
    return link, target


def test_client_writes_through_symlinked_daemon_json_hosts_toml_and_report(pyregistry_server, tmp_path):
    host = pyregistry_server.host
    daemon, daemon_target = linked(tmp_path, "daemon.json", json.dumps({"debug": True}))
    report, report_target = linked(tmp_path, "report.json", "{}")
    hosts_dir = tmp_path / "containerd-certs.d"
    (hosts_dir / host).mkdir(parents=True)
    hosts_target = tmp_path / "real" / "hosts.toml"
    hosts_target.write_text("# old\n")
    (hosts_dir / host / "hosts.toml").symlink_to(hosts_target)
    settings = {"registry_client_registry": host, "registry_client_tls": False, "registry_client_daemon_json": str(daemon),
                "registry_client_engine_restart_command": "true", "registry_client_containerd": True,
                "registry_client_containerd_hosts_dir": str(hosts_dir), "registry_client_report_path": str(report)}
    res = run_playbook(role_play("registry_client", settings))
    assert not res.failed, res.stdout[-3000:]

    for link, target in ((daemon, daemon_target), (report, report_target), (hosts_dir / host / "hosts.toml", hosts_target)):
        assert os.path.islink(link), f"{link} was replaced by a file"
        assert os.path.realpath(link) == str(target)
    daemon_json = json.loads(daemon_target.read_text())
    assert daemon_json["debug"] is True and host in daemon_json["insecure-registries"], daemon_json
    assert f"http://{host}" in hosts_target.read_text()
    assert json.loads(report_target.read_text()) != {}


@pytest.mark.swarm
def test_swarm_role_writes_through_a_symlinked_certs_d_ca(docker_client, tmp_path):
    ensure_swarm(docker_client)
    port = free_port()
    name = f"link-swarm-{port}"
    certs_d = f"/etc/docker/certs.d/127.0.0.1:{port}"
    ca_link, ca_target = os.path.join(certs_d, "ca.crt"), tmp_path / "real" / "ca.crt"
    ca_target.parent.mkdir()
    ca_target.write_text("an old CA\n")
    os.makedirs(certs_d)
    os.symlink(ca_target, ca_link)
    settings = {"registry_name": name, "registry_port": port, "registry_tls": True, "registry_tls_subject_alt_names": ["127.0.0.1"],
                "registry_config_dir": str(tmp_path / "etc"), "registry_storage_dir": str(tmp_path / "storage"),
                "registry_swarm_publish_mode": "host", "registry_swarm_trust_hosts": [f"127.0.0.1:{port}"],
                "registry_health_timeout": 90}
    try:
        res = run_playbook(role_play("registry_swarm", settings))
        assert not res.failed, res.stdout[-3000:]
        assert os.path.islink(ca_link), f"{ca_link} was replaced by a file"
        assert ca_target.read_text() == (tmp_path / "etc" / "tls" / "ca.crt").read_text()
    finally:
        remove_service(docker_client, name)
        shutil.rmtree(certs_d, ignore_errors=True)
