"""The issuer side, for pilots, the demo and tests: sign health codes, trust lists and status lists.

The national platform and regional issuers would run these. Codes are built exactly as the HCC1 spec
describes: CWT claims in a COSE_Sign1 (tag 18), zlib-compressed, Base45, prefixed `HCC1:`.
"""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import base45
import cbor2

from keys import jws
from keys.keyfile import PrivateKey, PublicKey, alg_of, kid_of, spki_der
from keys.signing import sign_raw
from keys.statuslist import STATUS_TYP
from keys.trustlist import TRUST_TYP

COSE_ALG = {"ES256": -7, "EdDSA": -8}
PREFIX = "HCC1:"
STATUS_CODES = {"green": 0, "yellow": 1, "red": 2}
RELATIONS = {"parent": 1, "child": 2, "spouse": 3, "grandparent": 4, "grandchild": 5, "sibling": 6,
             "other": 9}


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
    version: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_cbor_map(self) -> dict[int, Any]:
        hc: dict[str, Any] = {"v": self.version, "sub": self.sub, "n": self.name, "s": self.status,
                              "sd": self.iat if self.status_since is None else self.status_since,
                              "t": 1 if self.card else 0}
        if self.guardian is not None:
            gname, rel, gsub = self.guardian
            hc["g"] = {"n": gname, "r": rel, "sub": gsub}
        hc.update(self.extra)
        return {1: self.iss, 6: self.iat, 4: self.exp, 7: self.cti, -65537: hc}


def sign_cose(claims: dict[Any, Any], key: PrivateKey, *, kid: bytes | None = None, tagged: bool = True,
              kid_in_unprotected: bool = False, alg_override: int | None = None) -> bytes:
    """A COSE_Sign1 over CBOR claims. The overrides exist to build negative test cases."""
    alg = alg_override if alg_override is not None else COSE_ALG[alg_of(key)]
    k = kid if kid is not None else kid_of(key)
    prot_map: dict[int, Any] = {1: alg}
    unprot: dict[int, Any] = {}
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


# --- trust lists --------------------------------------------------------------------------------
@dataclass
class KeyEntry:
    """One key of the trust list, with the issuer's display names and what it may sign."""

    public_key: PublicKey
    issuer: str
    name_zh: str
    name_en: str
    use: Sequence[str] = ("code", "status")
    not_before: int = 1735689600  # 2025-01-01
    not_after: int = 1893456000  # 2030-01-01

    def to_json(self) -> dict[str, Any]:
        return {"kid": base64.b64encode(kid_of(self.public_key)).decode(), "issuer": self.issuer,
                "name": {"zh": self.name_zh, "en": self.name_en}, "alg": alg_of(self.public_key),
                "spki": base64.b64encode(spki_der(self.public_key)).decode(), "use": list(self.use),
                "not_before": self.not_before, "not_after": self.not_after}


def sign_trust_list(root: PrivateKey, keys: Iterable[KeyEntry], *, version: int, issued_at: int,
                    next_update: int) -> dict[str, str]:
    payload = {"type": "hc-trustlist", "version": version, "issued_at": issued_at,
               "next_update": next_update, "keys": [k.to_json() for k in keys], "dcc": []}
    return jws.sign(payload, root, TRUST_TYP)


# --- status lists -------------------------------------------------------------------------------
def sign_status_list(signer: PrivateKey, *, issuer: str, version: int, issued_at: int, next_update: int,
                     subjects: Iterable[tuple[bytes, int, int]] = (), revoked: Iterable[bytes] = (),
                     base: int | None = None) -> dict[str, str]:
    """A snapshot (base None) or a delta on `base`. Subjects are (pseudonym, status, since)."""
    payload = {"type": "hc-statuslist", "issuer": issuer, "version": version, "base": base,
               "issued_at": issued_at, "next_update": next_update,
               "subjects": [{"sub": base64.b64encode(sub).decode(), "s": s, "sd": sd}
                            for sub, s, sd in subjects],
               "revoked": [base64.b64encode(c).decode() for c in revoked]}
    return jws.sign(payload, signer, STATUS_TYP)
