"""pyregistry config: Distribution's config.yml keys, REGISTRY_* environment overrides, durations."""
import pytest

from pyregistry.config import ConfigError, from_mapping, load, parse_addr, parse_duration


def test_defaults_match_registry_2():
    cfg = from_mapping({}, environ={})
    assert (cfg.http.host, cfg.http.port) == ("0.0.0.0", 5000)
    assert cfg.storage.rootdirectory == "/var/lib/registry"
    assert cfg.storage.delete_enabled is False and cfg.storage.readonly is False
    assert cfg.storage.purge.enabled and cfg.storage.purge.age == 168 * 3600 and cfg.storage.purge.interval == 24 * 3600
    assert cfg.log.accesslog is True and cfg.auth.htpasswd_path is None


def test_config_file_keys(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("""
version: 0.1
log: {level: debug, accesslog: {disabled: true}, formatter: text}
health: {storagedriver: {enabled: true}}
storage:
  filesystem: {rootdirectory: /data}
  delete: {enabled: true}
  cache: {blobdescriptor: inmemory}
  maintenance:
    uploadpurging: {enabled: false, age: 2h, interval: 30m, dryrun: true}
    readonly: {enabled: true}
http:
  addr: 127.0.0.1:5443
  host: https://reg.example:5443/
  relativeurls: true
  headers: {X-Content-Type-Options: [nosniff]}
  tls: {certificate: /c.pem, key: /k.pem}
auth:
  htpasswd: {realm: basic-realm, path: /auth/htpasswd}
""")
    cfg = load(str(path), environ={})
    assert (cfg.http.host, cfg.http.port, cfg.storage.rootdirectory) == ("127.0.0.1", 5443, "/data")
    assert cfg.http.public_host == "https://reg.example:5443" and cfg.http.relativeurls
    assert cfg.http.headers == {"X-Content-Type-Options": "nosniff"}
    assert (cfg.http.tls.certificate, cfg.http.tls.key) == ("/c.pem", "/k.pem")
    assert (cfg.auth.htpasswd_path, cfg.auth.htpasswd_realm) == ("/auth/htpasswd", "basic-realm")
    assert cfg.storage.delete_enabled and cfg.storage.readonly and not cfg.log.accesslog
    assert (cfg.storage.purge.enabled, cfg.storage.purge.age, cfg.storage.purge.interval, cfg.storage.purge.dryrun) == (False, 7200, 1800, True)


def test_env_overrides_like_docker_run_e():
    env = {
        "REGISTRY_HTTP_ADDR": "0.0.0.0:6000",
        "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": "/srv/registry",
        "REGISTRY_AUTH_HTPASSWD_PATH": "/auth/htpasswd",
        "REGISTRY_AUTH_HTPASSWD_REALM": "Registry Realm",
        "REGISTRY_HTTP_TLS_CERTIFICATE": "/certs/domain.crt",
        "REGISTRY_HTTP_TLS_KEY": "/certs/domain.key",
        "REGISTRY_STORAGE_DELETE_ENABLED": "true",
        "REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE": "1h",
        "UNRELATED": "x",
    }
    cfg = from_mapping({"storage": {"delete": {"enabled": False}}, "http": {"addr": ":5000"}}, environ=env)
    assert (cfg.http.host, cfg.http.port) == ("0.0.0.0", 6000)
    assert cfg.storage.rootdirectory == "/srv/registry"
    assert (cfg.auth.htpasswd_path, cfg.auth.htpasswd_realm) == ("/auth/htpasswd", "Registry Realm")
    assert (cfg.http.tls.certificate, cfg.http.tls.key) == ("/certs/domain.crt", "/certs/domain.key")
    assert cfg.storage.delete_enabled is True and cfg.storage.purge.age == 3600


@pytest.mark.parametrize("text,seconds", [("168h", 604800), ("1h30m", 5400), ("500ms", 0.5), ("10s", 10), (45, 45)])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "10", "5 minutes", "h"])
def test_bad_duration(bad):
    with pytest.raises(ConfigError):
        parse_duration(bad)


def test_addr_forms():
    assert parse_addr(":5000") == ("0.0.0.0", 5000)
    assert parse_addr("[::1]:5001") == ("::1", 5001)
    with pytest.raises(ConfigError):
        parse_addr("localhost")


def test_bad_configs(tmp_path):
    with pytest.raises(ConfigError, match="certificate and key"):
        from_mapping({"http": {"tls": {"certificate": "/c"}}}, environ={})
    with pytest.raises(ConfigError, match="cannot read"):
        load(str(tmp_path / "missing.yml"), environ={})
    (tmp_path / "list.yml").write_text("- a\n")
    with pytest.raises(ConfigError, match="mapping"):
        load(str(tmp_path / "list.yml"), environ={})


def test_env_naming_a_section_keeps_it():
    raw = {"storage": {"filesystem": {"rootdirectory": "/data"}}}
    cfg = from_mapping(raw, environ={"REGISTRY_STORAGE": "filesystem", "REGISTRY_AUTH": "htpasswd", "REGISTRY_AUTH_HTPASSWD_PATH": "/h"})
    assert cfg.storage.rootdirectory == "/data" and cfg.auth.htpasswd_path == "/h"
