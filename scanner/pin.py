"""The admin PIN: scrypt hashes in a self-describing string, so the config never holds the PIN itself.

Format (the PHC string style): `$scrypt$ln=14,r=8,p=1$<salt>$<hash>`, salt and hash in unpadded
standard base64. `ln` is log2 of scrypt's N; the parameters travel with the hash, so a stronger
setting later does not invalidate existing configs. `checkpoint config pin` writes it; the kiosk's
admin panel calls `verify_pin`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

from scanner.errors import InputError

PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 12

# 16 MiB and well under a second on a Raspberry Pi 4; attempts are rate-limited on top of this.
DEFAULT_LN, DEFAULT_R, DEFAULT_P = 14, 8, 1
_SALT_BYTES, _HASH_BYTES = 16, 32
_FORMAT = re.compile(r"\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _scrypt(pin: str, salt: bytes, ln: int, r: int, p: int, length: int) -> bytes:
    n = 1 << ln
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=256 * r * n + (1 << 20))


def pin_problem(pin: str) -> str | None:
    """Why `pin` is not acceptable as an admin PIN, or None."""
    if not pin.isascii() or not pin.isdigit():
        return "the PIN must consist of digits only"
    if not PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS:
        return f"the PIN must have {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits"
    return None


def hash_pin(pin: str, *, ln: int = DEFAULT_LN, r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    """Hash a new admin PIN; `InputError` if it is not 4 to 12 digits."""
    problem = pin_problem(pin)
    if problem:
        raise InputError(problem)
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(pin, salt, ln, r, p, _HASH_BYTES)
    return f"$scrypt$ln={ln},r={r},p={p}${_b64(salt)}${_b64(digest)}"


def _parse(pin_hash: str) -> tuple[int, int, int, bytes, bytes] | str:
    m = _FORMAT.fullmatch(pin_hash)
    if m is None:
        return "not a PIN hash (expected $scrypt$ln=..,r=..,p=..$salt$hash; make one with `checkpoint config pin`)"
    ln, r, p = int(m[1]), int(m[2]), int(m[3])
    if not 10 <= ln <= 20:
        return f"scrypt ln={ln} is outside 10..20"
    if not 1 <= r <= 32 or not 1 <= p <= 16:
        return f"scrypt r={r}, p={p} are outside r 1..32, p 1..16"
    try:
        salt, digest = _unb64(m[4]), _unb64(m[5])
    except (binascii.Error, ValueError):
        return "the salt or hash is not valid base64"
    if len(salt) < 16:
        return f"the salt has {len(salt)} bytes, fewer than 16"
    if len(digest) != _HASH_BYTES:
        return f"the hash has {len(digest)} bytes, expected {_HASH_BYTES} (truncated when copied?)"
    return ln, r, p, salt, digest


def validate_pin_hash(pin_hash: str) -> str | None:
    """What is wrong with a stored PIN hash, in words for `config check`, or None if it is well formed."""
    parsed = _parse(pin_hash)
    return parsed if isinstance(parsed, str) else None


def verify_pin(pin: str, pin_hash: str) -> bool:
    """True if `pin` matches; constant-time. `InputError` if the stored hash is malformed."""
    parsed = _parse(pin_hash)
    if isinstance(parsed, str):
        raise InputError(f"admin.pin_hash: {parsed}")
    ln, r, p, salt, digest = parsed
    if pin_problem(pin):
        return False
    return hmac.compare_digest(_scrypt(pin, salt, ln, r, p, len(digest)), digest)
