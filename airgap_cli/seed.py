"""airgap-seed: push the images of image tarballs into a registry, like the airgap.registry.image_seed module.

    airgap-seed DIR_OR_FILE... --registry HOST:PORT [--transport direct|engine] [--layers preserve|gzip|zstd] [--report out.json]

Progress bars per layer and overall on a terminal, plain lines otherwise. The password comes from standard input
(--password-stdin) or the AIRGAP_SEED_PASSWORD environment variable, never from the command line.
"""
import argparse
import json
import os
import sys
import threading
import time
from typing import Hashable, TextIO

from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryError
from ansible_collections.airgap.registry.plugins.module_utils.seed import NullProgress, SeedError, Seeder, human
from ansible_collections.airgap.registry.plugins.module_utils.seed_options import OptionError, add_arguments, from_arguments
from ansible_collections.airgap.registry.plugins.module_utils.seed_report import SeedResult, TargetResult

BAR_WIDTH = 24
REFRESH = 0.2
# Errors name this command's flags, not the module's options.
CLI_OPTION_NAMES = {
    "src": "SRC",
    "ca_file": "--ca-file",
    "trust_hint": "pass --ca-file with the registry's CA certificate, or --insecure",
    "scheme_hint": "pass --scheme http",
    "login_hint": "pass --username NAME with --password-stdin, or set AIRGAP_SEED_PASSWORD",
}
EPILOG = """\
password:
  --password-stdin reads the password from the first line of standard input; else the environment variable
  AIRGAP_SEED_PASSWORD is used. A password is never taken from the command line.

examples:
  airgap-seed /media/usb/bundle --registry reg.local:5000 --ca-file ca.crt --username admin --password-stdin < pw.txt
  AIRGAP_SEED_PASSWORD=... airgap-seed bundle/*.tar --registry reg.local:5000 --username admin --check
"""


def target_line(state: str, result: TargetResult) -> str:
    """The line printed when a target is settled; check mode counts what would be sent, not what was."""
    if result.bytes_to_send is not None:
        if not result.changed:
            return f"{state:8} {result.target}"
        return (f"{state:8} {result.target} ({result.blobs_pushed} blobs, {human(result.bytes_to_send)} to send, "
                f"{result.blobs_mounted} to mount, {result.blobs_skipped} present)")
    return (f"{state:8} {result.target} ({human(result.bytes_sent)} sent, {result.blobs_pushed} pushed, "
            f"{result.blobs_mounted} mounted, {result.blobs_skipped} skipped)")


class PlainProgress(NullProgress):
    """One line per settled blob and per settled image (for logs and pipes)."""

    def __init__(self, out: TextIO, pushed: str = "pushed") -> None:
        self.out = out
        self.pushed = pushed
        self.lock = threading.Lock()

    def _line(self, text: str) -> None:
        with self.lock:
            self.out.write(text + "\n")
            self.out.flush()

    def blob_done(self, key: Hashable, how: str, label: str) -> None:
        self._line(f"{how:8} {label}")

    def target_done(self, result: TargetResult) -> None:
        self._line(target_line(self.pushed if result.changed else "present", result))


class BarProgress(PlainProgress):
    """Live bars: one per blob in flight and an overall line, redrawn in place on a terminal."""

    def __init__(self, out: TextIO, pushed: str = "pushed") -> None:
        super().__init__(out, pushed)
        self.active = {}
        self.sent = 0
        self.done_targets = 0
        self.total_targets = 0
        self.drawn = 0
        self.start = time.monotonic()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def blob_start(self, key: Hashable, label: str, total: int | None) -> None:
        with self.lock:
            self.active[key] = [label, total, 0]

    def blob_advance(self, key: Hashable, n: int) -> None:
        with self.lock:
            self.sent += n
            if key in self.active:
                self.active[key][2] += n

    def blob_done(self, key: Hashable, how: str, label: str) -> None:
        with self.lock:
            self.active.pop(key, None)
            self._clear()
            self.out.write(f"{how:8} {label}\n")

    def targets_planned(self, count: int) -> None:
        with self.lock:
            self.total_targets = count

    def target_done(self, result: TargetResult) -> None:
        with self.lock:
            self.done_targets += 1
            self._clear()
            self.out.write(target_line(self.pushed if result.changed else "present", result) + "\n")

    def _clear(self):
        if self.drawn:
            self.out.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def _bar(self, done, total):
        if not total:
            return "[" + "~" * BAR_WIDTH + "]"
        filled = int(BAR_WIDTH * min(done / total, 1))
        return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"

    def _draw(self):
        with self.lock:
            self._clear()
            lines = []
            for label, total, done in list(self.active.values())[:8]:
                size = f"{human(done)}/{human(total)}" if total else human(done)
                lines.append(f"  {self._bar(done, total)} {size:>22} {label}")
            elapsed = max(time.monotonic() - self.start, 1e-6)
            images = f"{self.done_targets}/{self.total_targets} images" if self.total_targets else ""
            lines.append(f"  overall {images} {human(self.sent)} sent, {human(self.sent / elapsed)}/s")
            self.out.write("\n".join(lines) + "\n")
            self.out.flush()
            self.drawn = len(lines)

    def _loop(self):
        while not self.stop.wait(REFRESH):
            self._draw()

    def close(self) -> None:
        """Stop redrawing and clear the bars."""
        self.stop.set()
        self.thread.join()
        with self.lock:
            self._clear()
            self.out.flush()


def build_parser() -> argparse.ArgumentParser:
    """The command line: the seed's options (seed_options.OPTIONS) and this command's own flags."""
    parser = argparse.ArgumentParser(prog="airgap-seed", description="Push the images of image tarballs or bundles into a registry.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input (default: the AIRGAP_SEED_PASSWORD environment variable)")
    parser.add_argument("--check", action="store_true", help="report what would be pushed, push nothing")
    parser.add_argument("--report", metavar="FILE", help="write the JSON report here")
    parser.add_argument("--progress", choices=["auto", "bars", "plain", "none"], default="auto")
    return parser


def seed_options(args: argparse.Namespace) -> dict | int:
    """The seed's options from the command line and the password (stdin or AIRGAP_SEED_PASSWORD); 2 (usage) when they
    cannot be used, the reason printed.  SystemExit for a bad --rename."""
    password = os.environ.get("AIRGAP_SEED_PASSWORD")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if args.username and password is None:
        print("airgap-seed: --username needs a password (--password-stdin or AIRGAP_SEED_PASSWORD)", file=sys.stderr)
        return 2
    try:
        opts = from_arguments(args)
    except OptionError as exc:
        raise SystemExit(f"airgap-seed: {exc}") from None
    opts.update(password=password, check_mode=args.check, option_names=CLI_OPTION_NAMES)
    if args.report:
        report_dir = os.path.dirname(os.path.abspath(args.report))
        if not os.path.isdir(report_dir) or os.path.isdir(args.report):
            what = f"{report_dir} is not a directory" if not os.path.isdir(report_dir) else "it is a directory"
            print(f"airgap-seed: error: --report {args.report}: cannot write the report there ({what})", file=sys.stderr)
            return 2
    return opts


def make_progress(args: argparse.Namespace) -> NullProgress:
    """The observer --progress asks for (auto: bars on a terminal, plain lines otherwise), writing to standard error."""
    mode = args.progress
    if mode == "auto":
        mode = "bars" if sys.stderr.isatty() else "plain"
    pushed = "would push" if args.check else "pushed"
    if mode == "bars":
        return BarProgress(sys.stderr, pushed)
    return PlainProgress(sys.stderr, pushed) if mode == "plain" else NullProgress()


def write_report(args: argparse.Namespace, result: SeedResult, elapsed: float) -> int:
    """Write the --report JSON file (atomically); 0, or 1 when it cannot be written (the reason printed)."""
    images = [image.as_dict() for image in result.images]
    report = {"registry": args.registry, "transport": args.transport, "layers": args.layers, "check": args.check,
              "changed": result.changed, "elapsed_seconds": round(elapsed, 3), "bytes_sent": sum(i.bytes_sent for i in result.images),
              "images": images, "warnings": result.warnings}
    from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_bytes_atomically  # noqa: PLC0415 - only with --report

    try:
        write_bytes_atomically(args.report, (json.dumps(report, indent=2) + "\n").encode())
    except OSError as exc:
        print(f"airgap-seed: error: --report {args.report}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run airgap-seed; the exit status: 0 done, 1 the seed failed, 2 usage."""
    args = build_parser().parse_args(argv)
    opts = seed_options(args)
    if isinstance(opts, int):
        return opts
    progress = make_progress(args)
    started = time.monotonic()
    try:
        result = Seeder(opts, progress).seed()
    except (SeedError, RegistryError) as exc:
        print(f"airgap-seed: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if isinstance(progress, BarProgress):
            progress.close()
    elapsed = time.monotonic() - started
    for warning in result.warnings:
        print(f"airgap-seed: warning: {warning}", file=sys.stderr)
    changed = sum(1 for i in result.images if i.changed)
    if args.check:
        to_send = sum(i.bytes_to_send or 0 for i in result.images)
        print(f"{len(result.images)} images, {changed} would push, about {human(to_send)} to send (checked in {elapsed:.1f}s)")
    else:
        sent = sum(i.bytes_sent for i in result.images)
        print(f"{len(result.images)} images, {changed} pushed, {human(sent)} sent in {elapsed:.1f}s")
    return write_report(args, result, elapsed) if args.report else 0


if __name__ == "__main__":
    sys.exit(main())
