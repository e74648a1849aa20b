"""registry_swarm_service's health check, pure: the ContainerSpec.Healthcheck it asks for, its comparison with a running
service (a second run changes nothing), and the debug server the probe asks in the config it writes."""
import yaml

from ansible_collections.airgap.registry.plugins.module_utils import deploy_service as ds
from ansible_collections.airgap.registry.plugins.module_utils import registry_deploy as rd

SECOND = 1_000_000_000


def params(**over):
    p = {"name": "reg", "image": "registry:2.8.3", "published_port": 5000, "publish_mode": "none", "replicas": 2,
         "constraints": [], "env": None, "storage_path": "/srv/reg", "tls_cert": None, "tls_key": None, "htpasswd_path": None,
         "htpasswd_realm": "Registry Realm", "http_secret": "s3cret", "update_order": None, "healthcheck": None}
    p.update(over)
    return p


def running_spec(desired):
    """The Spec Swarm returns for a service created from `desired` (the fields current_service reads)."""
    check = desired["healthcheck"]
    container = {"Image": desired["image"], "Mounts": [{"Source": m["source"], "Target": m["target"]} for m in desired["mounts"]],
                 "Secrets": [{"SecretName": s, "File": {"Name": f}} for s, f in desired["secrets"]]}
    if check:
        container["Healthcheck"] = {"Test": check["test"], "Interval": check["interval"], "Timeout": check["timeout"],
                                    "Retries": check["retries"], "StartPeriod": check["start_period"]}
    return {"TaskTemplate": {"ContainerSpec": container, "Placement": {}}, "Mode": {"Replicated": {"Replicas": desired["replicas"]}},
            "EndpointSpec": {"Mode": "vip"}, "UpdateConfig": {"Order": "start-first", "FailureAction": "rollback"}}


def test_default_health_check_probes_the_debug_server_with_static_busybox():
    check = ds.desired_service(params(), [])["healthcheck"]
    assert check == {"test": ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5001/debug/health"],
                     "interval": 10 * SECOND, "timeout": 5 * SECOND, "retries": 3, "start_period": 10 * SECOND}


def test_health_check_options_are_seconds_and_can_turn_it_off():
    check = ds.desired_service(params(healthcheck={"enabled": True, "interval": 2, "timeout": 1, "retries": 5, "start_period": 0}), [])["healthcheck"]
    assert (check["interval"], check["timeout"], check["retries"], check["start_period"]) == (2 * SECOND, SECOND, 5, 0)
    assert ds.desired_service(params(healthcheck={"enabled": False, "interval": 2}), [])["healthcheck"] is None


def test_nginx_front_gets_no_health_check_unless_asked():
    assert ds.desired_service(params(front_config="events {}", http_secret=None), [])["healthcheck"] is None
    assert ds.desired_service(params(front_config="events {}", http_secret=None, healthcheck={"enabled": True}), [])["healthcheck"] is not None


def test_health_check_is_compared_with_the_running_service():
    desired = ds.desired_service(params(), [["reg-config-abc", "/etc/docker/registry/config.yml"]])
    spec = running_spec(desired)
    assert rd.differences(desired, rd.current_service(spec)) == [], "the same health check must not update the service again"
    spec["TaskTemplate"]["ContainerSpec"]["Healthcheck"]["Interval"] = 30 * SECOND
    assert rd.differences(desired, rd.current_service(spec)) == ["healthcheck"]
    del spec["TaskTemplate"]["ContainerSpec"]["Healthcheck"]
    assert rd.differences(desired, rd.current_service(spec)) == ["healthcheck"]
    off = ds.desired_service(params(healthcheck={"enabled": False}), [["reg-config-abc", "/etc/docker/registry/config.yml"]])
    assert rd.differences(off, rd.current_service(spec)) == []


def test_written_config_serves_debug_health_on_loopback_only():
    secrets, data = ds.read_secrets(params(), check_mode=False)
    config = yaml.safe_load(data[secrets[0][0]])
    assert config["http"]["debug"] == {"addr": "127.0.0.1:5001"}
    assert config["health"]["storagedriver"]["enabled"] is True
    assert ds.HEALTH_PROBE[-1] == f"http://{config['http']['debug']['addr']}/debug/health"
