#!/usr/bin/python
# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_seed
short_description: Push the images of image tarballs into a private registry
version_added: 0.1.0
description:
  - Reads image tarballs (C(docker save) output in the legacy or the Docker 25+ OCI layout, C(skopeo copy ... docker-archive:)
    and C(oci-archive:) output; several images and tags per tarball; the whole tarball optionally gzip- or zstd-compressed)
    and pushes every tagged image into O(registry), named by the seed's retag rule (see the P(airgap.registry.retag#filter) filter).
  - A target whose manifest in the registry already has the image's config is left alone, so a second run sends nothing
    and reports C(changed=false).
  - With O(transport=direct) the images go straight from the tarball to the registry API with no Docker engine; blobs the
    registry has are skipped, blobs pushed to another repository in the run are mounted, layers and images go in parallel,
    uploads resume after a dropped connection.
  - With O(transport=engine) the tarballs are loaded into the Docker engine, tagged and pushed by it; the engine must trust
    the registry (TLS CA in C(certs.d), or C(insecure-registries); loopback registries are trusted over plain HTTP), and be
    able to load the tarballs (OCI archives without C(manifest.json) need Docker 25 or later).
author:
  - airgap.registry contributors (@airgap-registry)
requirements:
  - docker (Python SDK), only for O(transport=engine)
  - zstandard (Python) or the zstd binary, only for zstd-compressed tarballs or O(layers=zstd)
extends_documentation_fragment:
  - airgap.registry.attributes
  - airgap.registry.registry_connection
attributes:
  check_mode:
    support: full
    details: Reads the tarballs and asks the registry what it has; reports the images and blobs that would be pushed; pushes nothing.
  diff_mode:
    support: full
    details: Shows each target's manifest digest before and after (V(null) when absent, V((new)) in check mode).
  idempotent:
    support: full
    details: A second run finds every manifest and blob in the registry and pushes nothing.
options:
  src:
    description:
      - Image tarballs, directories (their C(*.tar), C(*.tar.gz), C(*.tgz), C(*.tar.zst), C(*.tzst) files) and glob patterns.
      - Every tarball is read before anything is pushed; a broken one fails the task naming the file.
      - A bundle (written by M(airgap.registry.image_bundle) or C(airgap-bundle create)) is one source in any form, an OCI
        layout directory, C(NAME.tar), C(NAME.tar.zst), or C(NAME.tar) (or its first part) for its parts C(NAME.tar.part001)...;
        everything in it is pushed byte for byte. A delta bundle fails before anything is pushed when the registry lacks
        a blob it relies on.
    type: list
    elements: path
    required: true
  registry:
    description:
      - The registry, C(HOST:PORT) (or C(https://HOST:PORT)); the images are named C(HOST:PORT/path:tag).
    type: str
    required: true
  transport:
    description:
      - V(direct) pushes through the registry API without an engine; V(engine) uses the Docker engine (load, tag, push).
    type: str
    choices: [direct, engine]
    default: direct
  layers:
    description:
      - How layers are stored in the registry (O(transport=direct) only).
      - V(preserve) pushes them as they are in the tarball; uncompressed layers keep their digests (equal to the diff IDs), and
        manifests found in an OCI layout are pushed byte for byte, so image IDs and manifest digests stay those of the source.
      - V(gzip) compresses deterministically (fixed level, independent 1 MiB deflate pieces as pigz writes them, incompressible
        pieces stored, no name, mtime 0), so reruns give the same digests.
      - V(zstd) compresses with zstd (OCI manifest, needs Docker 20.10+ or containerd 1.5+ to pull).
      - A target that already holds the image (same config) is left as it is when O(layers) changes.
    type: str
    choices: [preserve, gzip, zstd]
    default: preserve
  hub_library:
    description:
      - Keep Docker Hub's C(library/) prefix for official images (C(nginx:1) -> C(REG/library/nginx:1)).
      - The default drops it (C(nginx:1), C(library/nginx:1) and C(docker.io/library/nginx:1) all become C(REG/nginx:1)).
    type: bool
    default: false
  rename:
    description:
      - Explicit renames, matched by full name, C(repo:tag) or repository; the value is the new C(repo) or C(repo:tag).
    type: dict
  parallel:
    description:
      - Blobs and images pushed at the same time.
    type: int
    default: 4
  retries:
    description:
      - Retries (exponential backoff) of a registry request after a dropped connection, 408, 429 or 5xx.
    type: int
    default: 4
  chunk_size:
    description:
      - Upload blobs in chunks of this many bytes (PATCH with Content-Range) instead of one streamed PUT.
    type: int
  platforms:
    description:
      - Platforms of multi-platform images (image indexes, manifest lists) to carry, as C(os/architecture[/variant]),
        e.g. C(linux/amd64), C(linux/arm/v7); used with O(platform_policy=sparse) or O(platform_policy=filter).
      - Matching follows containerd, C(linux/arm64) is C(linux/arm64/v8), C(linux/arm) is C(linux/arm/v7) and
        C(linux/amd64) is C(linux/amd64/v1); an architecture without a variant matches its default variant only.
      - Attestation manifests (platform C(unknown/unknown)) travel with the platform manifest they describe.
      - Single-platform images and artifacts are seeded as they are.
    type: list
    elements: str
  platform_policy:
    description:
      - How a multi-platform image is carried when only some platforms are wanted.
      - V(full) pushes the index and every platform, byte for byte (the tag gets the source digest); naming
        O(platforms) with it is an error.
      - V(sparse) pushes the original index byte for byte (source digest kept) but only the chosen platforms'
        manifests and blobs; the registry must accept an index whose children are absent (Distribution 3
        C(validation.manifests.indexes.platforms) C(none) or C(list), the same key in pyregistry). Distribution 2.8
        refuses it.
      - V(filter) pushes a new index listing only the chosen platforms (a new digest; each image's result gives
        RV(images[].source_digest) and the seeded RV(images[].digest)). Signatures and other referrers of the original
        index are not carried (they name the source digest); those of the kept platform manifests are.
      - A policy that cannot hold (a platform the index lacks) fails before anything is pushed, naming the image.
    type: str
    choices: [full, sparse, filter]
    default: full
notes:
  - Blobs are streamed from the tarball; an uncompressed tarball is read in place by offset, a compressed one in a single
    pass. Nothing is unpacked to disk.
seealso:
  - module: airgap.registry.registry_info
  - module: airgap.registry.image_save
"""

EXAMPLES = r"""
- name: Seed the registry from a directory of tarballs
  airgap.registry.image_seed:
    src:
      - /srv/images
    registry: registry.local:5000
    ca_file: /etc/docker/certs.d/registry.local:5000/ca.crt

- name: Seed with gzip layers, credentials and an explicit rename
  airgap.registry.image_seed:
    src:
      - /srv/images/*.tar.zst
      - /srv/extra/app.tar
    registry: registry.local:5000
    layers: gzip
    username: seeder
    password: "{{ vault_registry_password }}"
    rename:
      nginx: web/nginx
  register: seeded

- name: Through the Docker engine, like docker load / tag / push
  airgap.registry.image_seed:
    src: [/srv/images]
    registry: 127.0.0.1:5000
    transport: engine
"""

RETURN = r"""
summary:
  description:
    - One line about the run, as C(airgap-seed) prints it; a role or playbook can show it with C(ansible.builtin.debug).
    - In check mode it counts what would be pushed and the bytes that would be sent.
  returned: success
  type: str
  sample: "3 images: 3 pushed, 0 present; 1.2 MiB sent (7 blobs uploaded, 2 mounted, 0 present)"
images:
  description: One entry per pushed name (image x tag).
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: The image name in the tarball.
      type: str
      sample: nginx:1.25
    archive:
      description: The tarball it came from.
      type: str
      sample: /srv/images/nginx_1.25.tar
    target:
      description: The name in the registry.
      type: str
      sample: registry.local:5000/nginx:1.25
    digest:
      description: Manifest digest in the registry (null in check mode when it would be pushed).
      type: str
      sample: sha256:09c688f71163ae3fc95732b705ac18d06dd0ff1614e4e81a98c299197d244864
    config_digest:
      description: The image config digest (the image ID); null for an index or artifact pushed verbatim.
      type: str
      sample: sha256:134dee8762a1a6f858eac2642edf149a3182e77e5506b5585bfe7f473d1a8b95
    source_digest:
      description:
        - Index, manifest list or non-image manifest (artifact, signature) pushed byte for byte only. Its digest in the
          tarball, which the tag gets in the registry.
      type: str
      sample: sha256:c1a1263b654c5e4f1b7dbd3e1f3f1c2b2f1e0d3c4b5a69788796a5b4c3d2e1f0
    platforms:
      description: Index or manifest list only. The platforms of its manifests, in index order (attestations are unknown/unknown).
      type: list
      elements: str
      sample: [linux/amd64, linux/arm64/v8]
    manifests_pushed:
      description: Index or artifact pushed verbatim only. Manifests put (children, the index, referrers).
      type: int
      sample: 3
    would_push:
      description:
        - Check mode, index or artifact pushed verbatim only. The manifests (C(manifest <digest> (<media type>))) and
          blobs (C(blob <digest>)) that would move.
      type: list
      elements: str
    bytes_sent:
      description: Blob bytes uploaded for this target.
      type: int
      sample: 307741
    bytes_to_send:
      description:
        - Check mode only. Blob bytes that would be uploaded for this target (a layer that would be recompressed counts
          with its size in the tarball).
      type: int
      sample: 307741
    blobs_pushed:
      description: Blobs uploaded (in check mode, that would be uploaded).
      type: int
      sample: 2
    blobs_mounted:
      description: Blobs mounted from another repository of the registry.
      type: int
      sample: 1
    blobs_skipped:
      description: Blobs the registry already had.
      type: int
      sample: 0
    changed:
      description: Whether the manifest was (or would be) pushed.
      type: bool
      sample: true
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 - validate-modules wants imports below the documentation

from ansible_collections.airgap.registry.plugins.module_utils.seed import SeedError, seed  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.seed_options import argument_spec  # noqa: E402

# Generated from seed_options.OPTIONS (the one definition the airgap-seed CLI also uses); DOCUMENTATION above must agree
# with it (tests/unit/test_seed_options.py checks that).
ARGUMENT_SPEC = argument_spec()


def main() -> None:
    """Run the module: seed, then exit with changed, summary, images (and diff in diff mode)."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_together=[["username", "password"]])
    params = dict(module.params)
    params["check_mode"] = module.check_mode
    try:
        result = seed(params)  # SeedError for a value the seed refuses too (parallel, chunk_size: seed_options.check)
    except SeedError as exc:
        module.fail_json(msg=str(exc))
    for warning in result.pop("warnings"):
        module.warn(warning)
    diff = result.pop("diff")
    module.exit_json(changed=result["changed"], summary=result["summary"], images=result["images"], **({"diff": diff} if module._diff else {}))


if __name__ == "__main__":
    main()
