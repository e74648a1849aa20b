"""registry_swarm_service's NGINX front and S3 settings, pure: the nginx.conf secret, the front's environment, the s3
storage section in the config.yml secret (credentials nowhere else)."""
import yaml

from ansible_collections.airgap.registry.plugins.module_utils import deploy_service as ds


def params(**over):
    p = {"name": "reg", "image": "registry:2.8.3", "published_port": 5443, "publish_mode": "host", "replicas": 1,
         "constraints": [], "env": None, "storage_path": None, "tls_cert": None, "tls_key": None, "htpasswd_path": None,
         "htpasswd_realm": "Registry Realm", "http_secret": None, "update_order": None, "front_config": None, "s3": None}
    p.update(over)
    return p


def test_front_config_is_a_versioned_secret_over_nginx_conf_and_the_front_gets_no_registry_env(tmp_path):
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_text("CERT")
    key.write_text("KEY")
    front = params(name="reg-front", front_config="events {}\n", tls_cert=str(cert), tls_key=str(key))
    secrets, data = ds.read_secrets(front, check_mode=False)
    conf = [(name, target) for name, target in secrets if target == ds.FRONT_CONFIG_TARGET]
    assert len(conf) == 1 and conf[0][0].startswith("reg-front-nginx-") and data[conf[0][0]] == b"events {}\n"
    assert {target for _name, target in secrets} == {ds.CERT_FILE, ds.KEY_FILE, ds.FRONT_CONFIG_TARGET}
    desired = ds.desired_service(front, secrets)
    assert desired["env"] == {}, "the front's nginx.conf names the certificate; no REGISTRY_HTTP_TLS_* for NGINX"
    assert desired["ports"] == [[5443, 5000, "host"]]
    other, _ = ds.read_secrets(dict(front, front_config="events { worker_connections 8; }\n"), check_mode=False)
    assert set(other) != set(secrets), "a changed nginx.conf must get a new (immutable) secret, rolling the front"
    registry = ds.desired_service(params(tls_cert=str(cert), tls_key=str(key)), ds.read_secrets(params(tls_cert=str(cert), tls_key=str(key)),
                                                                                                  check_mode=False)[0])
    assert registry["env"]["REGISTRY_HTTP_TLS_CERTIFICATE"] == "/run/secrets/tls.crt"


def test_s3_settings_go_into_the_config_secret_with_redirects_off():
    s3 = {"bucket": "b", "region": None, "regionendpoint": "http://s3:9000", "accesskey": "AK", "secretkey": "SK-secret",
          "secure": False, "v4auth": True, "rootdirectory": None, "redirect": False}
    p = params(s3=s3, http_secret="hs")
    secrets, data = ds.read_secrets(p, check_mode=False)
    assert [target for _name, target in secrets] == ["/etc/docker/registry/config.yml"]
    config = yaml.safe_load(data[secrets[0][0]])
    assert config["http"]["secret"] == "hs"
    assert config["storage"] == {"cache": {"blobdescriptor": "inmemory"}, "redirect": {"disable": True},
                                 "s3": {"bucket": "b", "region": "us-east-1", "regionendpoint": "http://s3:9000", "accesskey": "AK",
                                        "secretkey": "SK-secret", "secure": False, "v4auth": True}}
    desired = ds.desired_service(p, secrets)
    assert "SK-secret" not in repr(desired) and desired["mounts"] == []
    assert ds.registry_config(params(s3=dict(s3, redirect=True)))["storage"]["redirect"] == {"disable": False}
    assert ds.registry_config(params()) is None
