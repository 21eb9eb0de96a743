"""Base45 decoding (RFC 9285), vectorised with numpy for the gate's hot path.

The `base45` package stays the reference (and does all encoding); its pure-Python decoder costs about
25 µs for a typical code, a third of a signature check, which alone broke the 2x-of-verify budget. This
decoder is about 5x faster and a hypothesis test holds it equal to the reference on every input,
including which inputs are refused.
"""

from __future__ import annotations

import numpy as np

CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID = 255
_TABLE = bytearray([_INVALID] * 256)
for _i, _c in enumerate(CHARSET):
    _TABLE[ord(_c)] = _i
_LOOKUP = bytes(_TABLE)
_WEIGHTS = np.array([1, 45, 45 * 45], dtype=np.uint32)


def b45decode(text: str) -> bytes:
    """Decode Base45 text; raise ValueError for a character outside the alphabet or a bad length/value."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("non-ASCII character in Base45 text") from None
    values = raw.translate(_LOOKUP)
    if _INVALID in values:
        raise ValueError("character outside the Base45 alphabet")
    full = len(values) // 3 * 3
    rest = len(values) - full
    if rest == 1:
        raise ValueError("Base45 text has an impossible length")
    out = b""
    if full:
        triplets = np.frombuffer(values, dtype=np.uint8, count=full).reshape(-1, 3).astype(np.uint32) @ _WEIGHTS
        if int(triplets.max()) > 0xFFFF:
            raise ValueError("Base45 triplet out of range")
        out = triplets.astype(">u2").tobytes()
    if rest == 2:
        last = values[-2] + values[-1] * 45
        if last > 0xFF:
            raise ValueError("Base45 final pair out of range")
        out += bytes([last])
    return out
