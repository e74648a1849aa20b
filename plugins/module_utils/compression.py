# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Layer and tarball compression: detect it, read through it, write it deterministically; streams only.

Readers are objects with `read(n)` and `close()`; nothing is held beyond one block.  gzip is RFC 1952 (several
members in a row are one stream, as concatenated gzip files are); zstd is RFC 8878 (several frames likewise), read
and written with the `zstandard` module when importable, else with the `zstd` binary.  The compressions are those of
OCI image-spec layer.md (`+gzip`, `+zstd`).

Deterministic writing: gzip at a fixed level in 1 MiB pieces (incompressible pieces stored) with a bare header
(mtime 0, no file name, OS unknown), zstd at a fixed level single-threaded, so the same layer always gives the same
digest.
"""
from __future__ import annotations

import io
import shutil
import struct
import subprocess
import threading
import zlib
from collections import deque
from types import ModuleType
from typing import BinaryIO, Callable, Iterable, Iterator, Protocol

from ansible_collections.airgap.registry.plugins.module_utils.errors import AirgapError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BLOCK = 1024 * 1024
GZIP_LEVEL = 4  # zlib: on source text about twice as fast as level 6 for some 5% more bytes
GZIP_CHUNK = 1024 * 1024
GZIP_SAMPLE = 32 * 1024
GZIP_STORE_RATIO = 0.97
GZIP_THREADS = 2
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
ZSTD_LEVEL = 3

_ZSTD: dict = {}


class Reader(Protocol):
    """What the readers here take and give: read(n) bytes (all for n < 0; b"" at the end) and close()."""

    def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (all that is left for n < 0); b"" at the end."""

    def close(self) -> None:
        """Release what the reader holds."""


class CompressError(AirgapError):
    """Data could not be (de)compressed: corrupt, truncated, or no zstd implementation; the message names the data."""


def detect(head: bytes) -> str:
    """'gzip', 'zstd' or 'none' from the first bytes (at least 4) of a stream."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def zstd_module() -> ModuleType | None:
    """The zstandard module, or None (the zstd binary is used then); imported on first use, as few tarballs need it."""
    if "module" not in _ZSTD:
        try:
            import zstandard
        except ImportError:
            zstandard = None
        _ZSTD["module"] = zstandard
    return _ZSTD["module"]


def zstd_binary() -> str | None:
    """Path of the zstd binary, or None."""
    return shutil.which("zstd")


def _zstd_command(*args: str) -> list[str]:
    binary = zstd_binary()
    if not binary:
        raise CompressError("zstd needs the zstandard Python module or the zstd binary")
    return [binary, "-q", *args]


def decompress_errors() -> tuple:
    """The exceptions a decompressor raises on corrupt data (zstandard's too, once it is loaded)."""
    zstandard = _ZSTD.get("module")
    return (zlib.error,) + ((zstandard.ZstdError,) if zstandard is not None else ())


# --- generic readers -----------------------------------------------------------------------------------------------
class _Transform:
    """A reader that pulls blocks from `source` through `step` (bytes -> bytes) and, at its end, `finish` () -> bytes."""

    def __init__(self, source: Reader, step: Callable[[bytes], bytes], finish: Callable[[], bytes]) -> None:
        self._source = source
        self._step = step
        self._finish = finish
        self._buf = bytearray()
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        while not self._eof and (n is None or n < 0 or len(self._buf) < n):
            block = self._source.read(BLOCK)
            if block:
                self._buf += self._step(block)
            else:
                self._buf += self._finish()
                self._eof = True
        return _take(self._buf, n)

    def close(self) -> None:
        self._source.close()


def _take(buf: bytearray, n: int) -> bytes:
    """Remove and return the first `n` bytes of `buf` (all of it for n None or negative)."""
    if n is None or n < 0 or n >= len(buf):
        out = bytes(buf)
        buf.clear()
        return out
    out = bytes(buf[:n])
    del buf[:n]
    return out


class _Pipe:
    """A reader over the zstd binary run as a filter: a thread feeds its stdin from `source`."""

    def __init__(self, source: Reader, args: list[str], what: str = "zstd data") -> None:
        self._source = source
        self._what = what
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._error = None
        self._feeder = threading.Thread(target=self._feed, daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        try:
            for block in iter(lambda: self._source.read(BLOCK), b""):
                self._proc.stdin.write(block)
        except Exception as exc:  # noqa: BLE001 - any source failure must fail the reader, not end the data early
            self._error = exc
        finally:
            try:
                self._proc.stdin.close()
            except OSError:
                pass

    def read(self, n: int = -1) -> bytes:
        data = self._proc.stdout.read(n)
        if not data:
            self._feeder.join()
            if self._proc.wait() != 0 or self._error:
                detail = self._error or self._proc.stderr.read().decode(errors="replace").strip() or f"exit {self._proc.returncode}"
                raise CompressError(f"{self._what}: zstd failed ({detail})")
        return data

    def close(self) -> None:
        self._proc.stdout.close()
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._proc.stderr.close()
        self._feeder.join()
        self._source.close()


# --- reading -------------------------------------------------------------------------------------------------------
def _decompressobj(kind: str, what: str):
    """A fresh decompress object for `kind` ('gzip' or 'zstd')."""
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    zstandard = zstd_module()
    if zstandard is None:
        raise CompressError(f"{what} is zstd-compressed and the Python package zstandard is not installed")
    return zstandard.ZstdDecompressor().decompressobj()


class _Decoder:
    """Incremental decompression of one stream whose compression is detected from its first bytes.

    `feed(bytes) -> bytes`, then `finish() -> bytes`.  Several gzip members or zstd frames in a row are one stream;
    zero padding after the end is ignored; CompressError names `what` for corrupt, truncated or trailing data and,
    when `expect` is given, for data that is not compressed that way.
    """

    def __init__(self, what: str, expect: str | None = None) -> None:
        self._what = what
        self._expect = expect
        self._head = b""
        self._kind = None
        self._dec = None

    def _start(self, head: bytes) -> None:
        self._kind = detect(head)
        if self._expect and self._kind != self._expect:
            raise CompressError(f"{self._what}: bad {self._expect} data: not {self._expect}-compressed")
        if self._kind != "none":
            self._dec = _decompressobj(self._kind, self._what)

    def feed(self, data: bytes) -> bytes:
        if self._kind is None:
            self._head += data
            if len(self._head) < len(ZSTD_MAGIC):
                return b""
            data, self._head = self._head, b""
            self._start(data)
        return data if self._kind == "none" else self._decode(data)

    def _decode(self, data: bytes) -> bytes:
        out = bytearray()
        while data:
            if getattr(self._dec, "eof", False):
                if not data.strip(b"\0"):
                    break
                kind = detect(data)
                if kind == "none":
                    raise CompressError(f"{self._what}: unexpected data after the end of the compressed stream")
                self._dec = _decompressobj(kind, self._what)
            try:
                out += self._dec.decompress(data)
            except decompress_errors() as exc:
                raise CompressError(f"{self._what}: compressed data is corrupt (bad {self._kind} data: {exc})") from None
            data = self._dec.unused_data if getattr(self._dec, "eof", False) else b""
        return bytes(out)

    def finish(self) -> bytes:
        out = b""
        if self._kind is None:
            if not self._head:
                return b""
            data, self._head = self._head, b""
            self._start(data)
            if self._kind == "none":
                return data
            out = self._decode(data)
        if self._kind == "none":
            return out
        if not getattr(self._dec, "eof", True):
            raise CompressError(f"{self._what}: compressed data ends early (truncated)")
        return out + self._dec.flush()


def decompress_chunks(chunks: Iterable[bytes], what: str = "a compressed layer") -> Iterator[bytes]:
    """The uncompressed bytes of a gzip, zstd or plain stream given as byte chunks; CompressError naming `what`."""
    decoder = _Decoder(what)
    for chunk in chunks:
        out = decoder.feed(chunk)
        if out:
            yield out
    tail = decoder.finish()
    if tail:
        yield tail


def decompressed_reader(source: Reader, have: str, what: str = "a compressed layer") -> Reader:
    """A reader of `source` (a reader compressed as `have`: none|gzip|zstd) decompressed; CompressError naming `what`."""
    if have == "none":
        return source
    if have == "zstd" and zstd_module() is None:
        return _Pipe(source, _zstd_command("-d", "-c", "-"), what)
    decoder = _Decoder(what, expect=have)
    return _Transform(source, decoder.feed, decoder.finish)


def open_file(path: str, compression: str, raw: BinaryIO | None = None) -> BinaryIO:
    """A sequential reader of a whole file's decompressed bytes (`compression` as `detect` tells: none|gzip|zstd);
    `raw`, when given, is the file's bytes already opened, `path` then only names it (closed with the reader, except
    under gzip, where the caller keeps it)."""
    if compression == "gzip":
        import gzip
        return gzip.open(path if raw is None else raw, "rb")
    fh = raw if raw is not None else open(path, "rb")
    if compression == "zstd":
        zstandard = zstd_module()
        if zstandard is not None:
            reader = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True, closefd=True)
            return io.BufferedReader(reader, BLOCK)
        if not zstd_binary():
            fh.close()
            raise CompressError(f"{path}: zstd-compressed, but neither the zstandard module nor the zstd binary is available")
        return _Pipe(fh, _zstd_command("-d", "-c", "-"), path)
    return fh


# --- deterministic writing -----------------------------------------------------------------------------------------
def _deflate_piece(chunk: bytes) -> bytes:
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

    def __init__(self, source: Reader) -> None:
        self._source = source
        self._out = bytearray(GZIP_HEADER)
        self._crc = 0
        self._size = 0
        self._eof = False
        self._source_done = False
        from concurrent.futures import ThreadPoolExecutor  # here, not at the top: a seed that recompresses nothing starts faster
        self._pool = ThreadPoolExecutor(max_workers=GZIP_THREADS)
        self._pending = deque()

    def _read_chunk(self) -> bytes:
        chunk = bytearray()
        while len(chunk) < GZIP_CHUNK:
            block = self._source.read(GZIP_CHUNK - len(chunk))
            if not block:
                break
            chunk += block
        return bytes(chunk)

    def _fill(self) -> None:
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

    def read(self, n: int = -1) -> bytes:
        while not self._eof and (n is None or n < 0 or len(self._out) < n):
            self._fill()
        return _take(self._out, n)

    def close(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pool.shutdown(wait=True)
        self._source.close()


def gzip_reader(source: Reader) -> Reader:
    """Deterministic gzip (see the module docstring) of the reader `source`."""
    return _GzipChunks(source)


def zstd_reader(source: Reader) -> Reader:
    """zstd (fixed level, single-threaded, so deterministic) of the reader `source`."""
    zstandard = zstd_module()
    if zstandard is not None:
        comp = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=0).compressobj()
        return _Transform(source, comp.compress, comp.flush)
    return _Pipe(source, _zstd_command("-c", f"-{ZSTD_LEVEL}", "--no-progress", "-"))


def convert(source: Reader, have: str, want: str) -> Reader:
    """A reader of `source` (compressed as `have`: none|gzip|zstd) compressed as `want` (none|gzip|zstd)."""
    if have == want:
        return source
    source = decompressed_reader(source, have)
    if want == "gzip":
        return gzip_reader(source)
    if want == "zstd":
        return zstd_reader(source)
    return source
