"""Reading IDX files (the MNIST file format), plain or gzip-compressed.

An IDX file is: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), a byte with the number of dimensions,
each dimension as a big-endian uint32, then the values, big-endian, row-major.
"""
import gzip
import os
import zlib

import numpy as np

_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IDXError(ValueError):
    """A file that is not a valid IDX file (bad magic number, truncated, ...)."""


def _read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise IDXError("%s: corrupted or truncated gzip data (%s)" % (path, e)) from None
    return raw


def parse_idx(raw, name="<bytes>"):
    """The array stored in IDX bytes (native byte order), with its size checked."""
    if len(raw) < 4:
        raise IDXError("%s: too short to be an IDX file (%d bytes)" % (name, len(raw)))
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise IDXError("%s: bad IDX magic number 0x%s (expected 0x0000TTNN with type TT in %s)"
                       % (name, raw[:4].hex(), ", ".join("%02x" % t for t in sorted(_IDX_TYPES))))
    dtype = _IDX_TYPES[raw[2]]
    ndim = raw[3]
    if ndim == 0:
        raise IDXError("%s: IDX header says 0 dimensions" % name)
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError("%s: truncated IDX header" % name)
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        raise IDXError("%s: IDX header says shape %s (%d bytes of data) but the file has %d bytes of data (%s)"
                       % (name, dims, expected, got, "truncated" if got < expected else "trailing bytes"))
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def read_idx(path):
    """The array in IDX file ``path`` (gzip-compressed or not)."""
    path = os.fspath(path)
    return parse_idx(_read_bytes(path), path)
