"""pyregistry's errors: one base (PyRegistryError), the domain errors storage and manifests raise (one class per OCI
Distribution error code, plus Distribution's extras), and the one table that maps them to HTTP statuses.

Storage never names an HTTP status: it raises e.g. BlobUnknown(detail={...}); the API layer answers with
`http_status(exc)` and `exc.body()` (OCI distribution-spec v1.1, "Error Codes"). Only this module knows statuses.
"""
from __future__ import annotations

import errno
import json
from typing import Any

# code -> (HTTP status, default message): OCI distribution-spec v1.1 "Error Codes", then Distribution's extras
CODES: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "manifest references a manifest or blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown to registry"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "the operation is unsupported"),
    "TOOMANYREQUESTS": (429, "too many requests"),
    "TAG_INVALID": (400, "manifest tag did not match URI"),
    "RANGE_INVALID": (416, "invalid content range"),
    "UNKNOWN": (500, "unknown error"),
    "UNAVAILABLE": (503, "service unavailable"),
}


class PyRegistryError(Exception):
    """The base of every exception pyregistry raises on purpose (configuration, API and storage errors)."""


class ConfigError(PyRegistryError, ValueError):
    """The configuration cannot be used (pyregistry does not start)."""


class UnsupportedKey(ConfigError):
    """A configuration key pyregistry refuses (configkeys): its message names the key and why, never its value."""


class RegistryError(PyRegistryError):
    """An error the API answers with an OCI error body: `code` (a key of CODES), a message, an optional `detail`
    (JSON-serialisable) and, set by the API layer only, extra response `headers`. Its HTTP status comes from
    http_status(), never from the raiser."""

    code = "UNKNOWN"

    def __init__(self, code: str | None = None, message: str | None = None, detail: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        if code is not None:
            self.code = code
        self.message = message or CODES[self.code][1]
        super().__init__(self.message)
        self.detail = detail
        self.headers = headers or {}

    @property
    def status(self) -> int:
        """The HTTP status this error is answered with (see http_status)."""
        return http_status(self)

    def body(self) -> bytes:
        """The JSON error body: {"errors": [{"code", "message"[, "detail"]}]}, as bytes."""
        entry = {"code": self.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return json.dumps({"errors": [entry]}).encode()


def _coded(code: str, doc: str) -> type[RegistryError]:
    """A RegistryError subclass whose code is fixed: raised as Cls(detail=..., message=...)."""

    class Coded(RegistryError):
        def __init__(self, message: str | None = None, detail: Any = None, headers: dict[str, str] | None = None) -> None:
            super().__init__(code, message, detail, headers)

    Coded.code = code
    Coded.__doc__ = doc
    return Coded


BlobUnknown = _coded("BLOB_UNKNOWN", "The repository holds no such blob.")
BlobUploadUnknown = _coded("BLOB_UPLOAD_UNKNOWN", "No such upload session (never started, committed or cancelled).")
DigestInvalid = _coded("DIGEST_INVALID", "A digest that is malformed, or that the content does not match.")
ManifestBlobUnknown = _coded("MANIFEST_BLOB_UNKNOWN", "A manifest references a blob or manifest the repository lacks.")
ManifestInvalid = _coded("MANIFEST_INVALID", "Manifest bytes this registry does not store.")
ManifestUnknown = _coded("MANIFEST_UNKNOWN", "The repository holds no such manifest or tag.")
NameInvalid = _coded("NAME_INVALID", "A repository name outside Distribution's grammar.")
NameUnknown = _coded("NAME_UNKNOWN", "A repository that does not exist.")
Unauthorized = _coded("UNAUTHORIZED", "No valid credentials.")
Unsupported = _coded("UNSUPPORTED", "An operation this registry does not do (or not with this method).")
TagInvalid = _coded("TAG_INVALID", "A manifest reference that is neither a valid tag nor a digest.")
RangeInvalid = _coded("RANGE_INVALID", "A byte range that does not fit the blob or upload (or an upload in use).")
Unknown = _coded("UNKNOWN", "An error with no better code (the answer carries no internal detail).")
Unavailable = _coded("UNAVAILABLE", "The registry cannot serve the request now.")


class ManifestTooLarge(ManifestInvalid):
    """A manifest body over manifests.MAX_MANIFEST_BYTES (answered 413)."""


class DeleteDisabled(Unsupported):
    """A delete while storage.delete.enabled is false."""


class ReadOnly(Unsupported):
    """A write while storage.maintenance.readonly.enabled is true."""


class NoEndpoint(Unsupported):
    """A path under /v2/ that names no endpoint of the API (answered 404)."""


class InsufficientStorage(Unknown):
    """The storage is full (answered 507)."""


class StorageReadOnly(Unavailable):
    """The storage's filesystem is mounted read-only."""


# The statuses that differ from their code's in CODES: the only other place an HTTP status is chosen.
STATUS_OVERRIDES: dict[type[RegistryError], int] = {ManifestTooLarge: 413, NoEndpoint: 404, InsufficientStorage: 507}


def http_status(exc: RegistryError) -> int:
    """The HTTP status answering `exc`: its class's (or a base class's) override, else its code's in CODES."""
    for cls in type(exc).__mro__:
        if cls in STATUS_OVERRIDES:
            return STATUS_OVERRIDES[cls]
    return CODES[exc.code][0]


def from_os_error(exc: OSError) -> RegistryError:
    """The API error for an OSError of the storage: InsufficientStorage (ENOSPC, EDQUOT), StorageReadOnly (EROFS),
    else Unknown, whose answer names only the error kind (strerror), never a path."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientStorage(message="insufficient storage: no space left on device")
    if exc.errno == errno.EROFS:
        return StorageReadOnly(message="storage is read-only")
    return Unknown(message=f"storage error: {exc.strerror or type(exc).__name__}")
