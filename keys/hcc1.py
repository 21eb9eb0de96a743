"""The HCC1 format's constants, and its encoder: the issuer side of a health code.

`scanner.codes.hcc1` decodes with the same constants, so the two sides cannot drift apart. Codes are
built as docs/format.md describes: CWT claims in a COSE_Sign1 (tag 18), zlib-compressed, Base45,
prefixed `HCC1:`. Regional issuers would run the encoder; here it serves pilots, the demo and tests.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import base45
import cbor2

from keys.jsontypes import CborMap, JsonObject
from keys.keyfile import PrivateKey, alg_of, kid_of
from keys.signing import sign_raw

PREFIX = "HCC1:"
CLAIMS_VERSION = 1
# COSE algorithm identifiers, both ways.
COSE_ALG = {"ES256": -7, "EdDSA": -8}
COSE_ALGS = {v: k for k, v in COSE_ALG.items()}
STATUS_CODES = {"green": 0, "yellow": 1, "red": 2}
RELATIONS = {"parent": 1, "child": 2, "spouse": 3, "grandparent": 4, "grandchild": 5, "sibling": 6,
             "other": 9}
# Real codes are ~200-400 bytes; the cap stops a zlib bomb from eating the device's memory.
MAX_DECOMPRESSED = 16 * 1024


@dataclass
class CodeClaims:
    """Every claim of a code, settable; defaults make a fresh green personal code."""

    iss: str
    iat: int
    exp: int
    sub: bytes = field(default_factory=lambda: os.urandom(16))
    cti: bytes = field(default_factory=lambda: os.urandom(16))
    name: str = "张*三"
    status: int = 0
    status_since: int | None = None
    card: bool = False
    guardian: tuple[str, int, bytes] | None = None  # (masked name, relation code, pseudonym)
    version: int = CLAIMS_VERSION
    extra: JsonObject = field(default_factory=dict)

    def to_cbor_map(self) -> CborMap:
        hc: JsonObject = {"v": self.version, "sub": self.sub, "n": self.name, "s": self.status,
                              "sd": self.iat if self.status_since is None else self.status_since,
                              "t": 1 if self.card else 0}
        if self.guardian is not None:
            gname, rel, gsub = self.guardian
            hc["g"] = {"n": gname, "r": rel, "sub": gsub}
        hc.update(self.extra)
        return {1: self.iss, 6: self.iat, 4: self.exp, 7: self.cti, -65537: hc}


def sign_cose(claims: CborMap, key: PrivateKey, *, kid: bytes | None = None, tagged: bool = True,
              kid_in_unprotected: bool = False, alg_override: int | None = None) -> bytes:
    """A COSE_Sign1 over CBOR claims. The overrides exist to build negative test cases."""
    alg = alg_override if alg_override is not None else COSE_ALG[alg_of(key)]
    k = kid if kid is not None else kid_of(key)
    prot_map: CborMap = {1: alg}
    unprot: CborMap = {}
    if kid_in_unprotected:
        unprot[4] = k
    else:
        prot_map[4] = k
    protected = cbor2.dumps(prot_map)
    payload = cbor2.dumps(claims)
    sig = sign_raw(key, cbor2.dumps(["Signature1", protected, b"", payload]))
    msg = [protected, unprot, payload, sig]
    return cbor2.dumps(cbor2.CBORTag(18, msg) if tagged else msg)


def encode_payload(cose: bytes, *, compress: bool = True, prefix: str = PREFIX) -> str:
    body = zlib.compress(cose, 9) if compress else cose
    return prefix + base45.b45encode(body).decode("ascii")


def issue_code(key: PrivateKey, claims: CodeClaims, *, compress: bool = True) -> str:
    """Sign and encode a code: the exact text that goes into the QR symbol."""
    return encode_payload(sign_cose(claims.to_cbor_map(), key), compress=compress)


def qr_png(payload: str, path: str | Path, *, scale: int = 6, border: int = 4) -> Path:
    """Write the payload as a QR PNG in alphanumeric mode, error correction M."""
    import segno  # only the issuing tools draw QR codes

    p = Path(path)
    segno.make(payload, mode="alphanumeric", error="m", boost_error=False).save(
        str(p), kind="png", scale=scale, border=border)
    return p
