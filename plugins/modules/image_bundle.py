#!/usr/bin/python
# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_bundle
short_description: Write one deduplicated OCI-layout bundle of images to carry across the air gap
version_added: 0.2.0
description:
  - Reads images from their registries through the registry API (no Docker engine), or from the local Docker engine
    with O(from_engine=true), and writes them as one OCI image layout, the bundle (docs/bundles.md), as C(airgap-bundle
    create) does.
  - Every blob is stored once however many images share it; image indexes, attestations and referrers (signatures,
    SBOMs) are kept with their digests; each image is named inside by its full source reference.
  - With O(have), the HAVE file of the site (M(airgap.registry.image_bundle_have)), a delta is written, holding only the
    manifests and blobs the site lacks.
  - Blobs already in the bundle (of an earlier, interrupted or complete run) are not fetched again; a bundle that
    already holds every image as asked is left as it is (C(changed=false)).
  - Runs where the bundle is written, usually a connected controller (C(delegate_to) V(localhost)).
author:
  - airgap.registry contributors (@airgap-registry)
requirements:
  - docker (Python SDK), only for O(from_engine=true)
  - zstandard (Python), only for a C(.tar.zst) O(output)
extends_documentation_fragment:
  - airgap.registry.attributes
  - airgap.registry.registry_connection
attributes:
  check_mode:
    support: full
    details: Reads the manifests only; reports the images, and the blobs and bytes that would be fetched; writes nothing.
  diff_mode:
    support: full
    details: Shows the bundle's images (full source reference to digest) before and after.
  idempotent:
    support: full
    details: A second run finds every blob in the bundle, fetches nothing and leaves the bundle as it is.
options:
  images:
    description:
      - Image references, C(REGISTRY/PATH:TAG) or C(REGISTRY/PATH@DIGEST); Docker Hub names are C(docker.io/library/NAME:TAG).
      - One of O(images) and O(images_file) is required.
    type: list
    elements: str
  images_file:
    description:
      - A file of image references on the host the module runs on, one a line (C(#) starts a comment), or YAML with
        per-image platforms.
    type: path
  output:
    description:
      - The bundle. A directory (a path ending in C(/), or an existing directory), C(NAME.tar) or C(NAME.tar.zst).
    type: path
    required: true
  platforms:
    description:
      - Keep only these platforms (C(OS/ARCH[/VARIANT])) of multi-platform images.
    type: list
    elements: str
  platform_policy:
    description:
      - With O(platforms). V(filter) writes a new index holding only the chosen platforms (a new digest, recorded in the
        bundle); V(sparse) keeps the original index (its digest) with only the chosen platforms' blobs.
    type: str
    choices: [filter, sparse]
    default: filter
  have:
    description:
      - The HAVE file of the site (written by M(airgap.registry.image_bundle_have) or C(airgap-bundle have)); the bundle
        is then a delta holding only what the site lacks.
    type: path
  split_size:
    description:
      - Cut a tarball O(output) into parts of at most this size (V(500M), V(4G), V(4000000000); K, M, G, T are powers of
        1024), C(NAME.tar.part001)... plus C(NAME.tar.sha256).
    type: str
  from_engine:
    description:
      - Take the images from the local Docker engine (C(docker save)) instead of their registries.
    type: bool
    default: false
  parallel:
    description:
      - Blobs fetched at the same time.
    type: int
    default: 4
  retries:
    description:
      - Retries (exponential backoff) of a registry request after a dropped connection, 408, 429 or 5xx.
    type: int
    default: 4
notes:
  - The connection options apply to every source registry; without O(username), the credentials of
    C(~/.docker/config.json) for each registry are used, as docker and skopeo use them.
  - Memory stays flat in the size of a layer; blobs are streamed, verified, and renamed into place whole.
seealso:
  - module: airgap.registry.image_bundle_have
  - module: airgap.registry.image_seed
"""

EXAMPLES = r"""
- name: Write this month's bundle, cut for 4 GiB media
  airgap.registry.image_bundle:
    images_file: /srv/bundles/images.txt
    output: /srv/bundles/2026-11.tar
    split_size: 4G
  delegate_to: localhost

- name: Next month, a delta against what the site holds
  airgap.registry.image_bundle:
    images:
      - docker.io/library/nginx:1.25
      - ghcr.io/acme/api:1.4
    have: /srv/bundles/HAVE.json
    output: /srv/bundles/2026-12.tar
    username: robot
    password: "{{ vault_mirror_password }}"

- name: What would be fetched
  airgap.registry.image_bundle:
    images_file: /srv/bundles/images.txt
    output: /srv/bundles/2026-11/
  check_mode: true
  register: would
"""

RETURN = r"""
summary:
  description: One line about the run (in check mode, what would be fetched).
  returned: success
  type: str
  sample: "3 images, 11 blobs (52.4 MiB); fetched 4 blobs (12.1 MiB)"
output:
  description: The bundle written (for split parts, the C(NAME.tar) they are parts of).
  returned: success
  type: str
  sample: /srv/bundles/2026-11.tar
form:
  description: The bundle's form.
  returned: success
  type: str
  sample: tar
images:
  description: The images of the bundle.
  returned: success
  type: list
  elements: dict
  contains:
    reference:
      description: The full source reference, the image's name inside the bundle.
      type: str
      sample: docker.io/library/nginx:1.25
    digest:
      description: The digest of its manifest or index.
      type: str
      sample: sha256:09c688f71163ae3fc95732b705ac18d06dd0ff1614e4e81a98c299197d244864
    platforms:
      description: Its platforms (V([]) for a single-platform image whose config says nothing more).
      type: list
      elements: str
      sample: [linux/amd64, linux/arm64/v8]
    size:
      description: Bytes of every blob the image needs.
      type: int
      sample: 7340032
blobs_total:
  description: Blobs in the bundle.
  returned: success
  type: int
  sample: 11
bytes_total:
  description: Bytes of the blobs in the bundle.
  returned: success
  type: int
  sample: 54945382
blobs_fetched:
  description: Blobs fetched by this run (in check mode, that would be fetched); 0 on a complete rerun.
  returned: success
  type: int
  sample: 4
bytes_fetched:
  description: Bytes fetched by this run (in check mode, that would be fetched).
  returned: success
  type: int
  sample: 12687360
delta:
  description: For a delta, what it relies on at the site (the C(delta) of C(airgap-bundle.json)); null otherwise.
  returned: success
  type: dict
parts:
  description: With O(split_size), the parts written, in order.
  returned: success
  type: list
  elements: str
  sample: [/srv/bundles/2026-11.tar.part001, /srv/bundles/2026-11.tar.part002]
"""

from typing import Any  # noqa: E402 - validate-modules wants imports below the documentation

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.airgap.registry.plugins.module_utils.bundle_create import create_bundle, existing_document  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import BundleError, output_form, parse_size  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.bundle_options import CREATE_OPTIONS  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.seed_options import argument_spec, check  # noqa: E402

# Generated from bundle_options.CREATE_OPTIONS (the definition `airgap-bundle create` also uses); DOCUMENTATION above
# must agree with it (tests/unit/test_bundle_module_options.py checks that).
ARGUMENT_SPEC = argument_spec(CREATE_OPTIONS)
RESULT_KEYS = ("output", "form", "images", "blobs_total", "bytes_total", "blobs_fetched", "bytes_fetched", "delta", "parts")


def human_bytes(count: int) -> str:
    """`count` bytes as B, KiB, MiB or GiB with one decimal."""
    size, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB"):  # noqa: B007 - the last unit is kept
        if size < 1024 or unit == "GiB":
            break
        size /= 1024
    return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"


def summary_of(result: dict[str, Any], check_mode: bool) -> str:
    """One line: images, blobs and bytes of the bundle, and what the run fetched (would fetch, in check mode)."""
    verb = "would fetch" if check_mode else "fetched"
    return (f"{len(result['images'])} images, {result['blobs_total']} blobs ({human_bytes(result['bytes_total'])}); "
            f"{verb} {result['blobs_fetched']} blobs ({human_bytes(result['bytes_fetched'])})")


def named_digests(images: list[dict[str, Any]]) -> dict[str, str]:
    """{full source reference: digest} of a bundle's images, for the diff."""
    return {image["reference"]: image["digest"] for image in images}


def bundle_before(output: str, split_size: str | None) -> dict[str, str]:
    """{reference: digest} of the bundle `output` holds now, its parts when `split_size` is given ({} when there is
    none, or it cannot be read)."""
    try:
        document = existing_document(output, output_form(output), parse_size(split_size) if split_size else None)
    except BundleError:
        return {}
    return named_digests((document or {}).get("images") or [])


def main() -> None:
    """Run the module: create (or, in check mode, plan) the bundle; exit with changed, summary, the result keys, diff."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_one_of=[["images", "images_file"]],
                           required_together=[["username", "password"]])
    params = dict(module.params)
    params["check_mode"] = module.check_mode
    before = bundle_before(params["output"], params.get("split_size")) if module._diff else {}
    try:
        check(params, CREATE_OPTIONS)
        result = create_bundle(params)
    except AirgapError as exc:
        module.fail_json(msg=str(exc))
    for warning in result.get("warnings") or []:
        module.warn(warning)
    out = {key: result.get(key) for key in RESULT_KEYS}
    out["parts"] = out["parts"] or []
    diff = {"diff": {"before": before, "after": named_digests(result["images"]), "before_header": params["output"],
                     "after_header": params["output"]}} if module._diff else {}
    module.exit_json(changed=result["changed"], summary=summary_of(result, module.check_mode), **out, **diff)


if __name__ == "__main__":
    main()
