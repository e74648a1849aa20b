# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`airgap-bundle create` (issue 13, docs/bundles.md): many images as one deduplicated OCI image layout.

Two phases.  Planning reads every manifest (registry API, or `docker save` of the local engine with `from_engine`)
and decides what the bundle holds: indexes byte for byte with every child (attestations included), or a platform
subset (platform_policy: `filter` makes a new index, recorded as `sourceDigest` of the image; `sparse` keeps the index
and only the chosen children); referrers through the OCI referrers API or the `sha256-<hex>` tag scheme; cosign's
`sha256-<hex>.sig/.att/.sbom` tags as images of their own.  Planning writes nothing, so a policy that cannot hold fails
before any file is touched; check mode stops after it.  Fetching then stores every blob missing from the layout, once,
in parallel, verified (bundle_store.BlobStore): a rerun after an interruption fetches only what is missing.  A `.tar`
or `.tar.zst` bundle is built in the staging directory `PATH.partial/` and written out at the end.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from functools import partial
from typing import Any, Callable

from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_atomically, write_bytes_atomically
from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import (
    BUNDLE_FILE,
    INDEX_FILE,
    NAME_ANNOTATIONS,
    OCI_LAYOUT_FILE,
    BundleError,
    blob_path,
    bundle_document,
    checked_digest,
    checksum_name,
    image_annotations,
    output_form,
    parse_have,
    parse_size,
    part_name,
    parts_of,
)
from ansible_collections.airgap.registry.plugins.module_utils.bundle_options import CREATE_DEFAULTS
from ansible_collections.airgap.registry.plugins.module_utils.bundle_store import BlobStore, member_names, write_tarball
from ansible_collections.airgap.registry.plugins.module_utils.compression import CompressError, decompressed_reader
from ansible_collections.airgap.registry.plugins.module_utils.docker_config import (
    auth_key,
    credential_helper,
    default_config_path,
    get_credentials,
    load_config,
)
from ansible_collections.airgap.registry.plugins.module_utils.image_archive import ArchiveImage, ImageArchive, PartsFile
from ansible_collections.airgap.registry.plugins.module_utils.media_types import (
    DOCKER_CONFIG,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_TYPES,
    OCI_LAYOUT,
    OCI_MANIFEST,
)
from ansible_collections.airgap.registry.plugins.module_utils.platform_policy import PlatformPolicyError, is_attestation, select_platforms
from ansible_collections.airgap.registry.plugins.module_utils.reference import HUB_API_HOST, HUB_DOMAIN, RetagError, is_hub, parse_ref
from ansible_collections.airgap.registry.plugins.module_utils.referrers import Referrers
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import CONNECTION_ARGUMENT_SPEC, RegistryClient, RegistryError, client_from_params
from ansible_collections.airgap.registry.plugins.module_utils.seed_report import NullProgress

CONFIG_MAX = 4 * 1024 * 1024  # an image config larger than this is not read for its platform
MAX_DEPTH = 4  # nested indexes and referrers of referrers
TAG_SCHEME = re.compile(r"^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})(?:\.(?:sig|att|sbom))?$")
_LAYER_BY_COMPRESSION = {"none": OCI_LAYER_TYPES["application/vnd.docker.image.rootfs.diff.tar"],
                         "gzip": OCI_LAYER_TYPES["application/vnd.docker.image.rootfs.diff.tar.gzip"],
                         "zstd": OCI_LAYER_TYPES["application/vnd.docker.image.rootfs.diff.tar.zstd"]}


def now() -> str:
    """The current UTC time as airgap-bundle.json's `created` (RFC 3339, seconds)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_like(data: bytes, digest: str) -> str:
    """`<algorithm>:<hex>` of `data` with the algorithm of `digest` (sha256 or sha512, image-spec descriptor.md)."""
    algorithm = checked_digest(digest, "digest").partition(":")[0]
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


# --- image references ----------------------------------------------------------------------------------------------
class Source:
    """Where an image comes from: `registry` as named (`docker.io` for Docker Hub), API `host`, `repo`, `reference`
    (tag or digest) and `name`, the full source reference index.json gives it (`docker.io/library/alpine:3.19`)."""

    __slots__ = ("host", "name", "reference", "registry", "repo")

    def __init__(self, ref: str) -> None:
        """BundleError naming `ref` when it is not an image reference."""
        try:
            parsed = parse_ref(ref)
        except RetagError as exc:
            raise BundleError(str(exc)) from None
        registry, repo = parsed.registry or HUB_DOMAIN, parsed.path
        self.host = registry
        if is_hub(registry):
            registry, self.host = HUB_DOMAIN, HUB_API_HOST
            repo = repo if "/" in repo else "library/" + repo
        tag = parsed.tag or (None if parsed.digest else "latest")
        self.registry, self.repo = registry, repo
        self.reference = parsed.digest or tag
        self.name = f"{registry}/{repo}" + (f":{tag}" if tag else "") + (f"@{parsed.digest}" if parsed.digest else "")


def read_images_file(path: str) -> list[tuple[str, list[str] | None]]:
    """[(reference, platforms or None)] of an images file: one reference a line (`#` comments, blank lines), or YAML
    (a list, or a mapping with `images`) whose items are references or {reference, platforms}.  BundleError naming
    the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"--images-file {path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines or not (lines[0].startswith("-") or lines[0].startswith("images:")):
        return [(line, None) for line in lines]
    try:
        import yaml  # PyYAML: an Ansible dependency, needed for this form only  # noqa: PLC0415
        doc = yaml.safe_load(text)
    except ImportError:
        raise BundleError(f"--images-file {path}: YAML images files need PyYAML (pip install pyyaml)") from None
    except yaml.YAMLError as exc:
        raise BundleError(f"--images-file {path}: not valid YAML: {exc}") from None
    items = doc.get("images") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise BundleError(f"--images-file {path}: YAML must be a list of images or a mapping with an images list")
    out = []
    for number, item in enumerate(items, 1):
        if isinstance(item, dict) and isinstance(item.get("reference"), str):
            platforms = item.get("platforms")
            if platforms is not None and not (isinstance(platforms, list) and all(isinstance(p, str) for p in platforms)):
                raise BundleError(f"--images-file {path}: image {number}: platforms must be a list of OS/ARCH strings")
            out.append((item["reference"], platforms))
        elif isinstance(item, str):
            out.append((item, None))
        else:
            raise BundleError(f"--images-file {path}: image {number} is neither a reference nor {{reference, platforms}}")
    return out


def image_list(opts: dict) -> list[tuple[str, list[str] | None]]:
    """[(reference, platforms)]: the `images` option then the images file; `platforms` falls back to the option's;
    BundleError when there is none."""
    items = [(ref, None) for ref in opts.get("images") or []]
    if opts.get("images_file"):
        items += read_images_file(opts["images_file"])
    if not items:
        raise BundleError("no image given: name images (IMAGE...) or an images file (--images-file)")
    default = opts.get("platforms") or None
    return [(ref, platforms if platforms is not None else default) for ref, platforms in items]


# --- the plan ------------------------------------------------------------------------------------------------------
class Need:
    """A blob to fetch: digest, size (bytes), `open()` giving a reader (read(n), close()), `what` for errors."""

    __slots__ = ("digest", "open", "size", "what")

    def __init__(self, digest: str, size: int, opener: Callable[[], Any], what: str) -> None:
        self.digest = digest
        self.size = size
        self.open = opener
        self.what = what


class Plan:
    """What the bundle holds: `manifests` {digest: bytes} (manifests and indexes), `prefetched` {digest: bytes} (config
    blobs read while planning, stored with the fetched blobs), `blobs` {digest: Need} (to fetch), `entries`
    (index.json descriptors), `images` (airgap-bundle.json entries), `delta` {digest: repository at the site} of the
    blobs relied on, `warnings`; `names` (references planned) and `referrer_entries` keep each once."""

    def __init__(self) -> None:
        self.manifests: dict[str, bytes] = {}
        self.prefetched: dict[str, bytes] = {}
        self.blobs: dict[str, Need] = {}
        self.entries: list[dict] = []
        self.images: list[dict] = []
        self.delta: dict[str, str] = {}
        self.warnings: list[str] = []
        self.referrer_entries: set[str] = set()
        self.names: set[str] = set()

    def digests(self) -> set[str]:
        """Every blob digest stored in the bundle."""
        return set(self.manifests) | set(self.prefetched) | set(self.blobs)

    def sizes(self) -> dict[str, int]:
        """{digest: size} of every blob stored in the bundle."""
        return {**{d: len(b) for d, b in [*self.manifests.items(), *self.prefetched.items()]},
                **{d: n.size for d, n in self.blobs.items()}}

    def add_entry(self, entry: dict, name: str | None) -> None:
        """An index.json descriptor: an image named by `name`, or (name None) a referrer, listed once."""
        if name is None:
            if entry["digest"] in self.referrer_entries:
                return
            self.referrer_entries.add(entry["digest"])
        self.entries.append(entry)


def media_type_of(body: bytes, given: str | None) -> str:
    """The manifest's own mediaType, else the registry's Content-Type, else OCI manifest/index by shape."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = {}
    if isinstance(doc, dict) and isinstance(doc.get("mediaType"), str):
        return doc["mediaType"]
    if given and given.split(";")[0].strip() in MANIFEST_TYPES:
        return given.split(";")[0].strip()
    return OCI_INDEX if isinstance(doc, dict) and "manifests" in doc else OCI_MANIFEST


def _parse(body: bytes, what: str) -> dict:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise BundleError(f"{what} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BundleError(f"{what} is not a JSON object")
    return doc


def _platform_of_config(data: bytes) -> list[str]:
    """[`os/arch[/variant]`] from an image config, [] when it names none."""
    try:
        config = json.loads(data)
    except ValueError:
        return []
    if not isinstance(config, dict) or not config.get("os") or not config.get("architecture"):
        return []
    return ["/".join(str(p) for p in (config["os"], config["architecture"], config.get("variant")) if p)]


def _is_index(doc: dict, media_type: str) -> bool:
    return media_type in INDEX_TYPES or isinstance(doc.get("manifests"), list)


class Tree:
    """One image being planned: the digests it needs with their sizes (for its `size`) and its manifests."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        self.manifests: list[str] = []


def helper_credentials(helper: str, registry: str, config_path: str) -> tuple[str, str] | None:
    """(username, secret) from the docker credential helper `docker-credential-<helper> get` for `registry` (the
    protocol of docker/docker-credential-helpers: the server URL on stdin, JSON {Username, Secret} out), as the docker
    CLI and skopeo ask it; None when it holds none.  BundleError naming the helper and `config_path` (the docker
    config naming it) when it cannot be run."""
    command = f"docker-credential-{helper}"
    try:
        proc = subprocess.run([command, "get"], input=auth_key(registry), capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BundleError(f"{config_path} sends credentials for {registry} to {command}, which cannot be run "
                          f"({getattr(exc, 'strerror', None) or exc}); install it, or give --username/--password-stdin") from None
    if proc.returncode != 0:
        return None  # "credentials not found": anonymous, as docker
    try:
        answer = json.loads(proc.stdout)
        return answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError):
        raise BundleError(f"{command} get {registry}: not the credential helper's JSON answer") from None


class Planner:
    """Plans images from their registries (registry API).  `opts`: the create options; `store` for configs already
    stored; `have`: the parsed HAVE document or None; `previous`: airgap-bundle.json of the bundle at the output (its
    platforms spare reading configs again)."""

    def __init__(self, opts: dict, store: BlobStore, have: dict | None, previous: dict | None = None) -> None:
        self.opts = opts
        self.known = {(i.get("reference"), i.get("digest")): i.get("platforms")
                      for i in (previous or {}).get("images") or [] if isinstance(i, dict)}
        self.store = store
        self.have_blobs = (have or {}).get("blobs") or {}
        self.plan = Plan()
        self.clients: dict[str, RegistryClient] = {}
        self.referrers: dict[str, Referrers] = {}
        self.tag_lists: dict[tuple[str, str], list[str]] = {}
        self._docker_config: dict | None = None

    # --- registry access -------------------------------------------------------------------------------------------
    def credentials(self, source: Source) -> tuple[str | None, str | None]:
        """(username, password): the options' when a username is given, else ~/.docker/config.json's for the registry."""
        if self.opts.get("username"):
            return self.opts["username"], self.opts.get("password")
        if self._docker_config is None:
            self._docker_config = load_config(default_config_path(), "docker config")
        helper = credential_helper(self._docker_config, source.registry)
        found = (helper_credentials(helper, source.registry, default_config_path()) if helper
                 else get_credentials(self._docker_config, source.registry))
        return found if found else (None, None)

    def client(self, source: Source) -> RegistryClient:
        if source.host not in self.clients:
            username, password = self.credentials(source)
            params = {key: self.opts.get(key) for key in CONNECTION_ARGUMENT_SPEC}
            params.update(username=username, password=password, option_names=self.opts.get("option_names"))
            params["timeout"] = params["timeout"] or 60
            params["validate_certs"] = params["validate_certs"] is not False
            self.clients[source.host] = client_from_params(source.host, params, retries=self.opts.get("retries") or 0)
            self.referrers[source.host] = Referrers(self.clients[source.host])
        return self.clients[source.host]

    def tags(self, source: Source) -> list[str]:
        key = (source.host, source.repo)
        if key not in self.tag_lists:
            self.tag_lists[key] = self.client(source).tags(source.repo)
        return self.tag_lists[key]

    def manifest(self, source: Source, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, digest) of a manifest; the body is checked against a digest reference."""
        body, given, digest = self.client(source).get_manifest(source.repo, reference)
        if reference.startswith(("sha256:", "sha512:")):
            digest = reference
            if digest_like(body, digest) != digest:
                raise BundleError(f"{source.host}/{source.repo}@{digest}: the registry sent a manifest of another digest "
                                  f"({digest_like(body, digest)})")
        return body, media_type_of(body, given), digest

    # --- what an image needs -----------------------------------------------------------------------------------------
    def need(self, source: Source, desc: dict, tree: Tree) -> None:
        """A config or layer blob of `source`: carried, or relied on at the site when the HAVE file lists it."""
        digest, size = desc.get("digest"), desc.get("size")
        if not isinstance(digest, str) or not isinstance(size, int):
            raise BundleError(f"{source.name}: a descriptor without digest or size ({desc})")
        checked_digest(digest, f"{source.name}: a descriptor's digest")
        tree.sizes[digest] = size
        if digest in self.have_blobs:
            self.plan.delta[digest] = self.have_blobs[digest]
            return
        if digest not in self.plan.blobs:
            client = self.client(source)
            self.plan.blobs[digest] = Need(digest, size, partial(client.open_blob, source.repo, digest),
                                           f"blob {digest} of {source.host}/{source.repo}")

    def walk(self, source: Source, digest: str, body: bytes, media_type: str, tree: Tree,  # noqa: PLR0917 - one node
             children: list[dict] | None = None, depth: int = 0) -> dict:
        """Put a manifest or index (and, for an index, `children` or all its entries) into the plan; its parsed doc."""
        doc = _parse(body, f"{source.name}: manifest {digest}")
        self.plan.manifests[digest] = body
        tree.sizes[digest] = len(body)
        tree.manifests.append(digest)
        if _is_index(doc, media_type):
            if depth >= MAX_DEPTH:
                raise BundleError(f"{source.name}: indexes nested deeper than {MAX_DEPTH} at {digest}")
            for entry in doc.get("manifests") if children is None else children:
                child_body, child_type, child_digest = self.manifest(
                    source, checked_digest(entry.get("digest"), f"{source.name}: index {digest}: a child's digest"))
                if entry.get("size") != len(child_body):
                    raise BundleError(f"{source.name}: index {digest} gives child {child_digest} {entry.get('size')} "
                                      f"bytes, the registry sent {len(child_body)}")
                self.walk(source, child_digest, child_body, child_type, tree, depth=depth + 1)
            return doc
        for desc in [doc.get("config"), *(doc.get("layers") or [])]:
            if isinstance(desc, dict):
                self.need(source, desc, tree)
        return doc

    def config_platforms(self, source: Source, doc: dict) -> list[str]:
        """The platform an image config names ([] for a non-image config or a large one, and in check mode when the
        config is not stored yet: check mode reads manifests only)."""
        config = doc.get("config") or {}
        if config.get("mediaType") not in (OCI_CONFIG, DOCKER_CONFIG) or not isinstance(config.get("size"), int) \
                or config["size"] > CONFIG_MAX:
            return []
        digest = config["digest"]
        if self.store.has(digest, config["size"]):
            with open(self.store.path(digest), "rb") as fh:
                return _platform_of_config(fh.read())
        if self.opts.get("check_mode"):
            return []
        with self.client(source).open_blob(source.repo, digest) as stream:
            data = stream.read(CONFIG_MAX + 1)
        if digest_like(data, digest) != digest:
            raise BundleError(f"{source.name}: config {digest} does not match its digest")
        if digest in self.plan.blobs:  # carried: store what was read instead of fetching it again
            self.plan.prefetched[digest] = data
            del self.plan.blobs[digest]
        return _platform_of_config(data)

    def add_referrers(self, source: Source, subjects: list[str], depth: int = 0) -> list[str]:
        """Referrers of `subjects` (referrers API, else the tag scheme), each planned with its blobs and listed in
        index.json without a name; their digests."""
        found = []
        for subject in subjects:
            for desc in self.referrers[source.host].list(source.repo, subject, self.tags(source)):
                digest = desc.get("digest")
                if digest in found:
                    continue
                body, media_type, digest = self.manifest(source, checked_digest(digest, f"{source.name}: referrer of {subject}"))
                tree = Tree()
                self.walk(source, digest, body, media_type, tree)
                entry = {key: desc[key] for key in ("mediaType", "artifactType") if desc.get(key)}
                entry.update(mediaType=entry.get("mediaType") or media_type, digest=digest, size=len(body))
                annotations = {k: v for k, v in (desc.get("annotations") or {}).items() if k not in NAME_ANNOTATIONS}
                if annotations:
                    entry["annotations"] = annotations
                self.plan.add_entry(entry, None)
                found.append(digest)
                if depth < MAX_DEPTH:
                    found += [d for d in self.add_referrers(source, tree.manifests, depth + 1) if d not in found]
        return found

    def add_image(self, ref: str, platforms: list[str] | None) -> None:
        """Plan one image (and the tag-scheme images of its manifests); BundleError naming it."""
        source = Source(ref)
        if source.name in self.plan.names:
            return
        self.plan.names.add(source.name)
        try:
            body, media_type, source_digest = self.manifest(source, source.reference)
        except RegistryError as exc:
            if exc.status != 404:
                raise
            raise BundleError(f"{source.name}: no such image in {source.registry} ({exc}); check the image's "
                              "repository and tag in the list of images") from None
        doc = _parse(body, f"{source.name}: manifest {source_digest}")
        digest, children = source_digest, None
        if platforms and _is_index(doc, media_type):
            try:
                selection = select_platforms(body, platforms, self.opts.get("platform_policy") or "filter")
            except PlatformPolicyError as exc:
                raise BundleError(f"{source.name}: {exc}") from None
            body, digest, children = selection.body, selection.digest, selection.children
        tree = Tree()
        doc = self.walk(source, digest, body, media_type, tree, children)
        if _is_index(doc, media_type):
            kept = children if children is not None else doc.get("manifests") or []
            image_platforms = list(dict.fromkeys(_platform_text(e["platform"]) for e in kept
                                                 if not is_attestation(e) and isinstance(e.get("platform"), dict)))
        else:
            image_platforms = self.known.get((source.name, digest))
            if image_platforms is None:
                image_platforms = self.config_platforms(source, doc)
            self.warn_unselected(source, platforms, image_platforms)
        self.plan.add_entry({"mediaType": media_type, "digest": digest, "size": len(body),
                             "annotations": image_annotations(source.name)}, source.name)
        carried = (set(tree.manifests) | {source_digest}) - self.dropped(source, source_digest, digest)
        referrers = self.add_referrers(source, sorted(carried))
        image = {"reference": source.name, "digest": digest, "mediaType": media_type, "platforms": image_platforms,
                 "size": sum(tree.sizes.values()), "referrers": referrers}
        if digest != source_digest:
            image["sourceDigest"] = source_digest
        self.plan.images.append(image)
        subjects = {d.replace(":", "-") for d in carried}
        for tag in self.tags(source):
            match = TAG_SCHEME.match(tag)
            if match and f"{match.group(1)}-{match.group(2)}" in subjects:
                self.add_image(f"{source.registry}/{source.repo}:{tag}", None)

    def dropped(self, source: Source, source_digest: str, digest: str) -> set[str]:
        """{source_digest} when platform_policy filter bundles a new index `digest`: the source index's referrers
        name a subject the bundle lacks, so they and its `sha256-<hex>` tags are not carried (a warning says how many,
        as the seed's); else {}."""
        if digest == source_digest:
            return set()
        count = len(self.referrers[source.host].list(source.repo, source_digest, self.tags(source)))
        if count:
            self.plan.warnings.append(f"{source.name}: {count} referrer(s) of index {source_digest} (signatures, "
                                      f"attestations) not carried: platform_policy filter bundles index {digest}, "
                                      "which they do not name")
        return {source_digest}

    def warn_unselected(self, source: Source, platforms: list[str] | None, image_platforms: list[str]) -> None:
        """A warning when --platform names none of a single-platform image's platform (it goes as it is)."""
        if platforms and image_platforms and not {_os_arch(p) for p in platforms} & {_os_arch(p) for p in image_platforms}:
            self.plan.warnings.append(f"{source.name}: a single-platform image for {', '.join(image_platforms)}, none of "
                                      f"the platforms asked ({', '.join(platforms)}); bundled as it is")


def _os_arch(platform: str) -> str:
    """`OS/ARCH` of an `OS/ARCH[/VARIANT]` text."""
    return "/".join(platform.split("/")[:2])


def _platform_text(platform: dict) -> str:
    return "/".join(str(p) for p in (platform.get("os"), platform.get("architecture"), platform.get("variant")) if p) or "unknown"


# --- images from the local Docker engine ------------------------------------------------------------------------
class EnginePlanner:
    """Plans images saved from the local Docker engine (`docker save` through the docker SDK, streamed to a temp file
    in `workdir`).  Docker 20.10's uncompressed layers are stored as they are (OCI layer tar, digests = diff_ids)."""

    def __init__(self, opts: dict, workdir: str, have: dict | None) -> None:
        self.opts = opts
        self.workdir = workdir
        self.have_blobs = (have or {}).get("blobs") or {}
        self.plan = Plan()
        self.api = None

    def engine(self) -> Any:
        if self.api is None:
            try:
                import docker  # noqa: PLC0415 - only --from-engine needs the docker SDK
            except ImportError:
                raise BundleError("--from-engine needs the docker Python package (pip install docker)") from None
            try:
                self.api = docker.from_env(timeout=600).api  # DOCKER_HOST and friends, as the docker CLI
                self.api.ping()
            except docker.errors.DockerException as exc:
                raise BundleError(f"--from-engine: cannot reach the Docker engine: {exc}") from None
        return self.api

    def save(self, ref: str) -> ImageArchive:
        from ansible_collections.airgap.registry.plugins.module_utils.archive_writer import write_engine_archive  # noqa: PLC0415

        path = os.path.join(self.workdir, f"engine-{len(self.plan.names)}.tar")
        try:
            write_atomically(path, lambda fh: write_engine_archive(fh, self.engine(), ref))
        except BundleError:
            raise
        except Exception as exc:  # noqa: BLE001 - ArchiveError and the SDK's errors: the engine side
            raise BundleError(f"--from-engine {ref}: {exc}") from None
        return ImageArchive(path)

    def need(self, archive: ImageArchive, member: str, desc: dict, tree: Tree) -> None:
        digest = desc["digest"]
        tree.sizes[digest] = desc["size"]
        if digest in self.have_blobs:
            self.plan.delta[digest] = self.have_blobs[digest]
        elif digest not in self.plan.blobs:
            self.plan.blobs[digest] = Need(digest, desc["size"], partial(archive.open_member, member),
                                           f"{member} of {archive.path}")

    def add_image(self, ref: str, platforms: list[str] | None) -> None:
        source = Source(ref)
        if source.name in self.plan.names:
            return
        self.plan.names.add(source.name)
        archive = self.save(ref)
        tree = Tree()
        if archive.manifests:
            unit = archive.manifests[0]
            for manifest in unit.walk():
                self.plan.manifests[manifest.digest] = manifest.body
                tree.sizes[manifest.digest] = len(manifest.body)
                for blob in manifest.blobs:
                    self.need(archive, blob_path(blob.digest), {"digest": blob.digest, "size": blob.size}, tree)
            digest, media_type, body = unit.digest, unit.media_type, unit.body
            image_platforms = [p for p in unit.platforms() if p != "unknown/unknown"] if unit.is_index else []
        else:
            image: ArchiveImage = archive.images[0]
            body, media_type = engine_manifest(image)
            digest = sha256_digest(body)
            self.plan.manifests[digest] = body
            self.plan.prefetched[image.config_digest] = image.config
            tree.sizes.update({digest: len(body), image.config_digest: len(image.config)})
            for layer, desc in zip(image.layers, json.loads(body)["layers"], strict=True):
                self.need(archive, layer.member, desc, tree)
            image_platforms = _platform_of_config(image.config)
        if platforms:
            self.plan.warnings.append(f"{source.name}: --platform does not apply to --from-engine (the engine holds "
                                      "one platform per image)")
        self.plan.add_entry({"mediaType": media_type, "digest": digest, "size": len(body),
                             "annotations": image_annotations(source.name)}, source.name)
        self.plan.images.append({"reference": source.name, "digest": digest, "mediaType": media_type,
                                 "platforms": image_platforms, "size": sum(tree.sizes.values()), "referrers": []})


def engine_manifest(image: ArchiveImage) -> tuple[bytes, str]:
    """(body, media type) of an engine image's manifest: the archive's own when it has one, else an OCI manifest of
    its config and layers stored as they are (uncompressed layers as OCI layer tar, digest = diff_id)."""
    if image.source_manifest:
        return image.source_manifest
    layers = [{"mediaType": OCI_LAYER_TYPES.get(layer.media_type or "") or _LAYER_BY_COMPRESSION[layer.compression],
               "digest": layer.digest, "size": layer.size} for layer in image.layers]
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": image.config_digest, "size": len(image.config)},
                "layers": layers}
    return json.dumps(manifest, separators=(",", ":")).encode(), OCI_MANIFEST


# --- fetching ----------------------------------------------------------------------------------------------------
def fetch(plan: Plan, store: BlobStore, parallel: int, progress: NullProgress) -> tuple[int, int]:
    """Store every blob of the plan that the layout lacks (manifests from memory, the others streamed, `parallel` at a
    time); (blobs fetched, bytes fetched), manifests and indexes not counted.  The first failure, or an interrupt
    (KeyboardInterrupt), stops the run: no fetch starts after it."""
    for digest, body in plan.manifests.items():
        if not store.has(digest, len(body)):
            store.put_bytes(digest, body, f"manifest {digest}")
    stored = [(d, b) for d, b in plan.prefetched.items() if not store.has(d, len(b))]
    for digest, body in stored:
        store.put_bytes(digest, body, f"config {digest}")
    missing = [need for need in plan.blobs.values() if not store.has(need.digest, need.size)]
    if not missing:
        return len(stored), sum(len(b) for _d, b in stored)

    failed = threading.Event()

    def one(need: Need) -> int:
        if failed.is_set():  # another fetch failed: start nothing new
            return 0
        try:
            progress.blob_start(need.digest, need.what, need.size)
            stream = need.open()
            try:
                count = store.put_stream(need.digest, need.size, stream, need.what, partial(progress.blob_advance, need.digest))
            finally:
                stream.close()
            progress.blob_done(need.digest, "fetched", need.what)
        except BaseException:
            failed.set()
            raise
        return count

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(one, need) for need in missing]
        try:
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # Ctrl-C in this thread: start nothing new; the fetches in flight end (or clean up)
            failed.set()
            raise
        for future in pending:
            future.cancel()
        for future in done:
            if future.exception() is not None:
                raise future.exception()
    return len(stored) + len(missing), sum(len(b) for _d, b in stored) + sum(f.result() for f in futures)


# --- the bundle's documents ---------------------------------------------------------------------------------------
def index_document(entries: list[dict]) -> bytes:
    """index.json: an OCI image index of the entries (image-layout.md "index.json")."""
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, indent=2).encode() + b"\n"


def _tar_source(output: str, split_size: int | None) -> Any:
    """A reader of the finished tarball `create` would write at `output` (its parts when split: all there, the checksum
    file written last, cut at `split_size`), or None."""
    if not split_size:
        return open(output, "rb") if os.path.isfile(output) else None  # noqa: SIM115 - the caller closes it
    parts = parts_of(part_name(output, 1))
    if not parts or not os.path.isfile(checksum_name(output)) or \
            any(os.path.getsize(p) != split_size for p in parts[:-1]) or os.path.getsize(parts[-1]) > split_size:
        return None
    return PartsFile(parts)


def existing_document(output: str, form: str, split_size: int | None = None) -> dict | None:
    """airgap-bundle.json of the finished bundle already at `output` in the form asked (a directory, a whole .tar or
    .tar.zst, or its parts cut at `split_size`), or None."""
    try:
        if form == "directory":
            with open(os.path.join(output, BUNDLE_FILE), "rb") as fh:
                return json.loads(fh.read())
        source = _tar_source(output, split_size)
        if source is None:
            return None
        raw = decompressed_reader(source, "zstd", output) if form == "tar.zst" else source
        try:
            with tarfile.open(fileobj=raw, mode="r|") as tar:
                for member in tar:
                    if member.name == BUNDLE_FILE:
                        return json.loads(tar.extractfile(member).read())
                    if member.name != OCI_LAYOUT_FILE:
                        return None
        finally:
            raw.close()
            source.close()
    except (OSError, ValueError, tarfile.TarError, CompressError):
        return None
    return None


def _same(doc: dict | None, images: list[dict], delta: dict | None) -> bool:
    return bool(doc) and doc.get("images") == images and doc.get("delta") == delta


def _holds(path: str, data: bytes) -> bool:
    """Whether the file `path` holds exactly `data` (False when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(data) + 1) == data
    except OSError:
        return False


def write_layout(root: str, plan: Plan, created: str, delta: dict | None) -> None:
    """oci-layout, airgap-bundle.json and index.json (last) into the layout directory `root`, each atomically."""
    write_bytes_atomically(os.path.join(root, OCI_LAYOUT_FILE), OCI_LAYOUT)
    write_bytes_atomically(os.path.join(root, BUNDLE_FILE), bundle_document(plan.images, created, delta))
    write_bytes_atomically(os.path.join(root, INDEX_FILE), index_document(plan.entries))


# --- create ------------------------------------------------------------------------------------------------------
def _staging(output: str, form: str) -> str:
    return output.rstrip(os.sep) if form == "directory" else output + ".partial"


def _load_have(path: str | None) -> dict | None:
    if not path:
        return None
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise BundleError(f"--have {path}: cannot read: {exc.strerror or exc}") from None
    return parse_have(data, path)


def make_plan(opts: dict, store: BlobStore, have: dict | None, workdir: str, previous: dict | None) -> Plan:
    """Plan every image of the options (registry API, or the engine with from_engine); writes nothing in the bundle.
    `previous`: airgap-bundle.json of the bundle already at the output, or None."""
    planner = EnginePlanner(opts, workdir, have) if opts.get("from_engine") else Planner(opts, store, have, previous)
    for ref, platforms in image_list(opts):
        planner.add_image(ref, platforms)
    return planner.plan


def create_bundle(opts: dict, progress: NullProgress | None = None) -> dict:
    """Write the bundle `opts` describe (bundle_options.CREATE_OPTIONS; check_mode: plan only, write nothing).

    Returns {changed, output, form, images: [{reference, digest, platforms, size}], blobs_total, bytes_total,
    blobs_fetched, bytes_fetched (check mode: that would be fetched), delta (airgap-bundle.json's, or None), parts
    (split part paths), warnings}.  Sizes are bytes.  Raises BundleError (a bad option, image, platform policy, HAVE
    file, digest mismatch), RegistryError (a registry refused or failed), naming what is at fault.
    """
    opts = {**CREATE_DEFAULTS, **{k: v for k, v in opts.items() if v is not None}}
    progress = progress or NullProgress()
    output = opts["output"]
    form = output_form(output)
    split_size = parse_size(opts["split_size"]) if opts.get("split_size") else None
    if split_size and form == "directory":
        raise BundleError(f"--split-size needs a .tar or .tar.zst --output, not the directory {output}")
    have = _load_have(opts.get("have"))
    staging = _staging(output, form)
    store = BlobStore(staging)
    parent = os.path.dirname(os.path.abspath(staging))
    if not os.path.isdir(parent):
        raise BundleError(f"--output {output}: the directory {parent} does not exist")
    with tempfile.TemporaryDirectory(prefix=".airgap-bundle-", dir=None if opts["check_mode"] else parent) as workdir:
        previous = existing_document(output, form, split_size)
        plan = make_plan(opts, store, have, workdir, previous)
        delta = ({"registry": have.get("registry"), "have_created": have.get("created"), "blobs": dict(sorted(plan.delta.items()))}
                 if have is not None else None)
        result = _result(output, form, plan, delta)
        if opts["check_mode"]:
            return _checked(result, plan, store, form != "directory" and _same(previous, plan.images, delta),
                            _same(previous, plan.images, delta))
        if form != "directory" and _same(previous, plan.images, delta) and not os.path.isdir(staging):
            result["parts"] = parts_of(part_name(output, 1)) if split_size else []
            return result  # the finished tarball holds these images already
        os.makedirs(staging, exist_ok=True)
        fetched, fetched_bytes = fetch(plan, store, opts.get("parallel") or 1, progress)
        result.update(blobs_fetched=fetched, bytes_fetched=fetched_bytes)
        if form == "directory":  # the new index.json in place before the blobs only the old one names go
            stale = not (_same(previous, plan.images, delta) and not fetched
                         and _holds(os.path.join(staging, INDEX_FILE), index_document(plan.entries)))
            if stale:
                write_layout(staging, plan, now(), delta)
            result["changed"] = bool(store.prune(plan.digests())) or stale
            return result
        store.prune(plan.digests())
        created = (previous or {}).get("created") if _same(previous, plan.images, delta) else None
        write_layout(staging, plan, created or now(), delta)
        result["parts"] = write_tarball(output, staging, member_names(sorted(plan.digests())), form == "tar.zst", split_size)
        shutil.rmtree(staging)
        result["changed"] = True
        return result


def _checked(result: dict, plan: Plan, store: BlobStore, tarball_current: bool, same_document: bool) -> dict:
    """Check mode's result: the blobs (count, bytes) the layout lacks, none when the finished tarball is current."""
    missing = [(n.digest, n.size) for n in plan.blobs.values() if not store.has(n.digest, n.size)]
    missing += [(d, len(b)) for d, b in plan.prefetched.items() if not store.has(d, len(b))]
    if tarball_current:
        missing = []
    result.update(blobs_fetched=len(missing), bytes_fetched=sum(size for _d, size in missing),
                  changed=not tarball_current and (bool(missing) or not same_document))
    return result


def _result(output: str, form: str, plan: Plan, delta: dict | None) -> dict:
    sizes = plan.sizes()
    return {"changed": False, "output": output, "form": form,
            "images": [{k: image[k] for k in ("reference", "digest", "platforms", "size")} for image in plan.images],
            "blobs_total": len(sizes), "bytes_total": sum(sizes.values()), "blobs_fetched": 0, "bytes_fetched": 0,
            "delta": delta, "parts": [], "warnings": list(plan.warnings)}
