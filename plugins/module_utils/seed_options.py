# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed's options, each defined once: name, type, default, choices, help and `airgap-seed` flag.

The image_seed module's argument_spec (`argument_spec()`), the CLI's argparse (`add_arguments()`), the defaults a
seed run starts from (`DEFAULTS`) and the checks of values (`check()`) are generated from `OPTIONS`.  The connection
options (username, password, ca_file, validate_certs, scheme, timeout) take their type, default and choices from
registry_api.CONNECTION_ARGUMENT_SPEC, which every registry module shares.  The module's DOCUMENTATION stays
hand-written YAML (Ansible sanity reads it); tests/unit/test_seed_options.py checks that it agrees with `OPTIONS`.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import CONNECTION_ARGUMENT_SPEC

# How a value reaches the CLI: "positional" (SRC...; none given is allowed when not required), "value" (--flag VALUE),
# "switch" (--flag sets True), "inverted" (--flag sets False), "pairs" (--flag OLD=NEW, repeatable, gives a dict),
# "repeat" (--flag VALUE, repeatable, gives a list), "none" (not a flag).
CLI_KINDS = ("positional", "value", "switch", "inverted", "pairs", "repeat", "none")
_CLI_TYPES = {"int": int}


class Option(NamedTuple):
    """One seed option. `spec` holds the argument_spec keys (type, default, choices, elements, required, no_log); `cli`
    is one of CLI_KINDS; `minimum_says` completes "NAME ..." when a value is under `minimum`."""

    name: str
    spec: dict[str, Any]
    help: str
    flag: str | None = None
    cli: str = "value"
    metavar: str | None = None
    minimum: int | None = None
    minimum_says: str = "must be at least {minimum}"

    @property
    def default(self) -> Any:
        """The value a run uses when the option is not given (None when it has no default)."""
        return self.spec.get("default")


def _connection(name: str, help_text: str, flag: str | None, cli: str = "value") -> Option:
    """A connection option: its spec is registry_api's (shared by every registry module)."""
    return Option(name, dict(CONNECTION_ARGUMENT_SPEC[name]), help_text, flag, cli)


OPTIONS: tuple[Option, ...] = (
    Option("src", {"type": "list", "elements": "path", "required": True},
           "image tarballs, directories of tarballs, glob patterns, bundles (a layout directory, NAME.tar, NAME.tar.zst "
           "or their split parts; docs/bundles.md)", "SRC", "positional", metavar="SRC"),
    Option("registry", {"type": "str", "required": True}, "HOST:PORT of the registry", "--registry"),
    Option("transport", {"type": "str", "choices": ["direct", "engine"], "default": "direct"},
           "direct: the registry API, no engine; engine: docker load, tag, push", "--transport"),
    Option("layers", {"type": "str", "choices": ["preserve", "gzip", "zstd"], "default": "preserve"},
           "how layers are stored in the registry (direct transport)", "--layers"),
    Option("hub_library", {"type": "bool", "default": False}, "keep library/ for Docker Hub official images",
           "--hub-library", "switch"),
    Option("rename", {"type": "dict"}, "explicit rename (repeatable)", "--rename", "pairs", metavar="OLD=NEW"),
    _connection("username", "user name for the registry (the password: --password-stdin or AIRGAP_SEED_PASSWORD)", "--username"),
    _connection("password", "password for the registry (the CLI reads it from standard input or AIRGAP_SEED_PASSWORD)",
                None, "none"),
    _connection("ca_file", "PEM file of the CA that signed the registry's TLS certificate", "--ca-file"),
    _connection("validate_certs", "do not verify the registry's TLS certificate", "--insecure", "inverted"),
    _connection("scheme", "protocol for the registry (default: https, http only for a loopback registry)", "--scheme"),
    Option("parallel", {"type": "int", "default": 4}, "blobs and images pushed at the same time", "--parallel", minimum=1),
    Option("retries", {"type": "int", "default": 4}, "retries of a registry request (exponential backoff)", "--retries"),
    _connection("timeout", "seconds to wait for a single answer of the registry", "--timeout"),
    Option("chunk_size", {"type": "int"}, "upload blobs in chunks of this many bytes", "--chunk-size",
           minimum=1, minimum_says="must be a positive number of bytes"),
    Option("platforms", {"type": "list", "elements": "str"},
           "platform of a multi-platform image to carry, os/arch[/variant] (repeatable; with --platform-policy sparse or "
           "filter)", "--platform", "repeat", metavar="OS/ARCH[/VARIANT]"),
    Option("platform_policy", {"type": "str", "choices": ["full", "sparse", "filter"], "default": "full"},
           "full: every platform, index digest kept; sparse: the original index with only the chosen platforms' "
           "manifests (digest kept; the registry must accept sparse indexes); filter: a new index of the chosen "
           "platforms (new digest)", "--platform-policy"),
)
BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}
# What a run starts from; check_mode and option_names are set by the caller, not by an option of the module.
DEFAULTS: dict[str, Any] = {**{o.name: o.default for o in OPTIONS if o.name not in ("src", "registry")},
                            "check_mode": False, "option_names": None}


class OptionError(AirgapError, ValueError):
    """An option value the seed refuses; the message names the option (`name must be ...`)."""


def argument_spec(options: tuple[Option, ...] = OPTIONS) -> dict[str, dict[str, Any]]:
    """The module's argument_spec of `options` (image_seed's by default): {name: {type, default, choices, ...}} (a
    fresh copy)."""
    return {o.name: {**o.spec, **({"choices": list(o.spec["choices"])} if "choices" in o.spec else {})} for o in options}


def add_arguments(parser: Any, options: tuple[Option, ...] = OPTIONS) -> None:
    """Add every option of `options` (the seed's by default) that has a flag to an argparse parser (dest = the
    option's name)."""
    for option in options:
        if option.cli == "none":
            continue
        kwargs: dict[str, Any] = {"help": option.help}
        if option.cli == "positional":
            parser.add_argument(option.name, nargs="+" if option.spec.get("required") else "*", metavar=option.metavar, **kwargs)
            continue
        if option.cli in ("switch", "inverted"):
            kwargs["action"] = "store_true"
        elif option.cli in ("pairs", "repeat"):
            kwargs.update(action="append", metavar=option.metavar)
        else:
            kwargs.update(type=_CLI_TYPES.get(option.spec["type"], str), default=option.default, metavar=option.metavar)
            if "choices" in option.spec:
                kwargs["choices"] = list(option.spec["choices"])
            if option.spec.get("required"):
                kwargs["required"] = True
        parser.add_argument(option.flag, dest=option.name, **kwargs)


def parse_pairs(flag: str, items: list[str] | None) -> dict[str, str]:
    """{OLD: NEW} of repeated `OLD=NEW` values; OptionError naming `flag` and the bad item."""
    pairs = {}
    for item in items or []:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise OptionError(f"{flag} wants OLD=NEW, not {item!r}")
        pairs[old] = new
    return pairs


def from_arguments(args: Any, options: tuple[Option, ...] = OPTIONS) -> dict[str, Any]:
    """Options {name: value} of `options` (the seed's by default) from parsed CLI arguments (an argparse Namespace);
    OptionError for a bad pair."""
    opts = {}
    for option in options:
        if option.cli == "none":
            continue
        value = getattr(args, option.name)
        if option.cli == "inverted":
            value = not value
        elif option.cli == "pairs":
            value = parse_pairs(option.flag or option.name, value)
        opts[option.name] = value
    return opts


def check(opts: dict[str, Any], options: tuple[Option, ...] = OPTIONS) -> None:
    """OptionError for the first value of `options` (the seed's by default) outside its choices or under its minimum
    (None counts as not given)."""
    for option in options:
        value = opts.get(option.name)
        if value is None or option.name in CONNECTION_ARGUMENT_SPEC:  # the registry client checks its own
            continue
        choices = option.spec.get("choices")
        if choices and value not in choices:
            listed = ", ".join(choices[:-1]) + " or " + choices[-1]
            raise OptionError(f"{option.name} must be {listed}, not {value!r}")
        if option.minimum is not None and int(value) < option.minimum:
            raise OptionError(f"{option.name} {option.minimum_says.format(minimum=option.minimum)}")
