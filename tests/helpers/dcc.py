"""A small DCC world for tests: DSCs with chosen key usage, a trust list carrying them, fresh codes."""

from __future__ import annotations

from dataclasses import dataclass, field

from keys.dcc import DccCode, DccPrivateKey, generate_dsc_key, issue_dcc, make_dsc, payload_vaccination
from keys.keyfile import PrivateKey, generate_key
from keys.publishing import DccEntry, sign_trust_list
from keys.trustlist import TrustStore

NOW = 1_700_000_000
DAY = 86400


@dataclass
class Dsc:
    key: DccPrivateKey
    certificate: bytes
    country: str


@dataclass
class DccWorld:
    root: PrivateKey = field(default_factory=lambda: generate_key("ES256"))
    signers: list[Dsc] = field(default_factory=list)

    def add(self, country: str = "DE", *, kind: str = "P-256", types: str = "", early_arc: bool = False,
            other_ekus: tuple[str, ...] = (), not_before: int = NOW - 365 * DAY,
            not_after: int = NOW + 365 * DAY, listed: bool = True, explicit_ca_false: bool = False,
            second_eku: str | None = None) -> Dsc:
        key = generate_dsc_key(kind)
        cert = make_dsc(key, country, types=types, early_arc=early_arc, other_ekus=other_ekus,
                        not_before=not_before, not_after=not_after, explicit_ca_false=explicit_ca_false,
                        second_eku=second_eku)
        dsc = Dsc(key, cert, country)
        if listed:
            self.signers.append(dsc)
        return dsc

    def trust(self, version: int = 1) -> TrustStore:
        doc = sign_trust_list(self.root, [], version=version, issued_at=NOW - DAY, next_update=NOW + 30 * DAY,
                              dcc=[DccEntry(s.certificate, s.country) for s in self.signers])
        return TrustStore.from_document(doc, [self.root.public_key()])


def code(dsc: Dsc, hcert: dict | None = None, *, iat: int = NOW - DAY, exp: int = NOW + 300 * DAY,
         iss: str | None = "DE", **options) -> str:
    """A DCC signed by `dsc`; `options` are DccCode's quirk options (alg, kid_in, wrapping, compress)."""
    body = hcert if hcert is not None else payload_vaccination(dsc.country, f"URN:UVCI:01:{dsc.country}:TEST#1")
    return issue_dcc(dsc.key, dsc.certificate, DccCode(hcert=body, iss=iss, iat=iat, exp=exp, **options))
