"""The IDX format of the MNIST files (gzipped), read and written with every size checked.

An IDX file is a 4-byte magic number (two zero bytes, the type code 0x08 for unsigned bytes, the
number of dimensions), one big-endian uint32 per dimension, then the data bytes in C order.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from tracking_demo.data.atomic import atomic_write
from tracking_demo.errors import DataError

UBYTE = 0x08
COMPRESS_LEVEL = 6  # 2% larger than 9 on MNIST images, 15x faster to write
KNOWN_MAGICS = {
    (UBYTE << 8) | 1: "a label file (1 dimension)",
    (UBYTE << 8) | 3: "an image file (3 dimensions)",
}


def magic_for(ndim: int) -> int:
    """The magic number of an unsigned-byte IDX file with `ndim` dimensions (2051 for images)."""
    return (UBYTE << 8) | ndim


def _decompress(path: Path, what: str) -> bytes:
    """The whole decompressed file; a cut download shows up here, before any parsing."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected a gzipped IDX {what} file)")
    try:
        with gzip.open(path, "rb") as stream:
            return stream.read()
    except EOFError as error:
        raise DataError(
            f"{path}: truncated gzip file ({error}); expected a complete gzipped IDX {what} file, "
            "download or write it again"
        ) from error
    except (gzip.BadGzipFile, zlib.error) as error:
        raise DataError(
            f"{path}: not a readable gzip file ({error}); expected a gzipped IDX {what} file"
        ) from error


def _check_magic(path: Path, raw: bytes, magic: int, what: str) -> None:
    if len(raw) < 4:
        raise DataError(
            f"{path}: {len(raw)} bytes after decompression, too short for an IDX header "
            f"(expected the magic number {magic} of an IDX {what} file)"
        )
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        known = KNOWN_MAGICS.get(found)
        hint = f", the magic number of {known}" if known else ""
        raise DataError(
            f"{path}: wrong magic number {found}{hint} (expected {magic} for an IDX {what} file)"
        )


def read_idx(path: Path, ndim: int, what: str) -> np.ndarray:
    """Read a gzipped unsigned-byte IDX file whose header must declare `ndim` dimensions.

    `what` names the kind of file (e.g. "image") in error messages. The data must hold exactly
    as many bytes as the dimensions declare: a short file is a truncated one, a long one is not
    the file it claims to be.
    """
    magic = magic_for(ndim)
    raw = _decompress(path, what)
    _check_magic(path, raw, magic, what)
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(
            f"{path}: IDX header cut short at {len(raw)} bytes "
            f"(expected {header_size} for {ndim} dimension(s))"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header_size])
    expected, found = math.prod(dims), len(raw) - header_size
    if found != expected:
        shape = " x ".join(str(d) for d in dims)
        raise DataError(f"{path}: header declares {shape} = {expected} data bytes, found {found}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims).copy()


def encode_idx(array: np.ndarray) -> bytes:
    """The uncompressed IDX bytes of an unsigned-byte array (header, then the data in C order)."""
    if array.dtype != np.uint8:
        raise ValueError(f"IDX files here hold unsigned bytes, got an array of {array.dtype}")
    header = struct.pack(f">I{array.ndim}I", magic_for(array.ndim), *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def write_gzip(path: Path, payload: bytes) -> Path:
    """Write `payload` gzipped, reproducibly (no timestamp or name inside) and atomically."""
    try:
        with (
            atomic_write(path) as raw,
            gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, compresslevel=COMPRESS_LEVEL, mtime=0
            ) as stream,
        ):
            stream.write(payload)
    except OSError as error:
        raise DataError(f"{path}: cannot be written ({error.strerror or error})") from error
    return path


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write `array` as a gzipped IDX file; the same array always gives the same bytes."""
    return write_gzip(path, encode_idx(array))
