# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every media type and annotation the collection reads or writes, OCI and Docker, in one place.

OCI image-spec v1.1 (media-types.md, annotations.md, image-layout.md) and the Docker Image Manifest V2 Schema 2.
"""
from __future__ import annotations

# Manifests and indexes (image-spec media-types.md; Docker schema 2).
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX)
INDEX_TYPES = (DOCKER_MANIFEST_LIST, OCI_INDEX)

# Image configurations.
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

# Layers.
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDISTRIBUTABLE_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

# The layer type of each (manifest format, compression) the seed writes: format "docker" or "oci",
# compression "none", "gzip" or "zstd" (Docker schema 2 has no zstd layer type).
LAYER_TYPES = {
    ("docker", "none"): DOCKER_LAYER,
    ("docker", "gzip"): DOCKER_LAYER_GZIP,
    ("oci", "none"): OCI_LAYER,
    ("oci", "gzip"): OCI_LAYER_GZIP,
    ("oci", "zstd"): OCI_LAYER_ZSTD,
}

# Docker layer type -> its OCI equivalent (image-spec media-types.md, "Compatibility Matrix").
OCI_LAYER_TYPES = {
    DOCKER_LAYER_GZIP: OCI_LAYER_GZIP,
    DOCKER_LAYER_ZSTD: OCI_LAYER_ZSTD,
    DOCKER_LAYER: OCI_LAYER,
    DOCKER_FOREIGN_LAYER_GZIP: OCI_LAYER_NONDISTRIBUTABLE_GZIP,
}

# Annotations (image-spec annotations.md) and containerd's full image name in an exported index.
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"

# The `oci-layout` file of an image layout (image-spec image-layout.md).
OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
