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

from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_bytes_atomically
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryError
from ansible_collections.airgap.registry.plugins.module_utils.seed import NullProgress, SeedError, Seeder, human

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


def target_line(state, result):
    """The line printed when a target is settled; check mode counts what would be sent, not what was."""
    if "bytes_to_send" in result:
        if not result["changed"]:
            return f"{state:8} {result['target']}"
        return (f"{state:8} {result['target']} ({result['blobs_pushed']} blobs, {human(result['bytes_to_send'])} to send, "
                f"{result['blobs_mounted']} to mount, {result['blobs_skipped']} present)")
    return (f"{state:8} {result['target']} ({human(result['bytes_sent'])} sent, {result['blobs_pushed']} pushed, "
            f"{result['blobs_mounted']} mounted, {result['blobs_skipped']} skipped)")


class PlainProgress(NullProgress):
    """One line per settled blob and per settled image (for logs and pipes)."""

    def __init__(self, out, pushed="pushed"):
        self.out = out
        self.pushed = pushed
        self.lock = threading.Lock()

    def _line(self, text):
        with self.lock:
            self.out.write(text + "\n")
            self.out.flush()

    def blob_done(self, key, how, label):
        self._line(f"{how:8} {label}")

    def target_done(self, result):
        self._line(target_line(self.pushed if result["changed"] else "present", result))


class BarProgress(PlainProgress):
    """Live bars: one per blob in flight and an overall line, redrawn in place on a terminal."""

    def __init__(self, out, pushed="pushed"):
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

    def blob_start(self, key, label, total):
        with self.lock:
            self.active[key] = [label, total, 0]

    def blob_advance(self, key, n):
        with self.lock:
            self.sent += n
            if key in self.active:
                self.active[key][2] += n

    def blob_done(self, key, how, label):
        with self.lock:
            self.active.pop(key, None)
            self._clear()
            self.out.write(f"{how:8} {label}\n")

    def target_done(self, result):
        with self.lock:
            self.done_targets += 1
            self._clear()
            self.out.write(target_line(self.pushed if result["changed"] else "present", result) + "\n")

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

    def close(self):
        self.stop.set()
        self.thread.join()
        with self.lock:
            self._clear()
            self.out.flush()


def parse_rename(items):
    rename = {}
    for item in items or []:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise SystemExit(f"airgap-seed: --rename wants OLD=NEW, not {item!r}")
        rename[old] = new
    return rename


def build_parser():
    parser = argparse.ArgumentParser(prog="airgap-seed", description="Push the images of image tarballs into a registry.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", nargs="+", metavar="SRC", help="image tarballs, directories of tarballs, glob patterns")
    parser.add_argument("--registry", required=True, help="HOST:PORT of the registry")
    parser.add_argument("--transport", choices=["direct", "engine"], default="direct")
    parser.add_argument("--layers", choices=["preserve", "gzip", "zstd"], default="preserve")
    parser.add_argument("--hub-library", action="store_true", help="keep library/ for Docker Hub official images")
    parser.add_argument("--rename", action="append", metavar="OLD=NEW", help="explicit rename (repeatable)")
    parser.add_argument("--username", help="user name for the registry (the password: --password-stdin or AIRGAP_SEED_PASSWORD)")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input (default: the AIRGAP_SEED_PASSWORD environment variable)")
    parser.add_argument("--ca-file", help="PEM file of the CA that signed the registry's TLS certificate")
    parser.add_argument("--insecure", action="store_true", help="do not verify the registry's TLS certificate")
    parser.add_argument("--scheme", choices=["http", "https"])
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--retries", type=int, default=4)
    parser.add_argument("--timeout", type=int, default=60, help="seconds to wait for a single answer of the registry")
    parser.add_argument("--chunk-size", type=int)
    parser.add_argument("--check", action="store_true", help="report what would be pushed, push nothing")
    parser.add_argument("--report", metavar="FILE", help="write the JSON report here")
    parser.add_argument("--progress", choices=["auto", "bars", "plain", "none"], default="auto")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    password = os.environ.get("AIRGAP_SEED_PASSWORD")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if args.username and password is None:
        print("airgap-seed: --username needs a password (--password-stdin or AIRGAP_SEED_PASSWORD)", file=sys.stderr)
        return 2
    opts = {"src": args.src, "registry": args.registry, "transport": args.transport, "layers": args.layers,
            "hub_library": args.hub_library, "rename": parse_rename(args.rename), "username": args.username, "password": password,
            "ca_file": args.ca_file, "validate_certs": not args.insecure, "scheme": args.scheme, "parallel": args.parallel,
            "retries": args.retries, "timeout": args.timeout, "chunk_size": args.chunk_size, "check_mode": args.check,
            "option_names": CLI_OPTION_NAMES}
    if args.report:
        report_dir = os.path.dirname(os.path.abspath(args.report))
        if not os.path.isdir(report_dir) or os.path.isdir(args.report):
            what = f"{report_dir} is not a directory" if not os.path.isdir(report_dir) else "it is a directory"
            print(f"airgap-seed: error: --report {args.report}: cannot write the report there ({what})", file=sys.stderr)
            return 2
    mode = args.progress
    if mode == "auto":
        mode = "bars" if sys.stderr.isatty() else "plain"
    progress = {"bars": BarProgress, "plain": PlainProgress}.get(mode, lambda out, pushed: NullProgress())(
        sys.stderr, "would push" if args.check else "pushed")
    started = time.monotonic()
    try:
        seeder = Seeder(opts, progress)
        if isinstance(progress, BarProgress):
            progress.total_targets = len(seeder.load())
            seeder.load = lambda: seeder.targets
        result = seeder.run()
    except (SeedError, RegistryError) as exc:
        print(f"airgap-seed: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if isinstance(progress, BarProgress):
            progress.close()
    elapsed = time.monotonic() - started
    for warning in result["warnings"]:
        print(f"airgap-seed: warning: {warning}", file=sys.stderr)
    sent = sum(i["bytes_sent"] for i in result["images"])
    changed = sum(1 for i in result["images"] if i["changed"])
    if args.check:
        to_send = sum(i.get("bytes_to_send", 0) for i in result["images"])
        print(f"{len(result['images'])} images, {changed} would push, about {human(to_send)} to send (checked in {elapsed:.1f}s)")
    else:
        print(f"{len(result['images'])} images, {changed} pushed, {human(sent)} sent in {elapsed:.1f}s")
    if args.report:
        report = {"registry": args.registry, "transport": args.transport, "layers": args.layers, "check": args.check,
                  "changed": result["changed"], "elapsed_seconds": round(elapsed, 3), "bytes_sent": sent,
                  "images": result["images"], "warnings": result["warnings"]}
        try:
            write_bytes_atomically(args.report, (json.dumps(report, indent=2) + "\n").encode())
        except OSError as exc:
            print(f"airgap-seed: error: --report {args.report}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
