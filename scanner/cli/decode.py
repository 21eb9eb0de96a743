"""`checkpoint decode`: read QR codes from image files, like zbarimg.

Contract used by acceptance checks:
    checkpoint decode [--json] IMAGE ...
        one JSON line per image: {"image", "codes": [{"text", "bytes_b64", "polygon"}], "ms"}, or
        {"image", "error"} for a file that cannot be read (the run goes on; exit 1 at the end).
    Without --json: one "IMAGE: TEXT" line per code, "IMAGE: no QR code" for an image without one; an image
        whose name holds a character that is not printable (a newline) is named as a JSON string.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from scanner.errors import InputError


def _escaped(text: str) -> str:
    """`text` with each character that is not printable written as JSON writes it (a newline as "\\n")."""
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in text)


def _image_name(path: str) -> str:
    """An image's name for a plain line: as given, or as a JSON string when it holds a character that is not
    printable, so that a newline in a name cannot start a line that reads as another image's result."""
    if path.isprintable():
        return path
    return '"' + _escaped(path.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def run_decode(args: argparse.Namespace) -> int:
    from scanner.qr.decoder import FrameDecoder, decode_file

    decoders = args.decoder or ["zxing", "zbar"]
    decoder = FrameDecoder(decoders)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    failed = 0
    for path in args.image:
        t0 = time.perf_counter()
        try:
            codes = decode_file(path, decoder)
        except InputError as e:
            failed += 1
            if args.json:
                print(json.dumps({"image": path, "error": str(e)}, ensure_ascii=False), flush=True)
            else:
                print(f"checkpoint: error: {_escaped(str(e))}", file=sys.stderr, flush=True)
            continue
        ms = (time.perf_counter() - t0) * 1000
        if args.json:
            print(json.dumps({"image": path, "codes": [c.to_json() for c in codes], "ms": round(ms, 2)},
                             ensure_ascii=False), flush=True)
        elif not codes:
            print(f"{_image_name(path)}: no QR code", flush=True)
        else:
            for c in codes:
                shown = c.text if c.text is not None else "(binary) " + c.data.hex()
                print(f"{_image_name(path)}: {shown}", flush=True)
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("decode", help="read QR codes from image files",
                       description="Read every QR code in each image (like zbarimg). Polygons are in the "
                                   "image's own pixel coordinates, EXIF orientation ignored.")
    d.add_argument("--json", action="store_true",
                   help='one JSON line per image: {"image", "codes": [{"text", "bytes_b64", "polygon"}], "ms"}')
    d.add_argument("--decoder", action="append", choices=["zxing", "zbar"],
                   help="use only this decoder (repeatable; default: zxing, then zbar)")
    d.add_argument("image", nargs="+", metavar="IMAGE")
    d.set_defaults(func=run_decode)
