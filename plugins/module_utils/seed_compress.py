# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming, deterministic layer (re)compression for the seed: readers in, compressed readers out.

gzip: zlib at a fixed level in 1 MiB pieces (incompressible pieces stored) with a bare header (mtime 0, no file
name), so the same layer always gives the same digest.  zstd: the `zstandard` module when importable, else the `zstd` binary.  Nothing is held beyond one block.
"""
from __future__ import annotations

import struct
import threading
import zlib
from collections import deque

from ansible_collections.airgap.registry.plugins.module_utils.image_archive import zstd_binary, zstd_module


GZIP_LEVEL = 4  # zlib: on source text about twice as fast as level 6 for some 5% more bytes
GZIP_CHUNK = 1024 * 1024
GZIP_SAMPLE = 32 * 1024
GZIP_STORE_RATIO = 0.97
GZIP_THREADS = 2
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
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
        import subprocess
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._error = None
        self._feeder = threading.Thread(target=self._feed, daemon=True)
        self._feeder.start()

    def _feed(self):
        try:
            for block in iter(lambda: self._source.read(BLOCK), b""):
                self._proc.stdin.write(block)
        except Exception as exc:  # noqa: BLE001 - any source failure must fail the upload, not end the layer early
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


def _deflate_piece(chunk):
    """One chunk as a byte-aligned raw deflate piece: stored when a sample does not compress, else GZIP_LEVEL."""
    sample = bytes(chunk[:GZIP_SAMPLE])
    level = 0 if len(zlib.compress(sample, 1)) > len(sample) * GZIP_STORE_RATIO else GZIP_LEVEL
    comp = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    return comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)


class _GzipChunks:
    """Deterministic gzip of a stream, one deflate piece per GZIP_CHUNK bytes (as pigz joins them).

    Each piece is compressed on its own (GZIP_THREADS at a time; zlib releases the GIL) and ends byte-aligned (full
    flush), so the pieces concatenate into one valid deflate stream; a piece whose sample does not compress is stored,
    which keeps incompressible layers cheap.  Header: mtime 0, no name, OS unknown; the output depends on the input only.
    """

    def __init__(self, source):
        self._source = source
        self._out = bytearray(GZIP_HEADER)
        self._crc = 0
        self._size = 0
        self._eof = False
        self._source_done = False
        from concurrent.futures import ThreadPoolExecutor  # here, not at the top: a seed that recompresses nothing starts faster
        self._pool = ThreadPoolExecutor(max_workers=GZIP_THREADS)
        self._pending = deque()

    def _read_chunk(self):
        chunk = bytearray()
        while len(chunk) < GZIP_CHUNK:
            block = self._source.read(GZIP_CHUNK - len(chunk))
            if not block:
                break
            chunk += block
        return bytes(chunk)

    def _fill(self):
        while not self._source_done and len(self._pending) < GZIP_THREADS * 2:
            chunk = self._read_chunk()
            if not chunk:
                self._source_done = True
                break
            self._crc = zlib.crc32(chunk, self._crc)
            self._size += len(chunk)
            self._pending.append(self._pool.submit(_deflate_piece, chunk))
        if self._pending:
            self._out += self._pending.popleft().result()
            return
        tail = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15, 9).flush(zlib.Z_FINISH)
        self._out += tail + struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF)
        self._eof = True

    def read(self, n=-1):
        while not self._eof and (n is None or n < 0 or len(self._out) < n):
            self._fill()
        if n is None or n < 0 or n >= len(self._out):
            out = bytes(self._out)
            self._out.clear()
            return out
        out = bytes(self._out[:n])
        del self._out[:n]
        return out

    def close(self):
        for future in self._pending:
            future.cancel()
        self._pool.shutdown(wait=True)
        self._source.close()


def gzip_reader(source):
    """Deterministic gzip of `source`."""
    return _GzipChunks(source)


def gunzip_reader(source):
    """Decompressed `source`, a gzip stream of one or more members (as concatenated gzip files are)."""
    state = {"dec": zlib.decompressobj(47)}

    def step(block):
        out = bytearray()
        try:
            while block:
                dec = state["dec"]
                out += dec.decompress(block)
                block = dec.unused_data if dec.eof else b""
                if block:
                    state["dec"] = zlib.decompressobj(47)
        except zlib.error as exc:
            raise CompressError(f"bad gzip data: {exc}") from None
        return bytes(out)

    def finish():
        return state["dec"].flush()
    return _Transform(source, step, finish)


def _zstd_binary():
    if not zstd_binary():
        raise CompressError("zstd needs the zstandard Python module or the zstd binary")
    return "zstd"


def zstd_reader(source):
    """zstd (fixed level, single-threaded, so deterministic) of `source`."""
    zstandard = zstd_module()
    if zstandard is not None:
        comp = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=0).compressobj()
        return _Transform(source, comp.compress, comp.flush)
    return _Pipe(source, [_zstd_binary(), "-q", "-c", f"-{ZSTD_LEVEL}", "--no-progress", "-"])


def unzstd_reader(source):
    zstandard = zstd_module()
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
