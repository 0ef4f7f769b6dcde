"""Image files built in memory for tests: encoded images, PNGs that lie about their size,
and real decompression bombs."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    """``image`` saved as ``fmt`` (a Pillow format name)."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    """``array`` as a PNG."""
    return encode(Image.fromarray(array, mode), "PNG")


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body and CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int, idat: bytes = b"", depth: int = 8) -> bytes:
    """A PNG whose IHDR claims `width`×`height` (gray), with `idat` as its only data."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)
    body = png_chunk(b"IDAT", idat) if idat else b""
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + body + png_chunk(b"IEND", b"")


def zeros_deflated(n: int) -> bytes:
    """`n` zero bytes, deflated in 1 MB pieces (never held whole)."""
    stream, block, out = zlib.compressobj(9), bytes(1 << 20), []
    while n > 0:
        out.append(stream.compress(block[: min(n, len(block))]))
        n -= len(block)
    return b"".join(out) + stream.flush()


def png_bomb(side: int) -> bytes:
    """A real PNG decompression bomb: side² zero pixels in a few kilobytes."""
    return png_claiming(side, side, zeros_deflated((side + 1) * side))
