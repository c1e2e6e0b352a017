"""What every part of the scan shares: severities, size limits, and bounded stream readers."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib

SEVERITIES = ("low", "medium", "high")

MiB = 2**20
MAX_ARCHIVE_BYTES = 500 * MiB  # bytes unpacked from one top-level file, over all nesting levels
BOMB_RATIO = 100  # uncompressed / compressed ...
BOMB_MIN_BYTES = 50 * MiB  # ... above this size is a decompression bomb
MAX_ARCHIVE_ENTRIES = 10_000
MAX_PICKLE_BYTES = 1024 * MiB  # decompressed bytes walked per compressed pickle (streamed, not held)
MAX_NESTING = 4  # a file inside an archive inside an archive ... at most this deep
HEAD_BYTES = 512  # what is read of an entry to tell its format

# Errors that reading, decompressing or walking a hostile file may raise.
READ_ERRORS = (ValueError, EOFError, OSError, zlib.error, lzma.LZMAError, NotImplementedError, RuntimeError)


class OverBudget(Exception):
    """More bytes were unpacked than the scan of one file may unpack."""


class Budget:
    """How many more bytes the scan of one top-level file may unpack, shared by every level."""

    def __init__(self, limit: int):
        self.limit = limit
        self.left = limit

    def take(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise OverBudget(f"unpacks to more than {self.limit // MiB} MiB")


def some(names, limit: int = 5) -> str:
    names = list(names)
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def compression(data: bytes) -> str | None:
    """The compression ``data`` starts with, as joblib and tar write it, else None."""
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:3] == b"BZh":
        return "bz2"
    if data[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if data[:3] == b"]\x00\x00":  # raw lzma ("lzma" in joblib); no pickle starts so
        return "lzma"
    if len(data) >= 2 and data[0] == 0x78 and (data[0] * 256 + data[1]) % 31 == 0:  # zlib, joblib's default
        return "zlib"
    return None


def decompressing(data: bytes, kind: str | None = None):
    """A reader of the decompressed stream of ``data`` (see ``compression``), else None."""
    kind = kind or compression(data)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=io.BytesIO(data))
    if kind == "bz2":
        return bz2.BZ2File(io.BytesIO(data))
    if kind == "xz":
        return lzma.LZMAFile(io.BytesIO(data))
    if kind == "lzma":
        return lzma.LZMAFile(io.BytesIO(data), format=lzma.FORMAT_ALONE)
    if kind == "zlib":
        return ZlibReader(data)
    return None


def decompressed_head(data: bytes, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` decompressed bytes, or b"" when ``data`` is not what its magic says."""
    reader = decompressing(data)
    if reader is None:
        return b""
    try:
        return reader.read(size)
    except READ_ERRORS:
        return b""


class Reader:
    """A file view that reads at most ``limit`` bytes (a compression bomb runs out of budget,
    not memory), can push bytes back (how the next pickle in a file is sniffed) and can skip."""

    def __init__(self, raw, limit: int):
        self._raw = raw
        self._left = limit
        self._pending = b""
        self._pos = 0

    @property
    def exhausted(self) -> bool:
        """Whether the whole budget was read (so the stream may go on past what was scanned)."""
        return self._left <= 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = len(self._pending) + self._left
        out, self._pending = self._pending[:n], self._pending[n:]
        want = min(n - len(out), self._left)
        if want > 0:
            chunk = self._raw.read(want)
            self._left -= len(chunk)
            out += chunk
        self._pos += len(out)
        return out

    def skip(self, n: int) -> bool:
        """Read past ``n`` bytes in chunks; False when the stream or the budget ends first."""
        while n > 0:
            chunk = self.read(min(n, 4 * MiB))
            if not chunk:
                return False
            n -= len(chunk)
        return True

    def readline(self, n: int = -1) -> bytes:
        line = b""
        while not line.endswith(b"\n"):
            if not self._pending:
                self._pending = self.read(64 * 1024)
                self._pos -= len(self._pending)
                if not self._pending:
                    break
            cut = self._pending.find(b"\n") + 1 or len(self._pending)
            line, self._pending = line + self._pending[:cut], self._pending[cut:]
        self._pos += len(line)
        return line

    def unread(self, data: bytes) -> None:
        self._pending = data + self._pending
        self._pos -= len(data)

    def tell(self) -> int:
        return self._pos


class ZlibReader:
    """The ``read`` of a zlib stream (the stdlib has file objects for gzip, bz2 and xz only)."""

    def __init__(self, data: bytes):
        self._source = io.BytesIO(data)
        self._inflate = zlib.decompressobj()

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 2**62
        out = b""
        while len(out) < n and not self._inflate.eof:
            compressed = self._inflate.unconsumed_tail or self._source.read(64 * 1024)
            if not compressed:
                break
            out += self._inflate.decompress(compressed, min(n - len(out), 16 * MiB))
        return out
