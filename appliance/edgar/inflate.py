"""Decompressing with a ceiling: gzip and deflate expand a few hundred kilobytes into
gigabytes (a 200 KB gzip of zeros took 500 MB of memory), so every decompression of a file or
a download stops once its output passes ``max_bytes`` (setting ``max_decompressed_bytes``)
and that one file fails, instead of the process running out of memory."""

from __future__ import annotations

import zlib

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
GZIP = 16 + zlib.MAX_WBITS
ZLIB = zlib.MAX_WBITS


class TooLarge(ValueError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"decompresses to more than {max_bytes:,} bytes (the max_decompressed_bytes setting)"
        )


def bounded(data: bytes, max_bytes: int, wbits: int = GZIP) -> bytes:
    """``data`` decompressed (every gzip member of it), never holding more than
    ``max_bytes`` + 1 bytes of output. Raises TooLarge past the limit, zlib.error for
    damaged or truncated data."""
    out = bytearray()
    while True:
        stream = zlib.decompressobj(wbits)
        pending = data
        while pending:
            out += stream.decompress(pending, max_bytes + 1 - len(out))
            if len(out) > max_bytes:
                raise TooLarge(max_bytes)
            pending = stream.unconsumed_tail
        if not stream.eof:
            raise zlib.error("truncated compressed data")
        data = stream.unused_data
        if wbits != GZIP or not data.strip(b"\0"):
            return bytes(out)
