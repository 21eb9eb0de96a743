"""QR payloads from image files, for `checkpoint check --image`.

Delegates to the camera pipeline's decoder when present (it has the fallbacks and extra passes);
otherwise one zxing-cpp pass over the grayscale image, which reads clean images such as issued PNGs.
"""

from __future__ import annotations

from pathlib import Path

from scanner.errors import InputError


def read_image_payloads(path: str | Path) -> list[str]:
    """Every QR payload in an image file, as text; raises `InputError` for an unreadable file."""
    import cv2
    import zxingcpp

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such image file")
    img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InputError(f"{p}: not a readable image")
    out = []
    for r in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)):
        # `.bytes` is what the symbol holds; `.text` may be reformatted by zxing-cpp.
        try:
            out.append(bytes(r.bytes).decode("utf-8"))
        except UnicodeDecodeError:
            out.append(bytes(r.bytes).decode("latin-1"))
    return out
