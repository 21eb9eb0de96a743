"""The generated "phone at the gate" corpus shared by the decoding and pipeline benchmarks.

Freshly signed HCC1 codes (real size, ~290 characters, alphanumeric, error correction M) drawn by
`scanner.sources.synthetic.gate_frame`: phones and cards at varied size, angle and tilt, blurred, noisy, in
low contrast, with glare spots, sometimes dark-mode (inverted), sometimes several codes per frame;
plus frames of the same clutter with no code. Seeded: the same arguments give the same corpus.

    .venv/bin/python -m bench.corpus --out DIR [--count 200] [--size 640x480]   # write PNGs + truth.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scanner.sources.synthetic import empty_frame, gate_frame


@dataclass(frozen=True)
class Sample:
    image: np.ndarray
    payloads: tuple[str, ...]  # empty for a frame without a code


def fresh_payloads(n: int, seed: int = 0) -> list[str]:
    from keys.hcc1 import CodeClaims, issue_code
    from keys.keyfile import generate_key

    key = generate_key("ES256")
    rng = np.random.default_rng(seed)
    now = int(time.time())
    return [issue_code(key, CodeClaims(iss="CN-ZJ", iat=now, exp=now + 86400, status=int(rng.integers(0, 3)),
                                       name="张*三", card=bool(rng.random() < 0.2)))
            for _ in range(n)]


def gate_corpus(count: int, width: int = 640, height: int = 480, *, seed: int = 1,
                payloads: list[str] | None = None) -> list[Sample]:
    """`count` frames with codes: ~88% one code, ~10% two, ~2% three (three only from 1280 px wide)."""
    pool = payloads or fresh_payloads(24, seed)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        r = rng.random()
        k = 1 if r < 0.88 else (2 if r < 0.98 or width < 1000 else 3)
        chosen = [pool[i] for i in rng.choice(len(pool), size=k, replace=False)]
        image, _placed = gate_frame(rng, chosen, width, height)
        out.append(Sample(image, tuple(chosen)))
    return out


def empty_corpus(count: int, width: int = 640, height: int = 480, *, seed: int = 2) -> list[Sample]:
    rng = np.random.default_rng(seed)
    return [Sample(empty_frame(rng, width, height), ()) for _ in range(count)]


def main() -> None:
    import cv2

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--empty", type=int, default=50)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    truth = {}
    samples = gate_corpus(args.count, w, h, seed=args.seed) + empty_corpus(args.empty, w, h, seed=args.seed + 1)
    for i, s in enumerate(samples):
        name = f"{i:04d}.png"
        cv2.imwrite(str(args.out / name), s.image)
        truth[name] = list(s.payloads)
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1))
    print(f"wrote {len(samples)} frames ({args.count} with codes) to {args.out}")


if __name__ == "__main__":
    main()
