"""DCC Document Signer Certificates (DSCs): the trust list's `dcc` entries read into signer keys.

A DSC is an X.509 certificate; what verification needs from it is its public key, its validity and
which certificate types its extended key usage allows. `cryptography`'s parser is strict and refuses
some real DSCs (e.g. malformed extensions that are still valid DER, or an extension twice), so a
certificate it refuses is read again with pyasn1-modules' RFC 5280 structures: there, every extended key
usage extension counts. Everything is read once, when the list is loaded.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeAlias

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import load_der_public_key

from keys.jsontypes import Json

if TYPE_CHECKING:
    from pyasn1_modules import rfc5280

log = logging.getLogger(__name__)

DccPublicKey: TypeAlias = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

# Extended key usage OIDs of DSCs, by the certificate type letter they allow (t test, v vaccination,
# r recovery). Early DSCs used the erroneous arc 1.3.6.1.4.1.0.1847..., still honoured.
_ARCS = ("1.3.6.1.4.1.1847.2021.1.", "1.3.6.1.4.1.0.1847.2021.1.")
DCC_EKU_TYPES: dict[str, str] = {arc + n: t for arc in _ARCS for n, t in (("1", "t"), ("2", "v"), ("3", "r"))}
ALL_TYPES = frozenset("vtr")
_EKU_OID = "2.5.29.37"


@dataclass(frozen=True)
class DccSigner:
    """One DSC: the key that signs DCCs, the window it may sign in and the types it may sign."""

    kid: bytes
    country: str
    public_key: DccPublicKey
    not_before: int
    not_after: int
    # Certificate type letters ("v", "t", "r") the DSC may sign; all three when its EKU names none.
    types: frozenset[str]
    certificate: bytes

    def valid_at(self, t: int) -> bool:
        return self.not_before <= t <= self.not_after

    def allows(self, cert_type: str) -> bool:
        return cert_type in self.types


def dcc_kid(certificate: bytes) -> bytes:
    """A DSC's kid: the first 8 bytes of SHA-256 over the certificate's DER."""
    return hashlib.sha256(certificate).digest()[:8]


def _types(oids: Iterable[str]) -> frozenset[str]:
    found = frozenset(DCC_EKU_TYPES[o] for o in oids if o in DCC_EKU_TYPES)
    return found or ALL_TYPES


def _strict(der: bytes) -> tuple[PublicKeyTypes, int, int, frozenset[str]]:
    cert = x509.load_der_x509_certificate(der)
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        types = _types(o.dotted_string for o in eku)
    except x509.ExtensionNotFound:
        types = ALL_TYPES
    return (cert.public_key(), int(cert.not_valid_before_utc.timestamp()),
            int(cert.not_valid_after_utc.timestamp()), types)


def _asn1_time(t: rfc5280.Time) -> int:
    value = t.getComponent()
    dt: datetime = value.asDateTime
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def _lenient(der: bytes) -> tuple[PublicKeyTypes, int, int, frozenset[str]]:
    """The same facts read with pyasn1: accepts any certificate that is valid DER."""
    from pyasn1.codec.der import decoder, encoder
    from pyasn1.error import PyAsn1Error
    from pyasn1_modules import rfc5280

    try:
        cert, rest = decoder.decode(der, asn1Spec=rfc5280.Certificate())
        if rest:
            raise ValueError("trailing bytes after the certificate")
        tbs = cert["tbsCertificate"]
        public = load_der_public_key(encoder.encode(tbs["subjectPublicKeyInfo"]))
        nb, na = _asn1_time(tbs["validity"]["notBefore"]), _asn1_time(tbs["validity"]["notAfter"])
        oids: list[str] = []
        if tbs["extensions"].isValue:
            for ext in tbs["extensions"]:
                if str(ext["extnID"]) == _EKU_OID:
                    eku, _ = decoder.decode(bytes(ext["extnValue"]), asn1Spec=rfc5280.ExtKeyUsageSyntax())
                    oids.extend(str(o) for o in eku)
    except PyAsn1Error as e:
        raise ValueError(f"not a DER X.509 certificate ({e.__class__.__name__})") from None
    return public, nb, na, _types(oids)


def read_signer(kid: bytes, country: str, der: bytes) -> DccSigner:
    """A DSC as a signer; ValueError names what is wrong with it."""
    if kid != dcc_kid(der):
        raise ValueError("kid is not the first 8 bytes of the certificate's SHA-256")
    try:
        try:
            public, nb, na, types = _strict(der)
        except (ValueError, x509.DuplicateExtension):
            public, nb, na, types = _lenient(der)
    except UnsupportedAlgorithm as e:
        raise ValueError(f"certificate key is of a type this device cannot use ({e})") from None
    if not isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise ValueError(f"certificate key is {type(public).__name__}, not EC or RSA")
    return DccSigner(kid=kid, country=country, public_key=public, not_before=nb, not_after=na, types=types,
                     certificate=der)


def read_signers(entries: Iterable[Json], source: str,
                 decode_b64: Callable[[object, str], bytes]) -> tuple[dict[bytes, tuple[DccSigner, ...]], list[str]]:
    """Every usable `dcc` entry by kid, and why each other entry was skipped (one bad DSC never drops the
    list: the list is signed by the root and holds every other country's signers)."""
    out: dict[bytes, list[DccSigner]] = {}
    skipped = []
    for i, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise ValueError("entry is not an object")
            country = entry.get("country")
            if not isinstance(country, str) or not country:
                raise ValueError("country missing")
            signer = read_signer(decode_b64(entry.get("kid"), "kid"), country,
                                 decode_b64(entry.get("certificate"), "certificate"))
        except (ValueError, TypeError) as e:
            skipped.append(f"dcc[{i}]: {e}")
            continue
        out.setdefault(signer.kid, []).append(signer)
    for s in skipped:
        log.warning("trust list %s: skipped entry %s", source, s)
    return {k: tuple(v) for k, v in out.items()}, skipped
