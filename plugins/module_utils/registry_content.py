# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading and writing registry content: catalog and tag listings, manifests, blob existence and downloads.

Distribution-spec sections: "Pulling manifests" / "Checking if content exists" (HEAD/GET /v2/<name>/manifests/<ref>),
"Pushing Manifests" (PUT), "Deleting Manifests" (DELETE), "Pulling blobs" (GET /v2/<name>/blobs/<digest>, which may
redirect), "Listing Tags" (GET /v2/<name>/tags/list, paginated with `n` and a `Link: <...>; rel="next"` header) and
Distribution's `/v2/_catalog` extension, paginated the same way.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import re
from typing import TYPE_CHECKING, Iterator
from urllib.parse import urlencode, urljoin, urlsplit

from ansible_collections.airgap.registry.plugins.module_utils.media_types import MANIFEST_TYPES
from ansible_collections.airgap.registry.plugins.module_utils.registry_transport import (
    BlobStream,
    RegistryError,
    Response,
    error_from_body,
    target_of,
)

if TYPE_CHECKING:  # the facade imports this module
    from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient

MAX_PAGES = 100000  # 100 million names at Distribution's default page size of 1000
MAX_EMPTY_PAGES = 10
MAX_REDIRECTS = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


def next_link(resp: Response) -> str | None:
    """The URL of a `Link: <url>; rel="next"` header (distribution-spec "Listing Tags"), or None."""
    link = resp.header("Link")
    if not link:
        return None
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link)
    return match.group(1) if match else None


def _names_of(resp: Response, key: str) -> list | None:
    """The list of strings under `key` of a JSON page, or None when the page is not that."""
    try:
        data = json.loads(resp.body or b"{}")
        items = data.get(key) or [] if isinstance(data, dict) else None
    except ValueError:
        return None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        return None
    return items


class Content:
    """Content operations of a RegistryClient (`client`: request(), transport, auth)."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    @property
    def host(self) -> str:
        return self.client.transport.host

    # --- listings ------------------------------------------------------------------------------------------------
    def _pages(self, first: str, key: str, scope: str, what: str, ok: tuple = (200,)) -> Iterator[list | None]:
        """Follow `Link: <...>; rel="next"` from `first`; yields each page's new `key` names (None for a 404 page).

        Bounded: a next link seen before (a cycle), more than MAX_PAGES pages, or MAX_EMPTY_PAGES pages in a row that
        add no new name end the listing with a RegistryError naming the registry.
        """
        url, seen, names, idle = first, set(), set(), 0
        for page in range(1, MAX_PAGES + 1):
            seen.add(self.client.transport.path(url))
            resp = self.client.request("GET", url, scope=scope, ok=ok)
            if resp.status == 404:
                yield None
                return
            items = _names_of(resp, key)
            if items is None:
                raise RegistryError(f"{what} of {self.host}: page {page} is not a JSON object with a list of names in {key!r}")
            yield [item for item in items if item not in names]
            fresh = set(items) - names
            names.update(fresh)
            url = next_link(resp)
            if not url:
                return
            if self.client.transport.path(url) in seen:
                raise RegistryError(f"{what} of {self.host}: the registry's next-page link {url} after page {page} points to a "
                                    "page already read (a pagination loop); listing stopped")
            idle = 0 if fresh else idle + 1
            if idle >= MAX_EMPTY_PAGES:
                raise RegistryError(f"{what} of {self.host}: {idle} pages in a row brought no new name while the registry "
                                    "kept sending a next-page link (a pagination loop); listing stopped")
        raise RegistryError(f"{what} of {self.host}: more than {MAX_PAGES} pages; listing stopped")

    def catalog(self, page_size: int = 1000) -> list[str]:
        """All repository names, following Link pages (bounded, loops detected: see _pages); RegistryError."""
        out = []
        for names in self._pages("/v2/_catalog?" + urlencode({"n": page_size}), "repositories", "registry:catalog:*", "catalog"):
            out.extend(names)
        return out

    def tags(self, repo: str, page_size: int = 1000) -> list[str]:
        """All tags of `repo`; [] when the repository is unknown (pages bounded, loops detected: see _pages)."""
        out = []
        for names in self._pages(f"/v2/{repo}/tags/list?" + urlencode({"n": page_size}), "tags", f"repository:{repo}:pull",
                                 f"tags of {repo}", ok=(200, 404)):
            if names is None:
                return []
            out.extend(names)
        return out

    # --- manifests -----------------------------------------------------------------------------------------------
    def head_manifest(self, repo: str, ref: str, accept: tuple = MANIFEST_TYPES) -> dict | None:
        """{digest, media_type, size (bytes)} of a manifest, or None when it does not exist; RegistryError."""
        resp = self.client.request("HEAD", f"/v2/{repo}/manifests/{ref}", scope=f"repository:{repo}:pull",
                                   headers={"Accept": ", ".join(accept)}, ok=(200, 404))
        if resp.status == 404:
            return None
        return {"digest": resp.header("Docker-Content-Digest"), "media_type": resp.header("Content-Type"),
                "size": int(resp.header("Content-Length") or 0)}

    def get_manifest(self, repo: str, ref: str, accept: tuple = MANIFEST_TYPES) -> tuple[bytes, str | None, str]:
        """(body, media_type, digest) of a manifest; RegistryError (status 404) when unknown."""
        resp = self.client.request("GET", f"/v2/{repo}/manifests/{ref}", scope=f"repository:{repo}:pull",
                                   headers={"Accept": ", ".join(accept)})
        digest = resp.header("Docker-Content-Digest") or "sha256:" + hashlib.sha256(resp.body).hexdigest()
        return resp.body, resp.header("Content-Type"), digest

    def put_manifest(self, repo: str, ref: str, body: bytes, media_type: str) -> str:
        """Upload a manifest under `ref` (tag or digest); returns its digest; RegistryError."""
        resp = self.client.request("PUT", f"/v2/{repo}/manifests/{ref}", scope=f"repository:{repo}:pull,push",
                                   headers={"Content-Type": media_type}, body=body, ok=(200, 201, 202))
        return resp.header("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()

    def delete_manifest(self, repo: str, digest: str) -> None:
        """Delete a manifest by digest; RegistryError (405 when the registry does not allow deletes)."""
        self.client.request("DELETE", f"/v2/{repo}/manifests/{digest}", scope=f"repository:{repo}:pull,push,delete", ok=(200, 202))

    # --- blobs ---------------------------------------------------------------------------------------------------
    def blob_size(self, repo: str, digest: str) -> int | None:
        """Size in bytes of a blob in `repo`, or None when the registry does not have it there; RegistryError."""
        resp = self.client.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:pull", ok=(200, 404))
        if resp.status == 404:
            return None
        return int(resp.header("Content-Length") or 0)

    def open_blob(self, repo: str, digest: str) -> BlobStream:
        """A streaming download of a blob (BlobStream), following redirects (no credentials to other hosts).

        RegistryError on an error answer, a redirect loop or more than MAX_REDIRECTS redirects.
        """
        url = f"{self.client.transport.base_url}/v2/{repo}/blobs/{digest}"
        visited = []
        while True:
            visited.append(url)
            conn, resp = self._get_blob(url, repo, digest)
            if resp.status == 200:
                return BlobStream(conn, resp)
            body = resp.read()
            conn.close()
            if resp.status in REDIRECT_STATUSES and resp.getheader("Location"):
                url = urljoin(url, resp.getheader("Location"))
                if url in visited:
                    raise RegistryError(f"GET blob {repo}@{digest} from {self.host}: redirect loop ({' -> '.join([*visited, url])})")
                if len(visited) > MAX_REDIRECTS:
                    raise RegistryError(f"GET blob {repo}@{digest} from {self.host}: more than {MAX_REDIRECTS} redirects (last: {url})")
                continue
            raise error_from_body(resp.status, body, f"GET blob {repo}@{digest}")

    def _get_blob(self, url: str, repo: str, digest: str):
        """(connection, unread answer) of one GET of `url`; credentials only when it is this registry."""
        scope = f"repository:{repo}:pull"
        parts = urlsplit(url)
        headers = {"User-Agent": self.client.transport.user_agent}
        if parts.netloc == self.host:
            self.client.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=scope, ok=(200, 307, 302, 404))
            auth = self.client.auth.header(scope)
            if auth:
                headers["Authorization"] = auth
        conn = self.client.transport.new_conn(parts.scheme, parts.netloc)
        try:
            conn.request("GET", target_of(parts), headers=headers)
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise RegistryError(f"GET blob {digest} from {parts.netloc}: {exc}") from None
