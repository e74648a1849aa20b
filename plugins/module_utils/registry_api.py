# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small OCI Distribution (registry v2) API client, standard library only: the RegistryClient facade.

The work is split by job: registry_transport (address, scheme probing, TLS, keep-alive connections, errors),
registry_auth (Basic and Bearer with a locked token cache), registry_content (listings, manifests, blob downloads),
registry_upload (mounts, resumable and streamed uploads), retry (the one retry policy).  RegistryClient ties them
together and is what callers use; `request()` is the one request path with auth and retries.
"""
from __future__ import annotations

import ssl
from typing import Callable

from ansible_collections.airgap.registry.plugins.module_utils.compression import Reader
from ansible_collections.airgap.registry.plugins.module_utils.media_types import MANIFEST_TYPES
from ansible_collections.airgap.registry.plugins.module_utils.registry_auth import Auth
from ansible_collections.airgap.registry.plugins.module_utils.registry_content import Content
from ansible_collections.airgap.registry.plugins.module_utils.registry_transport import (
    EXCHANGE_ERRORS,
    MODULE_OPTION_NAMES,
    BlobStream,
    RegistryAuthError,
    RegistryError,
    RegistryFileError,
    Response,
    Transport,
    error_from_body,
)
from ansible_collections.airgap.registry.plugins.module_utils.registry_upload import Uploads
from ansible_collections.airgap.registry.plugins.module_utils.retry import RETRY_STATUSES, RetryPolicy

# What callers import from here: the client, its errors and option names (defined in registry_transport).
__all__ = ["CONNECTION_ARGUMENT_SPEC", "MODULE_OPTION_NAMES", "BlobStream", "RegistryAuthError", "RegistryClient", "RegistryError",
           "RegistryFileError", "client_from_params"]

# The connection options of every registry-API module (documented in doc_fragments/registry_connection.py).
CONNECTION_ARGUMENT_SPEC = {
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "ca_file": {"type": "path"},
    "validate_certs": {"type": "bool", "default": True},
    "scheme": {"type": "str", "choices": ["http", "https"]},
    "timeout": {"type": "int", "default": 60},
}


def client_from_params(registry: str, params: dict, **kwargs) -> RegistryClient:
    """A RegistryClient for `registry` with the CONNECTION_ARGUMENT_SPEC options found in `params` (and `option_names`)."""
    options = {key: params[key] for key in CONNECTION_ARGUMENT_SPEC}
    if params.get("option_names"):
        options["option_names"] = params["option_names"]
    options.update(kwargs)
    return RegistryClient(registry, **options)


class RegistryClient:
    """Client for one registry (HOST:PORT or URL); safe to share between threads (one connection per thread)."""

    def __init__(self, registry: str, username: str | None = None, password: str | None = None,  # noqa: PLR0917 - the documented interface
                 ca_file: str | None = None, validate_certs: bool = True, scheme: str | None = None, timeout: float = 60, retries: int = 4,
                 user_agent: str = "airgap.registry", option_names: dict | None = None) -> None:
        """RegistryError for a bad address or scheme; RegistryFileError (raised here, before any request) when ca_file
        cannot be read or holds no PEM certificate.  `retries` further tries after a failed one (see retry.RetryPolicy).

        `option_names` overrides MODULE_OPTION_NAMES, so that errors name the options of the caller (the CLI's flags).
        """
        self.transport = Transport(registry, scheme=scheme, ca_file=ca_file, validate_certs=validate_certs, timeout=timeout,
                                   user_agent=user_agent, names=option_names)
        self.auth = Auth(self.transport, username, password)
        self.policy = RetryPolicy(retries)
        self.content = Content(self)
        self.uploads = Uploads(self)

    @property
    def host(self) -> str:
        return self.transport.host

    @property
    def scheme(self) -> str | None:
        return self.transport.scheme

    @property
    def retries(self) -> int:
        return self.policy.retries

    @property
    def names(self) -> dict:
        return self.transport.names

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    def close(self) -> None:
        """Close this thread's connection."""
        self.transport.close()

    def login_hint(self, err: RegistryError) -> RegistryError:
        """`err` (an auth failure) with a hint: pass credentials when none were given, else check them."""
        return self.auth.login_hint(err)

    # --- the request path ----------------------------------------------------------------------------------------
    def _headers(self, headers: dict | None, scope: str | None, body: bytes | None) -> dict:
        hdrs = {"User-Agent": self.transport.user_agent, **(headers or {})}
        auth = self.auth.header(scope)
        if auth:
            hdrs["Authorization"] = auth
        if body is not None:
            hdrs.setdefault("Content-Length", str(len(body)))
        return hdrs

    def request(self, method: str, url: str, *, scope: str | None = None, headers: dict | None = None,  # noqa: PLR0913 - keywords
                body: bytes | None = None, ok: tuple = (200,), what: str | None = None) -> Response:
        """One request with auth and retries; a fully read Response whose status is in `ok`.

        `url` is a path or an absolute/relative URL on this registry; `scope` the token scope
        (`repository:NAME:pull,push`).  A failure on a reused connection is tried again at once on a fresh one; other
        connection failures and RETRY_STATUSES answers are retried under the retry policy (Retry-After honoured); a
        401 fetches credentials (twice at most).  RegistryError (RegistryAuthError for 401/403, with a login hint)
        otherwise.
        """
        path = self.transport.path(url)
        what = what or f"{method} {self.host}{path.split('?')[0]}"
        attempt = auth_tries = 0
        while True:
            hdrs = self._headers(headers, scope, body)
            conn, reused = self.transport.take_conn()
            try:
                conn.request(method, path, body=body, headers=hdrs)
                resp = self.transport.read_answer(conn)
            except ssl.SSLCertVerificationError as exc:
                self.transport.drop_conn()
                raise self.transport.untrusted(what, exc) from None
            except EXCHANGE_ERRORS as exc:
                self.transport.drop_conn()
                if reused:
                    continue
                attempt += 1
                if not self.policy.allows(attempt):
                    raise RegistryError(f"{what}: {exc.__class__.__name__}: {exc} (after {self.retries} retries)") from None
                self.policy.sleep(attempt)
                continue
            if resp.status == 401 and auth_tries < 2:
                auth_tries += 1
                if self.auth.authenticate(resp, scope):
                    continue
            if resp.status in ok:
                return resp
            if resp.status in RETRY_STATUSES and self.policy.allows(attempt + 1):
                attempt += 1
                self.policy.sleep(attempt, resp.header("Retry-After"))
                continue
            raise self.auth.login_hint(error_from_body(resp.status, resp.body, what))

    def ping(self) -> int:
        """GET /v2/ through the auth flow (distribution-spec "Determining support"); returns the HTTP status."""
        return self.request("GET", "/v2/", scope="", what=f"login to {self.host}").status

    # --- content and uploads (registry_content, registry_upload) -------------------------------------------------
    def catalog(self, page_size: int = 1000) -> list[str]:
        """All repository names (registry_content.Content.catalog: paginated, bounded)."""
        return self.content.catalog(page_size)

    def tags(self, repo: str, page_size: int = 1000) -> list[str]:
        """All tags of `repo`, [] for an unknown repository (registry_content.Content.tags)."""
        return self.content.tags(repo, page_size)

    def head_manifest(self, repo: str, ref: str, accept: tuple = MANIFEST_TYPES) -> dict | None:
        """{digest, media_type, size} of a manifest or None (registry_content.Content.head_manifest)."""
        return self.content.head_manifest(repo, ref, accept)

    def get_manifest(self, repo: str, ref: str, accept: tuple = MANIFEST_TYPES) -> tuple[bytes, str | None, str]:
        """(body, media_type, digest) of a manifest (registry_content.Content.get_manifest)."""
        return self.content.get_manifest(repo, ref, accept)

    def put_manifest(self, repo: str, ref: str, body: bytes, media_type: str) -> str:
        """Put a manifest under a tag or digest; its digest (registry_content.Content.put_manifest)."""
        return self.content.put_manifest(repo, ref, body, media_type)

    def delete_manifest(self, repo: str, digest: str) -> None:
        """Delete a manifest by digest (registry_content.Content.delete_manifest)."""
        self.content.delete_manifest(repo, digest)

    def blob_size(self, repo: str, digest: str) -> int | None:
        """Size in bytes of a blob in `repo`, or None (registry_content.Content.blob_size)."""
        return self.content.blob_size(repo, digest)

    def open_blob(self, repo: str, digest: str) -> BlobStream:
        """A streaming blob download (registry_content.Content.open_blob)."""
        return self.content.open_blob(repo, digest)

    def mount_blob(self, repo: str, digest: str, from_repo: str | None = None) -> bool:
        """Cross-repository mount; True when mounted (registry_upload.Uploads.mount_blob)."""
        return self.uploads.mount_blob(repo, digest, from_repo)

    def upload_blob(self, repo: str, digest: str, size: int, open_stream: Callable, chunk_size: int | None = None,  # noqa: PLR0917 - the documented interface
                    progress: Callable | None = None) -> int:
        """Resumable upload of a known digest; bytes sent (registry_upload.Uploads.upload_blob)."""
        return self.uploads.upload_blob(repo, digest, size, open_stream, chunk_size, progress)

    def upload_stream(self, repo: str, stream: Reader, progress: Callable | None = None) -> tuple[str, int]:
        """Upload of a digest not known ahead; (digest, size) (registry_upload.Uploads.upload_stream)."""
        return self.uploads.upload_stream(repo, stream, progress)
