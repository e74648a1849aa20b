"""registry_info's strict parse of `expect` entries (issue 16.6), and 'digest differs' against a fake client."""
import pytest

from ansible_collections.airgap.registry.plugins.modules.registry_info import ExpectError, inventory, parse_entry

DIGEST = "sha256:" + "ab" * 32
HOST = "127.0.0.1:5443"


@pytest.mark.parametrize(("entry", "parsed"), [
    ("abox", ("abox", "latest", None)),
    (f"{HOST}/tools/abox:1.0", ("tools/abox", "1.0", None)),
    ("abox@" + DIGEST, ("abox", None, DIGEST)),
    ("abox:1.0@" + DIGEST, ("abox", "1.0", DIGEST)),
])
def test_valid_entries(entry, parsed):
    assert parse_entry(entry, HOST) == parsed


@pytest.mark.parametrize(("entry", "reason"), [
    ("localhost:5443/abox:1.0.1", "names registry localhost:5443, but this task reads 127.0.0.1:5443"),
    (f"https://{HOST}/abox:1.0.1", "a URL"),
    ("reg.example/abox", "names registry reg.example"),
    ("Abox:1", "invalid repository name"),
    ("abox:-x", "invalid tag"),
    ("abox@sha256:abc", "invalid digest"),
    ("", "empty entry"),
])
def test_invalid_entries(entry, reason):
    with pytest.raises(ExpectError, match=reason):
        parse_entry(entry, HOST)


class FakeClient:
    host = HOST

    def catalog(self):
        raise AssertionError("an invalid entry must stop the task before any request")


def test_every_invalid_entry_is_reported_before_any_request():
    with pytest.raises(ExpectError) as info:
        inventory(FakeClient(), expect=["abox:1", "localhost:5443/abox:1.0.1", "https://x/y", "ok/repo"])
    assert [entry.split(": ", 1)[0] for entry in info.value.invalid] == ["localhost:5443/abox:1.0.1", "https://x/y"]
