# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of `airgap-bundle create` and `airgap-bundle have`, each defined once (docs/bundles.md, issue 13).

`CREATE_OPTIONS` gives the image_bundle module's argument_spec (`seed_options.argument_spec(CREATE_OPTIONS)`) and the
CLI's flags (`seed_options.add_arguments(parser, CREATE_OPTIONS)`); `HAVE_OPTIONS` likewise for `have`.  The option
record, the argparse and argument_spec generators and the value checks are seed_options' (one implementation); the
connection options (username, password, ca_file, validate_certs, scheme, timeout) are registry_api's
CONNECTION_ARGUMENT_SPEC, as for the seed.
"""
from __future__ import annotations

from typing import Any

from ansible_collections.airgap.registry.plugins.module_utils.seed_options import BY_NAME as SEED_OPTIONS
from ansible_collections.airgap.registry.plugins.module_utils.seed_options import Option

# The password's environment variables, first found wins: the bundle's own, then the seed's (kept for scripts).
PASSWORD_VARIABLES = ("AIRGAP_BUNDLE_PASSWORD", "AIRGAP_SEED_PASSWORD")


def _connection(registries: str, certificates: str) -> tuple[Option, ...]:
    """The connection options, their help naming `registries` ("the source registries") and whose `certificates`."""
    return (
        SEED_OPTIONS["username"]._replace(help=f"user name for {registries} (the password: --password-stdin, "
                                          "AIRGAP_BUNDLE_PASSWORD or AIRGAP_SEED_PASSWORD); without it, the credentials "
                                          f"of ~/.docker/config.json for {registries}"),
        SEED_OPTIONS["password"],
        SEED_OPTIONS["ca_file"]._replace(help=f"PEM file of the CA that signed {certificates}"),
        SEED_OPTIONS["validate_certs"]._replace(help=f"do not verify {certificates}"),
        SEED_OPTIONS["scheme"]._replace(help=f"protocol for {registries} (default: https, http only for a loopback "
                                        "registry)"),
        SEED_OPTIONS["timeout"],
        SEED_OPTIONS["retries"],
    )


CREATE_OPTIONS: tuple[Option, ...] = (
    Option("images", {"type": "list", "elements": "str"}, "image references (REGISTRY/PATH:TAG or @DIGEST)",
           "IMAGE", "positional", metavar="IMAGE"),
    Option("images_file", {"type": "path"}, "file of image references, one a line (# comments), or YAML with "
           "per-image platforms", "--images-file", metavar="FILE"),
    Option("output", {"type": "path", "required": True}, "the bundle: a directory (ending in /), NAME.tar or "
           "NAME.tar.zst", "--output", metavar="PATH"),
    Option("platforms", {"type": "list", "elements": "str"}, "keep only this platform of multi-platform images "
           "(repeatable)", "--platform", "repeat", metavar="OS/ARCH[/VARIANT]"),
    Option("platform_policy", {"type": "str", "choices": ["filter", "sparse"], "default": "filter"},
           "with --platform: filter (a new index of the chosen platforms, new digest) or sparse (the original index, "
           "digest kept, only the chosen platforms' blobs)", "--platform-policy"),
    Option("have", {"type": "path"}, "HAVE.json of the site (airgap-bundle have): write a delta", "--have",
           metavar="HAVE.json"),
    Option("split_size", {"type": "str"}, "cut the tarball into parts of at most SIZE bytes (500M, 4G; K, M, G, T are "
           "powers of 1024) plus a checksum file", "--split-size", metavar="SIZE"),
    Option("from_engine", {"type": "bool", "default": False}, "take the images from the local Docker engine "
           "(docker save) instead of their registries", "--from-engine", "switch"),
    SEED_OPTIONS["parallel"]._replace(help="blobs fetched at the same time"),
    *_connection("the source registries", "the registries' TLS certificates"),
)

HAVE_OPTIONS: tuple[Option, ...] = (
    Option("registry", {"type": "str", "required": True}, "HOST:PORT of the site's registry", "--registry"),
    Option("output", {"type": "path", "required": True}, "where to write the HAVE file (JSON)", "--output",
           metavar="HAVE.json"),
    *_connection("the site's registry", "its TLS certificate"),
)

# What a create run starts from; check_mode and option_names are set by the caller.
CREATE_DEFAULTS: dict[str, Any] = {**{o.name: o.default for o in CREATE_OPTIONS}, "check_mode": False,
                                   "option_names": None}
HAVE_DEFAULTS: dict[str, Any] = {**{o.name: o.default for o in HAVE_OPTIONS}, "option_names": None}
