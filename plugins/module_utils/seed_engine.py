# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed's `engine` transport: `docker load`, `docker tag`, `docker push` through the Docker engine (docker SDK).

A target whose registry manifest already has the image's config is left alone (changed=false); any other is
loaded, tagged and pushed, and is changed when the registry's manifest for it did not exist or differed before.
"""
from __future__ import annotations

from ansible_collections.airgap.registry.plugins.module_utils.image_archive import open_decompressed
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryError

LOAD_BLOCK = 1024 * 1024


def _docker_client(timeout=600):
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


def _tarball_stream(archive):
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


def _push(api, target, auth_config):
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


def seed_with_engine(seeder):
    """Seed `seeder.targets` through the engine; returns the same result shape as the direct transport."""
    from ansible_collections.airgap.registry.plugins.module_utils.seed import SeedError, diff_of

    opts = seeder.opts
    try:
        seeder._parallel(seeder._check_target, seeder.targets)
    except RegistryError as exc:
        raise SeedError(str(exc)) from None
    todo = [t for t in seeder.targets if t.push]
    if todo and not opts["check_mode"]:
        try:
            client = _docker_client()
        except (ImportError, RuntimeError) as exc:
            raise SeedError(str(exc)) from None
        auth = {"username": opts["username"], "password": opts["password"]} if opts["username"] else None
        loaded = set()
        try:
            for target in todo:
                archive = target.image.archive
                if archive.path not in loaded:
                    client.images.load(_tarball_stream(archive))
                    loaded.add(archive.path)
                image = client.images.get(target.image.config_digest)
                repo, tag = target.target.rsplit(":", 1)
                image.tag(repo, tag)
                digest, pushed, skipped = _push(client.api, target, auth)
                if not digest:
                    digest = seeder.client.head_manifest(target.repo, target.tag)["digest"]
                target.result.update(digest=digest, blobs_pushed=pushed, blobs_skipped=skipped, changed=digest != target.existing)
                seeder.progress.target_done(target.result)
        except SeedError:
            raise
        except Exception as exc:  # noqa: BLE001 - docker SDK errors (APIError, ImageNotFound, ...) become one clear message
            raise SeedError(f"engine transport: {exc}") from None
        finally:
            client.close()
    elif todo:
        for target in todo:
            target.result["changed"] = True
    images = [t.result for t in seeder.targets]
    return {"changed": any(r["changed"] for r in images), "images": images, "warnings": seeder.warnings, "diff": diff_of(seeder.targets)}
