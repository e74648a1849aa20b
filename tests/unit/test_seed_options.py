"""The seed's options are defined once (seed_options.OPTIONS): the module's spec, its DOCUMENTATION and the CLI agree."""
import pytest

from airgap_cli.seed import build_parser
from ansible_collections.airgap.registry.plugins.module_utils import seed_options
from ansible_collections.airgap.registry.plugins.modules import image_seed
from tests.helpers.module_docs import assert_documented_as_defined, documented_options

# Scripts call these; renaming one breaks them.
CLI_FLAGS = {"--registry", "--transport", "--layers", "--hub-library", "--rename", "--username", "--password-stdin", "--ca-file",
             "--insecure", "--scheme", "--parallel", "--retries", "--timeout", "--chunk-size", "--check", "--report", "--progress",
             "--platform", "--platform-policy"}
MODULE_OPTIONS = {"src", "registry", "transport", "layers", "hub_library", "rename", "parallel", "retries", "chunk_size",
                  "platforms", "platform_policy", "username", "password", "ca_file", "validate_certs", "scheme", "timeout"}


def test_module_spec_is_generated_from_the_options():
    assert image_seed.ARGUMENT_SPEC == seed_options.argument_spec()
    assert set(image_seed.ARGUMENT_SPEC) == MODULE_OPTIONS


@pytest.mark.parametrize("option", seed_options.OPTIONS, ids=lambda o: o.name)
def test_documentation_agrees_with_the_definition(option):
    assert_documented_as_defined(documented_options(image_seed)[option.name], option)


def test_documentation_has_no_other_option():
    assert set(documented_options(image_seed)) == MODULE_OPTIONS


def test_cli_flags_are_kept():
    parser = build_parser()
    flags = {flag for action in parser._actions for flag in action.option_strings if flag.startswith("--") and flag != "--help"}
    assert flags == CLI_FLAGS


def test_cli_arguments_become_seed_options():
    args = build_parser().parse_args(["a.tar", "b", "--registry", "r:1", "--insecure", "--hub-library", "--rename", "x=y",
                                      "--rename", "p=q:1", "--parallel", "2", "--chunk-size", "4096"])
    opts = seed_options.from_arguments(args)
    assert opts == {"src": ["a.tar", "b"], "registry": "r:1", "transport": "direct", "layers": "preserve", "hub_library": True,
                    "rename": {"x": "y", "p": "q:1"}, "username": None, "ca_file": None, "validate_certs": False, "scheme": None,
                    "parallel": 2, "retries": 4, "timeout": 60, "chunk_size": 4096, "platforms": None,
                    "platform_policy": "full"}
    args = build_parser().parse_args(["a", "--registry", "r:1", "--platform", "linux/amd64", "--platform", "linux/arm/v7",
                                      "--platform-policy", "filter"])
    opts = seed_options.from_arguments(args)
    assert opts["platforms"] == ["linux/amd64", "linux/arm/v7"] and opts["platform_policy"] == "filter"
    with pytest.raises(seed_options.OptionError, match="--rename wants OLD=NEW, not 'x'"):
        seed_options.from_arguments(build_parser().parse_args(["a", "--registry", "r:1", "--rename", "x"]))


def test_defaults_come_from_the_definitions():
    assert seed_options.DEFAULTS["parallel"] == 4 and seed_options.DEFAULTS["validate_certs"] is True
    assert seed_options.DEFAULTS["layers"] == "preserve" and seed_options.DEFAULTS["check_mode"] is False


@pytest.mark.parametrize(("opts", "message"), [
    ({"layers": "bzip2"}, "layers must be preserve, gzip or zstd, not 'bzip2'"),
    ({"transport": "ssh"}, "transport must be direct or engine, not 'ssh'"),
    ({"parallel": 0}, "parallel must be at least 1"),
    ({"chunk_size": 0}, "chunk_size must be a positive number of bytes"),
    ({"platform_policy": "thin"}, "platform_policy must be full, sparse or filter, not 'thin'"),
])
def test_check_names_the_option(opts, message):
    with pytest.raises(seed_options.OptionError) as err:
        seed_options.check(opts)
    assert str(err.value) == message
    seed_options.check({"parallel": 1, "chunk_size": None, "layers": "zstd"})
