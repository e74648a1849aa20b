"""Desired-state computation of the deploy modules (registry_deploy), without an engine."""
import pytest

from ansible_collections.airgap.registry.plugins.module_utils import registry_deploy as rd
from ansible_collections.airgap.registry.plugins.module_utils.docker_common import DeployError, probe_host


@pytest.mark.parametrize(("image", "labels", "major"), [
    ("registry:2.8.3", None, 2),
    ("registry:3.0.0", None, 3),
    ("mirror.local:5000/library/registry:v3.1", None, 3),
    ("registry", None, 2),
    ("registry:latest", {"org.opencontainers.image.version": "3.0.0"}, 3),
    ("registry@sha256:" + "a" * 64, None, 2),
])
def test_registry_major_from_label_or_tag(image, labels, major):
    assert rd.registry_major(image, labels) == major


def test_config_target_follows_major_version():
    assert rd.config_target("registry:2.8.3") == "/etc/docker/registry/config.yml"
    assert rd.config_target("registry:3.0.0") == "/etc/distribution/config.yml"


def test_render_config_is_stable_block_yaml():
    a = rd.render_config({"version": 0.1, "http": {"addr": ":5000"}})
    b = rd.render_config({"http": {"addr": ":5000"}, "version": 0.1})
    assert a == b and a == b'http:\n  addr: ":5000"\nversion: 0.1\n'


@pytest.mark.parametrize(("env", "config", "port"), [
    (None, None, 5000),
    ({"REGISTRY_HTTP_ADDR": "0.0.0.0:5443"}, None, 5443),
    (None, {"http": {"addr": ":6000"}}, 6000),
    ({"REGISTRY_HTTP_ADDR": ":7000"}, {"http": {"addr": ":6000"}}, 7000),
])
def test_container_port(env, config, port):
    assert rd.container_port(env, config) == port


def test_registry_env_adds_tls_and_htpasswd_over_user_env():
    env = rd.registry_env({"REGISTRY_LOG_LEVEL": "info", "REGISTRY_AUTH": "none", "N": 3}, tls=True, htpasswd=True, htpasswd_realm="R")
    assert env == {"REGISTRY_LOG_LEVEL": "info", "N": "3", "REGISTRY_AUTH": "htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM": "R",
                   "REGISTRY_AUTH_HTPASSWD_PATH": "/auth/htpasswd", "REGISTRY_HTTP_TLS_CERTIFICATE": "/certs/tls.crt",
                   "REGISTRY_HTTP_TLS_KEY": "/certs/tls.key"}


def container_attrs(env, labels=None, restart="always"):
    return {
        "Image": "sha256:abc",
        "Config": {"Env": env, "Labels": labels or {}},
        "HostConfig": {"Mounts": [{"Type": "bind", "Source": "/srv/registry", "Target": "/var/lib/registry"}],
                       "PortBindings": {"5000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "5000"}]},
                       "RestartPolicy": {"Name": restart}},
    }


def desired(env, labels=None, restart="always"):
    mounts = rd.container_mounts("/srv/registry")
    return rd.desired_container("sha256:abc", env, mounts, port=5000, bind_address="127.0.0.1", published_port=5000, restart_policy=restart,
                                labels=labels or {})


def test_running_container_matching_the_request_has_no_differences():
    image_env = {"PATH": "/bin"}
    current = rd.current_container(container_attrs(["PATH=/bin", "REGISTRY_X=1"], {"other.label": "x"}), image_env)
    asked = desired(rd.env_without_image_defaults({"REGISTRY_X": "1", "PATH": "/bin"}, image_env))
    assert rd.differences(asked, current) == []


def test_differences_name_what_moved():
    image_env = {"PATH": "/bin"}
    labels = rd.hash_labels({"tls-cert": "new", "config": None})
    assert labels == {"airgap.registry.tls-cert-sha256": "new"}
    current = rd.current_container(container_attrs(["PATH=/bin"], {"airgap.registry.tls-cert-sha256": "old"}, restart="no"), image_env)
    assert rd.differences(desired({"REGISTRY_X": "1"}, labels), current) == ["env", "restart_policy", "labels"]
    assert rd.differences(desired({}), None) == ["image", "env", "mounts", "ports", "restart_policy", "labels"]


def test_container_mounts_are_sorted_and_read_only_for_files():
    mounts = rd.container_mounts("/s", tls_cert="/c", tls_key="/k", htpasswd_path="/h", config_path="/cfg", config_file_target=rd.CONFIG_TARGET_V3)
    assert [(m["target"], m["read_only"]) for m in mounts] == [
        ("/auth/htpasswd", True), ("/certs/tls.crt", True), ("/certs/tls.key", True), ("/etc/distribution/config.yml", True),
        ("/var/lib/registry", False)]


def test_secret_names_are_content_versioned():
    a = rd.secret_name("registry", "cert", b"one")
    assert a.startswith("registry-cert-") and len(a) == len("registry-cert-") + 12
    assert a == rd.secret_name("registry", "cert", b"one") != rd.secret_name("registry", "cert", b"two")


def test_service_spec_round_trip_has_no_differences():
    asked = rd.desired_service("registry:2.8.3", {"REGISTRY_HTTP_TLS_KEY": "/run/secrets/tls.key"}, [rd.bind("/srv", "/var/lib/registry")],
                               [("r-key-1", "tls.key"), ("r-cert-1", "tls.crt")], published_port=5000, target_port=5000, publish_mode="host",
                               replicas=1, constraints=["node.labels.registry==true"], labels={})
    spec = {
        "Labels": {},
        "TaskTemplate": {"ContainerSpec": {"Image": "registry:2.8.3", "Env": ["REGISTRY_HTTP_TLS_KEY=/run/secrets/tls.key"],
                                           "Mounts": [{"Type": "bind", "Source": "/srv", "Target": "/var/lib/registry"}],
                                           "Secrets": [{"SecretName": "r-cert-1", "File": {"Name": "tls.crt"}},
                                                       {"SecretName": "r-key-1", "File": {"Name": "tls.key"}}]},
                         "Placement": {"Constraints": ["node.labels.registry==true"]}},
        "Mode": {"Replicated": {"Replicas": 1}},
        "EndpointSpec": {"Ports": [{"Protocol": "tcp", "TargetPort": 5000, "PublishedPort": 5000, "PublishMode": "host"}]},
    }
    assert rd.differences(asked, rd.current_service(spec)) == []
    spec["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretName"] = "r-cert-0"
    spec["Mode"] = {"Global": {}}
    assert rd.differences(asked, rd.current_service(spec)) == ["secrets", "replicas"]


def test_missing_labels():
    assert rd.missing_labels({"registry": "true", "a": "b"}, {"registry": "true"}) == {}
    assert rd.missing_labels(None, {"registry": "true"}) == {"registry": "true"}
    assert rd.missing_labels({"registry": "false"}, {"registry": "true"}) == {"registry": "true"}


class FakeClient:
    def __init__(self, swarm):
        self._swarm = swarm

    def info(self):
        return {"Swarm": self._swarm}


def test_ensure_swarm_refuses_workers_and_inactive_engines_without_init():
    with pytest.raises(DeployError, match="worker, not a manager"):
        rd.ensure_swarm(FakeClient({"LocalNodeState": "active", "ControlAvailable": False}), False, None, False)
    with pytest.raises(DeployError, match="init_swarm"):
        rd.ensure_swarm(FakeClient({"LocalNodeState": "inactive"}), False, None, False)
    assert rd.ensure_swarm(FakeClient({"LocalNodeState": "inactive"}), True, "127.0.0.1", True) == (True, None)
    assert rd.ensure_swarm(FakeClient({"LocalNodeState": "active", "ControlAvailable": True, "NodeID": "n1"}), False, None, False) == (False, "n1")


@pytest.mark.parametrize(("bind", "host"), [("0.0.0.0", "127.0.0.1"), ("", "127.0.0.1"), ("::", "[::1]"), ("10.0.0.5", "10.0.0.5"), ("fd00::1", "[fd00::1]")])
def test_probe_host(bind, host):
    assert probe_host(bind) == host


def test_v2_probe_goes_direct_even_with_a_proxy_set_and_waits_until_ready(monkeypatch):
    import http.server
    import threading

    from ansible_collections.airgap.registry.plugins.module_utils.docker_common import v2_status, wait_v2

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(401 if self.path == "/v2/" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "")
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert v2_status(url) == 401
        assert wait_v2(url, 5) == 401
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(DeployError, match="did not answer 200 or 401 within 1s"):
        wait_v2(url, 1)
