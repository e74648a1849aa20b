# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write image tarballs: docker-archive (`docker load`) and OCI archives (`skopeo copy oci-archive:`), from a
registry through the registry API client or from the Docker engine (`docker save`), streamed, never held in memory.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import tarfile
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, Iterator

from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_atomically
from ansible_collections.airgap.registry.plugins.module_utils.compression import CompressError, decompress_chunks
from ansible_collections.airgap.registry.plugins.module_utils.descriptor import DescriptorError, Index, Manifest, Platform
from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError
from ansible_collections.airgap.registry.plugins.module_utils.image_archive import ImageArchiveError, TarballReader, archive_identity
from ansible_collections.airgap.registry.plugins.module_utils.media_types import (
    ANNOTATION_REF_NAME,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_TYPES,
    OCI_LAYOUT,
    OCI_MANIFEST,
)
from ansible_collections.airgap.registry.plugins.module_utils.platform_policy import PlatformPolicyError, select_platforms
from ansible_collections.airgap.registry.plugins.module_utils.reference import (
    HUB_API_HOST,
    HUB_NAME_DOMAINS,
    RetagError,
    is_hub,
    parse_ref,
    registry_host,
)
from ansible_collections.airgap.registry.plugins.module_utils.referrers import Referrers, referrers_tag

if TYPE_CHECKING:
    from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient

CHUNK = 1024 * 1024
ARCHS = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm", "armv6l": "arm",
         "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


class ArchiveError(AirgapError):
    """An image cannot be resolved, fetched or written as a tarball."""


# --- names --------------------------------------------------------------------------------------------------------
def archive_filename(image: str) -> str:
    """The seed's tarball name: `registry:2.8.3` -> `registry_2.8.3.tar`, `a/b:1` -> `a_b_1.tar`."""
    return re.sub(r"[/:@]", "_", image) + ".tar"


def split_image(image: str) -> tuple[str | None, str, str | None, str | None]:
    """(registry or None, repository, tag or None, digest or None) by Docker's rule for the registry part."""
    try:
        ref = parse_ref(image)
    except RetagError as exc:
        raise ArchiveError(str(exc)) from None
    return ref.registry, ref.path, ref.tag, ref.digest


def repo_tag(image: str) -> str | None:
    """The name `docker load` tags the image with (`abox` -> `abox:latest`), or None for a digest reference."""
    registry, repo, tag, digest = split_image(image)
    if digest and not tag:
        return None
    if registry in HUB_NAME_DOMAINS:
        registry = None
        repo = repo[len("library/"):] if repo.startswith("library/") else repo
    return (registry + "/" if registry else "") + repo + ":" + (tag or "latest")


def host_platform() -> str:
    """`linux/<arch>` of this machine in OCI terms."""
    machine = platform.machine().lower()
    return "linux/" + ARCHS.get(machine, machine)


# --- what a tarball already holds (archive_identity, from image_archive) ------------------------------------------
def holds_image(found: dict | None, fmt: str, image_id: str, ref: str | None) -> bool:
    """True when `found` (an archive_identity) is `fmt` and holds the image `image_id` (config, manifest or index digest)
    under `ref` (when not None)."""
    return bool(found and found["format"] == fmt and image_id in found["ids"] and (ref is None or ref in found["refs"]))


# --- the tar writer ---------------------------------------------------------------------------------------------------
class TarWriter:
    """Write a tar to a seekable file: members from bytes or from a stream of chunks of unknown length."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self._dirs = set()

    @staticmethod
    def _header(name, size, kind=tarfile.REGTYPE):
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = 0
        info.type = kind
        info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        header = info.tobuf(format=tarfile.GNU_FORMAT)
        if len(header) != tarfile.BLOCKSIZE:
            raise ArchiveError(f"tar member name too long: {name}")
        return header

    def _parents(self, name):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            directory = "/".join(parts[:i]) + "/"
            if directory not in self._dirs:
                self._dirs.add(directory)
                self.fh.write(self._header(directory, 0, tarfile.DIRTYPE))

    def _pad(self, size):
        rest = size % tarfile.BLOCKSIZE
        if rest:
            self.fh.write(b"\0" * (tarfile.BLOCKSIZE - rest))

    def add_bytes(self, name: str, data: bytes) -> None:
        self._parents(name)
        self.fh.write(self._header(name, len(data)))
        self.fh.write(data)
        self._pad(len(data))

    def add_stream(self, name: str, chunks: Iterable[bytes]) -> int:
        """Write a member from an iterable of byte chunks; the header is patched with the size afterwards."""
        self._parents(name)
        start = self.fh.tell()
        self.fh.write(self._header(name, 0))
        size = 0
        for chunk in chunks:
            self.fh.write(chunk)
            size += len(chunk)
        self._pad(size)
        end = self.fh.tell()
        self.fh.seek(start)
        self.fh.write(self._header(name, size))
        self.fh.seek(end)
        return size

    def close(self) -> None:
        """Write the end-of-archive blocks."""
        self.fh.write(b"\0" * (2 * tarfile.BLOCKSIZE))


# --- streams --------------------------------------------------------------------------------------------------------------
def _verified(chunks, digest, what):
    """Pass chunks through, raising ArchiveError at the end when their sha256 is not `digest`."""
    algo, _sep, want = digest.partition(":")
    if algo != "sha256":
        raise ArchiveError(f"{what}: unsupported digest algorithm {algo!r}")
    hasher = hashlib.sha256()
    for chunk in chunks:
        hasher.update(chunk)
        yield chunk
    if hasher.hexdigest() != want:
        raise ArchiveError(f"{what}: content does not match its digest {digest} (got sha256:{hasher.hexdigest()})")


def blob_chunks(client: RegistryClient, repo: str, digest: str) -> Iterator[bytes]:
    """The bytes of a blob from the registry, streamed, checked against its digest."""
    def raw():
        with client.open_blob(repo, digest) as stream:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    return
                yield chunk
    return _verified(raw(), digest, f"blob {repo}@{digest}")


def uncompressed_chunks(chunks: Iterable[bytes], what: str = "a compressed layer") -> Iterator[bytes]:
    """The uncompressed bytes of a gzip, zstd or plain tar stream (multi-member gzip included); `what` names it in errors."""
    try:
        yield from decompress_chunks(chunks, what)
    except CompressError as exc:
        raise ArchiveError(str(exc)) from None


# --- resolving an image in a registry ----------------------------------------------------------------------------------
def _load_manifest(client, repo, reference, what):
    body, media_type, digest = client.get_manifest(repo, reference, accept=MANIFEST_TYPES)
    actual = "sha256:" + hashlib.sha256(body).hexdigest()
    if reference.startswith("sha256:") and actual != reference:
        raise ArchiveError(f"{what}: manifest content does not match {reference}")
    try:
        manifest = json.loads(body)
    except ValueError:
        raise ArchiveError(f"{what}: the registry returned a manifest that is not JSON") from None
    media_type = (media_type or "").split(";")[0].strip() or manifest.get("mediaType")
    return body, media_type, actual, manifest


class RemoteImage:
    """One single-platform image manifest in a registry: its config and layer descriptors."""

    def __init__(self, repo: str, body: bytes, media_type: str | None, digest: str, manifest: dict) -> None:  # noqa: PLR0917 - a plain record
        self.repo = repo
        self.body = body
        self.media_type = media_type
        self.digest = digest
        self.manifest = manifest
        self.config = manifest["config"]
        self.layers = manifest.get("layers") or []

    @property
    def config_digest(self) -> str:
        return self.config["digest"]


def _platform_entry(manifest: dict, wanted: str, what: str) -> str:
    """The digest of the index entry for platform `wanted` (`os/arch[/variant]`); ArchiveError naming what is offered."""
    try:
        index = Index.parse({"schemaVersion": 2, **manifest}, what)
    except DescriptorError as exc:
        raise ArchiveError(str(exc)) from None
    entries = index.for_platform(Platform.from_string(wanted))
    if not entries:
        raise ArchiveError(f"{what}: no image for platform {wanted} (available: {', '.join(index.platforms()) or 'none'})")
    return entries[0].digest


def resolve_image(client: RegistryClient, repo: str, reference: str, platform_name: str | None = None) -> RemoteImage:
    """The RemoteImage `repo:reference` names (distribution-spec "Pulling manifests"); an index or manifest list
    (image-spec image-index.md) resolves to `platform_name` (`os/arch[/variant]`, default: this host).

    ArchiveError when the manifest does not match its digest, is not JSON, is not a schema 2 / OCI image manifest, has
    a descriptor without a valid sha256 digest and size, or when the index has no image for the platform.
    """
    what = f"{client.host}/{repo}:{reference}" if not reference.startswith("sha256:") else f"{client.host}/{repo}@{reference}"
    body, media_type, digest, manifest = _load_manifest(client, repo, reference, what)
    if media_type in INDEX_TYPES or "manifests" in manifest:
        entry = _platform_entry(manifest, platform_name or host_platform(), what)
        body, media_type, digest, manifest = _load_manifest(client, repo, entry, what)
    if manifest.get("schemaVersion") != 2 or not isinstance(manifest.get("config"), dict):
        raise ArchiveError(f"{what}: unsupported manifest type {media_type or 'unknown'} (schema 2 / OCI image manifests only)")
    try:
        parsed = Manifest.parse(manifest, what)
    except DescriptorError:
        parsed = None
    if parsed is None or not all(d.digest.startswith("sha256:") for d in [parsed.config, *parsed.layers]):
        raise ArchiveError(f"{what}: the manifest has a config or layer without a valid sha256 digest and size")
    return RemoteImage(repo, body, media_type, digest, manifest)


# --- a whole index (multi-platform image) -------------------------------------------------------------------------------
COSIGN_SUFFIXES = (".sig", ".att", ".sbom")


class RemoteManifest:
    """A manifest carried byte for byte into an OCI archive: a child of an index, a referrer, a cosign tag's manifest.
    `name`: the tag it is written under in index.json (cosign tags), else None."""

    def __init__(self, repo: str, body: bytes, media_type: str, digest: str, doc: dict, name: str | None = None) -> None:  # noqa: PLR0917 - a plain record
        self.repo = repo
        self.body = body
        self.media_type = media_type
        self.digest = digest
        self.doc = doc
        self.name = name

    def blobs(self) -> list[dict]:
        """The descriptors of its config and layers (none for an index)."""
        return [d for d in [self.doc.get("config"), *(self.doc.get("layers") or [])] if isinstance(d, dict)]

    def descriptor(self) -> dict:
        """Its index.json entry: media type, digest, size, artifactType when it has one."""
        desc = {"mediaType": self.media_type, "digest": self.digest, "size": len(self.body)}
        if self.doc.get("artifactType"):
            desc["artifactType"] = self.doc["artifactType"]
        return desc


class RemoteIndex:
    """An image index or manifest list in a registry, narrowed by a platform policy: `body`/`digest` what the archive
    holds (platform_policy.Selection), `source_digest` the registry's, `children` (RemoteManifest, kept platforms),
    `extras` (referrers of the index and of the children, through the referrers API or the `sha256-<hex>` tag, and
    cosign's `sha256-<hex>.sig|.att|.sbom` tags), `platforms` of the children in index order."""

    def __init__(self, repo: str, selection: Any, children: list[RemoteManifest], extras: list[RemoteManifest]) -> None:
        self.repo = repo
        self.body = selection.body
        self.media_type = selection.media_type
        self.digest = selection.digest
        self.source_digest = selection.source_digest
        self.children = children
        self.extras = extras
        self.platforms = [str(Platform.parse(c.get("platform"))) if isinstance(c.get("platform"), dict) else "unknown"
                          for c in selection.children]

    def ids(self) -> list[str]:
        """The digests index.json lists, sorted: what tells whether a tarball already holds this."""
        return sorted({self.digest, *(m.digest for m in self.extras)})


def _remote_manifest(client, repo, digest, what, name=None):
    body, media_type, actual, doc = _load_manifest(client, repo, digest, what)
    if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
        raise ArchiveError(f"{what}: manifest {digest} is not a schema 2 manifest")
    return RemoteManifest(repo, body, media_type or doc.get("mediaType") or OCI_MANIFEST, actual, doc, name)


def _extras(client, repo, subjects, what, name_repo):
    """Referrers of each subject digest (one level) and cosign-style tags naming it, once each."""
    referrers = Referrers(client)
    tags = None
    found: dict[str, RemoteManifest] = {}
    for subject in subjects:
        if tags is None:
            tags = set(client.tags(repo))
        for desc in referrers.list(repo, subject, tags=sorted(tags)):
            digest = desc.get("digest")
            if isinstance(digest, str) and digest not in found:
                found[digest] = _remote_manifest(client, repo, digest, f"{what}: referrer")
        for suffix in COSIGN_SUFFIXES:
            tag = referrers_tag(subject) + suffix
            if tag in tags:
                manifest = _remote_manifest(client, repo, tag, f"{what}: {tag}", f"{name_repo}:{tag}")
                found.setdefault(f"{manifest.digest} {tag}", manifest)
    return list(found.values())


def resolve_index(client: RegistryClient, repo: str, reference: str, platforms: list[str] | None = None,  # noqa: PLR0917 - the documented interface
                  policy: str = "full", name_repo: str | None = None) -> RemoteIndex | None:
    """The RemoteIndex `repo:reference` names when it is an image index or manifest list (image-spec image-index.md),
    else None.  `platforms`/`policy` as platform_policy.select_platforms (full or filter: an archive must be complete,
    so `sparse` is refused); `name_repo` names cosign tags in index.json (`NAME:sha256-<hex>.sig`).  ArchiveError for
    a policy that cannot hold, a child or referrer that does not match its digest or is not schema 2."""
    what = f"{client.host}/{repo}:{reference}" if not reference.startswith("sha256:") else f"{client.host}/{repo}@{reference}"
    body, media_type, _digest, doc = _load_manifest(client, repo, reference, what)
    if not (media_type in INDEX_TYPES or (isinstance(doc, dict) and "manifests" in doc)):
        return None
    if policy == "sparse":
        raise ArchiveError(f"{what}: platform_policy sparse applies to seeding only (an archive must hold every manifest "
                           "its index names); use platform_policy filter for an archive of some platforms")
    try:
        selection = select_platforms(body, platforms or [], policy)
    except PlatformPolicyError as exc:
        raise ArchiveError(f"{what}: {exc}") from None
    children = []
    for desc in selection.children:
        child = _remote_manifest(client, repo, desc["digest"], f"{what}: child")
        if isinstance(child.doc.get("manifests"), list):
            raise ArchiveError(f"{what}: child {child.digest} is itself an index (nested indexes are not supported)")
        children.append(child)
    subjects = [c.digest for c in children]
    if selection.digest == selection.source_digest:  # a filtered index is new: the source's referrers do not name it
        subjects.insert(0, selection.source_digest)
    extras = _extras(client, repo, subjects, what, name_repo or repo)
    return RemoteIndex(repo, selection, children, extras)


def write_oci_index_archive(fh: BinaryIO, client: RegistryClient, index: RemoteIndex, ref: str | None) -> None:
    """An OCI image layout tarball of a whole index: every blob and manifest of the kept children and of the extras
    (referrers, cosign tags), the index byte for byte; index.json names the index (ref.name `ref`), each referrer (no
    name: it goes with its subject) and each cosign tag (ref.name `NAME:sha256-<hex>.sig`).  Blobs are streamed and
    checked against their digests."""
    tar = TarWriter(fh)
    tar.add_bytes("oci-layout", OCI_LAYOUT)
    written = set()
    manifests = [*index.children, *index.extras]
    for manifest in manifests:
        for desc in manifest.blobs():
            if desc["digest"] not in written and not desc.get("urls"):
                written.add(desc["digest"])
                tar.add_stream(_blob_member(desc["digest"]), blob_chunks(client, index.repo, desc["digest"]))
    for digest, body in [*((m.digest, m.body) for m in manifests), (index.digest, index.body)]:
        if digest not in written:
            written.add(digest)
            tar.add_bytes(_blob_member(digest), body)
    entry = {"mediaType": index.media_type, "digest": index.digest, "size": len(index.body)}
    if ref:
        entry["annotations"] = {ANNOTATION_REF_NAME: ref}
    entries = [entry]
    for extra in index.extras:
        desc = extra.descriptor()
        if extra.name:
            desc["annotations"] = {ANNOTATION_REF_NAME: extra.name}
        entries.append(desc)
    tar.add_bytes("index.json", json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode())
    tar.close()


def _blob_member(digest: str) -> str:
    return "blobs/sha256/" + digest.split(":", 1)[1]


def held_index(path: str) -> dict:
    """{ids: sorted digests index.json lists, digest: the first entry's, ref: its ref.name} of an OCI archive at `path`
    ({ids: [], digest: None, ref: None} when absent or not an OCI layout tarball)."""
    held = {"ids": [], "digest": None, "ref": None}
    try:
        tar = TarballReader(path)
        if not (tar.has("index.json") and tar.has("oci-layout")):
            return held
        entries = [e for e in tar.read_json("index.json").get("manifests") or [] if isinstance(e, dict)]
    except (ImageArchiveError, OSError, ValueError, AttributeError):
        return held
    if entries:
        held.update(ids=sorted({e.get("digest") for e in entries}), digest=entries[0].get("digest"),
                    ref=(entries[0].get("annotations") or {}).get(ANNOTATION_REF_NAME))
    return held


def multi_platform_error(image: str, index: RemoteIndex) -> ArchiveError:
    """docker-archive holds one image: the error naming the image, its platforms and the options."""
    return ArchiveError(f"image {image} is a multi-platform image (index {index.source_digest}, platforms "
                        f"{', '.join(p for p in index.platforms if p != 'unknown/unknown')}): format docker-archive "
                        "holds one platform; set platform (os/arch[/variant]) to save one, or use format oci-archive "
                        "to keep the index and its digest")


# --- writing archives -------------------------------------------------------------------------------------------------
def _compressed_checked(chunks, diff_id, what):
    """Pass compressed chunks through unchanged while checking that they decompress to `diff_id`."""
    pending = []

    def source():
        for chunk in chunks:
            pending.append(chunk)
            yield chunk
    hasher = hashlib.sha256()
    for out in uncompressed_chunks(source(), what):
        hasher.update(out)
        yield from pending
        del pending[:]
    yield from pending
    if "sha256:" + hasher.hexdigest() != diff_id:
        raise ArchiveError(f"{what}: content does not match its diff_id {diff_id} (got sha256:{hasher.hexdigest()})")


def write_docker_archive(fh: BinaryIO, client: RegistryClient, image: RemoteImage, ref: str | None,  # noqa: PLR0917 - the documented interface
                         layers: str = "uncompressed") -> None:
    """A `docker load` tarball: manifest.json, `<config hex>.json`, layers as `<diff_id hex>/layer.tar`.

    Layers are stored uncompressed (as `docker save` does), or with layers="preserve" as the registry holds them when
    gzip or plain (docker load decompresses them); zstd layers are always stored uncompressed. Either way each layer is
    checked against its diff_id.
    """
    config = b"".join(blob_chunks(client, image.repo, image.config_digest))
    try:
        diff_ids = json.loads(config)["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError):
        raise ArchiveError(f"{image.repo}@{image.config_digest}: image config has no rootfs.diff_ids") from None
    if len(diff_ids) != len(image.layers):
        raise ArchiveError(f"{image.repo}@{image.digest}: {len(image.layers)} layers in the manifest, {len(diff_ids)} diff_ids in the config")
    tar = TarWriter(fh)
    paths = []
    for index, desc in enumerate(image.layers):
        diff_id = diff_ids[index]
        path = diff_id.split(":", 1)[1] + "/layer.tar"
        if path not in paths:
            what = f"layer {desc['digest']} of {image.repo}"
            chunks = blob_chunks(client, image.repo, desc["digest"])
            if layers == "preserve" and "zstd" not in (desc.get("mediaType") or ""):
                tar.add_stream(path, _compressed_checked(chunks, diff_id, what))
            else:
                tar.add_stream(path, _verified(uncompressed_chunks(chunks, what), diff_id, what))
        paths.append(path)
    config_path = image.config_digest.split(":", 1)[1] + ".json"
    tar.add_bytes(config_path, config)
    entry = {"Config": config_path, "RepoTags": [ref] if ref else None, "Layers": paths}
    tar.add_bytes("manifest.json", json.dumps([entry]).encode())
    tar.close()


def oci_manifest(image: RemoteImage) -> tuple[bytes, str]:
    """(body, digest) of the image's manifest as an OCI manifest; an OCI manifest is kept byte for byte."""
    if image.media_type == OCI_MANIFEST:
        return image.body, image.digest
    layers = []
    for desc in image.layers:
        layer = {"mediaType": OCI_LAYER_TYPES.get(desc.get("mediaType"), desc.get("mediaType")), "digest": desc["digest"], "size": desc["size"]}
        if desc.get("urls"):
            layer["urls"] = desc["urls"]
        layers.append(layer)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": image.config_digest, "size": image.config["size"]}, "layers": layers}
    body = json.dumps(manifest, separators=(",", ":")).encode()
    return body, "sha256:" + hashlib.sha256(body).hexdigest()


def write_oci_archive(fh: BinaryIO, client: RegistryClient, image: RemoteImage, ref: str | None) -> None:
    """An OCI image layout tarball: oci-layout, index.json (ref.name annotation), blobs/sha256/* as in the registry."""
    tar = TarWriter(fh)
    tar.add_bytes("oci-layout", OCI_LAYOUT)
    written = set()
    for desc in [image.config, *image.layers]:
        if desc["digest"] in written:
            continue
        written.add(desc["digest"])
        tar.add_stream("blobs/sha256/" + desc["digest"].split(":", 1)[1], blob_chunks(client, image.repo, desc["digest"]))
    body, digest = oci_manifest(image)
    if digest not in written:
        tar.add_bytes("blobs/sha256/" + digest.split(":", 1)[1], body)
    entry = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body)}
    if ref:
        entry["annotations"] = {ANNOTATION_REF_NAME: ref}
    tar.add_bytes("index.json", json.dumps({"schemaVersion": 2, "manifests": [entry]}).encode())
    tar.close()


def write_engine_archive(fh: BinaryIO, api: Any, image: str) -> None:
    """`docker save IMAGE` streamed from the engine (docker SDK APIClient.get_image)."""
    chunks = None
    while True:
        try:
            chunks = chunks or iter(api.get_image(image, chunk_size=CHUNK))
            chunk = next(chunks, None)
        except Exception as exc:  # noqa: BLE001 - the SDK's APIError, DockerException, requests errors: all engine-side
            raise ArchiveError(f"docker save {image} failed: {exc}") from None
        if chunk is None:
            return
        fh.write(chunk)


# --- one image -> one tarball, idempotently -----------------------------------------------------------------------------
class ImageSaver:
    """Save images as tarballs in `dest`, from the engine (docker SDK APIClient) or from registries (RegistryClient).

    `client_for(host)` returns a RegistryClient for a registry host; `registry` (optional) is the registry every image
    name is taken from (a registry part in the name must then match it).
    """

    def __init__(self, dest: str, source: str = "engine", fmt: str = "docker-archive", force: bool = False,  # noqa: PLR0917 - options
                 check_mode: bool = False, engine_api: Any = None, client_for: Callable[[str], RegistryClient] | None = None,
                 registry: str | None = None, platform_name: str | None = None, layers: str = "uncompressed",
                 platforms: list[str] | None = None, platform_policy: str = "full") -> None:
        """ArchiveError when `fmt` needs source=registry.  `platform_name` picks one platform of an index (a single
        image is written); without it an index is written whole to an oci-archive (`platforms`/`platform_policy`:
        full or filter, see platform_policy) and refused for a docker-archive."""
        if source == "engine" and fmt != "docker-archive":
            raise ArchiveError(f"format {fmt} needs source=registry (the engine saves docker-archive only)")
        self.dest = dest
        self.source = source
        self.fmt = fmt
        self.force = force
        self.check_mode = check_mode
        self.engine_api = engine_api
        self.client_for = client_for
        self.registry = registry
        self.platform_name = platform_name
        self.layers = layers
        self.platforms = platforms or []
        self.platform_policy = platform_policy
        self._clients = {}

    def _client(self, host):
        if host not in self._clients:
            self._clients[host] = self.client_for(host)
        return self._clients[host]

    def _locate(self, image):
        """(client, repository, reference) for an image name in its registry."""
        registry, repo, tag, digest = split_image(image)
        host = self.registry
        if host:
            wanted = registry_host(host)
            if registry and registry != wanted:
                raise ArchiveError(f"image {image} names registry {registry}, but registry is {wanted}")
        elif registry:
            host = registry
        else:
            raise ArchiveError(f"image {image} names no registry: set registry, or use a full name (HOST:PORT/repo:tag, docker.io/repo:tag)")
        if is_hub(host):
            host = HUB_API_HOST
            repo = repo if "/" in repo else "library/" + repo
        return self._client(host), repo, digest or tag or "latest"

    def _engine_image_id(self, image):
        try:
            return self.engine_api.inspect_image(image)["Id"]
        except Exception as exc:  # noqa: BLE001 - the SDK raises ImageNotFound / APIError / connection errors
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status == 404:
                raise ArchiveError(f"image {image} is not in the Docker engine") from None
            raise ArchiveError(f"cannot inspect {image} in the Docker engine: {exc}") from None

    def save(self, image: str) -> tuple[dict, str | None]:
        """({image, path, changed, digest, format}, config digest the tarball held before or None); check mode writes nothing."""
        path = os.path.join(self.dest, archive_filename(image))
        ref = repo_tag(image)
        if self.source == "engine":
            digest = self._engine_image_id(image)

            def write(fh):
                write_engine_archive(fh, self.engine_api, image)
        else:
            client, repo, reference = self._locate(image)
            if not self.platform_name:
                index = resolve_index(client, repo, reference, self.platforms, self.platform_policy,
                                      (repo_tag(image.split("@", maxsplit=1)[0]) or "").rsplit(":", 1)[0])
                if index is not None:
                    if self.fmt == "docker-archive":
                        raise multi_platform_error(image, index)
                    return self._save_index(image, path, ref, client, index)
            remote = resolve_image(client, repo, reference, self.platform_name)
            digest = remote.config_digest

            def write(fh):
                if self.fmt == "docker-archive":
                    write_docker_archive(fh, client, remote, ref, self.layers)
                else:
                    write_oci_archive(fh, client, remote, ref)
        result = {"image": image, "path": path, "digest": digest, "format": self.fmt}
        found = archive_identity(path)
        result["changed"] = self.force or not holds_image(found, self.fmt, digest, ref)
        if result["changed"] and not self.check_mode:
            write_atomically(path, write)
        return result, (found or {}).get("config_digest")

    def _save_index(self, image: str, path: str, ref: str | None, client: RegistryClient,  # noqa: PLR0917 - one call site
                    index: RemoteIndex) -> tuple[dict, str | None]:
        """An oci-archive of a whole index, written unless the tarball lists the same manifests under the same name."""
        held = held_index(path)
        result = {"image": image, "path": path, "digest": index.digest, "format": self.fmt,
                  "source_digest": index.source_digest, "platforms": index.platforms,
                  "changed": self.force or held["ids"] != index.ids() or held["ref"] != ref}
        if result["changed"] and not self.check_mode:
            write_atomically(path, lambda fh: write_oci_index_archive(fh, client, index, ref))
        return result, held["digest"]
