"""image_bundle and image_bundle_have take their argument_spec from bundle_options (the definitions `airgap-bundle create`
and `have` use); their DOCUMENTATION (with the registry_connection fragment) agrees with it, option by option."""
import hashlib
import os

import pytest

from ansible_collections.airgap.registry.plugins.module_utils import bundle_options, seed_options
from ansible_collections.airgap.registry.plugins.modules import image_bundle, image_bundle_have
from tests.helpers.module_docs import assert_documented_as_defined, documented_options

MODULES = ((image_bundle, bundle_options.CREATE_OPTIONS), (image_bundle_have, bundle_options.HAVE_OPTIONS))
PAIRS = [(module, option) for module, options in MODULES for option in options]


@pytest.mark.parametrize(("module", "options"), MODULES, ids=["image_bundle", "image_bundle_have"])
def test_spec_is_generated_and_documented_with_nothing_more(module, options):
    assert module.ARGUMENT_SPEC == seed_options.argument_spec(options)
    assert set(documented_options(module)) == set(module.ARGUMENT_SPEC)
    assert module.ARGUMENT_SPEC["password"].get("no_log") is True


@pytest.mark.parametrize(("module", "option"), PAIRS, ids=[f"{m.__name__.rsplit('.', 1)[-1]}-{o.name}" for m, o in PAIRS])
def test_documentation_agrees_with_the_definition(module, option):
    assert_documented_as_defined(documented_options(module)[option.name], option)


def test_summary_counts_and_units():
    result = {"images": [{}, {}], "blobs_total": 9, "bytes_total": 3 * 1024 * 1024, "blobs_fetched": 2, "bytes_fetched": 512}
    assert image_bundle.summary_of(result, check_mode=False) == "2 images, 9 blobs (3.0 MiB); fetched 2 blobs (512 B)"
    assert image_bundle.summary_of(result, check_mode=True).endswith("would fetch 2 blobs (512 B)")
    assert image_bundle.human_bytes(5 * 1024 ** 4) == "5120.0 GiB"


def test_have_documents_compare_without_their_time():
    doc = {"haveVersion": 1, "created": "2026-11-30T07:00:00Z", "repositories": {"a": {"1": "sha256:x"}}, "blobs": {}}
    assert image_bundle_have.same_but_created(doc, {**doc, "created": "2026-12-30T07:00:00Z"})
    assert not image_bundle_have.same_but_created(doc, {**doc, "repositories": {"a": {"1": "sha256:y"}}})
    assert not image_bundle_have.same_but_created(None, doc)
    assert image_bundle_have.tags_of(doc) == {"a:1": "sha256:x"}


def test_diff_before_reads_a_split_bundle(tmp_path):
    """The diff's `before` of a split bundle (only NAME.tar.partNNN and NAME.tar.sha256 exist) names its images."""
    from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import bundle_document
    from ansible_collections.airgap.registry.plugins.module_utils.bundle_store import BlobStore, member_names, write_tarball

    root = tmp_path / "layout"
    data = os.urandom(40000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    BlobStore(str(root)).put_bytes(digest, data, "blob")
    image = {"reference": "docker.io/library/a:1", "digest": digest, "mediaType": "m", "platforms": [], "size": 1,
             "referrers": []}
    (root / "airgap-bundle.json").write_bytes(bundle_document([image], "2026-01-01T00:00:00Z"))
    for name in ("oci-layout", "index.json"):
        (root / name).write_bytes(b"{}\n")
    out = str(tmp_path / "b.tar")
    assert len(write_tarball(out, str(root), member_names([digest]), False, 16 * 1024)) > 1
    assert image_bundle.bundle_before(out, "16K") == {"docker.io/library/a:1": digest}
    assert image_bundle.bundle_before(out, None) == {}
