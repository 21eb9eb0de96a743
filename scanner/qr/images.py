"""QR payloads from image files, for `checkpoint check --image`: the camera pipeline's thorough decoder.

A still image gets every pass (zxing-cpp, zbar with exact bytes, contrast, inversion, rescaling,
sharpening) while a code may be missing: when the fast pass read codes, saw no symbol it could not read
and nothing else in the image looks code-like, that is the image. An animation's every frame is read.
"""

from __future__ import annotations

from pathlib import Path

from scanner.qr.decoder import decode_file


def read_image_payloads(path: str | Path) -> list[str]:
    """Every QR payload in an image file, as text; raises `InputError` for an unreadable file."""
    out = []
    for code in decode_file(str(path)):
        # The raw bytes are what the symbol holds; health codes are ASCII, anything else keeps its bytes.
        out.append(code.text if code.text is not None else code.data.decode("latin-1"))
    return out
