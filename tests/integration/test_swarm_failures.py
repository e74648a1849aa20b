"""A swarm service that never answers (ingress publish where the routing mesh does not work, as on this machine): the
failure names the real network error, what the run created (changed: true, the service and its secrets, left in
place) and the fix, publish_mode: host; a re-run in host mode takes over what was left."""
import pytest

from tests.helpers.ansible import run_module, run_playbook
from tests.helpers.certs import make_tls
from tests.helpers.registries import free_port, wait_http
from tests.helpers.swarm import SERVICE_LABEL, ensure_swarm, remove_service

pytestmark = [pytest.mark.docker, pytest.mark.swarm]

MODULE = "airgap.registry.registry_swarm_service"


@pytest.fixture
def service(docker_client):
    ensure_swarm(docker_client)
    port = free_port()
    name = f"dep-fail-{port}"
    yield name, port
    remove_service(docker_client, name)


def secret_names(client, name):
    return sorted(s.name for s in client.secrets.list(filters={"label": f"{SERVICE_LABEL}={name}"}))


def test_ingress_that_never_answers_reports_error_created_objects_and_host_mode(docker_client, service, tmp_path):
    name, port = service
    _ca, cert, key = make_tls(tmp_path / "pki")
    args = {"name": name, "published_port": port, "publish_mode": "ingress", "tls_cert": cert, "tls_key": key,
            "storage_path": str(tmp_path / "storage"), "wait_timeout": 15}
    res, _ = run_module(MODULE, args)
    assert res.get("failed"), res
    msg = res["msg"]
    assert "last status: None" not in msg, msg
    assert "Connection refused" in msg or "last error:" in msg, msg
    assert res["last_error"], res
    assert "publish_mode: host" in msg and "registry_swarm_publish_mode: host" in msg, msg
    assert f"This run created service {name}" in msg, msg
    assert "tasks: running" in msg, msg
    assert res["changed"] is True, res
    assert res["created"]["service"] == name, res
    assert sorted(res["created"]["secrets"]) == secret_names(docker_client, name) and len(res["created"]["secrets"]) == 2, res
    assert res["actions"][-2:] == ["secrets created", "service created"], res
    assert [s.name for s in docker_client.services.list() if s.name == name] == [name]

    # the advice works: host mode updates the service that was left behind, with the same secrets
    res, _ = run_module(MODULE, {**args, "publish_mode": "host", "wait_timeout": 90})
    assert not res.get("failed") and res["changed"] and res["actions"] == ["service updated"], res
    # host mode also turns the default update order to stop-first (a new task could not bind the port on this node)
    assert res["differences"] == ["ports", "update"], res
    assert wait_http(f"https://127.0.0.1:{port}/v2/", cafile=_ca) == 200


def test_role_in_ingress_mode_fails_with_the_fix_and_changed(docker_client, service, tmp_path):
    name, port = service
    play = [{"name": "swarm registry", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry_swarm", "vars": {
                 "registry_name": name, "registry_port": port, "registry_config_dir": str(tmp_path / "etc"),
                 "registry_storage_dir": str(tmp_path / "storage"), "registry_health_timeout": 15}}]}]
    res = run_playbook(play)
    assert res.failed
    failed = res.result("Run the registry as a swarm service")
    assert failed.get("failed") and failed["changed"] is True, failed
    assert "registry_swarm_publish_mode: host" in failed["msg"] and failed["created"]["service"] == name, failed
