"""Real clients against pyregistry: docker login/push/pull over HTTP and HTTPS+htpasswd, skopeo both directions, curl."""
import io
import json
import os
import shutil
import subprocess
import tarfile
import time

import docker
import pytest

from tests.helpers.certs import make_tls
from tests.helpers.pyregistry import digest_of, req
from tests.helpers.registries import free_port

pytestmark = pytest.mark.docker


def run(*cmd, env=None, stdin=None):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300, env=env, input=stdin)


def round_trip(docker_client, engine_tags, source, target, env):
    """`docker tag SOURCE TARGET`, push, rmi TARGET, pull (with `env`): the pulled image is SOURCE's.  Returns docker
    push's stdout."""
    engine_tags.append(target)
    run("docker", "tag", source, target)
    out = run("docker", "push", target, env=env).stdout
    run("docker", "rmi", target)
    run("docker", "pull", target, env=env)
    assert docker_client.images.get(target).id == docker_client.images.get(source).id
    return out


@pytest.fixture
def docker_env(tmp_path):
    """Environment for docker CLI calls with a private DOCKER_CONFIG (logins stay out of the shared config)."""
    conf = tmp_path / "docker-config"
    conf.mkdir()
    return {**os.environ, "DOCKER_CONFIG": str(conf)}


@pytest.mark.usefixtures("sample_images")
def test_docker_login_push_pull_http_htpasswd(start_registry, docker_client, engine_tags, docker_env, pki):
    htpasswd = pki[3]
    run("htpasswd", "-Bbc", str(htpasswd), "carol", "http-pw")
    reg = start_registry("pyregistry", config={"auth": {"htpasswd": {"realm": "pyreg-http", "path": str(htpasswd)}}})
    run("docker", "login", "-u", "carol", "--password-stdin", reg.host, stdin="http-pw", env=docker_env)
    target = f"{reg.host}/pyreg-http/busyish:2.0"
    round_trip(docker_client, engine_tags, "tools/busyish:2.0", target, docker_env)
    anonymous = subprocess.run(["docker", "pull", target], capture_output=True, text=True, check=False, timeout=120,
                               env={**docker_env, "DOCKER_CONFIG": str(htpasswd.parent / "empty-docker-config")})
    assert anonymous.returncode != 0


def test_docker_push_pull_http(pyregistry_server, sample_images, docker_client, engine_tags, docker_env):
    for source, repo in [("abox:1.0.1", "pyreg-abox:1.0.1"), ("nginx:1.25", "pyreg-lib/nginx:1.25"), ("tools/busyish:2.0", "pyreg-tools/busyish:2.0")]:
        assert "digest: sha256:" in round_trip(docker_client, engine_tags, source, f"{pyregistry_server.host}/{repo}", docker_env)
    # nginx shares its base layer with abox: docker mounted it across repositories instead of re-uploading
    catalog = req(pyregistry_server.url, "GET", "/v2/_catalog").json()["repositories"]
    assert catalog == ["pyreg-abox", "pyreg-lib/nginx", "pyreg-tools/busyish"]


@pytest.fixture
def pki(tmp_path):
    """(ca, cert, key, htpasswd path) in a temp dir."""
    return (*make_tls(tmp_path), tmp_path / "htpasswd")


@pytest.mark.usefixtures("sample_images")
def test_docker_https_htpasswd_login_push_pull(start_registry, docker_client, engine_tags, docker_env, pki):
    ca, cert, key, htpasswd = pki
    run("htpasswd", "-Bbc", str(htpasswd), "alice", "s3cret-pw")
    port = free_port()
    certs_d = f"/etc/docker/certs.d/127.0.0.1:{port}"
    os.makedirs(certs_d, exist_ok=True)
    shutil.copy(ca, os.path.join(certs_d, "ca.crt"))
    try:
        reg = start_registry("pyregistry", port=port, cafile=ca, config={
            "http": {"addr": f"127.0.0.1:{port}", "tls": {"certificate": cert, "key": key}},
            "auth": {"htpasswd": {"realm": "pyreg-realm", "path": str(htpasswd)}},
        })
        assert reg.url.startswith("https://")
        anon = req(reg.url, "GET", "/v2/", cafile=ca)
        assert anon.status == 401 and anon.headers["WWW-Authenticate"] == 'Basic realm="pyreg-realm"'
        assert anon.error_codes() == ["UNAUTHORIZED"]
        bad = subprocess.run(["docker", "login", "-u", "alice", "--password-stdin", reg.host], input="wrong", capture_output=True,
                             text=True, env=docker_env, check=False, timeout=120)
        assert bad.returncode != 0
        run("docker", "login", "-u", "alice", "--password-stdin", reg.host, stdin="s3cret-pw", env=docker_env)
        target = f"{reg.host}/pyreg-secure/abox:1.0.1"
        round_trip(docker_client, engine_tags, "abox:1.0.1", target, docker_env)
        big = os.urandom(3 * 1024 * 1024)
        auth = {"Authorization": "Basic YWxpY2U6czNjcmV0LXB3"}
        put = req(reg.url, "POST", f"/v2/pyreg-secure/big/blobs/uploads/?digest={digest_of(big)}", body=big, headers=auth, cafile=ca)
        assert put.status == 201
        assert req(reg.url, "GET", f"/v2/pyreg-secure/big/blobs/{digest_of(big)}", headers=auth, cafile=ca).body == big  # sendfile over TLS
        curl = run("curl", "-s", "--cacert", ca, "-u", "alice:s3cret-pw", f"{reg.url}/v2/_catalog").stdout
        assert json.loads(curl) == {"repositories": ["pyreg-secure/abox"]}  # the blob-only repository has no manifests
        tls = run("openssl", "s_client", "-connect", reg.host, "-tls1_2", "-CAfile", ca, stdin="").stdout
        assert "Verify return code: 0 (ok)" in tls
        # the htpasswd file is re-read when it changes: a user added now logs in without a restart
        time.sleep(0.01)
        run("htpasswd", "-Bb", str(htpasswd), "bob", "bob-pw")
        assert req(reg.url, "GET", "/v2/", headers={"Authorization": "Basic Ym9iOmJvYi1wdw=="}, cafile=ca).status == 200
        run("htpasswd", "-D", str(htpasswd), "alice")
        curl = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, "-u", "alice:s3cret-pw", f"{reg.url}/v2/"],
                              capture_output=True, text=True, check=False)
        assert curl.stdout == "401"
        assert "s3cret-pw" not in reg.log()
    finally:
        shutil.rmtree(certs_d, ignore_errors=True)


def test_skopeo_both_directions_inspect_list_tags(pyregistry_server, sample_tarballs, tmp_path):
    host = pyregistry_server.host
    run("skopeo", "copy", "--dest-tls-verify=false", f"docker-archive:{sample_tarballs / 'nginx_1.25.tar'}", f"docker://{host}/pyreg/nginx:1.25")
    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{host}/pyreg/nginx:1.25", f"oci-archive:{tmp_path / 'nginx-oci.tar'}")
    run("skopeo", "copy", "--dest-tls-verify=false", f"oci-archive:{tmp_path / 'nginx-oci.tar'}", f"docker://{host}/pyreg/nginx:oci")
    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{host}/pyreg/nginx:oci", f"docker-archive:{tmp_path / 'back.tar'}:pyreg/nginx:back")
    assert (tmp_path / "back.tar").stat().st_size > 0
    inspect = json.loads(run("skopeo", "inspect", "--tls-verify=false", f"docker://{host}/pyreg/nginx:oci").stdout)
    assert inspect["Name"] == f"{host}/pyreg/nginx" and len(inspect["Layers"]) >= 2
    raw = run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{host}/pyreg/nginx:oci").stdout
    assert json.loads(raw)["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    tags = json.loads(run("skopeo", "list-tags", "--tls-verify=false", f"docker://{host}/pyreg/nginx").stdout)
    assert tags["Tags"] == ["1.25", "oci"]


def test_curl_error_paths(pyregistry_server):
    url = pyregistry_server.url
    out = run("curl", "-s", "-i", f"{url}/v2/pyreg/none/manifests/latest").stdout
    assert out.startswith("HTTP/1.1 404") and "Docker-Distribution-API-Version: registry/2.0" in out and '"MANIFEST_UNKNOWN"' in out
    out = run("curl", "-s", "-i", "-X", "PUT", "-H", "Content-Type: application/vnd.oci.image.manifest.v1+json",
              "--data-binary", "{}", f"{url}/v2/pyreg/none/manifests/latest").stdout
    assert out.startswith("HTTP/1.1 400") and '"MANIFEST_INVALID"' in out
    out = run("curl", "-s", "-i", f"{url}/v2/pyreg/none/blobs/sha256:{'0' * 64}").stdout
    assert out.startswith("HTTP/1.1 404") and '"BLOB_UNKNOWN"' in out


def test_docker_pull_downloads_layers_it_does_not_have(pyregistry_server, docker_client, engine_tags, tmp_path):
    """An image made here (docker import), pushed, removed from the engine, then pulled back: every layer comes from pyregistry."""
    payload = tmp_path / "payload.tar"
    with tarfile.open(payload, "w") as tar:
        for i in range(3):
            data = os.urandom(2 * 1024 * 1024)
            info = tarfile.TarInfo(f"data/blob{i}.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    local = f"pyreg-imported:{os.urandom(4).hex()}"
    target = f"{pyregistry_server.host}/pyreg-imported/data:1"
    engine_tags.extend([local, target])
    run("docker", "import", str(payload), local)
    original = docker_client.images.get(local)
    run("docker", "tag", local, target)
    run("docker", "push", target)
    run("docker", "rmi", local, target)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(original.id)
    pull = run("docker", "pull", target).stdout
    assert "Pull complete" in pull
    pulled = docker_client.images.get(target)
    assert pulled.id == original.id
    assert pulled.attrs["RootFS"]["Layers"] == original.attrs["RootFS"]["Layers"]
