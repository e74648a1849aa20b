"""Every key of Distribution's configuration reference is honoured, accepted with a note (it can have no effect), or
refused at start with an error naming it; unknown keys are refused; stray REGISTRY_* variables are ignored with a
warning, as Distribution does."""
import os
import ssl

import pytest
import yaml

from pyregistry.config import ConfigError, from_mapping, parse_prefix
from pyregistry.configkeys import RULES, known
from pyregistry.server import ssl_context
from tests.unit.test_pyregistry_server import cert_pair

DATA = os.path.join(os.path.dirname(__file__), "data")
REFERENCES = ["distribution_config_2.8.yml", "distribution_config_3.yml"]


def leaves(node, path=()):
    """(path, value) for every leaf of a nested mapping."""
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from leaves(value, (*path, str(key).lower()))
    else:
        yield path, node


def nested(path, value):
    out = value
    for key in reversed(path):
        out = {key: out}
    return out


def reference_keys():
    for name in REFERENCES:
        with open(os.path.join(DATA, name)) as fh:
            for path, value in leaves(yaml.safe_load(fh)):
                yield pytest.param(path, value, id=f"{name[20:-4]}:{'.'.join(path)}")


@pytest.mark.parametrize(("path", "value"), list(reference_keys()))
def test_every_reference_key_is_honoured_noted_or_refused_by_name(path, value):
    assert known(list(path))
    dotted = ".".join(path)
    try:
        cfg = from_mapping(nested(path, value), environ={})
    except ConfigError as exc:
        assert any(".".join(path[:end]) in str(exc) for end in range(1, len(path) + 1)), str(exc)
        return
    noted = any(dotted.startswith(note.split(" has no effect")[0]) for _level, note in cfg.notes)
    honoured = any(RULES.get(".".join(path[:end]), ("",))[0] in ("use", "only") for end in range(1, len(path) + 1))
    assert noted or honoured, dotted


@pytest.mark.parametrize(("raw", "key"), [
    ({"http": {"adrr": ":5000"}}, "http.adrr"),
    ({"storage": {"filesystem": {"rootdir": "/data"}}}, "storage.filesystem.rootdir"),
    ({"proxy": {"remoteurl": "https://registry-1.docker.io", "password": "hunter2-proxy"}}, "proxy"),
    ({"storage": {"s3": {"bucket": "b", "secretkey": "hunter2-s3"}}}, "storage.s3"),
    ({"auth": {"token": {"realm": "https://auth"}}}, "auth.token"),
    ({"notifications": {"endpoints": [{"name": "a", "url": "https://hook", "headers": {"Authorization": ["hunter2"]}}]}}, "notifications.endpoints"),
    ({"log": {"formatter": "json"}}, "log.formatter"),
    ({"catalog": {"maxentries": 50}}, "catalog.maxentries"),
    ({"validation": {"disabled": True}}, "validation.disabled"),
    ({"http": {"net": "unix"}}, "http.net"),
    ({"http": "not a mapping"}, "http"),
    ({"HTTP": {"addr": ":5000"}}, "HTTP"),
    ({"log": {"level": "verbose"}}, "log.level"),
])
def test_unsupported_or_unknown_keys_are_refused_by_name(raw, key):
    with pytest.raises(ConfigError) as err:
        from_mapping(raw, environ={})
    assert f"{key}:" in str(err.value) and "hunter2" not in str(err.value)


def test_inert_keys_are_accepted_with_a_note():
    raw = {"http": {"secret": "s"}, "redis": {"addr": "r:6379"}, "notifications": {"endpoints": [{"name": "a", "disabled": True}]},
           "health": {"storagedriver": {"enabled": True}}, "storage": {"cache": {"blobdescriptor": "inmemory"}}}
    notes = [text for _level, text in from_mapping(raw, environ={}).notes]
    assert any(n.startswith("http.secret has no effect") for n in notes) and any(n.startswith("redis has no effect") for n in notes)


def test_stray_environment_variables_are_ignored_with_a_warning_but_unsupported_ones_refused():
    cfg = from_mapping({}, environ={"REGISTRY_PORT": "tcp://10.0.0.1:5000", "REGISTRY_SERVICE_HOST": "10.0.0.1"})
    assert ("warning", "environment variable REGISTRY_PORT names no configuration key: ignored") in cfg.notes
    for env, key in [({"REGISTRY_PROXY_REMOTEURL": "https://x"}, "proxy"), ({"REGISTRY_STORAGE": "s3"}, "REGISTRY_STORAGE"),
                     ({"REGISTRY_STORAGE_S3_BUCKET": "b"}, "storage.s3")]:
        with pytest.raises(ConfigError, match=key):
            from_mapping({}, environ=env)


@pytest.mark.parametrize(("value", "prefix"), [("/registry/", "/registry"), ("registry", "/registry"), ("/a/b/", "/a/b"), ("/", ""), (None, "")])
def test_prefix_forms(value, prefix):
    assert parse_prefix(value) == prefix


def test_prefix_and_host_and_drain_timeout():
    cfg = from_mapping({"http": {"prefix": "/registry/", "host": "https://reg.example/registry/", "draintimeout": "3s"}}, environ={})
    assert (cfg.http.prefix, cfg.http.public_host, cfg.http.drain_timeout) == ("/registry", "https://reg.example", 3)


def test_client_certificates_are_required_or_verified_if_given(tmp_path):
    """http.tls.clientcas (2.8) and clientauth (3.x): the TLS context asks for client certificates from those CAs."""
    cert, key = cert_pair.__wrapped__(tmp_path)
    tls = {"certificate": cert, "key": key, "clientcas": [cert]}
    assert ssl_context(from_mapping({"http": {"tls": tls}}, environ={})).verify_mode == ssl.CERT_REQUIRED
    optional = {**tls, "clientauth": "verify-client-cert-if-given"}
    assert ssl_context(from_mapping({"http": {"tls": optional}}, environ={})).verify_mode == ssl.CERT_OPTIONAL
    with pytest.raises(ConfigError, match="http.tls.clientcas"):
        from_mapping({"http": {"tls": {"clientcas": [cert]}}}, environ={})
