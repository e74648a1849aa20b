# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`airgap-bundle have`: what a registry holds, as the HAVE document a delta is built against (docs/bundles.md "The
HAVE file").

catalog -> tags -> manifests (index children too, each read once) -> config and layer blob digests, each with one
repository that holds it (for a cross-repository mount at seeding).  Distribution-spec: `/v2/_catalog` (Distribution's
extension), "Listing Tags", "Pulling manifests".  Standard library only.
"""
from __future__ import annotations

import json
from typing import Any

from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_bytes_atomically
from ansible_collections.airgap.registry.plugins.module_utils.bundle_create import now
from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import HAVE_VERSION, BundleError
from ansible_collections.airgap.registry.plugins.module_utils.bundle_options import HAVE_DEFAULTS
from ansible_collections.airgap.registry.plugins.module_utils.media_types import INDEX_TYPES
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import CONNECTION_ARGUMENT_SPEC, RegistryClient, client_from_params

MAX_DEPTH = 4


class Inventory:
    """Reads a registry: `repositories` {repo: {tag: digest}}, `manifests` (set of digests), `blobs` {digest: repo}."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client
        self.repositories: dict[str, dict[str, str]] = {}
        self.manifests: set[str] = set()
        self.blobs: dict[str, str] = {}

    def read(self) -> None:
        """Every repository of the catalog, every tag, every manifest reachable from a tag."""
        for repo in sorted(self.client.catalog()):
            tags = {}
            for tag in sorted(self.client.tags(repo)):
                head = self.client.head_manifest(repo, tag)
                if head is None:  # deleted between the listing and now
                    continue
                digest = head["digest"]
                if digest is None or digest not in self.manifests:
                    digest = self.walk(repo, tag)
                tags[tag] = digest
            self.repositories[repo] = tags

    def walk(self, repo: str, reference: str, depth: int = 0) -> str:
        """Read a manifest (by tag or digest) and what it references; its digest."""
        body, media_type, digest = self.client.get_manifest(repo, reference)
        if digest in self.manifests:
            return digest
        self.manifests.add(digest)
        try:
            doc = json.loads(body)
        except ValueError:
            raise BundleError(f"{self.client.host}/{repo}@{digest}: the manifest is not JSON") from None
        if not isinstance(doc, dict):
            raise BundleError(f"{self.client.host}/{repo}@{digest}: the manifest is not a JSON object")
        if (doc.get("mediaType") or media_type) in INDEX_TYPES or isinstance(doc.get("manifests"), list):
            if depth < MAX_DEPTH:
                for entry in doc.get("manifests") or []:
                    if isinstance(entry, dict) and entry.get("digest") not in self.manifests:
                        self.walk(repo, entry["digest"], depth + 1)
            return digest
        for desc in [doc.get("config"), *(doc.get("layers") or [])]:
            if isinstance(desc, dict) and isinstance(desc.get("digest"), str):
                self.blobs.setdefault(desc["digest"], repo)
        return digest


def have(opts: dict[str, Any]) -> dict[str, Any]:
    """Write the HAVE file of `opts["registry"]` to `opts["output"]` (atomically) and return {changed, output,
    registry, repositories, tags, manifests, blobs} (counts).  RegistryError when the registry cannot be read
    (a registry without the catalog extension cannot be inventoried)."""
    opts = {**HAVE_DEFAULTS, **{k: v for k, v in opts.items() if v is not None}}
    params = {key: opts.get(key) for key in CONNECTION_ARGUMENT_SPEC}
    params["option_names"] = opts.get("option_names")
    client = client_from_params(opts["registry"], params, retries=opts.get("retries") or 0)
    inventory = Inventory(client)
    inventory.read()
    doc = {"haveVersion": HAVE_VERSION, "registry": client.host, "created": now(),
           "repositories": inventory.repositories, "manifests": sorted(inventory.manifests),
           "blobs": dict(sorted(inventory.blobs.items()))}
    try:
        write_bytes_atomically(opts["output"], json.dumps(doc, indent=2).encode() + b"\n")
    except OSError as exc:
        raise BundleError(f"--output {opts['output']}: cannot write: {exc.strerror or exc}") from None
    return {"changed": True, "output": opts["output"], "registry": client.host,
            "repositories": len(inventory.repositories), "tags": sum(len(t) for t in inventory.repositories.values()),
            "manifests": len(inventory.manifests), "blobs": len(inventory.blobs)}
