"""Shared helpers for the pyregistry tests: a tiny HTTP client and image builders (no tests here)."""
import hashlib
import http.client
import json
import os
import socket
import ssl
import urllib.parse

import pytest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ALL_TYPES = ", ".join([DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX])
DEBIAN_PYTHON = "/usr/bin/python3"


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def error_codes(self):
        return [e["code"] for e in self.json()["errors"]]


def req(base, method, path, body=None, headers=None, *, cafile=None):
    """One HTTP request to `base` (http://host:port); returns Resp (headers as an http.client.HTTPMessage)."""
    parsed = urllib.parse.urlsplit(base)
    if path.startswith("http"):
        parsed = urllib.parse.urlsplit(path)
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    if parsed.scheme == "https":
        ctx = ssl.create_default_context(cafile=cafile)
        conn = http.client.HTTPSConnection(parsed.netloc, timeout=60, context=ctx)
    else:
        conn = http.client.HTTPConnection(parsed.netloc, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Resp(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_upload(store, name, data):
    """Start an upload into repository `name` of a pyregistry Storage and write `data` (bytes) to it, not committed;
    returns the upload id.  RegistryError as Storage raises it."""
    upload_id = store.start_upload(name)
    writer = store.upload_writer(name, upload_id)
    writer.write([data])
    writer.close()
    return upload_id


def store_blob(store, name, data):
    """Upload `data` (bytes) into repository `name` of a pyregistry Storage directly (write_upload, then commit);
    returns its digest.  RegistryError as Storage raises it."""
    store.commit_upload(name, write_upload(store, name, data), digest_of(data))
    return digest_of(data)


def push_blob(base, name, data):
    """Monolithic POST + PUT upload; returns the digest."""
    digest = digest_of(data)
    start = req(base, "POST", f"/v2/{name}/blobs/uploads/")
    assert start.status == 202, start.body
    location = start.headers["Location"]
    sep = "&" if "?" in location else "?"
    done = req(base, "PUT", f"{location}{sep}digest={digest}", body=data, headers={"Content-Type": "application/octet-stream"})
    assert done.status == 201, done.body
    return digest


def image_manifest(base, name, layers=(b"layer",), media_type=OCI_MANIFEST, *, config=None, subject=None, artifact_type=None):
    """Push config + layers; return (manifest bytes, media type)."""
    config = config if config is not None else json.dumps({"architecture": "amd64", "os": "linux", "salt": os.urandom(8).hex()}).encode()
    config_type = "application/vnd.oci.image.config.v1+json" if media_type == OCI_MANIFEST else "application/vnd.docker.container.image.v1+json"
    layer_type = "application/vnd.oci.image.layer.v1.tar" if media_type == OCI_MANIFEST else "application/vnd.docker.image.rootfs.diff.tar.gzip"
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": push_blob(base, name, config), "size": len(config)},
        "layers": [{"mediaType": layer_type, "digest": push_blob(base, name, data), "size": len(data)} for data in layers],
    }
    if artifact_type:
        doc["artifactType"] = artifact_type
    if subject:
        doc["subject"] = subject
    return json.dumps(doc, indent=3).encode(), media_type


def put_manifest(base, name, ref, data, media_type):
    return req(base, "PUT", f"/v2/{name}/manifests/{ref}", body=data, headers={"Content-Type": media_type})


def push_image(base, name, tag, layers=(b"layer",), media_type=OCI_MANIFEST):
    """Push a small image; returns (manifest digest, manifest bytes)."""
    data, mtype = image_manifest(base, name, layers, media_type)
    resp = put_manifest(base, name, tag, data, mtype)
    assert resp.status == 201, resp.body
    return resp.headers["Docker-Content-Digest"], data


def raw_exchange(port, data):
    """Send `data` on a fresh connection; return every byte the server answers before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def pythons():
    """pytest params: the venv's Python (aiohttp 3.14) and, when present, Debian 12's (aiohttp 3.8)."""
    found = [pytest.param(None, id="venv")]
    if os.path.exists(DEBIAN_PYTHON):
        found.append(pytest.param(DEBIAN_PYTHON, id="debian-aiohttp"))
    return found
