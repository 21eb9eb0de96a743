"""The issuer side of EU Digital COVID Certificates: Document Signer Certificates and `HC1:` codes.

A member state's DSC is an X.509 certificate whose extended key usage may restrict it to certificate
types; the codes it signs are CWT claims (iss 1, iat 6, exp 4, hcert -260 -> 1) in a COSE_Sign1,
zlib-compressed and Base45-encoded behind `HC1:`. Here it serves the demo, the benchmark and tests,
which need codes with each quirk real certificates show (kid only in the unprotected header, untagged
or CWT-tagged messages, the early key-usage arc, an ES256 signature by a P-384 key, RSA-PSS), so every
one of those is an option.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

import base45
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtensionOID, NameOID

from keys.dsc import DCC_EKU_TYPES, dcc_kid
from keys.errors import KeyFileError
from keys.jsontypes import Cbor, CborMap, JsonObject
from keys.signing import COSE_SIGNATURE_ALGS

DccPrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
COSE_ALG = {"ES256": -7, "ES384": -35, "ES512": -36, "PS256": -37, "PS384": -38, "PS512": -39}
Wrapping = Literal["tag18", "untagged", "cwt"]
DCC_PREFIX = "HC1:"


def generate_dsc_key(kind: str = "P-256") -> DccPrivateKey:
    """A DSC key: "P-256", "P-384", "P-521" or "RSA-2048"/"RSA-3072"/"RSA-4096"."""
    curves: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(),
                                           "P-521": ec.SECP521R1()}
    if kind in curves:
        return ec.generate_private_key(curves[kind])
    if kind in ("RSA-2048", "RSA-3072", "RSA-4096"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[4:]))
    raise KeyFileError(f"unknown DSC key kind {kind!r}: use P-256, P-384, P-521, RSA-2048, RSA-3072 or RSA-4096")


def default_alg(key: DccPrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "PS256"
    return {256: "ES256", 384: "ES384", 521: "ES512"}[key.curve.key_size]


def _eku_oids(types: str, early_arc: bool) -> list[x509.ObjectIdentifier]:
    arc = "1.3.6.1.4.1.0.1847.2021.1." if early_arc else "1.3.6.1.4.1.1847.2021.1."
    return [x509.ObjectIdentifier(oid) for oid, t in DCC_EKU_TYPES.items() if oid.startswith(arc) and t in types]


def make_dsc(key: DccPrivateKey, country: str, *, types: str = "", early_arc: bool = False,
             other_ekus: tuple[str, ...] = (), not_before: int, not_after: int,
             issuer_key: DccPrivateKey | None = None, name: str = "DSC", explicit_ca_false: bool = False,
             second_eku: str | None = None) -> bytes:
    """A DSC (DER) for `key`. `types` holds the letters v/t/r its key usage allows ("" = no DCC OIDs,
    so every type); signed by `issuer_key` (a CSCA) or self-signed. `explicit_ca_false` encodes basic
    constraints with an explicit default cA=FALSE, as some real DSCs do: valid BER, which strict DER
    parsers refuse. `second_eku` (type letters) adds a second extended key usage extension: RFC 5280
    allows one, strict parsers refuse two, and the DER is still valid."""
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country[:2]),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"{name} {country}")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country[:2]),
                        x509.NameAttribute(NameOID.COMMON_NAME, f"CSCA {country}")]) if issuer_key else subject
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(dt.datetime.fromtimestamp(not_before, dt.UTC))
         .not_valid_after(dt.datetime.fromtimestamp(not_after, dt.UTC)))
    oids = _eku_oids(types, early_arc) + [x509.ObjectIdentifier(o) for o in other_ekus]
    if oids:
        b = b.add_extension(x509.ExtendedKeyUsage(oids), critical=False)
    if explicit_ca_false:
        b = b.add_extension(x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, b"\x30\x03\x01\x01\x00"),
                            critical=True)
    if second_eku is not None:
        # cryptography builds no certificate with an extension twice: the second goes in under a stand-in
        # OID and is renamed afterwards.
        b = b.add_extension(x509.UnrecognizedExtension(
            _STAND_IN_EKU, x509.ExtendedKeyUsage(_eku_oids(second_eku, early_arc)).public_bytes()), critical=False)
    der = b.sign(issuer_key or key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    return _renamed_stand_in(der, issuer_key or key) if second_eku is not None else der


_STAND_IN_EKU = x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.99")


def _renamed_stand_in(der: bytes, signer: DccPrivateKey) -> bytes:
    """`der` with the `_STAND_IN_EKU` extension renamed to extended key usage, signed again by `signer`."""
    from pyasn1.codec.der import decoder, encoder
    from pyasn1.type import univ
    from pyasn1_modules import rfc5280

    cert, _ = decoder.decode(der, asn1Spec=rfc5280.Certificate())
    tbs = cert["tbsCertificate"]
    for ext in tbs["extensions"]:
        if str(ext["extnID"]) == _STAND_IN_EKU.dotted_string:
            ext["extnID"] = rfc5280.id_ce_extKeyUsage
    tbs_der = encoder.encode(tbs)
    if isinstance(signer, rsa.RSAPrivateKey):
        signature = signer.sign(tbs_der, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = signer.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
    cert["signature"] = univ.BitString.fromOctetString(signature)
    out: bytes = encoder.encode(cert)
    return out


def sign_dcc_raw(key: DccPrivateKey, alg: str, data: bytes) -> bytes:
    """A COSE signature: ECDSA as r‖s sized by the key's curve (whatever the alg's hash), or RSA-PSS."""
    kind, digest = COSE_SIGNATURE_ALGS[COSE_ALG[alg]]
    if isinstance(key, ec.EllipticCurvePrivateKey) and kind == "ec":
        n = (key.curve.key_size + 7) // 8
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
        return r.to_bytes(n, "big") + s.to_bytes(n, "big")
    if isinstance(key, rsa.RSAPrivateKey) and kind == "rsa":
        return key.sign(data, padding.PSS(padding.MGF1(digest), digest.digest_size), digest)
    raise KeyFileError(f"a {type(key).__name__} cannot sign {alg}")


@dataclass
class DccCode:
    """Everything that goes into one DCC; the options after `hcert` build the quirks real codes show."""

    hcert: JsonObject
    iss: str | None
    iat: int
    exp: int
    alg: str | None = None
    kid_in: Literal["protected", "unprotected", "both"] = "protected"
    wrapping: Wrapping = "tag18"
    compress: bool = True
    extra_claims: CborMap = field(default_factory=dict)
    # CBOR value sharing (tags 28/29): an item used twice, or inside itself, is encoded once and referred to.
    value_sharing: bool = False

    def claims(self) -> CborMap:
        out: CborMap = {6: self.iat, 4: self.exp, -260: {1: self.hcert}}
        if self.iss is not None:
            out[1] = self.iss
        out.update(self.extra_claims)
        return out


def issue_dcc(key: DccPrivateKey, certificate: bytes, code: DccCode) -> str:
    """Sign and encode a DCC with the DSC `certificate`'s kid: the text that goes into the QR symbol."""
    alg = code.alg or default_alg(key)
    kid = dcc_kid(certificate)
    prot: CborMap = {1: COSE_ALG[alg]}
    unprot: CborMap = {}
    if code.kid_in in ("protected", "both"):
        prot[4] = kid
    if code.kid_in in ("unprotected", "both"):
        unprot[4] = kid
    protected = cbor2.dumps(prot)
    payload = cbor2.dumps(code.claims(), value_sharing=code.value_sharing)
    signature = sign_dcc_raw(key, alg, cbor2.dumps(["Signature1", protected, b"", payload]))
    msg: Cbor = [protected, unprot, payload, signature]
    if code.wrapping != "untagged":
        msg = cbor2.CBORTag(18, msg)
    if code.wrapping == "cwt":
        msg = cbor2.CBORTag(61, msg)
    raw = cbor2.dumps(msg)
    return DCC_PREFIX + base45.b45encode(zlib.compress(raw, 9) if code.compress else raw).decode("ascii")


# --- payloads -------------------------------------------------------------------------------------
def _person(family: str, given: str, family_std: str, given_std: str, dob: str) -> JsonObject:
    return {"ver": "1.3.0", "dob": dob,
            "nam": {"fn": family, "gn": given, "fnt": family_std, "gnt": given_std}}


def payload_vaccination(country: str, uci: str, *, dose: int = 2, doses: int = 2, date: str = "2021-06-01",
                product: str = "EU/1/20/1528", manufacturer: str = "ORG-100030215",
                family: str = "Musterfrau-Gößinger", given: str = "Gabriele",
                family_std: str = "MUSTERFRAU<GOESSINGER", given_std: str = "GABRIELE",
                dob: str = "1998-02-26") -> JsonObject:
    p = _person(family, given, family_std, given_std, dob)
    p["v"] = [{"tg": "840539006", "vp": "1119349007", "mp": product, "ma": manufacturer, "dn": dose,
               "sd": doses, "dt": date, "co": country, "is": f"Ministry of Health {country}", "ci": uci}]
    return p


def payload_test(country: str, uci: str, *, sample_time: str = "2021-06-01T10:00:00Z", result: str = "260415000",
         test_type: str = "LP6464-4", centre: str = "Testzentrum", family: str = "Mustermann",
         given: str = "Erika", family_std: str = "MUSTERMANN", given_std: str = "ERIKA",
         dob: str = "1964-08-12") -> JsonObject:
    p = _person(family, given, family_std, given_std, dob)
    p["t"] = [{"tg": "840539006", "tt": test_type, "nm": "PCR", "sc": sample_time, "tr": result, "tc": centre,
               "co": country, "is": f"Ministry of Health {country}", "ci": uci}]
    return p


def payload_recovery(country: str, uci: str, *, first_positive: str = "2021-05-01", valid_from: str = "2021-05-12",
             valid_until: str = "2021-10-28", family: str = "Dupont", given: str = "Jean",
             family_std: str = "DUPONT", given_std: str = "JEAN", dob: str = "1980-01-01") -> JsonObject:
    p = _person(family, given, family_std, given_std, dob)
    p["r"] = [{"tg": "840539006", "fr": first_positive, "df": valid_from, "du": valid_until, "co": country,
               "is": f"Ministry of Health {country}", "ci": uci}]
    return p


def load_dsc_key(path: str) -> DccPrivateKey:
    try:
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
    except (OSError, ValueError, TypeError) as e:
        raise KeyFileError(f"{path}: not a readable unencrypted PEM private key: {e}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise KeyFileError(f"{path}: a DSC key is EC or RSA, not {type(key).__name__}")
    return key
