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
  - Per tag, RV(manifests) says whether it is an image index or manifest list, its platforms, and its referrers
    (signatures, attestations, SBOMs attached by C(subject)), found through the OCI 1.1 referrers API where the registry
    serves it, else through the referrers tag scheme (C(sha256-<hex>) tags).
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
  idempotent:
    support: full
    details: Only reads; never reports a change.
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
      - Images that must be present, as C(repo:tag), C(repo@sha256:...) (checked by digest) or C(repo:tag@sha256:...)
        (the tag must point to that digest), optionally with this registry's C(HOST:PORT/) in front, exactly as
        O(registry) names it.
      - An entry without a tag or digest means C(repo:latest), as C(docker pull) reads it.
      - Every entry is checked locally first, before the registry is asked anything; the task fails listing every
        invalid one, for example a URL (C(https://...)), another registry's C(HOST:PORT/) (C(localhost:5443/abox)
        when O(registry) is C(127.0.0.1:5443)), or a repository, tag or digest that the reference grammar refuses.
      - The task fails listing every entry that is missing, and, apart from them, every C(repo:tag@sha256:...) whose tag
        exists but points to another digest ("digest differs").
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
manifests:
  description:
    - Per C(repo:tag), what the tag holds. C(media_type); C(index) (true for an image index or manifest list);
      C(platforms) (an index's, in index order, C(unknown/unknown) for an attestation; [] otherwise); C(referrers) (the
      descriptors of the manifests whose subject is the tag's digest, each with C(digest), C(mediaType) and, when
      given, C(artifactType)).
  returned: always
  type: dict
  sample: {"multi:3": {"media_type": "application/vnd.oci.image.index.v1+json", "index": true,
           "platforms": ["linux/amd64", "linux/arm64/v8"], "referrers": []}}
missing:
  description: The entries of O(expect) that the registry does not hold.
  returned: always
  type: list
  elements: str
  sample: ["tools/busyish:2.1"]
differs:
  description: The C(repo:tag@digest) entries of O(expect) whose tag exists in the registry with another digest.
  returned: always
  type: list
  elements: str
  sample: ["abox:1.0.1@sha256:0000000000000000000000000000000000000000000000000000000000000000"]
invalid:
  description: The entries of O(expect) that are not valid image references for this registry, each with the reason.
  returned: when an entry is invalid (nothing else is read then)
  type: list
  elements: str
  sample: ["localhost:5443/abox:1.0.1: names registry localhost:5443, but this task reads 127.0.0.1:5443"]
"""

import json  # noqa: E402
import re  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from typing import Any, Callable, Iterable  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.airgap.registry.plugins.module_utils.descriptor import Platform  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.media_types import INDEX_TYPES  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.referrers import Referrers  # noqa: E402
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import (  # noqa: E402
    CONNECTION_ARGUMENT_SPEC, RegistryClient, RegistryError, client_from_params)

WORKERS = 8


# The reference grammar of distribution/reference (what docker and Distribution accept).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPO_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")


class ExpectError(ValueError):
    """An `expect` entry that is not a valid reference for this registry (the message says why)."""


def _registry_part(name):
    """The leading HOST[:PORT] of a reference, as docker reads it (a first component with '.' or ':', or localhost), or None."""
    first, sep, _rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def parse_entry(entry: Any, host: str) -> tuple[str, str | None, str | None]:
    """(repository, tag or None, digest or None) of an `expect` entry; ExpectError when it is not valid here.

    A leading `HOST:PORT/` must be this registry's (`host`) and is dropped; `repo` alone means `repo:latest`;
    `repo@digest` is checked by digest, `repo:tag@digest` by the tag pointing to that digest.
    """
    name = entry.strip() if isinstance(entry, str) else ""
    if not name:
        raise ExpectError("empty entry")
    if "://" in name:
        raise ExpectError(f"a URL, not an image reference: write {name.split('://', 1)[1]} (no scheme)")
    if any(ch.isspace() for ch in name):
        raise ExpectError("contains white space")
    registry = _registry_part(name)
    if registry is not None:
        if registry.lower() != host.lower():
            raise ExpectError(f"names registry {registry}, but this task reads {host}: drop {registry}/ or write {host}/")
        name = name[len(registry) + 1:]
    repo, at, digest = name.partition("@")
    tag = None
    if ":" in repo[repo.rfind("/") + 1:]:
        repo, _colon, tag = repo.rpartition(":")
        if not TAG_RE.match(tag):
            raise ExpectError(f"invalid tag {tag!r} (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')")
    if at and not DIGEST_RE.match(digest):
        raise ExpectError(f"invalid digest {digest!r} (sha256: and 64 lowercase hex digits)")
    if not REPO_RE.match(repo) or len(repo) > 255:
        raise ExpectError(f"invalid repository name {repo!r} (lowercase letters, digits and separators, '/' between components)")
    if digest:
        return repo, tag, digest
    return repo, tag or "latest", None


def parse_expect(expect: Iterable[Any], host: str) -> list[tuple[Any, str, str | None, str | None]]:
    """[(entry, repo, tag, digest)] of every `expect` entry; ExpectError listing every invalid one."""
    wanted = []
    invalid = []
    for entry in expect:
        try:
            wanted.append((entry, *parse_entry(entry, host)))
        except ExpectError as exc:
            invalid.append(f"{entry}: {exc}")
    if invalid:
        error = ExpectError(f"invalid expect {'entry' if len(invalid) == 1 else 'entries'} for {host} (nothing was read): " + "; ".join(invalid))
        error.invalid = invalid
        raise error
    return wanted


def inventory(client: RegistryClient, repositories: list[str] | None = None, expect: Iterable[Any] = ()) -> dict[str, Any]:
    """{catalog, tags, digests, missing, differs} of a registry, reading tags and digests with a few threads."""
    wanted = parse_expect(expect, client.host)
    repos = client.catalog() if repositories is None else list(repositories)
    queried = list(dict.fromkeys(repos + [repo for _entry, repo, _tag, _digest in wanted]))
    with ThreadPoolExecutor(WORKERS) as pool:
        def run_all(fn: Callable[..., Any], calls: list[tuple]) -> dict[tuple, Any]:
            """{args: fn(*args)} for every args tuple of `calls`, computed in the pool."""
            futures = [(args, pool.submit(fn, *args)) for args in calls]
            return {args: future.result() for args, future in futures}
        tag_lists = run_all(client.tags, [(repo,) for repo in queried])
        tags = {repo: sorted(tag_lists[(repo,)]) for repo in queried if repo in repos or tag_lists[(repo,)]}
        heads = run_all(client.head_manifest, [(repo, tag) for repo, repo_tags in tags.items() for tag in repo_tags])
        found = run_all(client.head_manifest, [(repo, digest) for _entry, repo, _tag, digest in wanted if digest])
        manifests = describe(client, tags, heads, run_all)
    digests = {f"{repo}:{tag}": (head or {}).get("digest") for (repo, tag), head in heads.items()}
    missing = []
    differs = []
    for entry, repo, tag, digest in wanted:
        if digest is None:
            if tag not in tags.get(repo, []):
                missing.append(entry)
        elif tag is None:
            if found.get((repo, digest)) is None:
                missing.append(entry)
        elif tag not in tags.get(repo, []):
            missing.append(entry)
        else:
            held = digests.get(f"{repo}:{tag}")
            if held != digest and not (held is None and found.get((repo, digest)) is not None):
                differs.append(entry)
    catalog = repos if repositories is None else [repo for repo in repos if tags.get(repo)]
    return {"catalog": catalog, "tags": tags, "digests": digests, "manifests": manifests, "missing": missing, "differs": differs}


def describe(client: RegistryClient, tags: dict[str, list[str]], heads: dict[tuple[str, str], dict | None],
             run_all: Callable[[Callable[..., Any], list[tuple]], dict[tuple, Any]]) -> dict[str, dict[str, Any]]:
    """{repo:tag: {media_type, index, platforms, referrers}} from the tags' HEAD answers (indexes are read)."""
    referrers = Referrers(client)
    out = {}
    for (repo, tag), head in heads.items():
        if head is not None:
            out[f"{repo}:{tag}"] = {"media_type": head.get("media_type"), "index": head.get("media_type") in INDEX_TYPES,
                                    "platforms": [], "referrers": []}
    indexes = [(repo, tag) for (repo, tag), head in heads.items() if head is not None and head.get("media_type") in INDEX_TYPES]
    bodies = run_all(client.get_manifest, indexes) if indexes else {}
    for (repo, tag), (body, _media_type, _digest) in bodies.items():
        try:
            entries = json.loads(body).get("manifests") or []
        except ValueError:
            entries = []
        out[f"{repo}:{tag}"]["platforms"] = [str(Platform.parse(e.get("platform"))) for e in entries if isinstance(e, dict)]
    wanted = {(repo, tag): head["digest"] for (repo, tag), head in heads.items() if head is not None and head.get("digest")}
    lists = run_all(lambda repo, digest: referrers.list(repo, digest, tags.get(repo)), list(dict.fromkeys(
        (repo, digest) for (repo, _tag), digest in wanted.items())))
    for (repo, tag), digest in wanted.items():
        out[f"{repo}:{tag}"]["referrers"] = [{k: e[k] for k in ("digest", "mediaType", "artifactType") if k in e}
                                             for e in lists[(repo, digest)] if isinstance(e, dict)]
    return out


def failure_message(registry: str, result: dict[str, Any], host: str) -> str:
    """The task's message when something expected is missing or differs; a tagless entry is shown as REPO:latest."""
    parts = []
    if result["missing"]:
        shown = []
        for entry in result["missing"]:
            repo, tag, digest = parse_entry(entry, host)
            implied = tag == "latest" and digest is None and not entry.strip().endswith(":latest")
            shown.append(f"{entry} (no tag: {repo}:latest)" if implied else entry)
        parts.append(f"missing from {registry}: {', '.join(shown)}")
    if result["differs"]:
        shown = []
        for entry in result["differs"]:
            repo, tag, digest = parse_entry(entry, host)
            shown.append(f"{repo}:{tag} is {result['digests'].get(f'{repo}:{tag}')}, expected {digest}")
        parts.append(f"digest differs on {registry}: {'; '.join(shown)}")
    return "; ".join(parts)


def main() -> None:
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
    try:
        client = client_from_params(p["registry"], p)
        result = inventory(client, repositories=p["repositories"], expect=p["expect"] or [])
    except ExpectError as exc:
        module.fail_json(msg=str(exc), invalid=exc.invalid)
    except RegistryError as exc:
        module.fail_json(msg=f"registry {p['registry']}: {exc}")
    if result["missing"] or result["differs"]:
        module.fail_json(msg=failure_message(p["registry"], result, client.host), **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
