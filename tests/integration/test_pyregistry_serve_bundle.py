"""`pyregistry serve-bundle` with real clients: docker pulls (a platform of a multi-platform index), skopeo copies and
inspects give the bundle's digests, for a bundle directory, its .tar and that .tar's split parts; referrers; writes
answer 405; TLS + htpasswd."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.parse

import pytest

from tests.conftest import require
from tests.helpers.bundles import BundleServer, split_tar, tar_bundle, write_bundle
from tests.helpers.certs import make_tls
from tests.helpers.pyregistry import ALL_TYPES, req
from tests.helpers.registries import REPO_ROOT

pytestmark = pytest.mark.docker

SIG_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"


def run(*cmd, env=None):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """{form: path} (bundle directory, its .tar, that .tar split in 4000-byte parts: many blobs span two) and
    {full reference: digest} of multi:2, multi:3, dlist:1, signed:1 (+ referrers and a cosign tag) from
    docker.io/library and a Helm chart from ghcr.io/acme."""
    base = tmp_path_factory.mktemp("bundle")
    subprocess.run([sys.executable, os.path.join(REPO_ROOT, "scripts", "oci_samples.py"), str(base / "samples")], check=True,
                   capture_output=True)
    samples = base / "samples"
    names = write_bundle(str(base / "dir"), [samples / "multi2.tar", samples / "multi3.tar", samples / "dlist.tar",
                                             samples / "signed.tar", (samples / "helm.tar", "ghcr.io/acme")])
    tarball = tar_bundle(str(base / "dir"), str(base / "bundle.tar"))
    return {"directory": base / "dir", "tar": tarball, "parts": split_tar(tarball, str(base / "parts"), 4000)}, names


@pytest.fixture
def serve(tmp_path):
    """Factory: serve(path, config=None, args=()) -> a running BundleServer, stopped at teardown."""
    servers = []

    def start(path, config=None, args=(), cafile=None):
        server = BundleServer(str(tmp_path / f"serve-{len(servers)}"), path, config=config, args=args)
        servers.append(server)
        return server.start(cafile=cafile)

    yield start
    for server in servers:
        server.stop()


def blob_bytes(bundle_dir, digest):
    with open(os.path.join(bundle_dir, "blobs", "sha256", digest.split(":", 1)[1]), "rb") as fh:
        return fh.read()


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("form", ["directory", "tar", "parts"])
def test_skopeo_and_api_give_the_bundles_digests(bundle, serve, tmp_path, form):
    forms, names = bundle
    bundle_dir = forms["directory"]
    reg = serve(forms[form])
    assert req(reg.url, "GET", "/v2/_catalog").json() == {"repositories": ["acme/charts/mychart", "dlist", "multi", "signed"]}
    page = req(reg.url, "GET", "/v2/multi/tags/list?n=1")
    assert page.json() == {"name": "multi", "tags": ["2"]} and 'rel="next"' in page.headers["Link"]
    assert req(reg.url, "GET", "/v2/multi/tags/list?last=2").json()["tags"] == ["3"]
    for reference, digest in names.items():
        repo, tag = reference.split("/", 1)[1].removeprefix("library/").rsplit(":", 1)
        raw = run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{reg.host}/{repo}:{tag}").stdout
        assert sha(raw.encode()) == digest, reference
        head = req(reg.url, "HEAD", f"/v2/{repo}/manifests/{tag}", headers={"Accept": ALL_TYPES})
        assert head.status == 200 and head.headers["Docker-Content-Digest"] == digest
        assert head.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        assert head.headers["Content-Type"] == json.loads(blob_bytes(bundle_dir, digest))["mediaType"]
    out = tmp_path / "copy"
    run("skopeo", "copy", "--all", "--src-tls-verify=false", f"docker://{reg.host}/signed:1", f"oci:{out}:signed")
    copied = json.loads((out / "index.json").read_text())["manifests"][0]["digest"]
    assert copied == names["docker.io/library/signed:1"]
    for blob in os.listdir(out / "blobs" / "sha256"):
        assert (bundle_dir / "blobs" / "sha256" / blob).read_bytes() == (out / "blobs" / "sha256" / blob).read_bytes()
    # blobs by range, and only in a repository whose manifests reference them
    layer = json.loads(blob_bytes(bundle_dir, json.loads(blob_bytes(bundle_dir, names["docker.io/library/multi:2"]))["manifests"][1]["digest"]))["layers"][1]
    data = blob_bytes(bundle_dir, layer["digest"])
    got = req(reg.url, "GET", f"/v2/multi/blobs/{layer['digest']}", headers={"Range": "bytes=10-99"})
    assert got.status == 206 and got.body == data[10:100] and got.headers["Content-Range"] == f"bytes 10-99/{len(data)}"
    assert req(reg.url, "GET", f"/v2/multi/blobs/{layer['digest']}").body == data
    assert req(reg.url, "HEAD", f"/v2/multi/blobs/{layer['digest']}").headers["Content-Length"] == str(len(data))
    other = req(reg.url, "GET", f"/v2/dlist/blobs/{layer['digest']}")
    assert other.status == 404 and other.error_codes() == ["BLOB_UNKNOWN"]
    assert req(reg.url, "GET", "/v2/multi/manifests/4").error_codes() == ["MANIFEST_UNKNOWN"]


@pytest.mark.parametrize("form", ["directory", "tar", "parts"])
def test_docker_pulls_a_platform_of_an_index(bundle, serve, docker_client, engine_tags, form):
    forms, names = bundle
    bundle_dir = forms["directory"]
    reg = serve(forms[form])
    index = json.loads(blob_bytes(bundle_dir, names["docker.io/library/multi:3"]))
    arm64 = next(m["digest"] for m in index["manifests"] if m["platform"]["architecture"] == "arm64")
    config = json.loads(blob_bytes(bundle_dir, json.loads(blob_bytes(bundle_dir, arm64))["config"]["digest"]))
    target = f"{reg.host}/multi:3"
    engine_tags.append(target)
    run("docker", "pull", "--platform", "linux/arm64", target)
    image = docker_client.images.get(target)
    assert image.attrs["Architecture"] == "arm64"
    assert image.attrs["Config"]["Labels"] == config["config"]["Labels"]
    assert f"{target.rsplit(':', 1)[0]}@{names['docker.io/library/multi:3']}" in image.attrs["RepoDigests"]


def test_writes_answer_405_read_only(bundle, serve):
    forms, names = bundle
    bundle_dir = forms["directory"]
    reg = serve(bundle_dir)
    digest = names["docker.io/library/multi:2"]
    manifest = blob_bytes(bundle_dir, digest)
    writes = [("POST", "/v2/multi/blobs/uploads/", None), ("POST", f"/v2/newrepo/blobs/uploads/?digest={sha(b'x')}", b"x"),
              ("PUT", "/v2/multi/manifests/new", manifest), ("DELETE", f"/v2/multi/manifests/{digest}", None),
              ("DELETE", "/v2/multi/manifests/2", None), ("DELETE", f"/v2/multi/blobs/{digest}", None),
              ("PATCH", "/v2/multi/blobs/uploads/abc", b"x"), ("PUT", "/v2/multi/blobs/uploads/abc?digest=" + sha(b"x"), b"x")]
    for method, path, body in writes:
        resp = req(reg.url, method, path, body=body, headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
        assert resp.status == 405, (method, path, resp.body)
        assert resp.json()["errors"][0] == {"code": "UNSUPPORTED", "message": "read-only bundle"}
    assert req(reg.url, "GET", "/v2/multi/tags/list").json()["tags"] == ["2", "3"]  # nothing changed
    assert req(reg.url, "GET", "/v2/newrepo/tags/list").status == 404


def test_referrers_api_lists_the_signature_and_sbom(bundle, serve):
    forms, names = bundle
    bundle_dir = forms["directory"]
    reg = serve(forms["parts"])
    subject = names["docker.io/library/signed:1"]
    listed = req(reg.url, "GET", f"/v2/signed/referrers/{subject}")
    assert listed.status == 200 and listed.headers["Content-Type"] == "application/vnd.oci.image.index.v1+json"
    found = {d["artifactType"]: d for d in listed.json()["manifests"]}
    assert set(found) == {SIG_TYPE, "application/spdx+json"}
    for desc in found.values():
        data = blob_bytes(bundle_dir, desc["digest"])
        assert json.loads(data)["subject"]["digest"] == subject and desc["size"] == len(data)
        got = req(reg.url, "GET", f"/v2/signed/manifests/{desc['digest']}", headers={"Accept": ALL_TYPES})
        assert got.status == 200 and got.body == data
    filtered = req(reg.url, "GET", f"/v2/signed/referrers/{subject}?artifactType={urllib.parse.quote(SIG_TYPE)}")
    assert [d["artifactType"] for d in filtered.json()["manifests"]] == [SIG_TYPE]
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert req(reg.url, "GET", f"/v2/multi/referrers/{subject}").json()["manifests"] == []  # another repository's subject


def test_tls_and_htpasswd_from_the_config(bundle, serve, tmp_path):
    require(shutil.which("htpasswd"), "htpasswd (apache2-utils) is not installed")
    forms, names = bundle
    ca, cert, key = make_tls(tmp_path / "pki")
    htpasswd = tmp_path / "htpasswd"
    run("htpasswd", "-Bbc", str(htpasswd), "dana", "bundle-pw")
    reg = serve(forms["tar"], cafile=ca, config={"http": {"tls": {"certificate": cert, "key": key}},
                                               "auth": {"htpasswd": {"realm": "bundle-realm", "path": str(htpasswd)}}})
    assert reg.url.startswith("https://")
    anon = req(reg.url, "GET", "/v2/_catalog", cafile=ca)
    assert anon.status == 401 and anon.headers["WWW-Authenticate"] == 'Basic realm="bundle-realm"'
    curl = run("curl", "-s", "--cacert", ca, "-u", "dana:bundle-pw", f"{reg.url}/v2/multi/tags/list").stdout
    assert json.loads(curl) == {"name": "multi", "tags": ["2", "3"]}
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(ca, certs / "ca.crt")
    raw = run("skopeo", "inspect", "--raw", "--cert-dir", str(certs), "--creds", "dana:bundle-pw", f"docker://{reg.host}/dlist:1").stdout
    assert sha(raw.encode()) == names["docker.io/library/dlist:1"]
    wrong = subprocess.run(["skopeo", "inspect", "--raw", "--cert-dir", str(certs), "--creds", "dana:wrong", f"docker://{reg.host}/dlist:1"],
                           capture_output=True, text=True, check=False, timeout=120)
    assert wrong.returncode != 0
    assert "bundle-pw" not in reg.log()


def test_hub_library_flag_serves_library_paths(bundle, serve):
    forms, names = bundle
    reg = serve(forms["directory"], args=["--hub-library"])
    assert req(reg.url, "GET", "/v2/_catalog").json()["repositories"] == ["acme/charts/mychart", "library/dlist", "library/multi",
                                                                          "library/signed"]
    got = req(reg.url, "HEAD", "/v2/library/multi/manifests/2", headers={"Accept": ALL_TYPES})
    assert got.headers["Docker-Content-Digest"] == names["docker.io/library/multi:2"]
    assert req(reg.url, "HEAD", "/v2/multi/manifests/2").status == 404
