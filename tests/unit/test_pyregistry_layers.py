"""pyregistry's layers: storage, handlers and garbage-collect reach the disk only through the storage driver, paths
only through Layout, and storage names no HTTP status (issue 11)."""
import ast
import hashlib
import pathlib

from pyregistry import errors, gc
from pyregistry.driver import FilesystemDriver
from pyregistry.storage import Storage

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "pyregistry"
FILE_ACCESS = {"open", "os.open", "os.fdopen", "os.utime", "os.makedirs", "os.path.join", "os.path.isdir", "os.stat",
               "os.listdir", "os.rename", "os.replace", "os.unlink", "os.ftruncate", "shutil.rmtree"}


def calls(module):
    """Dotted names of everything called in pyregistry/<module>.py."""
    found = set()
    for node in ast.walk(ast.parse((PACKAGE / module).read_text())):
        if isinstance(node, ast.Call):
            found.add(ast.unparse(node.func))
    return found


def test_no_file_access_outside_the_driver():
    for module in ("storage.py", "handlers.py", "gc.py"):
        assert not calls(module) & FILE_ACCESS, (module, calls(module) & FILE_ACCESS)


def identifiers(module):
    """Names, attributes and keyword arguments used in the code (not the docstrings) of pyregistry/<module>.py."""
    found = set()
    for node in ast.walk(ast.parse((PACKAGE / module).read_text())):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            found.add(node.arg)
    return found


def test_gc_builds_no_path_and_storage_names_no_status():
    assert "layout" not in identifiers("gc.py") and "driver" not in identifiers("gc.py")
    for module in ("storage.py", "manifests.py", "paths.py", "driver.py"):
        assert not {"status", "http_status"} & identifiers(module), module


class RecordingDriver(FilesystemDriver):
    """The filesystem driver, noting every path written, moved to or deleted."""

    def __init__(self):
        self.changed = []

    def write(self, path, data, durable=True):
        self.changed.append(("write", path))
        super().write(path, data, durable)

    def move(self, src, dst):
        self.changed.append(("move", dst))
        super().move(src, dst)

    def delete(self, path, durable=True):
        self.changed.append(("delete", path))
        return super().delete(path, durable)


def test_storage_and_gc_go_through_the_given_driver(tmp_path, monkeypatch):
    recorder = RecordingDriver()
    store = Storage(str(tmp_path), delete_enabled=True, driver=recorder)
    upload = store.start_upload("a")
    writer = store.upload_writer("a", upload)
    writer.write([b"garbage"])
    writer.close()
    digest = "sha256:" + hashlib.sha256(b"garbage").hexdigest()
    store.commit_upload("a", upload, digest)
    assert ("move", store.layout.blob_data(digest)) in recorder.changed
    assert ("write", store.layout.layer_link("a", digest)) in recorder.changed
    monkeypatch.setattr(gc, "Storage", lambda root, delete_enabled: Storage(root, delete_enabled, driver=recorder))
    assert gc.collect(str(tmp_path), grace=0).blobs == [digest]
    assert ("delete", store.layout.layer_dir("a", digest)) in recorder.changed and not store.blob_exists(digest)


def test_every_error_has_one_base_and_statuses_come_from_one_table():
    assert issubclass(errors.RegistryError, errors.PyRegistryError) and issubclass(errors.ConfigError, errors.PyRegistryError)
    assert errors.http_status(errors.ManifestTooLarge()) == 413 and errors.http_status(errors.ManifestInvalid()) == 400
    assert errors.http_status(errors.NoEndpoint()) == 404 and errors.http_status(errors.Unsupported()) == 405
    assert errors.http_status(errors.InsufficientStorage()) == 507 and errors.BlobUnknown().status == 404
