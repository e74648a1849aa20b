"""The harness is real: the locally built Distribution image runs under the real engine and serves pushes."""
import json
import subprocess
import urllib.request

import pytest

from tests.helpers.ansible import run_playbook
from tests.helpers.registries import free_port, wait_http

pytestmark = pytest.mark.docker


def test_distribution_container_push_pull_catalog(docker_client, sample_images):
    port = free_port()
    container = docker_client.containers.run(
        "registry:2.8.3", detach=True, name=f"harness-smoke-{port}", ports={"5000/tcp": ("127.0.0.1", port)}
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/")
        target = f"127.0.0.1:{port}/abox:1.0.1"
        subprocess.run(["docker", "tag", "abox:1.0.1", target], check=True)
        push = subprocess.run(["docker", "push", target], check=True, capture_output=True, text=True)
        assert "digest: sha256:" in push.stdout
        subprocess.run(["docker", "rmi", target], check=True, capture_output=True)
        subprocess.run(["docker", "pull", target], check=True, capture_output=True)
        pulled = docker_client.images.get(target)
        assert pulled.id == docker_client.images.get("abox:1.0.1").id
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/_catalog") as resp:
            assert json.load(resp)["repositories"] == ["abox"]
    finally:
        container.remove(force=True, v=True)
        subprocess.run(["docker", "rmi", "-f", f"127.0.0.1:{port}/abox:1.0.1"], check=False, capture_output=True)


def test_distribution_process_fixture(distribution_registry):
    with urllib.request.urlopen(distribution_registry.url + "/v2/") as resp:
        assert resp.status == 200
        assert resp.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_run_playbook_results_stats_and_failures():
    res = run_playbook([{"name": "p", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Say", "ansible.builtin.debug": {"msg": ["a", "b => {c}"]}},
        {"name": "Touch", "ansible.builtin.command": "true", "changed_when": True},
        {"name": "Loop", "ansible.builtin.debug": {"msg": "{{ item }}"}, "loop": [1, 2]},
        {"name": "Boom", "ansible.builtin.fail": {"msg": "it broke: fix X"}},
    ]}])
    assert res.rc == 2
    assert res.result("Say", "localhost")["msg"] == ["a", "b => {c}"]
    assert [item["msg"] for item in res.result("Loop")["results"]] == [1, 2]
    assert res.failures() == {"localhost": "it broke: fix X"}
    assert res.stats_for("localhost")["changed"] == 1 and res.stats_for("localhost")["failures"] == 1
    assert res.changed == 1 and res.changed_on("elsewhere") == 0 and res.hosts == ["localhost"]


def test_run_playbook_a_clean_run():
    res = run_playbook([{"name": "p", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Say", "ansible.builtin.debug": {"msg": "hi"}}]}])
    assert res.rc == 0 and res.failures() == {} and res.changed == 0 and not res.failed
    assert res.tasks()[-1][0] == "Say" and res.result()["msg"] == "hi"
