"""The container backend writes config.yml as block YAML (issue 16, item 12), which Distribution reads: a header set
in registry_config is served; an edit by hand is seen and put back on the next run."""
import urllib.request
import uuid

import pytest
import yaml

from tests.helpers.ansible import run_playbook
from tests.helpers.registries import free_port, wait_http

pytestmark = pytest.mark.docker


def play(role_vars):
    return [{"name": "registry", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry", "vars": role_vars}]}]


@pytest.fixture
def container_vars(tmp_path, docker_client):
    role_vars = {
        "registry_backend": "container", "registry_name": f"yaml-{uuid.uuid4().hex[:8]}", "registry_port": free_port(),
        "registry_bind_address": "127.0.0.1", "registry_config_dir": str(tmp_path / "etc"),
        "registry_storage_dir": str(tmp_path / "storage"),
        "registry_config": {"http": {"headers": {"X-Airgap-Test": ["yaml"]}}},
    }
    yield role_vars
    run_playbook(play({**role_vars, "registry_state": "absent"}))
    for container in docker_client.containers.list(all=True, filters={"name": f"^{role_vars['registry_name']}$"}):
        container.remove(force=True)


def test_config_yml_is_yaml_that_distribution_reads(container_vars, tmp_path):
    res = run_playbook(play(container_vars))
    assert not res.failed, res.stdout[-4000:]
    path = tmp_path / "etc" / "config.yml"
    text = path.read_text()
    assert not text.lstrip().startswith("{"), text
    assert "  headers:\n    X-Airgap-Test:\n      - yaml\n" in text, text
    config = yaml.safe_load(text)
    assert config["version"] == 0.1 and config["storage"]["filesystem"]["rootdirectory"] == "/var/lib/registry"
    url = f"http://127.0.0.1:{container_vars['registry_port']}/v2/"
    assert wait_http(url, timeout=20) == 200
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.headers.get("X-Airgap-Test") == "yaml"
    again = run_playbook(play(container_vars))
    assert not again.failed and again.changed == 0, [n for n, r in again.tasks() if r.get("changed")]

    path.write_text(text.replace("- yaml", "- edited by hand"))
    fixed = run_playbook(play(container_vars))
    assert not fixed.failed and fixed.changed > 0
    assert path.read_text() == text
