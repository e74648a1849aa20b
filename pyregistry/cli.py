"""Command line: `pyregistry serve CONFIG.yml` and `pyregistry garbage-collect [--dry-run] [--delete-untagged] CONFIG.yml`."""
from __future__ import annotations

import argparse
import logging
import sys

from pyregistry import __version__
from pyregistry.config import ConfigError, load, parse_duration
from pyregistry.output import install_filter

LOG_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "warning": logging.WARNING,
              "error": logging.ERROR, "fatal": logging.CRITICAL, "panic": logging.CRITICAL}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyregistry", description="A pure-Python OCI Distribution registry (drop-in for registry:2).")
    parser.add_argument("--version", action="version", version=f"pyregistry {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the registry API")
    serve.add_argument("config", nargs="?", help="Distribution config.yml (REGISTRY_* environment variables override it)")
    gc = sub.add_parser("garbage-collect", help="delete blobs no manifest references")
    gc.add_argument("config", help="Distribution config.yml")
    gc.add_argument("-d", "--dry-run", action="store_true", help="report what would be deleted, delete nothing")
    gc.add_argument("-m", "--delete-untagged", action="store_true", help="also delete manifests no tag (or tagged index, or kept subject) reaches")
    gc.add_argument("--grace-period", default="1m", help="keep blobs written or linked more recently than this (Go duration, default 1m)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `pyregistry serve` or `pyregistry garbage-collect`; returns the exit code (2: configuration error)."""
    args = _parser().parse_args(argv)
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"pyregistry: configuration error: {exc}", file=sys.stderr)
        return 2
    fields = "".join(f" {key}={value}" for key, value in sorted(config.log.fields.items())).replace("%", "%%")
    level = LOG_LEVELS.get(config.log.level, logging.INFO)
    logging.basicConfig(level=level, stream=sys.stderr, format=f"%(asctime)s %(levelname)s %(name)s: %(message)s{fields}")
    install_filter()
    for level_name, note in config.notes:
        getattr(logging.getLogger("pyregistry"), level_name)("configuration: %s", note)
    if args.command == "serve":
        from pyregistry.server import run

        try:
            return run(config)
        except OSError as exc:
            print(f"pyregistry: cannot serve: {exc}", file=sys.stderr)
            return 1
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
