"""Code formats behind one interface: `decode_payload(text)` picks the format by its prefix.

HCC1 is the only format verified today; the EU DCC (`HC1:`) uses the same stack and is recognised so
that it gets a clear "not supported yet" instead of "unknown code".
"""

from __future__ import annotations

from scanner.codes.base import CodeError, CodeFormat, DecodedCode, Guardian, HealthClaims
from scanner.codes.hcc1 import HCC1

FORMATS: tuple[CodeFormat, ...] = (HCC1(),)
_KNOWN_UNSUPPORTED = {"HC1:": "EU Digital COVID Certificates (HC1:) are not supported yet"}

__all__ = ["FORMATS", "CodeError", "CodeFormat", "DecodedCode", "Guardian", "HealthClaims",
           "decode_payload", "normalise"]


def normalise(payload: str | bytes) -> str:
    """Scanned text without the surrounding whitespace a keyboard-wedge scanner or a file adds."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise CodeError("unsupported", "not a health code (binary data)") from None
    return payload.strip()


def format_of(text: str) -> CodeFormat | None:
    return next((f for f in FORMATS if text.startswith(f.prefix)), None)


def decode_payload(payload: str | bytes) -> DecodedCode:
    text = normalise(payload)
    fmt = format_of(text)
    if fmt is None:
        for prefix, why in _KNOWN_UNSUPPORTED.items():
            if text.startswith(prefix):
                raise CodeError("unsupported", why)
        raise CodeError("unsupported", "not a health code (unknown prefix)")
    return fmt.decode(text)
