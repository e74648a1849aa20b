#!/usr/bin/python
# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: registry_info
short_description: List a registry's repositories, tags and manifest digests; assert that images are there
version_added: 0.1.0
description:
  - Reads the catalog (every page), the tags of each repository and the manifest digest of each tag, through the
    registry API (standard library only, no engine).
  - With O(expect), fails listing exactly the images that are missing; the seed's
    C(curl /v2/_catalog | jq) check as an assertion.
  - Read-only; never reports a change.
author:
  - airgap.registry contributors (@airgap-registry)
extends_documentation_fragment:
  - airgap.registry.attributes
  - airgap.registry.registry_connection
attributes:
  check_mode:
    support: full
    details: Reads the registry exactly as in a normal run.
  diff_mode:
    support: none
options:
  registry:
    description:
      - The registry, as C(HOST:PORT) or C(https://HOST:PORT).
    type: str
    required: true
  repositories:
    description:
      - Only these repositories; the catalog is then not read (for registries that do not serve it).
      - When omitted, every repository of the catalog.
    type: list
    elements: str
  expect:
    description:
      - Images that must be present, as C(repo:tag) (C(repo) alone means C(repo:latest)), C(repo@sha256:...) or
        C(repo:tag@sha256:...) (checked by digest), or with this registry's C(HOST:PORT/) in front. The task fails
        listing every one that is missing.
    type: list
    elements: str
seealso:
  - module: airgap.registry.image_seed
"""

EXAMPLES = r"""
- name: What does the registry hold?
  airgap.registry.registry_info:
    registry: reg.local:5000
    ca_file: /etc/docker/certs.d/reg.local:5000/ca.crt
  register: reg

- name: Fail unless the seeded images are all there
  airgap.registry.registry_info:
    registry: 127.0.0.1:5000
    expect:
      - registry:2.8.3
      - tools/busyish:2.0
      - nginx:1.25

- name: Tags of two repositories on a registry without a catalog
  airgap.registry.registry_info:
    registry: ghcr.io
    username: robot
    password: "{{ ghcr_token }}"
    repositories: [acme/api, acme/web]
"""

RETURN = r"""
catalog:
  description: Repositories in the catalog; with O(repositories), those of them that have at least one tag.
  returned: always
  type: list
  elements: str
  sample: [nginx, registry, tools/busyish]
tags:
  description: Tags of each repository, sorted.
  returned: always
  type: dict
  sample: {"nginx": ["1.25"], "registry": ["2.8.3"], "tools/busyish": ["2.0"]}
digests:
  description: Manifest digest of each C(repo:tag).
  returned: always
  type: dict
  sample: {"nginx:1.25": "sha256:aed5c39b9bf0a6729c8614a72c75afbcdf65689347bcd0142c97a366c19dee90"}
missing:
  description: The entries of O(expect) that the registry does not hold.
  returned: always
  type: list
  elements: str
  sample: ["tools/busyish:2.1"]
"""

from concurrent.futures import ThreadPoolExecutor  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.airgap.registry.plugins.module_utils.registry_api import CONNECTION_ARGUMENT_SPEC, RegistryError, client_from_params  # noqa: E402

WORKERS = 8


def parse_expected(entry, host):
    """(repository, tag or None, digest or None) of an `expect` entry; a leading `HOST:PORT/` of this registry is dropped.

    `repo@digest` and `repo:tag@digest` are checked by digest; `repo` alone means `repo:latest`.
    """
    name = entry.strip()
    if host and name.startswith(host + "/"):
        name = name[len(host) + 1:]
    repo, _sep, digest = name.partition("@")
    tag = None
    if ":" in repo[repo.rfind("/") + 1:]:
        repo, _sep, tag = repo.rpartition(":")
    if digest:
        return repo, None, digest
    return repo, tag or "latest", None


def inventory(client, repositories=None, expect=()):
    """{catalog, tags, digests, missing} of a registry, reading tags and digests with a few threads."""
    wanted = [(entry, *parse_expected(entry, client.host)) for entry in expect]
    repos = client.catalog() if repositories is None else list(repositories)
    queried = list(dict.fromkeys(repos + [repo for _entry, repo, _tag, _digest in wanted]))
    with ThreadPoolExecutor(WORKERS) as pool:
        def run_all(fn, calls):
            """{args: fn(*args)} for every args tuple of `calls`, computed in the pool."""
            futures = [(args, pool.submit(fn, *args)) for args in calls]
            return {args: future.result() for args, future in futures}
        tag_lists = run_all(client.tags, [(repo,) for repo in queried])
        tags = {repo: sorted(tag_lists[(repo,)]) for repo in queried if repo in repos or tag_lists[(repo,)]}
        heads = run_all(client.head_manifest, [(repo, tag) for repo, repo_tags in tags.items() for tag in repo_tags])
        found = run_all(client.head_manifest, [(repo, digest) for _entry, repo, _tag, digest in wanted if digest])
    digests = {f"{repo}:{tag}": (head or {}).get("digest") for (repo, tag), head in heads.items()}
    missing = []
    for entry, repo, tag, digest in wanted:
        present = found.get((repo, digest)) is not None if digest else tag in tags.get(repo, [])
        if not present:
            missing.append(entry)
    catalog = repos if repositories is None else [repo for repo in repos if tags.get(repo)]
    return {"catalog": catalog, "tags": tags, "digests": digests, "missing": missing}


def main():
    module = AnsibleModule(
        argument_spec={
            "registry": {"type": "str", "required": True},
            "repositories": {"type": "list", "elements": "str"},
            "expect": {"type": "list", "elements": "str"},
            **CONNECTION_ARGUMENT_SPEC,
        },
        required_together=[("username", "password")],
        supports_check_mode=True,
    )
    p = module.params
    client = client_from_params(p["registry"], p)
    try:
        result = inventory(client, repositories=p["repositories"], expect=p["expect"] or [])
    except RegistryError as exc:
        module.fail_json(msg=f"registry {p['registry']}: {exc}")
    if result["missing"]:
        module.fail_json(msg=f"missing from {p['registry']}: {', '.join(result['missing'])}", **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
