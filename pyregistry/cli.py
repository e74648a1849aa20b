"""Command line: `pyregistry serve CONFIG.yml`, `pyregistry serve-bundle PATH [--addr HOST:PORT] [--config CONFIG.yml]
[--hub-library]` and `pyregistry garbage-collect [--dry-run] [--delete-untagged] CONFIG.yml`."""
from __future__ import annotations

import argparse
import logging
import sys

from pyregistry import __version__
from pyregistry.config import Config, ConfigError, load, parse_addr, parse_duration
from pyregistry.output import install_filter

LOG_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "warning": logging.WARNING,
              "error": logging.ERROR, "fatal": logging.CRITICAL, "panic": logging.CRITICAL}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyregistry", description="A pure-Python OCI Distribution registry (drop-in for registry:2).")
    parser.add_argument("--version", action="version", version=f"pyregistry {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the registry API")
    serve.add_argument("config", nargs="?", help="Distribution config.yml (REGISTRY_* environment variables override it)")
    bundle = sub.add_parser("serve-bundle", help="serve a bundle (OCI layout directory or .tar) in place, read-only")
    bundle.add_argument("bundle", metavar="PATH", help="bundle directory, uncompressed .tar, or its split parts (docs/bundles.md)")
    bundle.add_argument("--addr", help="HOST:PORT to listen on (overrides http.addr; default :5000)")
    bundle.add_argument("--config", help="Distribution config.yml for http (TLS, headers, prefix), auth.htpasswd, log and "
                                         "pyregistry settings, as serve reads it (REGISTRY_* environment variables override it)")
    bundle.add_argument("--hub-library", action="store_true",
                        help="serve docker.io/library/NAME as library/NAME (default: NAME, as the seed's retag rule)")
    gc = sub.add_parser("garbage-collect", help="delete blobs no manifest references")
    gc.add_argument("config", help="Distribution config.yml")
    gc.add_argument("-d", "--dry-run", action="store_true", help="report what would be deleted, delete nothing")
    gc.add_argument("-m", "--delete-untagged", action="store_true", help="also delete manifests no tag (or tagged index, or kept subject) reaches")
    gc.add_argument("--grace-period", default="1m", help="keep blobs written or linked more recently than this (Go duration, default 1m)")
    return parser


def _serve(config: Config, args: argparse.Namespace) -> int:
    """`serve`, or `serve-bundle` (read-only, storage from the bundle); exit code 1 when the socket or TLS files fail,
    2 when the bundle cannot be served."""
    from pyregistry.server import run

    storage, source = None, None
    if args.command == "serve-bundle":
        from pyregistry.bundle import BundleServeError, BundleStorage

        config.storage.readonly = True
        try:
            storage = BundleStorage(args.bundle, hub_library=args.hub_library)
        except BundleServeError as exc:
            print(f"pyregistry: cannot serve the bundle: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"pyregistry: cannot read the bundle {args.bundle}: {exc}", file=sys.stderr)
            return 2
        source = f"bundle {args.bundle}: {len(storage.repos)} repositories, read-only"
    try:
        return run(config, storage, source)
    except OSError as exc:
        print(f"pyregistry: cannot serve: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Run `pyregistry serve`, `serve-bundle` or `garbage-collect`; returns the exit code (2: configuration error or a
    bundle that cannot be served)."""
    args = _parser().parse_args(argv)
    try:
        config = load(args.config)
        if args.command == "serve-bundle" and args.addr:
            config.http.host, config.http.port = parse_addr(args.addr)
    except ConfigError as exc:
        print(f"pyregistry: configuration error: {exc}", file=sys.stderr)
        return 2
    fields = "".join(f" {key}={value}" for key, value in sorted(config.log.fields.items())).replace("%", "%%")
    level = LOG_LEVELS.get(config.log.level, logging.INFO)
    logging.basicConfig(level=level, stream=sys.stderr, format=f"%(asctime)s %(levelname)s %(name)s: %(message)s{fields}")
    install_filter()
    for level_name, note in config.notes:
        getattr(logging.getLogger("pyregistry"), level_name)("configuration: %s", note)
    if args.command in ("serve", "serve-bundle"):
        return _serve(config, args)
    from pyregistry.gc import collect

    try:
        grace = parse_duration(args.grace_period)
    except ConfigError as exc:
        print(f"pyregistry: {exc}", file=sys.stderr)
        return 2
    report = collect(config.storage.rootdirectory, dry_run=args.dry_run, delete_untagged=args.delete_untagged, grace=grace)
    for line in report.lines():
        print(line)
    return 0
