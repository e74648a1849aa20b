#!/usr/bin/python
# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_save
short_description: Save container images as tarballs, from the Docker engine or straight from a registry
version_added: 0.1.0
description:
  - Writes one tarball per image into O(dest), named as the seed names them
    (C(registry:2.8.3) -> C(registry_2.8.3.tar), C(a/b:1) -> C(a_b_1.tar)).
  - With O(source=engine), the image is saved by the Docker engine (C(docker save)), streamed to a temporary file
    then renamed.
  - With O(source=registry), the image is read from a registry through the registry API, without an engine.
    O(format=docker-archive) writes a tarball C(docker load) accepts (C(manifest.json), the config, layers stored
    uncompressed and checked against the config's diff_ids); O(format=oci-archive) writes an OCI image layout
    tarball (blobs as in the registry) that C(skopeo copy oci-archive:FILE ...) reads.
  - With O(source=registry) and O(format=oci-archive), a multi-platform image (an image index or manifest list) is
    written whole, byte for byte, with every platform's manifest and blobs, its attestation manifests, and its
    referrers (signatures, SBOMs; through the referrers API or the C(sha256-<hex>) tag, and cosign's
    C(sha256-<hex>.sig), C(.att), C(.sbom) tags), so that C(skopeo copy --all oci-archive:FILE:NAME) and
    M(airgap.registry.image_seed) give the tag its source digest again. O(platforms) with
    O(platform_policy=filter) writes a new index of the chosen platforms instead (a new digest).
  - O(format=docker-archive) holds one platform, so a multi-platform image needs O(platform); without it the task
    fails naming the image and its platforms.
  - A tarball that already holds the same image (same config digest, that is image ID, and same name) in the same
    format is left alone unless O(force=true).
  - Every tarball is written to a temporary file in O(dest) and renamed into place, so a failure leaves no partial file.
author:
  - airgap.registry contributors (@airgap-registry)
requirements:
  - docker (Python SDK, for O(source=engine) only)
extends_documentation_fragment:
  - airgap.registry.attributes
  - airgap.registry.registry_connection
attributes:
  check_mode:
    support: full
    details: Resolves every image and reports which tarballs would be written; writes nothing.
  diff_mode:
    support: full
    details: Shows, per tarball path, the image digest it held before and would hold after.
  idempotent:
    support: partial
    details: A second run finds each tarball holding the image it would write and writes nothing, unless O(force=true).
options:
  images:
    description:
      - Image references to save, as C(repo:tag), C(host:port/repo:tag) or C(repo@sha256:...). A missing tag means
        C(latest).
    type: list
    elements: str
    required: true
  dest:
    description:
      - Directory the tarballs are written to. Created when missing (not in check mode).
    type: path
    required: true
  source:
    description:
      - Where the images come from.
    type: str
    choices: [engine, registry]
    default: engine
  format:
    description:
      - Tarball format. O(source=engine) writes V(docker-archive) only.
    type: str
    choices: [docker-archive, oci-archive]
    default: docker-archive
  layers:
    description:
      - How O(format=docker-archive) tarballs from O(source=registry) store layers. V(uncompressed), as C(docker save)
        does; V(preserve) keeps gzip layers compressed as the registry holds them (smaller tarballs, which
        C(docker load) reads all the same). Every layer is checked against the image's diff_ids either way.
      - Ignored for O(source=engine) and O(format=oci-archive), which keep the blobs as they are.
    type: str
    choices: [uncompressed, preserve]
    default: uncompressed
  force:
    description:
      - Rewrite tarballs even when they already hold the same image.
    type: bool
    default: false
  registry:
    description:
      - Registry (C(HOST:PORT) or C(https://HOST:PORT)) to read the images from with O(source=registry). Image names
        are then repositories in it (a registry part in a name must name this registry).
      - When omitted, each image name must carry its registry (C(HOST:PORT/repo:tag)).
      - V(docker.io) (or a C(docker.io/) name) reads from Docker Hub's API host C(registry-1.docker.io), with
        official images under C(library/).
    type: str
  platform:
    description:
      - Platform (C(os/arch) or C(os/arch/variant)) picked when a registry tag names a multi-platform index; that one
        platform's image is written (its own manifest, not the index).
      - Required for a multi-platform image with O(format=docker-archive). Without it, O(format=oci-archive) writes
        the whole index (see O(platforms)).
    type: str
  platforms:
    description:
      - Platforms (C(os/arch[/variant]); containerd's matching, C(linux/arm64) is C(linux/arm64/v8)) of a
        multi-platform image to write into an O(format=oci-archive), with O(platform_policy=filter).
    type: list
    elements: str
  platform_policy:
    description:
      - V(full) writes the index and every platform (digest kept; O(platforms) must be empty). V(filter) writes a new
        index of O(platforms) only (a new digest; the referrers of the source index, which name its digest, are left
        out). V(sparse) is for M(airgap.registry.image_seed) only (an archive holds every manifest its index names).
      - A platform the index lacks fails the task before anything is written.
    type: str
    choices: [full, sparse, filter]
    default: full
  docker_host:
    description:
      - Docker engine to save from with O(source=engine). Defaults to E(DOCKER_HOST) or the local socket.
    type: str
notes:
  - The seed's C(docker save -o registry_2.8.3.tar registry:2.8.3) is O(source=engine); O(source=registry) needs no
    Docker engine at all.
seealso:
  - module: airgap.registry.image_seed
"""

EXAMPLES = r"""
- name: Save the registry image from the engine, as the seed does
  airgap.registry.image_save:
    images:
      - registry:2.8.3
      - tools/busyish:2.0
    dest: /srv/bundle

- name: Save images straight from a registry into docker load tarballs, no engine needed
  airgap.registry.image_save:
    source: registry
    registry: ghcr.io
    username: robot
    password: "{{ ghcr_token }}"
    images:
      - acme/api:1.4.2
    dest: /srv/bundle

- name: Save a multi-platform image whole (index, every platform, signatures), digest kept
  airgap.registry.image_save:
    source: registry
    format: oci-archive
    images:
      - reg.local:5000/base:3.19
    dest: /srv/bundle

- name: Save two platforms of it as a new, filtered index
  airgap.registry.image_save:
    source: registry
    format: oci-archive
    platforms: [linux/amd64, linux/arm64]
    platform_policy: filter
    images:
      - reg.local:5000/base:3.19
    dest: /srv/bundle-two

- name: Save OCI archives for skopeo
  airgap.registry.image_save:
    source: registry
    format: oci-archive
    images:
      - reg.local:5000/abox:1.0.1
    dest: /srv/bundle
    ca_file: /etc/docker/certs.d/reg.local:5000/ca.crt
"""

RETURN = r"""
files:
  description: One entry per image, in the order of O(images).
  returned: always
  type: list
  elements: dict
  contains:
    image:
      description: The image reference as given.
      type: str
      sample: registry:2.8.3
    path:
      description: Path of the tarball.
      type: str
      sample: /srv/bundle/registry_2.8.3.tar
    changed:
      description: Whether the tarball was (or, in check mode, would be) written.
      type: bool
      sample: true
    digest:
      description: Config digest of the image, which is its image ID; for a multi-platform image written whole, the
        digest of the index in the tarball.
      type: str
      sample: sha256:be9ab0ca36e5c1e5e8c1fbdd5dbe2b7b0a0a7b1e0ddc3b33b6b0b7e6d4bc3e55
    source_digest:
      description: Multi-platform image written whole only. The index digest in the registry (differs from RV(files[].digest)
        with O(platform_policy=filter)).
      type: str
      returned: when the image is an index written to an oci-archive
      sample: sha256:0a5e3c1e5e8c1fbdd5dbe2b7b0a0a7b1e0ddc3b33b6b0b7e6d4bc3e55be9ab0c
    platforms:
      description: Multi-platform image written whole only. The platforms of the index's manifests in the tarball, in
        index order (attestation manifests are unknown/unknown).
      type: list
      elements: str
      returned: when the image is an index written to an oci-archive
      sample: [linux/amd64, linux/arm64/v8]
    format:
      description: Tarball format.
      type: str
      sample: docker-archive
"""

import os  # noqa: E402 - validate-modules wants imports below the documentation
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.airgap.registry.plugins.module_utils.archive_writer import ArchiveError, ImageSaver  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import (  # noqa: E402
    CONNECTION_ARGUMENT_SPEC, RegistryClient, RegistryError, client_from_params)

try:
    import docker
    HAS_DOCKER = True
except ImportError:
    HAS_DOCKER = False


def engine_api(module: AnsibleModule) -> Any:
    """The docker SDK low-level client for the engine, or a failed task."""
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"))
    host, timeout = module.params["docker_host"], module.params["timeout"]
    try:
        client = docker.APIClient(base_url=host, timeout=timeout) if host else docker.from_env(timeout=timeout).api
        client.ping()
    except Exception as exc:  # noqa: BLE001 - DockerException, connection errors
        module.fail_json(msg=f"cannot reach the Docker engine: {exc}")
    return client


def argument_spec() -> dict:
    """The module's options (DOCUMENTATION describes them)."""
    return {
        "images": {"type": "list", "elements": "str", "required": True},
        "dest": {"type": "path", "required": True},
        "source": {"type": "str", "choices": ["engine", "registry"], "default": "engine"},
        "format": {"type": "str", "choices": ["docker-archive", "oci-archive"], "default": "docker-archive"},
        "layers": {"type": "str", "choices": ["uncompressed", "preserve"], "default": "uncompressed"},
        "force": {"type": "bool", "default": False},
        "registry": {"type": "str"},
        "platform": {"type": "str"},
        "platforms": {"type": "list", "elements": "str"},
        "platform_policy": {"type": "str", "choices": ["full", "sparse", "filter"], "default": "full"},
        "docker_host": {"type": "str"},
        **CONNECTION_ARGUMENT_SPEC,
    }


def save_all(module: AnsibleModule, saver: ImageSaver, images: list, dest: str) -> None:
    """Save every image in turn and exit with {changed, files, diff}; fail naming the image at the first error."""
    files = []
    before = {}
    after = {}
    for image in images:
        try:
            result, held = saver.save(image)
        except (ArchiveError, RegistryError) as exc:
            module.fail_json(msg=f"image {image}: {exc}", files=files, changed=any(f["changed"] for f in files))
        except OSError as exc:
            module.fail_json(msg=f"image {image}: cannot write into {dest}: {exc}", files=files, changed=any(f["changed"] for f in files))
        files.append(result)
        if result["changed"]:
            before[result["path"]] = held
            after[result["path"]] = result["digest"]
    out = {"changed": any(f["changed"] for f in files), "files": files}
    if module._diff:
        out["diff"] = {"before": before, "after": after}
    module.exit_json(**out)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), required_together=[("username", "password")], supports_check_mode=True)
    p = module.params
    if p["source"] == "engine" and p["format"] != "docker-archive":
        module.fail_json(msg="format oci-archive needs source=registry (the Docker engine saves docker-archive only)")
    dest = p["dest"]
    if os.path.exists(dest) and not os.path.isdir(dest):
        module.fail_json(msg=f"dest {dest} exists and is not a directory")

    def client_for(host: str) -> RegistryClient:
        return client_from_params(host, p)

    if p["source"] == "registry" and p["ca_file"] and p["validate_certs"]:
        try:
            client_for(p["registry"] or "localhost")  # reads ca_file: a missing or broken CA fails here, naming it
        except RegistryError as exc:
            module.fail_json(msg=str(exc))

    saver = ImageSaver(dest, source=p["source"], fmt=p["format"], force=p["force"], check_mode=module.check_mode,
                       engine_api=engine_api(module) if p["source"] == "engine" else None,
                       client_for=client_for, registry=p["registry"], platform_name=p["platform"], layers=p["layers"],
                       platforms=p["platforms"], platform_policy=p["platform_policy"])
    if not module.check_mode and not os.path.isdir(dest):
        try:
            os.makedirs(dest)
        except OSError as exc:
            module.fail_json(msg=f"cannot create dest {dest}: {exc.strerror}")
    save_all(module, saver, p["images"], dest)


if __name__ == "__main__":
    main()
