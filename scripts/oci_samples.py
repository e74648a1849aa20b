#!/usr/bin/env python3
"""Write deterministic multi-platform images, artifacts and referrers as OCI archives, with no registry or engine.

What `skopeo copy --all ... oci-archive:FILE:NAME:TAG` and BuildKit's OCI exporter write: an `oci-layout`, an
`index.json` whose entry (with `org.opencontainers.image.ref.name`) points to an image index, and every blob under
`blobs/sha256/`.  Usage:

    oci_samples.py OUT_DIR

Samples (file: ref -> what):
  multi2.tar    multi:2      OCI index, linux/amd64 + linux/arm64
  multi3.tar    multi:3      OCI index, linux/amd64 + linux/arm64 + linux/arm/v7
  dlist.tar     dlist:1      Docker manifest list of two Docker schema 2 manifests
  attest.tar    attest:1     OCI index with a BuildKit attestation manifest (platform unknown/unknown)
  signed.tar    signed:1     OCI index + a signature and an SBOM artifact (`subject` = the index) + a cosign-style
                             `signed:sha256-<hex>.sig` tag
  helm.tar      charts/mychart:0.1.0   Helm chart artifact (config application/vnd.cncf.helm.config.v1+json)
  docker25.tar  d25:1        Docker-25-style `docker save`: manifest.json (one image) + index.json naming an index of
                             two platforms, only linux/amd64's blobs present
Broken inputs for the error tests: broken_child.tar (the index names an absent child), broken_platform.tar (a child
whose platform disagrees with its config).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sample_tar import add_file, write_tar  # noqa: E402 - scripts/ is not a package

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
REF_NAME = "org.opencontainers.image.ref.name"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dumps(doc) -> bytes:
    return json.dumps(doc, indent=2, sort_keys=False).encode()


class Layout:
    """An OCI image layout being built in memory: blobs {digest: bytes}, index.json entries."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.entries: list[dict] = []
        self.extra: dict[str, bytes] = {}

    def blob(self, data: bytes, media_type: str, **extra) -> dict:
        digest = sha(data)
        self.blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data), **extra}

    def write(self, path: str, drop: tuple = ()) -> str:
        members = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                   ("index.json", dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.entries}))]
        members += [(f"blobs/sha256/{d[7:]}", b) for d, b in sorted(self.blobs.items()) if d not in drop]
        members += sorted(self.extra.items())
        return write_tar(path, members)


def layer(seed: str, size: int = 4096) -> tuple[bytes, str]:
    """(gzip bytes, diff ID) of a one-file layer tar."""
    data = random.Random(seed).randbytes(size)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add_file(tar, f"opt/{seed.replace('/', '_')}.bin", data)
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0), sha(raw)


def image(lay: Layout, name: str, platform: dict, docker: bool = False, config_platform: dict | None = None) -> dict:
    """Add one platform's image (a shared base layer + its own layer); its manifest descriptor with `platform`."""
    layers = [layer("base"), layer(f"{name}/{platform['architecture']}{platform.get('variant', '')}")]
    cplat = config_platform or platform
    config = {"architecture": cplat["architecture"], "os": cplat["os"], **({"variant": cplat["variant"]} if "variant" in cplat else {}),
              "created": "2023-11-14T22:13:20Z", "config": {"Cmd": ["/bin/true"], "Labels": {"org.airgap.sample": name}},
              "rootfs": {"type": "layers", "diff_ids": [d for _b, d in layers]}}
    manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
                "config": lay.blob(dumps(config), DOCKER_CONFIG if docker else OCI_CONFIG),
                "layers": [lay.blob(b, DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP) for b, _d in layers]}
    return lay.blob(dumps(manifest), manifest["mediaType"], platform=platform)


PLATFORMS = [{"architecture": "amd64", "os": "linux"}, {"architecture": "arm64", "os": "linux", "variant": "v8"},
             {"architecture": "arm", "os": "linux", "variant": "v7"}]


def index(lay: Layout, children: list[dict], media_type: str = OCI_INDEX, ref: str | None = None) -> dict:
    doc = {"schemaVersion": 2, "mediaType": media_type, "manifests": children}
    desc = lay.blob(dumps(doc), media_type)
    if ref:
        lay.entries.append({**desc, "annotations": {REF_NAME: ref}})
    return desc


def artifact(lay: Layout, artifact_type: str, content: bytes, content_type: str, subject: dict | None = None,  # noqa: PLR0917 - sample helper
             config_type: str = OCI_EMPTY, config: bytes = b"{}", annotations: dict | None = None) -> dict:
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if config_type == OCI_EMPTY:
        doc["artifactType"] = artifact_type
    doc["config"] = lay.blob(config, config_type)
    doc["layers"] = [lay.blob(content, content_type)]
    if subject:
        doc["subject"] = {k: subject[k] for k in ("mediaType", "digest", "size")}
    if annotations:
        doc["annotations"] = annotations
    return lay.blob(dumps(doc), OCI_MANIFEST, **({"artifactType": artifact_type} if config_type == OCI_EMPTY else {}))


def multi(out: str, name: str, count: int, ref: str) -> str:
    lay = Layout()
    index(lay, [image(lay, name, p) for p in PLATFORMS[:count]], ref=ref)
    return lay.write(os.path.join(out, f"{name}.tar"))


def docker_list(out: str) -> str:
    lay = Layout()
    index(lay, [image(lay, "dlist", {k: v for k, v in p.items() if k != "variant"}, docker=True) for p in PLATFORMS[:2]],
          media_type=DOCKER_LIST, ref="dlist:1")
    return lay.write(os.path.join(out, "dlist.tar"))


def attested(out: str) -> str:
    lay = Layout()
    children = [image(lay, "attest", p) for p in PLATFORMS[:2]]
    statement = dumps({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://spdx.dev/Document",
                       "subject": [{"name": "attest", "digest": {"sha256": children[0]["digest"][7:]}}], "predicate": {}})
    config = {"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers", "diff_ids": [sha(statement)]}}
    att = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": lay.blob(dumps(config), OCI_CONFIG),
           "layers": [lay.blob(statement, "application/vnd.in-toto+json",
                               annotations={"in-toto.io/predicate-type": "https://spdx.dev/Document"})]}
    children.append(lay.blob(dumps(att), OCI_MANIFEST, platform={"architecture": "unknown", "os": "unknown"},
                             annotations={"vnd.docker.reference.digest": children[0]["digest"],
                                          "vnd.docker.reference.type": "attestation-manifest"}))
    index(lay, children, ref="attest:1")
    return lay.write(os.path.join(out, "attest.tar"))


def signed(out: str) -> str:
    lay = Layout()
    subject = index(lay, [image(lay, "signed", p) for p in PLATFORMS[:2]], ref="signed:1")
    sig = artifact(lay, "application/vnd.dev.cosign.artifact.sig.v1+json", b"signature-bytes",
                   "application/vnd.dev.cosign.simplesigning.v1+json", subject=subject,
                   annotations={"org.opencontainers.image.created": "2023-11-14T22:13:20Z"})
    sbom = artifact(lay, "application/spdx+json", dumps({"spdxVersion": "SPDX-2.3", "name": "signed"}),
                    "application/spdx+json", subject=subject)
    lay.entries += [sig, sbom]
    simplesigning = dumps({"critical": {"image": {"docker-manifest-digest": subject["digest"]}, "type": "cosign container image signature"}})
    cosign_config = {"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": [sha(simplesigning)]}}
    cosign = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": lay.blob(dumps(cosign_config), OCI_CONFIG),
              "layers": [lay.blob(simplesigning, "application/vnd.dev.cosign.simplesigning.v1+json",
                                  annotations={"dev.cosignproject.cosign/signature": "MEUCIQ=="})]}
    lay.entries.append({**lay.blob(dumps(cosign), OCI_MANIFEST),
                        "annotations": {REF_NAME: f"signed:sha256-{subject['digest'][7:]}.sig"}})
    return lay.write(os.path.join(out, "signed.tar"))


def helm(out: str) -> str:
    lay = Layout()
    chart = gzip.compress(b"apiVersion: v2\nname: mychart\nversion: 0.1.0\n", mtime=0)
    desc = artifact(lay, "", chart, "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                    config_type="application/vnd.cncf.helm.config.v1+json",
                    config=dumps({"apiVersion": "v2", "name": "mychart", "version": "0.1.0"}))
    lay.entries.append({**desc, "annotations": {REF_NAME: "charts/mychart:0.1.0"}})
    return lay.write(os.path.join(out, "helm.tar"))


def docker25(out: str) -> str:
    """`docker save` of a multi-platform image by Docker 25+ (containerd store) that pulled only linux/amd64."""
    lay = Layout()
    children = [image(lay, "d25", p) for p in PLATFORMS[:2]]
    idx = index(lay, children)
    lay.entries.append({**idx, "annotations": {"io.containerd.image.name": "docker.io/library/d25:1", REF_NAME: "1"}})
    amd = json.loads(lay.blobs[children[0]["digest"]])
    arm = json.loads(lay.blobs[children[1]["digest"]])
    drop = {children[1]["digest"], arm["config"]["digest"]} | {x["digest"] for x in arm["layers"]} - \
        {x["digest"] for x in amd["layers"]}
    lay.extra["manifest.json"] = dumps([{"Config": f"blobs/sha256/{amd['config']['digest'][7:]}", "RepoTags": ["d25:1"],
                                         "Layers": [f"blobs/sha256/{x['digest'][7:]}" for x in amd["layers"]]}])
    return lay.write(os.path.join(out, "docker25.tar"), drop=tuple(drop))


def broken_child(out: str) -> tuple[str, str]:
    """An index naming a child that is absent; (path, absent digest)."""
    lay = Layout()
    children = [image(lay, "brokenc", p) for p in PLATFORMS[:2]]
    index(lay, children, ref="brokenc:1")
    return lay.write(os.path.join(out, "broken_child.tar"), drop=(children[1]["digest"],)), children[1]["digest"]


def broken_platform(out: str) -> tuple[str, str]:
    """An index whose arm64 child's config says amd64; (path, that child's digest)."""
    lay = Layout()
    children = [image(lay, "brokenp", PLATFORMS[0]),
                image(lay, "brokenp", PLATFORMS[1], config_platform={"architecture": "amd64", "os": "linux"})]
    index(lay, children, ref="brokenp:1")
    return lay.write(os.path.join(out, "broken_platform.tar")), children[1]["digest"]


def write_all(out: str) -> list[str]:
    """Write every good sample into `out` (created); their paths."""
    os.makedirs(out, exist_ok=True)
    return [multi(out, "multi2", 2, "multi:2"), multi(out, "multi3", 3, "multi:3"), docker_list(out), attested(out),
            signed(out), helm(out), docker25(out)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    args = parser.parse_args(argv)
    for path in write_all(args.out_dir):
        print(path)


if __name__ == "__main__":
    main()
