# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docker engine access shared by the deploy modules: client, image presence, file hashing, /v2/ probing."""
from __future__ import annotations

import hashlib
import os
import ssl
import time
import traceback
from typing import Any, Callable
from urllib.error import HTTPError, URLError
from urllib.request import HTTPSHandler, ProxyHandler, build_opener

from ansible_collections.airgap.registry.plugins.module_utils.deploy_names import probe_host  # noqa: F401 pylint: disable=unused-import
from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError

try:
    import docker
    from docker.errors import APIError, DockerException, ImageNotFound, NotFound  # noqa: F401 pylint: disable=unused-import
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()

    class DockerException(Exception):
        """Stand-in so `except` clauses work when the SDK is missing (the module fails before use)."""

    APIError = ImageNotFound = NotFound = DockerException


class DeployError(AirgapError):
    """A failure with a message meant for the user (becomes fail_json's msg).

    `result` holds what the module reports beside the message (changed, actions, created, ...): a failure after the
    engine was changed says so, and what it left behind.
    """

    def __init__(self, msg: str, **result: Any) -> None:
        """`msg` for the user; `result` keys are reported beside it."""
        super().__init__(msg)
        self.result = result


def docker_sdk_missing(module: Any) -> None:
    """Fail the module when the docker SDK is not importable."""
    if not HAS_DOCKER:
        from ansible.module_utils.basic import missing_required_lib
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)


def docker_client(docker_host: str | None = None, timeout: int = 120) -> Any:
    """A docker SDK client for `docker_host` (or DOCKER_HOST / the default socket), checked with a ping."""
    try:
        if docker_host:
            client = docker.DockerClient(base_url=docker_host, timeout=timeout)
        else:
            client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as exc:
        where = docker_host or os.environ.get("DOCKER_HOST", "the default socket")
        raise DeployError(f"cannot reach the Docker engine at {where}: {exc}") from None
    return client


def ensure_image(client: Any, image: str, pull: str = "never", check_mode: bool = False) -> tuple[Any, bool]:
    """Return (image object or None, pulled) for `image`; pull only when `pull` allows it.

    None is returned only in check mode for an image that would be pulled.
    """
    try:
        present = client.images.get(image)
    except ImageNotFound:
        present = None
    if present is not None and pull != "always":
        return present, False
    if pull == "never":
        raise DeployError(f"image {image} is not present in the Docker engine and pull is 'never'; load it first (docker load) or set pull")
    if check_mode:
        return present, True
    try:
        pulled = client.images.pull(image)
    except DockerException as exc:
        raise DeployError(f"cannot pull image {image}: {exc}") from None
    return pulled, present is None or pulled.id != present.id


def read_file(path: str, what: str) -> bytes:
    """Bytes of `path`; a clear DeployError when it is missing or unreadable."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise DeployError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of `data` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def v2_status(url: str, cafile: str | None = None, timeout: float = 3) -> int | None:
    """HTTP status of GET `url`/v2/, or None when nothing answers. TLS is verified only against `cafile`."""
    return v2_probe(url, cafile=cafile, timeout=timeout)[0]


def _error_text(exc: BaseException) -> str:
    """The network error behind a urllib failure (`[Errno 111] Connection refused`, `timed out`, ...)."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        exc = reason
    elif reason:
        return str(reason)
    text = str(exc) or type(exc).__name__
    return text if text.startswith(type(exc).__name__) or text.startswith("[") else f"{type(exc).__name__}: {text}"


def v2_probe(url: str, cafile: str | None = None, timeout: float = 3) -> tuple[int | None, str | None]:
    """(HTTP status, None) of GET `url`/v2/, or (None, the network error as text) when nothing answers."""
    context = None
    if url.startswith("https"):
        if cafile:
            context = ssl.create_default_context(cafile=cafile)
            context.check_hostname = False
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    handlers = [ProxyHandler({})]  # the registry is probed directly, never through an http(s)_proxy
    if context is not None:
        handlers.append(HTTPSHandler(context=context))
    try:
        with build_opener(*handlers).open(url.rstrip("/") + "/v2/", timeout=timeout) as resp:
            return resp.status, None
    except HTTPError as exc:
        return exc.code, None
    except (URLError, OSError, ssl.SSLError) as exc:
        return None, _error_text(exc)


def wait_v2(url: str, timeout: float, cafile: str | None = None, until: Callable[[], bool] | None = None) -> int:
    """Poll `url`/v2/ until it answers 200 or 401 (and `until()` holds, if given); DeployError on timeout.

    The error names the last answer: an HTTP status, or the network error (connection refused, reset, TLS, timeout).
    """
    deadline = time.monotonic() + timeout
    while True:
        status, error = v2_probe(url, cafile=cafile)
        if status in (200, 401) and (until is None or until()):
            return status
        if time.monotonic() >= deadline:
            if status is None:
                last = f"last error: {error}"
            elif status in (200, 401):
                last = f"it answered HTTP {status} but the deployment had not converged"
            else:
                last = f"last answer: HTTP {status}"
            raise DeployError(f"{url}/v2/ did not answer 200 or 401 within {timeout}s ({last})", last_status=status, last_error=error)
        time.sleep(0.5)
