"""The on-disk layout, identical to Distribution's filesystem storage driver, in one place.

pyregistry adds only lock files, in `<root>/.pyregistry-locks/`, outside the `docker/registry/v2` tree that
Distribution reads.
"""
from __future__ import annotations

import hashlib
import os

BLOB_DATA = "data"  # the file holding a blob's bytes in its directory


def split_digest(digest: str) -> tuple[str, str]:
    """'sha256:abcd...' -> ('sha256', 'abcd...')."""
    algorithm, _, hexpart = digest.partition(":")
    return algorithm, hexpart


class Layout:
    """Every path pyregistry uses: under `<root>/docker/registry/v2` for blobs, repositories, links and uploads
    (Distribution's filesystem layout), and its lock files. Nothing else builds a storage path."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.base = os.path.join(self.root, "docker", "registry", "v2")
        self.blobs = os.path.join(self.base, "blobs")
        self.repositories = os.path.join(self.base, "repositories")
        self.locks = os.path.join(self.root, ".pyregistry-locks")

    # .pyregistry-locks/<kind>-<stripe>: one of 256 lock files per kind, so their number stays bounded
    def lock(self, kind: str, key: str) -> str:
        """The lock file guarding `key` (a repository name, ...) among the `kind` locks."""
        return os.path.join(self.locks, f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:2]}")

    def gc_lock(self) -> str:
        """Held shared by every write that links a blob or manifest, exclusive by garbage-collect's sweep."""
        return os.path.join(self.locks, "gc")

    # blobs/sha256/ab/abcd.../data
    def blob_algorithm(self, algorithm: str = "sha256") -> str:
        """blobs/<algorithm>: holds one directory per two-hex-digit prefix."""
        return os.path.join(self.blobs, algorithm)

    def blob_prefix(self, prefix: str, algorithm: str = "sha256") -> str:
        """blobs/<algorithm>/<prefix>: holds the directories of the blobs whose hex digest starts with `prefix`."""
        return os.path.join(self.blob_algorithm(algorithm), prefix)

    def blob_dir(self, digest: str) -> str:
        """blobs/<algorithm>/<hex[:2]>/<hex>: a blob's directory."""
        algorithm, hexpart = split_digest(digest)
        return os.path.join(self.blob_prefix(hexpart[:2], algorithm), hexpart)

    @staticmethod
    def blob_data_in(blob_dir: str) -> str:
        """The data file inside a blob directory (also one set aside under another name)."""
        return os.path.join(blob_dir, BLOB_DATA)

    def blob_data(self, digest: str) -> str:
        """A blob's bytes."""
        return self.blob_data_in(self.blob_dir(digest))

    # repositories/<name>/...
    def repo(self, name: str) -> str:
        """A repository's directory ('a/b' -> repositories/a/b)."""
        return os.path.join(self.repositories, *name.split("/"))

    def layers(self, name: str, algorithm: str = "sha256") -> str:
        """_layers/<algorithm>: one directory per blob linked into the repository."""
        return os.path.join(self.repo(name), "_layers", algorithm)

    def layer_dir(self, name: str, digest: str) -> str:
        """_layers/<algorithm>/<hex>: the directory of one layer link (removed whole to unlink the blob)."""
        return os.path.join(self.repo(name), "_layers", *split_digest(digest))

    def layer_link(self, name: str, digest: str) -> str:
        return os.path.join(self.layer_dir(name, digest), "link")

    def manifests(self, name: str) -> str:
        return os.path.join(self.repo(name), "_manifests")

    def revisions(self, name: str, algorithm: str = "sha256") -> str:
        """_manifests/revisions/<algorithm>: one directory per manifest revision."""
        return os.path.join(self.manifests(name), "revisions", algorithm)

    def revision_dir(self, name: str, digest: str) -> str:
        """revisions/<algorithm>/<hex>: the directory of one revision link (removed whole to delete the revision)."""
        return os.path.join(self.manifests(name), "revisions", *split_digest(digest))

    def revision_link(self, name: str, digest: str) -> str:
        return os.path.join(self.revision_dir(name, digest), "link")

    def tags(self, name: str) -> str:
        return os.path.join(self.manifests(name), "tags")

    def tag(self, name: str, tag: str) -> str:
        return os.path.join(self.tags(name), tag)

    def tag_current_link(self, name: str, tag: str) -> str:
        return os.path.join(self.tag(name, tag), "current", "link")

    def tag_index_dir(self, name: str, tag: str, digest: str) -> str:
        """The directory of a tag's index entry for `digest` (a manifest the tag pointed at)."""
        return os.path.join(self.tag(name, tag), "index", *split_digest(digest))

    def tag_index_link(self, name: str, tag: str, digest: str) -> str:
        return os.path.join(self.tag_index_dir(name, tag, digest), "link")

    def uploads(self, name: str) -> str:
        return os.path.join(self.repo(name), "_uploads")

    def upload(self, name: str, uuid: str) -> str:
        return os.path.join(self.uploads(name), uuid)

    def upload_data(self, name: str, uuid: str) -> str:
        return os.path.join(self.upload(name, uuid), "data")

    def upload_startedat(self, name: str, uuid: str) -> str:
        return os.path.join(self.upload(name, uuid), "startedat")
