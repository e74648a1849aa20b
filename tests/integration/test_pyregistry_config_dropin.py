"""Configuration side by side with Distribution: http.prefix serves the API under the prefix and puts it in upload
URLs; a key pyregistry cannot honour stops it at start with an error naming the key."""
import json
import subprocess
import sys

import pytest

from tests.helpers.pyregistry import OCI_MANIFEST, digest_of, req
from tests.helpers import registries
from tests.helpers.registries import REPO_ROOT, RegistryProcess

PREFIX = {"http": {"prefix": "/registry/"}}


@pytest.fixture
def prefixed(monkeypatch):
    """Registries started meanwhile are awaited at /registry/v2/ (their /v2/ is a 404)."""
    wait_http = registries.wait_http
    monkeypatch.setattr(registries, "wait_http", lambda url, **kwargs: wait_http(url.replace("/v2/", "/registry/v2/"), **kwargs))


def push_under(base, prefix, name, data):
    """POST + PUT an upload through the Location answers; returns (POST Location, PUT Location)."""
    start = req(base, "POST", f"{prefix}/v2/{name}/blobs/uploads/")
    assert start.status == 202, start.body
    location = start.headers["Location"]
    sep = "&" if "?" in location else "?"
    done = req(base, "PUT", f"{location}{sep}digest={digest_of(data)}", body=data, headers={"Content-Type": "application/octet-stream"})
    assert done.status == 201, done.body
    return location, done.headers["Location"]


def prefix_answers(reg):
    """What a registry with http.prefix /registry/ answers, reduced to what must match Distribution."""
    uploaded, blob_location = push_under(reg.url, "/registry", "lib/app", b"layer")
    return {
        "prefixed base": req(reg.url, "GET", "/registry/v2/").status,
        "bare base": req(reg.url, "GET", "/v2/").status,
        "upload location": uploaded.split(reg.host, 1)[-1].rsplit("/", 1)[0],
        "blob location": blob_location.split(reg.host, 1)[-1],
        "blob": req(reg.url, "GET", f"/registry/v2/lib/app/blobs/{digest_of(b'layer')}").status,
        "bare blob": req(reg.url, "GET", f"/v2/lib/app/blobs/{digest_of(b'layer')}").status,
    }


@pytest.mark.distribution
def test_prefix_answers_as_distribution(start_registry, prefixed):
    distribution, pyregistry = start_registry("distribution", PREFIX), start_registry("pyregistry", PREFIX)
    expected = prefix_answers(distribution)
    assert expected["prefixed base"] == 200 and expected["upload location"] == "/registry/v2/lib/app/blobs/uploads"
    assert prefix_answers(pyregistry) == expected


def test_prefix_push_pull_and_relative_urls(start_registry, prefixed):
    reg = start_registry("pyregistry", {"http": {"prefix": "/registry/", "relativeurls": True}})
    uploaded, _ = push_under(reg.url, "/registry", "lib/app", b"cfg")
    assert uploaded.startswith("/registry/v2/lib/app/blobs/uploads/")
    config = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(b"cfg"), "size": 3}
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": []}).encode()
    put = req(reg.url, "PUT", "/registry/v2/lib/app/manifests/v1", body=manifest, headers={"Content-Type": OCI_MANIFEST})
    assert put.status == 201 and put.headers["Location"].startswith("/registry/v2/lib/app/manifests/sha256:")
    assert req(reg.url, "GET", "/registry/v2/lib/app/manifests/v1", headers={"Accept": OCI_MANIFEST}).body == manifest
    assert req(reg.url, "PUT", "/registry/v2/lib/app/manifests/v2", body=manifest, headers={"Content-Type": OCI_MANIFEST}).status == 201
    tags = req(reg.url, "GET", "/registry/v2/lib/app/tags/list?n=1")
    assert tags.json()["tags"] == ["v1"] and tags.headers["Link"].startswith("</registry/v2/lib/app/tags/list?")
    assert req(reg.url, "GET", "/registry/v2/").headers["Docker-Distribution-API-Version"] == "registry/2.0"


@pytest.mark.parametrize(("config", "key"), [
    ({"proxy": {"remoteurl": "https://registry-1.docker.io", "password": "hunter2"}}, "proxy"),
    ({"storage": {"s3": {"bucket": "b"}}}, "storage.s3"),
    ({"http": {"debug": {"addr": ":5001"}}}, "http.debug"),
    ({"http": {"prefx": "/registry/"}}, "http.prefx"),
])
def test_unsupported_keys_stop_the_start_naming_the_key(tmp_path, config, key):
    reg = RegistryProcess("pyregistry", str(tmp_path), config=config)
    run = subprocess.run([sys.executable, "-m", "pyregistry", "serve", reg.config_path], capture_output=True, text=True, timeout=60,
                         cwd=REPO_ROOT, check=False)
    assert run.returncode == 2 and f"{key}:" in run.stderr and "hunter2" not in run.stderr, run.stderr


def test_stray_registry_variables_are_ignored_with_a_warning(start_registry):
    reg = start_registry("pyregistry", env={"REGISTRY_PORT": "tcp://10.0.0.1:5000"})
    assert req(reg.url, "GET", "/v2/").status == 200
    assert "REGISTRY_PORT names no configuration key" in reg.log()
