"""The on-disk layout, identical to Distribution's filesystem storage driver, in one place.

pyregistry adds only lock files, in `<root>/.pyregistry-locks/`, outside the `docker/registry/v2` tree that
Distribution reads.
"""
import hashlib
import os

ALGORITHMS = ("sha256",)


def split_digest(digest):
    """'sha256:abcd...' -> ('sha256', 'abcd...')."""
    algorithm, _, hexpart = digest.partition(":")
    return algorithm, hexpart


class Layout:
    """Paths under `<root>/docker/registry/v2` for blobs, repositories, links and uploads."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.base = os.path.join(self.root, "docker", "registry", "v2")
        self.blobs = os.path.join(self.base, "blobs")
        self.repositories = os.path.join(self.base, "repositories")
        self.locks = os.path.join(self.root, ".pyregistry-locks")

    # .pyregistry-locks/<kind>-<stripe>: one of 256 lock files per kind, so their number stays bounded
    def lock(self, kind, key):
        """The lock file guarding `key` (a repository name, ...) among the `kind` locks."""
        return os.path.join(self.locks, f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:2]}")

    def gc_lock(self):
        """Held shared by every write that links a blob or manifest, exclusive by garbage-collect's sweep."""
        return os.path.join(self.locks, "gc")

    # blobs/sha256/ab/abcd.../data
    def blob_dir(self, digest):
        algorithm, hexpart = split_digest(digest)
        return os.path.join(self.blobs, algorithm, hexpart[:2], hexpart)

    def blob_data(self, digest):
        return os.path.join(self.blob_dir(digest), "data")

    # repositories/<name>/...
    def repo(self, name):
        return os.path.join(self.repositories, *name.split("/"))

    def layers(self, name):
        return os.path.join(self.repo(name), "_layers")

    def layer_link(self, name, digest):
        return os.path.join(self.layers(name), *split_digest(digest), "link")

    def manifests(self, name):
        return os.path.join(self.repo(name), "_manifests")

    def revisions(self, name, algorithm="sha256"):
        return os.path.join(self.manifests(name), "revisions", algorithm)

    def revision_link(self, name, digest):
        return os.path.join(self.manifests(name), "revisions", *split_digest(digest), "link")

    def tags(self, name):
        return os.path.join(self.manifests(name), "tags")

    def tag(self, name, tag):
        return os.path.join(self.tags(name), tag)

    def tag_current_link(self, name, tag):
        return os.path.join(self.tag(name, tag), "current", "link")

    def tag_index_link(self, name, tag, digest):
        return os.path.join(self.tag(name, tag), "index", *split_digest(digest), "link")

    def uploads(self, name):
        return os.path.join(self.repo(name), "_uploads")

    def upload(self, name, uuid):
        return os.path.join(self.uploads(name), uuid)

    def upload_data(self, name, uuid):
        return os.path.join(self.upload(name, uuid), "data")

    def upload_startedat(self, name, uuid):
        return os.path.join(self.upload(name, uuid), "startedat")

    def upload_hashstates(self, name, uuid):
        return os.path.join(self.upload(name, uuid), "hashstates")
