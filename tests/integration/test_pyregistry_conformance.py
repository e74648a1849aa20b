"""The OCI distribution-spec v1.1.1 conformance suite (conformance/0[1-4]_*_test.go), ported spec by spec.

It runs the four workflows (pull, push, content discovery, content management) in the suite's order against one real
pyregistry with deletes enabled and automatic cross-mount on (OCI_AUTOMATIC_CROSSMOUNT=true), with the suite's own
test data (setup.go): every `g.Specify` is one step here, named as in the suite, and every step runs even when an
earlier one failed, as ginkgo does. The real Go suite is not built in CI (it needs modules CI cannot fetch).
"""
import base64
import json
import os
import random
import string

from tests.helpers.pyregistry import digest_of, req

NAME = "conformance/repo"
CROSSMOUNT = "conformance/other"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ERROR_CODES = ("BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN",
               "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_UNVERIFIED", "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID",
               "TAG_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED")
LAYER = base64.b64decode("H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0"
                         "WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qD"
                         "jMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA")
NONEXISTENT_MANIFEST = ".INVALID_MANIFEST_NAME"
DUMMY_DIGEST = digest_of(b"hello world")
EMPTY_JSON = b"{}"
ANNOTATION = "org.opencontainers.conformance.test"
TYPE_A = "application/vnd.nhl.peanut.butter.bagel"
TYPE_B = "application/vnd.nba.strawberry.jam.croissant"
TYPE_INDEX = "application/vnd.food.stand"
NUM_WORKFLOWS = 4


def _marshal(doc):
    """Go's json.MarshalIndent(doc, "", "\\t")."""
    return json.dumps(doc, indent="\t").encode()


def _descriptor(media_type, data, *, config_data=None, unspecified=None):
    """image.go's descriptor: omitempty fields left out, newUnspecifiedField ([]byte, no omitempty) always present."""
    desc = {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}
    if config_data is not None:
        desc["data"] = base64.b64encode(config_data).decode()
    desc["newUnspecifiedField"] = base64.b64encode(unspecified).decode() if unspecified is not None else None
    return desc


def _manifest(config, layers, *, media_type=OCI_MANIFEST, artifact_type=None, subject=None, annotations=None):
    doc = {"schemaVersion": 2}
    if media_type:
        doc["mediaType"] = media_type
    if artifact_type:
        doc["artifactType"] = artifact_type
    doc["config"] = config
    doc["layers"] = layers
    if subject is not None:
        doc["subject"] = subject
    if annotations:
        doc["annotations"] = annotations
    return _marshal(doc)


class Data:
    """setup.go's test data: NUM_WORKFLOWS+1 configs and manifests, blobs A and B (B in two chunks), referrers."""

    def __init__(self):
        rng = random.Random(os.urandom(8))
        letters = string.digits + string.ascii_uppercase + string.ascii_lowercase + "-"
        self.configs = []
        for _ in range(NUM_WORKFLOWS + 1):
            author = "".join(rng.choice(letters) for _ in range(16))
            self.configs.append(json.dumps({"author": author, "architecture": "amd64", "os": "linux",
                                            "rootfs": {"type": "layers", "diff_ids": []}}, indent="\t").encode())
        layers = [_descriptor("application/vnd.oci.image.layer.v1.tar+gzip", LAYER)]
        self.manifests = [
            _manifest(_descriptor("application/vnd.oci.image.config.v1+json", config, config_data=config, unspecified=b"hello world"), layers)
            for config in self.configs
        ]
        self.empty_layer_manifest = _manifest(
            _descriptor("application/vnd.oci.image.config.v1+json", self.configs[1], config_data=self.configs[1], unspecified=b"hello world"),
            [], media_type=None)
        self.blob_a = rng.randbytes(42)
        self.blob_b = rng.randbytes(42)
        self.chunk1, self.chunk2 = self.blob_b[:22], self.blob_b[22:]
        self.chunk1_range, self.chunk2_range = "0-21", "22-41"
        self.ref_blob_a = b"NHL Peanut Butter on my NHL bagel"
        self.ref_blob_b = b"NBA Strawberry Jam on my NBA croissant"
        empty = _descriptor("application/vnd.oci.empty.v1+json", EMPTY_JSON)
        subject4 = _descriptor(OCI_MANIFEST, self.manifests[4])
        subject3 = _descriptor(OCI_MANIFEST, self.manifests[3])
        self.refs_a_config = _manifest(_descriptor(TYPE_A, self.ref_blob_a), [empty], subject=subject4, annotations={ANNOTATION: "test config a"})
        self.refs_b_config = _manifest(_descriptor(TYPE_B, self.ref_blob_b), [empty], subject=subject4, annotations={ANNOTATION: "test config b"})
        self.refs_a_layer = _manifest(empty, [_descriptor(TYPE_A, self.ref_blob_a)], artifact_type=TYPE_A, subject=subject4,
                                      annotations={ANNOTATION: "test layer a"})
        self.refs_b_layer = _manifest(empty, [_descriptor(TYPE_B, self.ref_blob_b)], artifact_type=TYPE_B, subject=subject4,
                                      annotations={ANNOTATION: "test layer b"})
        self.refs_c_layer = _manifest(empty, [_descriptor(TYPE_B, self.ref_blob_b)], artifact_type=TYPE_B, subject=subject3)
        self.refs_index = _marshal({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "artifactType": TYPE_INDEX,
            "manifests": [_descriptor(OCI_MANIFEST, self.refs_a_config), _descriptor(OCI_MANIFEST, self.refs_a_layer)],
            "subject": subject4, "annotations": {ANNOTATION: "test index"},
        })
        self.annotations = {digest_of(self.refs_a_config): "test config a", digest_of(self.refs_b_config): "test config b",
                            digest_of(self.refs_a_layer): "test layer a", digest_of(self.refs_b_layer): "test layer b",
                            digest_of(self.refs_index): "test index"}


def _ok(resp):
    return 200 <= resp.status < 300


def _deleted(resp, *also):
    return _ok(resp) or resp.status in (405, *also)


def _relative(location):
    """reggie's GetRelativeLocation: the path and query of a Location."""
    if location.startswith("http"):
        location = "/" + location.split("://", 1)[1].split("/", 1)[1]
    return location


def _with_digest(location, digest):
    return f"{_relative(location)}{'&' if '?' in location else '?'}digest={digest}"


class Suite:
    """The four workflows' specs, in order, against one registry; failures are collected, not raised."""

    def __init__(self, url):
        self.url = url
        self.data = Data()
        self.failures = []
        self.tag = None
        self.last = self.prev = None

    def call(self, method, path, body=None, headers=None, name=NAME):
        return req(self.url, method, path.replace("<name>", name), body=body, headers=headers)

    def spec(self, title, check):
        try:
            if check() is False:
                self.failures.append(title)
        except Exception as exc:  # noqa: BLE001 - a spec fails, the suite goes on
            self.failures.append(f"{title}: {exc!r}")

    def upload(self, data):
        """POST, then PUT the blob to the Location with its digest (the suite's setup steps)."""
        start = self.call("POST", "/v2/<name>/blobs/uploads/")
        done = self.call("PUT", _with_digest(start.headers["Location"], digest_of(data)), body=data,
                         headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        return _ok(done)

    def put_manifest(self, ref, data, media_type=OCI_MANIFEST):
        return self.call("PUT", f"/v2/<name>/manifests/{ref}", body=data, headers={"Content-Type": media_type})

    # ---- 01_pull_test.go ---------------------------------------------------------------------------------
    def pull(self):
        d, m = self.data, self.data.manifests
        self.spec("pull setup: config[0]", lambda: self.upload(d.configs[0]))
        self.spec("pull setup: config[1]", lambda: self.upload(d.configs[1]))
        self.spec("pull setup: layer", lambda: self.upload(LAYER))
        self.tag = "tagtest0"
        self.spec("pull setup: manifest[0] by tag", lambda: _ok(self.put_manifest(self.tag, m[0])))
        self.spec("pull setup: manifest[1] by digest", lambda: _ok(self.put_manifest(digest_of(m[1]), m[1])))
        accept = {"Accept": OCI_MANIFEST}
        for method in ("HEAD", "GET"):
            self.spec(f"{method} nonexistent blob is 404", lambda method=method: self.call(method, f"/v2/<name>/blobs/{DUMMY_DIGEST}").status == 404)
            self.spec(f"{method} existing blob is 200", lambda method=method: self._blob_200(method, d.configs[0]))
        for method in ("HEAD", "GET"):
            self.spec(f"{method} nonexistent manifest is 404",
                      lambda method=method: self.call(method, f"/v2/<name>/manifests/{NONEXISTENT_MANIFEST}").status == 404)
            for i in (0, 1):
                self.spec(f"{method} manifest[{i}] by digest is 200",
                          lambda method=method, i=i: self._manifest_200(method, digest_of(m[i]), digest_of(m[i]), accept))
            self.spec(f"{method} manifest by tag is 200", lambda method=method: self._manifest_200(method, self.tag, digest_of(m[0]), accept))
        self.spec("400 body is OCI-conforming JSON", self._error_body)
        for i in (0, 1):
            self.spec(f"pull teardown: delete manifest[{i}]", lambda i=i: _deleted(self.call("DELETE", f"/v2/<name>/manifests/{digest_of(m[i])}")))
        for data in (d.configs[0], d.configs[1], LAYER):
            self.spec("pull teardown: delete blob", lambda data=data: _deleted(self.call("DELETE", f"/v2/<name>/blobs/{digest_of(data)}"), 404))

    def _blob_200(self, method, data):
        resp = self.call(method, f"/v2/<name>/blobs/{digest_of(data)}")
        return resp.status == 200 and resp.headers.get("Docker-Content-Digest", digest_of(data)) == digest_of(data)

    def _manifest_200(self, method, ref, digest, headers):
        resp = self.call(method, f"/v2/<name>/manifests/{ref}", headers=headers)
        return resp.status == 200 and resp.headers.get("Docker-Content-Digest", digest) == digest

    def _error_body(self):
        resp = self.call("GET", "/v2/<name>/manifests/sha256:totallywrong", body=b"blablabla", headers={"Content-Type": OCI_MANIFEST})
        if resp.status == 400:
            return resp.json()["errors"][0]["code"] in ERROR_CODES
        return resp.status == 404

    # ---- 02_push_test.go ---------------------------------------------------------------------------------
    def push(self):
        d, m = self.data, self.data.manifests
        octet = {"Content-Type": "application/octet-stream"}
        self.spec("PATCH with blob in body is 202", self._patch_streamed)
        # the suite sets Content-Length: 42 on a PUT without a body; Go's client sends Content-Length: 0
        self.spec("PUT to session URL with digest is 201", lambda: self._created(
            self.call("PUT", _with_digest(self.last.headers["Location"], digest_of(d.blob_a)), headers={**octet, "Content-Length": "0"})))
        self.spec("GET nonexistent blob is 404", lambda: self.call("GET", f"/v2/<name>/blobs/{DUMMY_DIGEST}").status == 404)
        self.spec("POST with digest and blob is 201 or 202", lambda: self._monolithic_post(d.configs[1]))
        self.spec("GET blob of the prior POST is 200 (201) or 404 (202)", lambda: self.call("GET", f"/v2/<name>/blobs/{digest_of(d.configs[1])}").status
                  == (404 if self.last.status == 202 else 200))
        self.spec("POST yields a session", self._session)
        self.spec("PUT upload of a blob is 201", lambda: self._created(
            self.call("PUT", _with_digest(self.last.headers["Location"], digest_of(d.configs[1])), body=d.configs[1], headers=octet)))
        self.spec("GET existing blob is 200", lambda: self.call("GET", f"/v2/<name>/blobs/{digest_of(d.configs[1])}").status == 200)
        self.spec("PUT upload of a layer is 201", lambda: self._session() and self._created(
            self.call("PUT", _with_digest(self.last.headers["Location"], digest_of(LAYER)), body=LAYER, headers=octet)))
        self.spec("GET existing layer is 200", lambda: self.call("GET", f"/v2/<name>/blobs/{digest_of(LAYER)}").status == 200)
        self.chunked()
        self.cross_mount()
        self.spec("GET nonexistent manifest is 404", lambda: self.call("GET", f"/v2/<name>/manifests/{NONEXISTENT_MANIFEST}").status == 404)
        for i in range(4):
            self.spec(f"PUT manifest as test{i} is 201", lambda i=i: self._created(self.put_manifest(f"test{i}", m[1])))
        self.spec("PUT manifest with no layers is 201", lambda: self._created(self.put_manifest("emptylayer", d.empty_layer_manifest)))
        self.spec("GET manifest by digest is 200",
                  lambda: self.call("GET", f"/v2/<name>/manifests/{digest_of(m[1])}", headers={"Accept": OCI_MANIFEST}).status == 200)
        self.spec("push teardown: delete manifests", lambda: _deleted(self.call("DELETE", f"/v2/<name>/manifests/{digest_of(m[1])}"))
                  and _deleted(self.call("DELETE", f"/v2/<name>/manifests/{digest_of(d.empty_layer_manifest)}")))
        for data in (d.configs[1], LAYER):
            self.spec("push teardown: delete blob", lambda data=data: _deleted(self.call("DELETE", f"/v2/<name>/blobs/{digest_of(data)}"), 404))

    @staticmethod
    def _created(resp):
        return resp.status == 201 and bool(resp.headers.get("Location"))

    def _patch_streamed(self):
        start = self.call("POST", "/v2/<name>/blobs/uploads/")
        self.last = self.call("PATCH", _relative(start.headers["Location"]), body=self.data.blob_a, headers={"Content-Type": "application/octet-stream"})
        return bool(start.headers.get("Location")) and self.last.status == 202

    def _monolithic_post(self, data):
        self.last = self.call("POST", f"/v2/<name>/blobs/uploads/?digest={digest_of(data)}", body=data,
                              headers={"Content-Type": "application/octet-stream"})
        return bool(self.last.headers.get("Location")) and self.last.status in (201, 202)

    def _session(self):
        self.last = self.call("POST", "/v2/<name>/blobs/uploads/")
        return self.last.status == 202

    def chunked(self):
        d = self.data
        octet = {"Content-Type": "application/octet-stream"}

        def patch(location, body, content_range):
            return self.call("PATCH", _relative(location), body=body, headers={**octet, "Content-Range": content_range})

        def out_of_order():
            start = self.call("POST", "/v2/<name>/blobs/uploads/", headers={"Content-Length": "0"})
            return patch(start.headers["Location"], d.chunk2, d.chunk2_range).status == 416

        def first_chunk():
            self.prev = self.call("POST", "/v2/<name>/blobs/uploads/", headers={"Content-Length": "0"})
            self.last = patch(self.prev.headers["Location"], d.chunk1, d.chunk1_range)
            return self.last.status == 202 and self.last.headers.get("Range") == d.chunk1_range

        def stale_get():
            self.last = self.call("GET", _relative(self.prev.headers["Location"]))
            return self.last.status == 204 and bool(self.last.headers.get("Location")) and self.last.headers.get("Range") == d.chunk1_range

        def second_chunk():
            self.last = patch(self.last.headers["Location"], d.chunk2, d.chunk2_range)
            return self.last.status == 202 and bool(self.last.headers.get("Location"))

        self.spec("out-of-order chunk is 416", out_of_order)
        self.spec("PATCH with first chunk is 202", first_chunk)
        self.spec("retry of the previous chunk is 416", lambda: patch(self.prev.headers["Location"], d.chunk1, d.chunk1_range).status == 416)
        self.spec("GET on stale upload is 204 with Range and Location", stale_get)
        self.spec("PATCH with second chunk is 202", second_chunk)
        self.spec("PUT with digest is 201", lambda: self._created(self.call(
            "PUT", _with_digest(self.last.headers["Location"], digest_of(d.blob_b)), headers={**octet, "Content-Length": "0"})))

    def cross_mount(self):
        digest_a = digest_of(self.data.blob_a)

        def mount(query):
            return self.call("POST", f"/v2/<name>/blobs/uploads/?{query}", name=CROSSMOUNT)

        def from_repo():
            self.last = mount(f"mount={digest_a}&from={NAME}")
            return self.last.status in (201, 202)

        def mounted_blob():
            return (_relative(self.last.headers["Location"]) == f"/v2/{CROSSMOUNT}/blobs/{digest_a}"
                    and self.call("GET", _relative(self.last.headers["Location"])).status == 200)

        def absent():
            resp = mount(f"mount={DUMMY_DIGEST}")
            return resp.status == 202 and bool(resp.headers.get("Location"))

        self.spec("mount of an absent blob without from yields a session", absent)
        self.spec("mount from another repository is 201 or 202", from_repo)
        self.spec("mount answered 201 (automatic cross-mount expects it)", lambda: self.last.status == 201)
        self.spec("GET mounted blob in the cross-mount namespace is 200", mounted_blob)
        self.spec("mount without from, automatic cross-mount on, is 201", lambda: mount(f"mount={digest_a}").status == 201)

    # ---- 03_discovery_test.go ----------------------------------------------------------------------------
    def discovery(self):
        d, m = self.data, self.data.manifests
        self.spec("discovery setup: config[2]", lambda: self.upload(d.configs[2]))
        self.spec("discovery setup: layer", lambda: self.upload(LAYER))
        self.spec("discovery setup: tags", lambda: all(_ok(self.put_manifest(f"test{i}", m[2])) for i in range(4)))
        self.spec("references setup", self._references_setup)
        state = {}

        def tags(query=""):
            resp = self.call("GET", f"/v2/<name>/tags/list{query}")
            return resp, (resp.json().get("tags") or []) if resp.status == 200 else []

        def list_all():
            resp, state["tags"] = tags()
            return resp.status == 200

        def limited():
            half = len(state["tags"]) // 2
            resp, page = tags(f"?n={half}")
            return resp.status == 200 and len(page) == half

        def from_last():
            half = len(state["tags"]) // 2
            _, page = tags(f"?n={half}")
            resp, rest = tags(f"?n={half}&last={page[half - 1]}")
            return resp.status == 200 and len(rest) <= half and page[half - 1] not in rest

        self.spec("GET tags list is 200", list_all)
        self.spec("tags list is limited by n", limited)
        self.spec("tags list starts after last", from_last)
        self.spec("referrers of a nonexistent manifest: empty 200", lambda: self._referrers(DUMMY_DIGEST, "", 0))
        self.spec("referrers of manifest[4]: 5 with their annotations", lambda: self._referrers(digest_of(m[4]), "", 5))
        self.spec("referrers filtered by artifactType: 2", lambda: self._referrers(digest_of(m[4]), f"?artifactType={TYPE_A}", 2, filtered=True))
        self.spec("referrers of the missing manifest[3]: refs C", lambda: self._referrers(digest_of(m[3]), "", 1, only=digest_of(d.refs_c_layer)))
        refs = [d.refs_index, m[2], m[4], d.refs_a_config, d.refs_a_layer, d.refs_b_config, d.refs_b_layer, d.refs_c_layer]
        self.spec("discovery teardown: delete manifests", lambda: all(
            _deleted(self.call("DELETE", f"/v2/<name>/manifests/{digest_of(data)}"), 404) for data in refs))
        for data in (d.configs[2], LAYER, d.configs[4], d.ref_blob_a, d.ref_blob_b, EMPTY_JSON):
            self.spec("discovery teardown: delete blob", lambda data=data: _deleted(self.call("DELETE", f"/v2/<name>/blobs/{digest_of(data)}"), 404))

    def _references_setup(self):
        d, m = self.data, self.data.manifests
        subject4, subject3 = digest_of(m[4]), digest_of(m[3])

        def refers(data, subject, media_type=OCI_MANIFEST):
            resp = self.put_manifest(digest_of(data), data, media_type)
            return _ok(resp) and resp.headers.get("OCI-Subject") == subject

        return (digest_of(EMPTY_JSON) == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
                and self.upload(EMPTY_JSON) and self.upload(d.ref_blob_a)
                and refers(d.refs_a_config, subject4) and refers(d.refs_a_layer, subject4) and refers(d.refs_index, subject4, OCI_INDEX)
                and self.upload(d.configs[4]) and self.upload(LAYER) and _ok(self.put_manifest("tagtest0", m[4]))
                and self.upload(d.ref_blob_b) and refers(d.refs_b_config, subject4) and refers(d.refs_b_layer, subject4)
                and refers(d.refs_c_layer, subject3))

    def _referrers(self, digest, query, count, *, filtered=False, only=None):
        resp = self.call("GET", f"/v2/<name>/referrers/{digest}{query}")
        if resp.status != 200 or resp.headers.get("Content-Type") != OCI_INDEX:
            return False
        found = resp.json().get("manifests") or []
        if filtered and resp.headers.get("OCI-Filters-Applied") != "artifactType":
            return False
        if len(found) != count or (only and found[0]["digest"] != only):
            return False
        if only is None and count:
            return len({desc["digest"] for desc in found}) == count and all(
                desc.get("annotations") == {ANNOTATION: self.data.annotations[desc["digest"]]} for desc in found)
        return True

    # ---- 04_management_test.go ---------------------------------------------------------------------------
    def management(self):
        d, m = self.data, self.data.manifests
        state = {}

        def count_tags():
            resp = self.call("GET", "/v2/<name>/tags/list")
            state["tags"] = len(resp.json().get("tags") or [])
            return resp.status == 200

        def tags_after_delete():
            resp = self.call("GET", "/v2/<name>/tags/list")
            if resp.status == 404:
                return state["tags"] - 1 == 0
            return resp.status == 200 and len(resp.json().get("tags") or []) == state["tags"] - 1

        self.spec("management setup: config[3]", lambda: self.upload(d.configs[3]))
        self.spec("management setup: layer", lambda: self.upload(LAYER))
        self.spec("management setup: tag", lambda: _ok(self.put_manifest("tagtest0", m[3])))
        self.spec("management setup: count tags", count_tags)
        self.spec("DELETE tag is 202", lambda: self.call("DELETE", "/v2/<name>/manifests/tagtest0").status == 202)
        self.spec("DELETE manifest by digest is 202 or 404", lambda: self.call("DELETE", f"/v2/<name>/manifests/{digest_of(m[3])}").status in (202, 404))
        self.spec("GET deleted manifest is 404", lambda: self.call("GET", f"/v2/<name>/manifests/{digest_of(m[3])}").status == 404)
        self.spec("tags list reflects the deletion", tags_after_delete)
        self.spec("DELETE blobs is 202",
                  lambda: all(self.call("DELETE", f"/v2/<name>/blobs/{digest_of(data)}").status == 202 for data in (d.configs[3], LAYER)))
        self.spec("GET deleted blob is 404", lambda: self.call("GET", f"/v2/<name>/blobs/{digest_of(d.configs[3])}").status == 404)


def test_oci_conformance_suite(pyregistry_server):
    """Every spec of the v1.1.1 suite passes (the real Go suite, run by hand, counts 75 passed, 4 skipped)."""
    suite = Suite(pyregistry_server.url)
    suite.pull()
    suite.push()
    suite.discovery()
    suite.management()
    assert suite.failures == []


def test_read_of_an_invalid_reference_is_unknown(pyregistry_server):
    """A reference that is neither a tag nor a digest names nothing: reads answer 404 with the OCI error body; writes 400."""
    url = pyregistry_server.url
    for ref in (".INVALID_MANIFEST_NAME", "-x", "a" * 129, "sha256:totallywrong", "sha512:" + "a" * 128, "t%C3%A4g"):
        for method in ("GET", "HEAD", "DELETE"):
            resp = req(url, method, f"/v2/conf/ref/manifests/{ref}")
            assert resp.status == 404, (method, ref, resp.status)
            if method != "HEAD":
                assert resp.error_codes() == ["MANIFEST_UNKNOWN"]
    put = req(url, "PUT", "/v2/conf/ref/manifests/.INVALID_MANIFEST_NAME", body=b"{}", headers={"Content-Type": OCI_MANIFEST})
    assert put.status == 400 and put.error_codes() == ["TAG_INVALID"]
    put = req(url, "PUT", "/v2/conf/ref/manifests/sha256:totallywrong", body=b"{}", headers={"Content-Type": OCI_MANIFEST})
    assert put.status == 400 and put.error_codes() == ["DIGEST_INVALID"]
