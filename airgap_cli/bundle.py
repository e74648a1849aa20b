"""airgap-bundle: write, check and list bundles, one deduplicated OCI image layout for many images (docs/bundles.md).

    airgap-bundle create (IMAGE... | --images-file FILE) --output PATH [--platform OS/ARCH ...] [--have HAVE.json]
                         [--split-size SIZE] [--from-engine]
    airgap-bundle have --registry HOST:PORT --output HAVE.json
    airgap-bundle verify PATH
    airgap-bundle list PATH [--json]

The options of create and have are bundle_options' (shared with the image_bundle module).  The password comes from
standard input (--password-stdin) or AIRGAP_BUNDLE_PASSWORD / AIRGAP_SEED_PASSWORD, never from the command line.
"""
import argparse
import json
import os
import sys
import time
from typing import NoReturn

from ansible_collections.airgap.registry.plugins.module_utils.bundle_options import CREATE_OPTIONS, HAVE_OPTIONS, PASSWORD_VARIABLES
from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError
from ansible_collections.airgap.registry.plugins.module_utils.seed_options import OptionError, add_arguments, check, from_arguments
from ansible_collections.airgap.registry.plugins.module_utils.seed_report import NullProgress, human
from airgap_cli.seed import PlainProgress

PROG = "airgap-bundle"
CLI_OPTION_NAMES = {
    "ca_file": "--ca-file",
    "trust_hint": "pass --ca-file with the registry's CA certificate, or --insecure",
    "scheme_hint": "pass --scheme http",
    "login_hint": "pass --username NAME with --password-stdin, or set AIRGAP_BUNDLE_PASSWORD",
}
EPILOG = """\
password:
  --password-stdin reads the password from the first line of standard input; else the environment variable
  AIRGAP_BUNDLE_PASSWORD (or AIRGAP_SEED_PASSWORD, as for airgap-seed) is used. Never from the command line.
  Without --username, each registry's credentials come from ~/.docker/config.json ($DOCKER_CONFIG), as docker
  and skopeo use them.

examples:
  airgap-bundle create docker.io/library/alpine:3.19 ghcr.io/acme/api:1.4 --output /media/usb/bundle.tar
  airgap-bundle create --images-file images.txt --platform linux/amd64 --output bundle.tar.zst --split-size 4G
  airgap-bundle have --registry reg.site:5000 --ca-file ca.crt --output have.json
  airgap-bundle create --images-file images.txt --have have.json --output delta.tar
  airgap-bundle verify /media/usb/bundle.tar && airgap-bundle list /media/usb/bundle.tar
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line: create and have from bundle_options, verify and list."""
    parser = argparse.ArgumentParser(prog=PROG, description="Write, check and list bundles of images (OCI image layouts).",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    create = commands.add_parser("create", help="write a bundle of images", epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(create, CREATE_OPTIONS)
    create.add_argument("--check", action="store_true", help="report what would be fetched (manifests only), write nothing")
    create.add_argument("--progress", choices=["plain", "none"], default="plain", help="one line per blob on standard error")
    create.add_argument("--report", metavar="FILE", help="write the JSON result here")
    have = commands.add_parser("have", help="write what a registry holds (the HAVE file of a delta)", epilog=EPILOG,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(have, HAVE_OPTIONS)
    for sub in (create, have):
        sub.add_argument("--password-stdin", action="store_true",
                         help="read the password from standard input (default: AIRGAP_BUNDLE_PASSWORD, AIRGAP_SEED_PASSWORD)")
    verify = commands.add_parser("verify", help="re-hash every blob and check every reference resolves",
                                 description="Re-hash split parts against NAME.tar.sha256 and every blob against its "
                                 "name, and follow every reference; exit status 0 when good, 1 with each problem on "
                                 "standard error (the part, file or digest, and what is wrong).")
    verify.add_argument("path", metavar="PATH", help="the bundle: directory, .tar, .tar.zst or split parts")
    listing = commands.add_parser("list", help="images, platforms, sizes and referrers of a bundle")
    listing.add_argument("path", metavar="PATH", help="the bundle: directory, .tar, .tar.zst or split parts")
    listing.add_argument("--json", action="store_true", help="print the listing as JSON")
    return parser


def options(args: argparse.Namespace, table: tuple) -> dict:
    """The options of `table` from the command line and the password; SystemExit (usage, 2) naming the problem."""
    password = next((os.environ[name] for name in PASSWORD_VARIABLES if name in os.environ), None)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if args.username and password is None:
        usage_error(f"--username needs a password (--password-stdin or {PASSWORD_VARIABLES[0]})")
    try:
        opts = from_arguments(args, table)
        check(opts, table)
    except OptionError as exc:
        usage_error(str(exc))
    opts.update(password=password, option_names=CLI_OPTION_NAMES)
    return opts


def usage_error(message: str) -> NoReturn:
    """Print `message` as a usage error and exit 2."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def run_create(args: argparse.Namespace) -> int:
    from ansible_collections.airgap.registry.plugins.module_utils.bundle_create import create_bundle  # noqa: PLC0415

    opts = options(args, CREATE_OPTIONS)
    opts["check_mode"] = args.check
    progress = PlainProgress(sys.stderr, "fetched") if args.progress == "plain" else NullProgress()
    started = time.monotonic()
    result = create_bundle(opts, progress)
    elapsed = time.monotonic() - started
    for warning in result["warnings"]:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    for image in result["images"]:
        platforms = ", ".join(image["platforms"]) or "-"
        print(f"{image['reference']}  {image['digest']}  {platforms}  {human(image['size'])}")
    verb = "would fetch" if args.check else "fetched"
    where = ", ".join(result["parts"]) if result["parts"] else result["output"]
    delta = f", delta relying on {len(result['delta']['blobs'])} blobs at the site" if result["delta"] else ""
    print(f"{len(result['images'])} images, {result['blobs_total']} blobs ({human(result['bytes_total'])}), "
          f"{result['blobs_fetched']} {verb} ({human(result['bytes_fetched'])}){delta}; "
          f"{'unchanged' if not result['changed'] else ('would write' if args.check else 'wrote')} {where} "
          f"in {elapsed:.1f}s")
    if args.report:
        from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_bytes_atomically  # noqa: PLC0415

        write_bytes_atomically(args.report, (json.dumps(result, indent=2) + "\n").encode())
    return 0


def run_have(args: argparse.Namespace) -> int:
    from ansible_collections.airgap.registry.plugins.module_utils.bundle_have import have  # noqa: PLC0415

    result = have(options(args, HAVE_OPTIONS))
    print(f"{result['registry']}: {result['repositories']} repositories, {result['tags']} tags, {result['manifests']} "
          f"manifests, {result['blobs']} blobs; wrote {result['output']}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from ansible_collections.airgap.registry.plugins.module_utils.bundle_verify import verify_bundle  # noqa: PLC0415 - helper B's

    problems = verify_bundle(args.path)
    for problem in problems:
        print(f"{PROG}: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"{args.path}: good")
    return 0


def list_table(listing: dict) -> str:
    """The listing (bundle_verify.list_bundle) as a table: reference, digest, platforms, size, referrers."""
    rows = [("REFERENCE", "DIGEST", "PLATFORMS", "SIZE", "REFERRERS")]
    for image in listing.get("images") or []:
        rows.append((image["reference"], image["digest"][:19], ",".join(image.get("platforms") or []) or "-",
                     human(image.get("size") or 0), str(len(image.get("referrers") or []))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    delta = listing.get("delta")
    lines.append(f"{listing.get('form')}: {listing.get('blobs')} blobs, {human(listing.get('bytes') or 0)}"
                 + (f"; a delta relying on {len(delta.get('blobs') or {})} blobs at {delta.get('registry')}" if delta else ""))
    return "\n".join(lines)


def run_list(args: argparse.Namespace) -> int:
    from ansible_collections.airgap.registry.plugins.module_utils.bundle_verify import list_bundle  # noqa: PLC0415 - helper B's

    listing = list_bundle(args.path)
    print(json.dumps(listing, indent=2) if args.json else list_table(listing))
    return 0


COMMANDS = {"create": run_create, "have": run_have, "verify": run_verify, "list": run_list}


def main(argv: list[str] | None = None) -> int:
    """Run airgap-bundle; the exit status: 0 done, 1 failed (or problems found by verify), 2 usage."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except AirgapError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{PROG}: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
