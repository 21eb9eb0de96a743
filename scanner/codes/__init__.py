"""Code formats behind one interface: `decode_payload(text)` picks the format by its prefix.

These are the HCC1 formats. The EU DCC (`HC1:`) carries other claims and is decoded by `scanner.codes.dcc`
(verification picks it by `DCC_PREFIX` before calling `decode_payload`).
"""

from __future__ import annotations

from scanner.codes.base import CodeError, CodeFormat, DecodedCode, Guardian, HealthClaims
from scanner.codes.hcc1 import HCC1

FORMATS: tuple[CodeFormat, ...] = (HCC1(),)
DCC_PREFIX = "HC1:"
_KNOWN_UNSUPPORTED = {DCC_PREFIX: "an EU Digital COVID Certificate (HC1:): `checkpoint check --json` shows it"}

__all__ = ["DCC_PREFIX", "FORMATS", "CodeError", "CodeFormat", "DecodedCode", "Guardian", "HealthClaims",
           "decode_payload", "decode_text", "normalise"]


def normalise(payload: str | bytes) -> str:
    """Scanned text without the surrounding whitespace a keyboard-wedge scanner or a file adds (a Windows
    editor's byte order mark included)."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise CodeError("unsupported", "not a health code (binary data)") from None
    text = payload.strip()
    # str.strip() keeps U+FEFF; one inside the payload stays there (and is not Base45).
    return text if "\ufeff" not in text else text.strip("\ufeff").strip()


def format_of(text: str) -> CodeFormat | None:
    for f in FORMATS:  # a loop, not next() over a generator: a generator costs more than one check
        if text.startswith(f.prefix):
            return f
    return None


def decode_payload(payload: str | bytes) -> DecodedCode:
    return decode_text(normalise(payload))


def decode_text(text: str) -> DecodedCode:
    """`decode_payload` for a payload already `normalise`d (verification normalises it first itself)."""
    fmt = format_of(text)
    if fmt is None:
        for prefix, why in _KNOWN_UNSUPPORTED.items():
            if text.startswith(prefix):
                raise CodeError("unsupported", why)
        raise CodeError("unsupported", "not a health code (unknown prefix)")
    return fmt.decode(text)
