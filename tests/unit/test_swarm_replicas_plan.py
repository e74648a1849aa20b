"""registry_swarm_service's replica settings, pure: the http.secret config secret and the rolling update order."""
import yaml

from ansible_collections.airgap.registry.plugins.module_utils import deploy_service as ds
from ansible_collections.airgap.registry.plugins.module_utils import registry_deploy as rd


def params(**over):
    p = {"name": "reg", "image": "registry:2.8.3", "published_port": 5000, "publish_mode": "none", "replicas": 3,
         "constraints": [], "env": None, "storage_path": "/srv/reg", "tls_cert": None, "tls_key": None, "htpasswd_path": None,
         "htpasswd_realm": "Registry Realm", "http_secret": "s3cret", "update_order": None, "healthcheck": {"enabled": False}}
    p.update(over)
    return p


def test_http_secret_becomes_a_versioned_config_secret_over_the_image_config():
    secrets, data = ds.read_secrets(params(), check_mode=False)
    assert len(secrets) == 1
    name, target = secrets[0]
    assert name.startswith("reg-config-") and target == "/etc/docker/registry/config.yml"
    config = yaml.safe_load(data[name])
    assert config["http"]["secret"] == "s3cret" and config["http"]["addr"] == ":5000"
    assert config["storage"]["filesystem"]["rootdirectory"] == rd.STORAGE_TARGET
    other, _ = ds.read_secrets(params(http_secret="rotated"), check_mode=False)
    assert other[0][0] != name, "a changed secret must get a new (immutable) docker secret"
    assert ds.read_secrets(params(http_secret=None), check_mode=False) == ([], {})


def test_http_secret_stays_out_of_env_and_the_v3_image_gets_its_own_config_path():
    secrets, _ = ds.read_secrets(params(image="registry:3.0.0"), check_mode=False)
    assert secrets[0][1] == "/etc/distribution/config.yml"
    desired = ds.desired_service(params(), ds.read_secrets(params(), check_mode=False)[0])
    assert desired["env"] == {} and "s3cret" not in repr(desired)


def test_update_order_start_first_unless_published_in_host_mode():
    secrets = []
    assert ds.desired_service(params(), secrets)["update"] == {"order": "start-first", "failure_action": "rollback"}
    assert ds.desired_service(params(publish_mode="ingress"), secrets)["update"]["order"] == "start-first"
    assert ds.desired_service(params(publish_mode="host"), secrets)["update"]["order"] == "stop-first"
    assert ds.desired_service(params(publish_mode="host", update_order="start-first"), secrets)["update"]["order"] == "start-first"
    assert ds.desired_service(params(), secrets)["ports"] == []


def test_running_update_config_is_compared():
    desired = ds.desired_service(params(), [])
    spec = {"TaskTemplate": {"ContainerSpec": {"Image": "registry:2.8.3", "Mounts": [{"Source": "/srv/reg", "Target": rd.STORAGE_TARGET}]},
                             "Placement": {}},
            "Mode": {"Replicated": {"Replicas": 3}}, "EndpointSpec": {},
            "UpdateConfig": {"Order": "stop-first", "FailureAction": "pause"}}
    assert rd.differences(desired, rd.current_service(spec)) == ["update"]
    spec["UpdateConfig"] = {"Order": "start-first", "FailureAction": "rollback"}
    assert rd.differences(desired, rd.current_service(spec)) == []
