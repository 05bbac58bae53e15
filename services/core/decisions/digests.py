"""HMAC-SHA-256 (hex) of every text of an Arrow string column under one salt: the digests
``record.inputs_digest`` gives row by row (``hmac.new(salt, text, sha256).hexdigest()``),
for a batch chunk's inputs (``DECISIONS_INPUTS=hash``) without a Python ``hmac`` object,
``str`` and ``bytes`` object per row.

HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)), K' the salt's UTF-8 bytes (hashed
first when longer than SHA-256's 64-byte block) padded with zeros to 64 bytes (RFC 2104).
The two padded-key states are hashed once; per row, copies of them take the text's bytes
straight from the column's data buffer and the 32-byte digest; the digests are hex-encoded
all at once into one fixed-width string column (64 characters a row).
"""

from __future__ import annotations

import hashlib
from itertools import pairwise

import numpy as np
import pyarrow as pa

BLOCK = 64  # SHA-256's block size (bytes)
HEX = 64  # characters of a hex SHA-256 digest


def padded_states(salt: str) -> tuple[hashlib._Hash, hashlib._Hash]:
    """SHA-256 states after (K' ^ ipad) and after (K' ^ opad)."""
    key = salt.encode()
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    padded = np.frombuffer(key.ljust(BLOCK, b"\0"), dtype=np.uint8)
    return (
        hashlib.sha256((padded ^ 0x36).tobytes()),
        hashlib.sha256((padded ^ 0x5C).tobytes()),
    )


def hmac_sha256_hex(texts: pa.Array | pa.ChunkedArray, salt: str) -> pa.Array:
    """The hex HMAC-SHA-256 of each text under ``salt`` (a string column without nulls), as
    a string column."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if texts.null_count:
        raise ValueError("cannot digest a null text")
    if pa.types.is_large_string(texts.type):
        offset_type: type[np.integer] = np.int64
    elif pa.types.is_string(texts.type):
        offset_type = np.int32
    else:
        raise TypeError(f"texts must be strings, not {texts.type}")
    n = len(texts)
    _, offsets_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type, count=texts.offset + n + 1)
    bounds = offsets[texts.offset :].tolist()
    data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
    inner, outer = padded_states(salt)
    inner_copy, outer_copy = inner.copy, outer.copy
    digests: list[bytes] = []
    append = digests.append
    for start, stop in pairwise(bounds):
        h = inner_copy()
        h.update(data[start:stop])
        o = outer_copy()
        o.update(h.digest())
        append(o.digest())
    hexed = b"".join(digests).hex().encode()
    ends = np.arange(0, HEX * (n + 1), HEX, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(ends), pa.py_buffer(hexed)])
