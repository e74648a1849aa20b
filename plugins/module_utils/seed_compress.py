# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming, deterministic layer (re)compression for the seed: readers in, compressed readers out.

gzip: zlib at a fixed level with a bare header (mtime 0, no file name), so the same layer always gives the same
digest.  zstd: the `zstandard` module when importable, else the `zstd` binary.  Nothing is held beyond one block.
"""
from __future__ import annotations

import shutil
import subprocess
import threading
import zlib

try:
    import zstandard
except ImportError:
    zstandard = None

GZIP_LEVEL = 6
ZSTD_LEVEL = 3
BLOCK = 1024 * 1024


class CompressError(Exception):
    """A layer could not be (de)compressed."""


class _Transform:
    """A reader that pulls blocks from `source` through `step` (bytes -> bytes) and `finish` () -> bytes."""

    def __init__(self, source, step, finish):
        self._source = source
        self._step = step
        self._finish = finish
        self._buf = bytearray()
        self._eof = False

    def read(self, n=-1):
        while not self._eof and (n is None or n < 0 or len(self._buf) < n):
            block = self._source.read(BLOCK)
            if block:
                self._buf += self._step(block)
            else:
                self._buf += self._finish()
                self._eof = True
        if n is None or n < 0 or n >= len(self._buf):
            out = bytes(self._buf)
            self._buf.clear()
            return out
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def close(self):
        self._source.close()


class _Pipe:
    """A reader over `zstd` run as a filter: a thread feeds its stdin from `source`."""

    def __init__(self, source, args):
        self._source = source
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._error = None
        self._feeder = threading.Thread(target=self._feed, daemon=True)
        self._feeder.start()

    def _feed(self):
        try:
            for block in iter(lambda: self._source.read(BLOCK), b""):
                self._proc.stdin.write(block)
        except (OSError, ValueError) as exc:
            self._error = exc
        finally:
            try:
                self._proc.stdin.close()
            except OSError:
                pass

    def read(self, n=-1):
        data = self._proc.stdout.read(n)
        if not data:
            self._feeder.join()
            if self._proc.wait() != 0 or self._error:
                raise CompressError(f"zstd failed ({self._error or 'exit ' + str(self._proc.returncode)})")
        return data

    def close(self):
        self._proc.stdout.close()
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._feeder.join()
        self._source.close()


def gzip_reader(source):
    """Deterministic gzip of `source`."""
    comp = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31, 9)
    return _Transform(source, comp.compress, comp.flush)


def gunzip_reader(source):
    dec = zlib.decompressobj(47)

    def step(block):
        try:
            return dec.decompress(block)
        except zlib.error as exc:
            raise CompressError(f"bad gzip data: {exc}") from None
    return _Transform(source, step, dec.flush)


def _zstd_binary():
    if not shutil.which("zstd"):
        raise CompressError("zstd needs the zstandard Python module or the zstd binary")
    return "zstd"


def zstd_reader(source):
    """zstd (fixed level, single-threaded, so deterministic) of `source`."""
    if zstandard is not None:
        comp = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=0).compressobj()
        return _Transform(source, comp.compress, comp.flush)
    return _Pipe(source, [_zstd_binary(), "-q", "-c", f"-{ZSTD_LEVEL}", "--no-progress", "-"])


def unzstd_reader(source):
    if zstandard is not None:
        dec = zstandard.ZstdDecompressor().decompressobj()

        def step(block):
            try:
                return dec.decompress(block)
            except zstandard.ZstdError as exc:
                raise CompressError(f"bad zstd data: {exc}") from None
        return _Transform(source, step, lambda: b"")
    return _Pipe(source, [_zstd_binary(), "-q", "-d", "-c", "-"])


def convert(source, have, want):
    """A reader of `source` (compressed as `have`: none|gzip|zstd) compressed as `want`."""
    if have == want:
        return source
    if have == "gzip":
        source = gunzip_reader(source)
    elif have == "zstd":
        source = unzstd_reader(source)
    if want == "gzip":
        return gzip_reader(source)
    if want == "zstd":
        return zstd_reader(source)
    return source
