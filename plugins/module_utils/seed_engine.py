# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed's `engine` transport: `docker load`, `docker tag`, `docker push` through the Docker engine (docker SDK).

EngineTransport implements seed_transfer.Transport, as DirectTransport does: `transfer(plan)` pushes a plan the seed
has surveyed.

A target whose registry manifest already has the image's config is left alone (changed=false); any other is
loaded, tagged and pushed, and is changed when the registry's manifest for it did not exist or differed before.
"""
from __future__ import annotations

from typing import Any, Iterator

from ansible_collections.airgap.registry.plugins.module_utils.image_archive import ImageArchive, open_decompressed
from ansible_collections.airgap.registry.plugins.module_utils.seed_plan import SeedPlan, Target
from ansible_collections.airgap.registry.plugins.module_utils.seed_report import SeedError
from ansible_collections.airgap.registry.plugins.module_utils.seed_transfer import Transport

LOAD_BLOCK = 1024 * 1024


def _docker_client(timeout: int = 600) -> Any:
    """A docker SDK client of the local engine (`timeout` seconds per call); ImportError or RuntimeError saying why not."""
    try:
        import docker
    except ImportError:
        raise ImportError("the engine transport needs the docker Python SDK (pip install docker)") from None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - the SDK raises many kinds when no engine answers
        raise RuntimeError(f"no Docker engine answers: {exc}") from None
    return client


def _tarball_stream(archive: ImageArchive) -> Iterator[bytes]:
    """The tarball as the engine can load it: as is, or decompressed on the fly for zstd."""
    if archive.compression != "zstd":
        with open(archive.path, "rb") as fh:
            yield from iter(lambda: fh.read(LOAD_BLOCK), b"")
        return
    stream = open_decompressed(archive.path, "zstd")
    try:
        yield from iter(lambda: stream.read(LOAD_BLOCK), b"")
    finally:
        stream.close()


def _push(api: Any, target: Target, auth_config: dict | None) -> tuple[str | None, int, int]:
    """docker push; returns (digest, layers pushed, layers already there)."""
    repo, tag = target.target.rsplit(":", 1)
    digest, pushed, skipped = None, 0, 0
    for line in api.push(repo, tag=tag, stream=True, decode=True, auth_config=auth_config):
        if line.get("error"):
            raise RuntimeError(f"docker push {target.target}: {line['error']}")
        status = line.get("status") or ""
        if status == "Pushed":
            pushed += 1
        elif status == "Layer already exists" or status.startswith("Mounted from"):
            skipped += 1
        digest = (line.get("aux") or {}).get("Digest") or digest
    return digest, pushed, skipped


class EngineTransport(Transport):
    """Push a surveyed plan through the Docker engine.  `opts`: username, password, check_mode."""

    def transfer(self, plan: SeedPlan) -> None:
        """Load, tag and push every target still to push (check mode: mark them changed); SeedError when the engine
        is missing or fails (the message names the target or the engine's error)."""
        todo = [t for t in plan.targets if t.push]
        if not todo:
            return
        if self.opts["check_mode"]:
            for target in todo:
                target.result.changed = True
            return
        try:
            engine = _docker_client()
        except (ImportError, RuntimeError) as exc:
            raise SeedError(str(exc)) from None
        try:
            self._push_all(engine, todo)
        except SeedError:
            raise
        except Exception as exc:  # noqa: BLE001 - docker SDK errors (APIError, ImageNotFound, ...) become one clear message
            raise SeedError(f"engine transport: {exc}") from None
        finally:
            engine.close()

    def _push_all(self, engine: Any, todo: list[Target]) -> None:
        """docker load each tarball once, then tag and push each target, in order."""
        auth = {"username": self.opts["username"], "password": self.opts["password"]} if self.opts["username"] else None
        loaded = set()
        for target in todo:
            archive = target.image.archive
            if archive.path not in loaded:
                engine.images.load(_tarball_stream(archive))
                loaded.add(archive.path)
            image = engine.images.get(target.image.config_digest)
            repo, tag = target.target.rsplit(":", 1)
            image.tag(repo, tag)
            digest, pushed, skipped = _push(engine.api, target, auth)
            if not digest:
                digest = self.client.head_manifest(target.repo, target.tag)["digest"]
            result = target.result
            result.digest, result.blobs_pushed, result.blobs_skipped = digest, pushed, skipped
            result.changed = digest != target.existing
            self.progress.target_done(result)
