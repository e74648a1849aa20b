"""The stdlib YAML writer of the container backend's config.yml: block YAML that PyYAML reads back unchanged."""
import pytest
import yaml

from ansible_collections.airgap.registry.plugins.module_utils.config_yaml import dump_config

REGISTRY = {
    "version": 0.1,
    "log": {"level": "info", "fields": {"service": "registry", "instance": "registry"}},
    "storage": {"delete": {"enabled": True}, "filesystem": {"rootdirectory": "/var/lib/registry"}},
    "http": {"addr": ":5000", "secret": "s3cr3t: #not a comment", "headers": {"X-Content-Type-Options": ["nosniff"]}},
    "auth": {"htpasswd": {"realm": "Registry Realm", "path": "/auth/htpasswd"}},
    "proxy": {"remoteurl": "https://mirror.example:5000", "ttl": "168h"},
    "notifications": {"endpoints": [{"name": "alistener", "url": "https://h/x", "headers": {"A": ["b", "c"]}, "timeout": "500ms",
                                     "threshold": 5, "ignoredmediatypes": []}]},
    "redis": {"addr": "127.0.0.1:6379", "db": 0, "password": None},
    "odd": {"yes": "no", "on": "off", "n": "y", "num": "0123", "float": "1e3", "empty": "", "tilde": "~", "multi": "a\nb",
            "unicode": "é✓", "dash": "- x", "hash": "#x", "big": 2 ** 40, "neg": -1.5, "list": [[1, 2], [], {}], "true": False},
}


def test_the_written_text_is_block_yaml_that_reads_back_unchanged():
    text = dump_config(REGISTRY)
    assert yaml.safe_load(text) == REGISTRY
    assert text.endswith("\n") and not text.startswith("{")
    assert "version: 0.1\n" in text and "  addr: \":5000\"\n" in text and "    rootdirectory: /var/lib/registry\n" in text


def test_stable_whatever_the_key_order():
    flipped = dict(reversed(list(REGISTRY.items())))
    assert dump_config(flipped) == dump_config(REGISTRY)


@pytest.mark.parametrize("word", ["yes", "No", "ON", "off", "true", "False", "null", "y", "N", "~", "1.0", "12", "0x1f", ".inf"])
def test_strings_yaml_would_read_as_something_else_are_quoted(word):
    assert yaml.safe_load(dump_config({"k": word})) == {"k": word}
