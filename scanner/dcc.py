"""Verification of an EU Digital COVID Certificate: the checks of `docs/verification.md` (DCC), in order.

Same verdicts and the same `VerifyResult` as HCC1, first failure wins: unsupported, malformed (decoding),
unknown_key (no DSC with the kid), key_not_valid (DSC not valid at the code's iat, its key usage does not
allow the certificate's type, or the payload has not exactly one of v/t/r), bad_signature, revoked
(one of its revocation hashes is in the DCC revocation list, keys/dccrevocation.py), not_yet_valid,
expired, ok. A venue's maximum code age never applies to a DCC (its validity is its exp and the business
rules), and the code's `iss` need not be the DSC's country. A valid certificate's `code_id` is a hash of its
UCI (`uci_code_id`).
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from keys.dccrevocation import revocation_hashes
from keys.dsc import DccSigner
from keys.signing import key_kind, verify_cose
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.codes.base import CodeError
from scanner.codes.dcc import COSE_ALG_NAMES, DccInfo, DecodedDcc, decode_dcc
from scanner.verify import Status, Verdict, VerifyResult, VerifySettings


def _signer(code: DecodedDcc, trust: TrustStore) -> tuple[DccSigner | None, Verdict, str]:
    """The DSC that signed this code, or the verdict and reason why none did."""
    candidates = trust.dcc_signers_for(code.kid)
    if not candidates:
        return None, Verdict.UNKNOWN_KEY, f"no DCC signer with kid {code.kid.hex()}"
    info = code.info
    if info.kind is None:
        return None, Verdict.KEY_NOT_VALID, (f"certificate has {len(info.kinds)} of the groups v/t/r "
                                            f"({', '.join(info.kinds) or 'none'}); exactly one is allowed")
    reasons, usable = [], []
    for s in candidates:
        if not s.valid_at(code.iat):
            reasons.append(f"DSC {s.kid.hex()} ({s.country}) was not valid at the code's issue time")
        elif not s.allows(info.kind):
            reasons.append(f"DSC {s.kid.hex()} ({s.country}) may not sign {info.type} certificates "
                           f"(key usage: {', '.join(sorted(s.types))})")
        else:
            usable.append(s)
    if not usable:
        return None, Verdict.KEY_NOT_VALID, "; ".join(reasons)
    for s in usable:
        if verify_cose(s.public_key, code.alg, code.signature, code.signed_data):
            return s, Verdict.OK, ""
    return None, Verdict.BAD_SIGNATURE, f"{COSE_ALG_NAMES[code.alg]} signature does not verify"


class DccVerifier(Protocol):
    def __call__(self, text: str, trust: TrustStore, status: StatusStore | None, now: float, *,
                 settings: VerifySettings | None = None) -> VerifyResult: ...


def verify_dcc(text: str, trust: TrustStore, status: StatusStore | None, now: float, *,
               settings: VerifySettings | None = None) -> VerifyResult:
    """Run the DCC checks on a normalised `HC1:` payload."""
    settings = settings or VerifySettings()
    tl_version = trust.version
    try:
        code = decode_dcc(text)
    except CodeError as e:
        return VerifyResult(verdict=Verdict(e.verdict), reasons=(e.reason,), format="HC1",
                            trust_list_version=tl_version)
    info = code.info
    issuer, name = info.country or None, info.name_latin or info.name_printed

    def fail(verdict: Verdict, reason: str, dcc: DccInfo = info) -> VerifyResult:
        return VerifyResult(verdict=verdict, reasons=(reason,), format="HC1", issuer=issuer, name=name,
                            iat=code.iat, exp=code.exp, kid=code.kid, trust_list_version=tl_version, dcc=dcc)

    signer, verdict, why = _signer(code, trust)
    if signer is None:
        return fail(verdict, why)
    signed = info.with_signer(signer.country)
    if status is not None:
        ecdsa = key_kind(signer.public_key) == "ec"
        hit = status.dcc_revoked(revocation_hashes(info.uci, info.country, code.signature, ecdsa))
        if hit is not None:
            return fail(Verdict.REVOKED, f"certificate is on the DCC revocation list (by its {hit} hash)", signed)
    if code.iat > now + settings.clock_skew:
        return fail(Verdict.NOT_YET_VALID, f"issued {int(code.iat - now)} s in the future", signed)
    if now > code.exp:
        return fail(Verdict.EXPIRED, f"expired {int(now - code.exp)} s ago", signed)
    # Every field in order, without keywords: this is the result of every valid DCC, and keywords cost
    # a third more. (verdict, status, reasons, format, issuer, issuer_name, name, code_type, guardian,
    # code_id, subject, iat, exp, kid, trust_list_version, status_list_version, dcc)
    return VerifyResult(Verdict.OK, Status.GREEN, (f"signed by {signer.country} DSC {signer.kid.hex()}",), "HC1",
                        issuer, None, name, None, None, uci_code_id(info.uci), None, code.iat, code.exp, code.kid,
                        tl_version, None, signed)


def uci_code_id(uci: str) -> bytes | None:
    """A valid certificate's code id: 16 bytes of a hash of its unique certificate identifier, so anti-passback
    and the site's admissions know it again as they know an HCC1 code by its id (None without a UCI)."""
    return hashlib.sha256(b"HC1-UCI:" + uci.encode("utf-8", "surrogatepass")).digest()[:16] if uci else None
