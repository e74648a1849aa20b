"""Deploy plans (issue 11): computed from observed state with no side effect, `actions` a report of the steps; the
probe address and secret-name rules the role shares with the modules through filters."""
import pytest

from ansible_collections.airgap.registry.plugins.filter.holds_secret import holds_secret_filter
from ansible_collections.airgap.registry.plugins.filter.probe_address import probe_address_filter
from ansible_collections.airgap.registry.plugins.module_utils import deploy_plan as dp
from ansible_collections.airgap.registry.plugins.module_utils.deploy_container import plan_absent, plan_container
from ansible_collections.airgap.registry.plugins.module_utils.deploy_names import holds_secret, is_secret_name, probe_address
from ansible_collections.airgap.registry.plugins.module_utils.deploy_service import plan_absent as plan_service_absent


class Image:
    id = "sha256:img"
    labels = {}
    attrs = {"Config": {"Env": ["PATH=/bin"]}}


class Container:
    def __init__(self, running=True, attrs=None):
        self.attrs = dict(attrs or {}, State={"Running": running})


def params(tmp_path, **over):
    p = {"name": "registry", "image": "registry:2.8.3", "state": "started", "published_port": 5000, "bind_address": "127.0.0.1",
         "storage_path": str(tmp_path / "storage"), "tls_cert": None, "tls_key": None, "htpasswd_path": None, "htpasswd_realm": "R",
         "env": None, "config": {"http": {"addr": ":5000"}}, "config_path": str(tmp_path / "etc" / "config.yml"), "restart_policy": "always",
         "pull": "never", "wait_timeout": 1}
    p.update(over)
    return p


def test_a_fresh_container_plan_lists_every_step_and_touches_nothing(tmp_path):
    plan = plan_container(params(tmp_path), None, Image(), {})
    assert [s.kind for s in plan.steps] == [dp.CREATE_STORAGE, dp.WRITE_CONFIG, dp.CREATE, dp.START, dp.WAIT]
    assert plan.actions == ["storage created", "config written", "created", "started"] and plan.changed
    assert plan.report["url"] == "http://127.0.0.1:5000" and plan.report["diff"]["before"]["state"] == "absent"
    assert list(tmp_path.iterdir()) == [], "planning wrote something"


def test_an_unchanged_running_container_only_waits(tmp_path):
    p = params(tmp_path, config=None, storage_path=None)
    asked = plan_container(p, None, Image(), {}).step(dp.CREATE).spec["desired"]
    attrs = {"Image": asked["image"], "Config": {"Env": ["PATH=/bin"], "Labels": {}},
             "HostConfig": {"Mounts": [], "PortBindings": {"5000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "5000"}]},
                            "RestartPolicy": {"Name": "always"}}}
    plan = plan_container(p, Container(attrs=attrs), Image(), {})
    assert [s.kind for s in plan.steps] == [dp.WAIT] and plan.actions == [] and not plan.changed
    stopped = plan_container(dict(p, state="stopped"), Container(attrs=attrs), Image(), {})
    assert [s.kind for s in stopped.steps] == [dp.STOP] and stopped.actions == ["stopped"]
    restarted = plan_container(dict(p, state="restarted"), Container(attrs=attrs), Image(), {})
    assert restarted.actions == ["restarted"]


def test_absent_plans():
    assert plan_absent(None).steps == [] and plan_absent(None).report["diff"]["after"] == {"state": "absent"}
    plan = plan_service_absent(object(), {"registry-cert-1": object()})
    assert [s.kind for s in plan.steps] == [dp.REMOVE, dp.REMOVE_SECRETS] and plan.actions == ["service removed", "secrets removed"]


@pytest.mark.parametrize(("bind", "address", "host"), [("0.0.0.0", "127.0.0.1", "127.0.0.1"), ("", "127.0.0.1", "127.0.0.1"),
                                                       ("::", "::1", "[::1]"), ("10.0.0.5", "10.0.0.5", "10.0.0.5"),
                                                       ("fd00::1", "fd00::1", "[fd00::1]"), ("[fd00::1]", "fd00::1", "[fd00::1]")])
def test_probe_address_filter_is_the_modules_rule(bind, address, host):
    assert probe_address(bind) == probe_address_filter(bind) == address
    assert probe_address_filter(bind, url_host=True) == host


def test_secret_names_one_rule_for_env_and_config():
    assert is_secret_name("REGISTRY_HTTP_SECRET") and is_secret_name("REGISTRY_STORAGE_S3_SECRETKEY")
    assert not is_secret_name("REGISTRY_AUTH_HTPASSWD_PATH") and not is_secret_name("REGISTRY_AUTH_HTPASSWD_REALM")
    assert holds_secret_filter({"http": {"secret": "x"}}) and holds_secret({"storage": {"s3": {"accesskey": "a"}}})
    assert not holds_secret({"auth": {"htpasswd": {"realm": "r", "path": "/auth/htpasswd"}}, "http": {"addr": ":5000"}})
    assert not holds_secret({"log": {"level": "info"}}) and not holds_secret(None)
