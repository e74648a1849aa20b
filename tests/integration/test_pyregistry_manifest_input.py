"""Manifest PUTs that Go clients cannot read as stored are 400 MANIFEST_INVALID, and nothing is stored (issue 10, item 3).

The same bodies go to Distribution (Debian's docker-registry): whatever it refuses, pyregistry refuses too; pyregistry
also refuses what Distribution stores although Go clients then read it otherwise (invalid UTF-8, "LAYERS" beside
"layers", duplicate keys; see manifests.decode).
"""
from tests.helpers.pyregistry import OCI_MANIFEST, push_blob, req
from tests.unit.test_pyregistry_manifests_input import cases

ISSUE_CASES = ("UTF-16 with BOM", "UTF-16LE", "UTF-8 with BOM", "NaN", "Infinity", "-Infinity")


def _put(url, body):
    return req(url, "PUT", "/v2/input/check/manifests/t", body=body, headers={"Content-Type": OCI_MANIFEST})


def _bodies(url):
    digest = push_blob(url, "input/check", b"layer-bytes")  # 11 bytes, config and layer alike
    accepted, refused = cases(digest)
    return {name: body for name, body in accepted.items() if b'"manifests"' not in body}, refused


def test_refused_manifests_are_400_and_not_stored(pyregistry_server):
    url = pyregistry_server.url
    accepted, refused = _bodies(url)
    for name, body in refused.items():
        resp = _put(url, body)
        assert resp.status == 400 and resp.error_codes() == ["MANIFEST_INVALID"], (name, resp.status, resp.body[:300])
    assert req(url, "GET", "/v2/input/check/manifests/t").status == 404
    for name, body in accepted.items():
        resp = _put(url, body)
        assert resp.status == 201, (name, resp.status, resp.body[:300])
        assert req(url, "GET", "/v2/input/check/manifests/t", headers={"Accept": OCI_MANIFEST}).body == body


def test_whatever_distribution_refuses_pyregistry_refuses(pyregistry_server, distribution_registry):
    py_accepted, py_refused = _bodies(pyregistry_server.url)
    dist_accepted, dist_refused = _bodies(distribution_registry.url)
    assert list(py_refused) == list(dist_refused)
    refused_by_distribution = {name for name, body in {**dist_accepted, **dist_refused}.items()
                               if 400 <= _put(distribution_registry.url, body).status < 600}
    assert set(ISSUE_CASES) <= refused_by_distribution
    assert not refused_by_distribution & set(py_accepted), "pyregistry accepts what Distribution refuses"
    for name in refused_by_distribution:
        assert _put(pyregistry_server.url, py_refused[name]).status == 400, name
