# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Referrers of a manifest (OCI distribution-spec 1.1): the referrers API where the registry serves it, else the
referrers tag scheme (an index tagged `sha256-<hex>` of the subject's digest).  Standard library only."""
from __future__ import annotations

import json

from ansible_collections.airgap.registry.plugins.module_utils.media_types import INDEX_TYPES, OCI_INDEX


def referrers_tag(digest: str) -> str:
    """The referrers tag scheme's tag of a subject digest: `sha256-<hex>`."""
    return digest.replace(":", "-")


class Referrers:
    """Reads referrers through one RegistryClient; remembers per repository whether the API is served."""

    def __init__(self, client) -> None:
        self.client = client
        self.api: dict[str, bool] = {}

    def _api_answer(self, repo: str, digest: str):
        if not hasattr(self.client, "request"):  # a client that only speaks the manifest calls (a test double)
            self.api.setdefault(repo, False)
            return None
        resp = self.client.request("GET", f"/v2/{repo}/referrers/{digest}", scope=f"repository:{repo}:pull",
                                   headers={"Accept": OCI_INDEX}, ok=(200, 400, 404, 405))
        served = resp.status == 200 and (resp.header("Content-Type") or "").startswith(OCI_INDEX)
        self.api.setdefault(repo, served)
        return resp if served else None

    def has_api(self, repo: str, digest: str) -> bool:
        """Whether GET /v2/<repo>/referrers/<digest> is served (asked once per repository)."""
        if repo not in self.api:
            self._api_answer(repo, digest)
        return self.api[repo]

    def list(self, repo: str, digest: str, tags: list | None = None) -> list[dict]:
        """The descriptors of the manifests whose subject is `digest` (API answer, or the scheme's tag index; `tags`, when
        given, spares the request for a repository without the tag)."""
        if self.api.get(repo, True):
            resp = self._api_answer(repo, digest)
            if resp is not None:
                try:
                    return list(json.loads(resp.body).get("manifests") or [])
                except ValueError:
                    return []
        tag = referrers_tag(digest)
        if tags is not None and tag not in tags:
            return []
        if self.client.head_manifest(repo, tag) is None:
            return []
        body, media_type, _digest = self.client.get_manifest(repo, tag, accept=INDEX_TYPES)
        try:
            return list(json.loads(body).get("manifests") or [])
        except ValueError:
            return []
