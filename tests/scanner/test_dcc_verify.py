"""EU DCC verification: every quirk the EU's own test data shows, built with the project's issuing tools."""

from __future__ import annotations

import base64
import zlib

import base45
import cbor2
import pytest

from keys.dcc import payload_recovery, payload_test, payload_vaccination
from scanner.verify import Status, Verdict, verify_code
from tests.helpers.dcc import DAY, NOW, DccWorld, Dsc, code


@pytest.fixture(scope="module")
def world() -> DccWorld:
    w = DccWorld()
    w.add("DE")                                            # no EKU: every type
    w.add("AT", types="v")                                 # vaccination only
    w.add("FR", types="tr", early_arc=True)                # erroneous early arc: test + recovery
    w.add("ES", other_ekus=("1.3.6.1.5.5.7.3.1",))          # only a TLS EKU: every type
    w.add("CH", kind="P-384")
    w.add("SE", kind="RSA-2048")
    w.add("FI", types="v", explicit_ca_false=True)       # strict X.509 parsers refuse it
    w.add("LU", types="v", second_eku="t")                # two EKU extensions: strict parsers refuse it
    w.add("IT", not_before=NOW - 100 * DAY, not_after=NOW - 10 * DAY)
    return w


@pytest.fixture(scope="module")
def trust(world):
    return world.trust()


def signer(world, country):
    return next(s for s in world.signers if s.country == country)


def check(trust, payload, now=NOW):
    return verify_code(payload, trust, None, now, max_code_age=60)


def test_valid_vaccination_carries_the_payload_and_facts(world, trust) -> None:
    r = check(trust, code(signer(world, "DE")))
    assert r.verdict is Verdict.OK and r.status is Status.GREEN and r.format == "HC1"
    assert r.dcc is not None and r.dcc.type == "vaccination" and r.dcc.signer_country == "DE"
    assert r.dcc.name_latin == "MUSTERFRAU GOESSINGER, GABRIELE"
    assert r.dcc.name_printed == "Musterfrau-Gößinger, Gabriele" and r.dcc.dob == "1998-02-26"
    assert r.dcc.facts["dose"] == 2 and r.dcc.facts["doses"] == 2 and r.dcc.facts["date"] == "2021-06-01"
    assert r.dcc.hcert["v"][0]["mp"] == "EU/1/20/1528" and r.dcc.schema_problem is None
    j = r.to_json()["dcc"]
    assert j["type"] == "vaccination" and j["country"] == "DE" and j["name"]["standardised"].startswith("MUSTER")


def test_max_code_age_never_makes_a_dcc_stale(world, trust) -> None:
    # Issued 100 days before the check, with a venue limit of 60 s.
    assert check(trust, code(signer(world, "DE"), iat=NOW - 100 * DAY)).verdict is Verdict.OK


@pytest.mark.parametrize("options", [{"wrapping": "untagged"}, {"wrapping": "cwt"}, {"kid_in": "unprotected"},
                                     {"kid_in": "both"}])
def test_cose_shapes_real_codes_use(world, trust, options) -> None:
    assert check(trust, code(signer(world, "DE"), **options)).verdict is Verdict.OK


def test_uncompressed_cose_is_refused_for_dcc(world, trust) -> None:
    r = check(trust, code(signer(world, "DE"), compress=False))
    assert r.verdict is Verdict.MALFORMED and "zlib" in r.reasons[0]


def test_alg_only_in_the_unprotected_header(world, trust) -> None:
    dsc = signer(world, "DE")
    cose = cbor2.loads(zlib.decompress(base45.b45decode(code(dsc)[4:])))
    prot = cbor2.loads(cose.value[0])
    # Re-sign with an empty protected header, alg and kid unprotected.
    from keys.dcc import sign_dcc_raw
    payload = cose.value[2]
    sig = sign_dcc_raw(dsc.key, "ES256", cbor2.dumps(["Signature1", b"", b"", payload]))
    msg = cbor2.CBORTag(18, [b"", {1: prot[1], 4: prot[4]}, payload, sig])
    text = "HC1:" + base45.b45encode(zlib.compress(cbor2.dumps(msg))).decode()
    assert check(trust, text).verdict is Verdict.OK


def test_key_usage(world, trust) -> None:
    at, fr, es = signer(world, "AT"), signer(world, "FR"), signer(world, "ES")
    assert check(trust, code(at)).verdict is Verdict.OK
    r = check(trust, code(at, payload_test("AT", "URN:UVCI:01:AT:T1")))
    assert r.verdict is Verdict.KEY_NOT_VALID and "may not sign test" in r.reasons[0]
    # The early arc is honoured: FR may sign tests and recoveries, not vaccinations.
    assert check(trust, code(fr, payload_test("FR", "URN:UVCI:01:FR:T1"))).verdict is Verdict.OK
    assert check(trust, code(fr, payload_recovery("FR", "URN:UVCI:01:FR:R1"))).verdict is Verdict.OK
    assert check(trust, code(fr)).verdict is Verdict.KEY_NOT_VALID
    # Other EKUs without a DCC OID restrict nothing.
    for body in (payload_test("ES", "X"), payload_recovery("ES", "Y"), payload_vaccination("ES", "Z")):
        assert check(trust, code(es, body)).verdict is Verdict.OK


def test_exactly_one_certificate_type(world, trust) -> None:
    both = payload_vaccination("DE", "A")
    both["t"] = payload_test("DE", "B")["t"]
    r = check(trust, code(signer(world, "DE"), both))
    assert r.verdict is Verdict.KEY_NOT_VALID and "exactly one" in r.reasons[0]


def test_other_algorithms_and_curve_sized_signatures(world, trust) -> None:
    ch, se = signer(world, "CH"), signer(world, "SE")
    assert check(trust, code(ch)).verdict is Verdict.OK                   # ES384
    assert check(trust, code(ch, alg="ES256")).verdict is Verdict.OK      # ES256 by a P-384 key: 96-byte r||s
    assert check(trust, code(se)).verdict is Verdict.OK                   # PS256
    assert check(trust, code(se, alg="PS384")).verdict is Verdict.OK


def test_dsc_validity_at_iat(world, trust) -> None:
    it = signer(world, "IT")
    assert check(trust, code(it, iat=NOW - 50 * DAY)).verdict is Verdict.OK
    assert check(trust, code(it, iat=NOW - 5 * DAY)).verdict is Verdict.KEY_NOT_VALID


def test_iss_need_not_be_the_signers_country(world, trust) -> None:
    r = check(trust, code(signer(world, "DE"), iss="Ministry of Health"))
    assert r.verdict is Verdict.OK and r.dcc is not None and r.dcc.country == "DE"
    assert check(trust, code(signer(world, "DE"), iss=None)).verdict is Verdict.OK


def test_time_verdicts(world, trust) -> None:
    de = signer(world, "DE")
    assert check(trust, code(de, exp=NOW - 1)).verdict is Verdict.EXPIRED
    assert check(trust, code(de, iat=NOW + 3600)).verdict is Verdict.NOT_YET_VALID


def test_signature_and_key_failures(world, trust) -> None:
    de = signer(world, "DE")
    unlisted = world.add("NL", listed=False)
    assert check(trust, code(unlisted)).verdict is Verdict.UNKNOWN_KEY
    raw = bytearray(zlib.decompress(base45.b45decode(code(de)[4:])))
    raw[-3] ^= 1  # inside the signature
    r = check(trust, "HC1:" + base45.b45encode(zlib.compress(bytes(raw))).decode())
    assert r.verdict is Verdict.BAD_SIGNATURE
    # A code claiming DE's kid but signed by another key.
    from keys.dcc import DccCode, issue_dcc
    forged = issue_dcc(unlisted.key, de.certificate, DccCode(payload_vaccination("DE", "F"), "DE", NOW - 5, NOW + DAY))
    assert check(trust, forged).verdict is Verdict.BAD_SIGNATURE


@pytest.mark.parametrize("text, verdict", [
    ("HC1:", Verdict.MALFORMED), ("HC1:!!!", Verdict.MALFORMED),
    ("HC1:" + base45.b45encode(zlib.compress(b"\xa0")).decode(), Verdict.MALFORMED),
    ("HC1:" + base45.b45encode(b"not zlib").decode(), Verdict.MALFORMED),
])
def test_decoding_failures(trust, text, verdict) -> None:
    assert check(trust, text).verdict is verdict


@pytest.mark.parametrize("iat, exp", [(float("inf"), NOW + DAY), (float("nan"), NOW + DAY),
                                       (NOW - DAY, float("inf")), (NOW - DAY, float("-inf"))])
def test_times_that_are_not_finite_numbers_are_malformed(world, trust, iat, exp) -> None:
    # CBOR floats may be infinite or NaN; such a time is no time at all, whoever signed it.
    r = check(trust, code(signer(world, "DE"), iat=iat, exp=exp))
    assert r.verdict is Verdict.MALFORMED and ("iat" in r.reasons[0] if iat != NOW - DAY else "exp" in r.reasons[0])


def test_fractional_times_are_accepted(world, trust) -> None:
    assert check(trust, code(signer(world, "DE"), iat=NOW - 0.5, exp=NOW + 0.5)).verdict is Verdict.OK


@pytest.mark.parametrize("listed", [True, False])
def test_payload_with_cbor_value_sharing_is_malformed(world, trust, listed) -> None:
    # CBOR value sharing (tags 28/29) lets an item sit inside itself, or once in the bytes and a
    # million times in the JSON form: neither is the JSON data a DCC payload is. Whoever signed it,
    # the code is refused as it is decoded, and its result still serialises.
    dsc = signer(world, "DE") if listed else world.add("NL", listed=False)
    looped = payload_vaccination("DE", "URN:UVCI:01:DE:LOOP#1")
    looped["v"][0]["x"] = looped["v"]
    fanned = payload_vaccination("DE", "URN:UVCI:01:DE:FAN#1")
    level: list = ["leaf"]
    for _ in range(40):
        level = [level, level]
    fanned["v"][0]["x"] = level
    for body in (looped, fanned):
        r = check(trust, code(dsc, body, value_sharing=True))
        assert r.verdict is Verdict.MALFORMED and "(tags 28/29)" in r.reasons[0]
        assert r.to_json()["verdict"] == "malformed"


# A 512-bit RSA key: too small for a PS512 signature (SHA-512 and its salt do not fit), which no
# verification must turn into anything but "does not verify".
SMALL_RSA_PEM = b"""-----BEGIN PRIVATE KEY-----
MIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEAxUApg+yPXYRYAfPY
I6IBHuIf1Cq72XuOAG+JlEbWaVwb87OgKCzqWqlquadNn2/Le4CmSIrdGgRx1VdO
qFuZEQIDAQABAkBPrKMYTq16MML7xus/OWkKeHwyzzAhoO6y7lq8MgDZfU1ZOZ1Y
cKMeGyMWHe8roOhJTYb79+QUNEElIZ4bSikhAiEA7clC87nsdcurgt7BnUiGCvjo
rPelxPcO6Q8rox0sLusCIQDUXAp9EEXp7t0XbBnb4Xj+YWzhAk2dFkSgby+Vmh0w
8wIhAN2HI1jtXd5gYOkLnlVpu3d9bUe3cDiP8tQtzfmotAEBAiAeokBpFiXfvzNp
o5B/ZaE8oPVB6EEl/gZcVm242QiI/QIgAUFjQG7o1fTGRrH86Y3+6N8mtcMybcX6
tjEpD9kqyJ4=
-----END PRIVATE KEY-----
"""


@pytest.mark.parametrize("alg", [-37, -38, -39])
def test_a_signature_the_dscs_key_is_too_small_for_does_not_verify(world, alg) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from keys.dcc import make_dsc
    from keys.dsc import dcc_kid
    key = load_pem_private_key(SMALL_RSA_PEM, None)
    cert = make_dsc(key, "XS", not_before=NOW - DAY, not_after=NOW + DAY)
    t = DccWorld(root=world.root, signers=[Dsc(key, cert, "XS")]).trust()
    claims = {1: "XS", 6: NOW - 60, 4: NOW + DAY, -260: {1: payload_vaccination("XS", "URN:UVCI:01:XS:1")}}
    msg = cbor2.CBORTag(18, [cbor2.dumps({1: alg, 4: dcc_kid(cert)}), {}, cbor2.dumps(claims), bytes(64)])
    r = check(t, "HC1:" + base45.b45encode(zlib.compress(cbor2.dumps(msg))).decode())
    assert r.verdict is Verdict.BAD_SIGNATURE


def test_unknown_alg_is_unsupported(world, trust) -> None:
    msg = cbor2.CBORTag(18, [cbor2.dumps({1: -8, 4: b"12345678"}), {}, cbor2.dumps({6: NOW, 4: NOW + 1}), b"x"])
    text = "HC1:" + base45.b45encode(zlib.compress(cbor2.dumps(msg))).decode()
    assert check(trust, text).verdict is Verdict.UNSUPPORTED


def test_schema_problems_are_reported_not_refused(world, trust) -> None:
    body = payload_vaccination("DE", "A")
    body["v"][0]["dn"] = "two"
    r = check(trust, code(signer(world, "DE"), body))
    assert r.verdict is Verdict.OK and r.dcc is not None and r.dcc.schema_problem
    assert any("schema" in x for x in r.to_json()["reasons"])


def test_bad_dsc_entries_are_skipped_not_fatal(world) -> None:
    from keys.jws import sign
    w = DccWorld(root=world.root, signers=[signer(world, "DE")])
    doc = w.trust().current.document
    payload = __import__("json").loads(base64.urlsafe_b64decode(doc["payload"] + "=="))
    payload["dcc"].append({"kid": "AAAAAAAAAAA=", "country": "XX", "certificate": "AAAA"})
    from keys.trustlist import TRUST_TYP, TrustStore
    t = TrustStore.from_document(sign(payload, world.root, TRUST_TYP), [world.root.public_key()])
    assert t.current is not None and any("dcc[1]" in s for s in t.current.skipped)
    assert check(t, code(signer(world, "DE"))).verdict is Verdict.OK


def test_dsc_with_a_key_algorithm_cryptography_cannot_read_is_skipped_not_fatal(world) -> None:
    # The SPKI of a real DSC with its algorithm OID changed to one no library knows (an EC arc that
    # names no key type): valid DER, just no EC or RSA key, so the entry is skipped and the rest stand.
    odd = world.add("XX", listed=False)
    ec_public_key = bytes.fromhex("06072a8648ce3d0201")
    at = odd.certificate.index(ec_public_key)
    unknown = odd.certificate[:at] + bytes.fromhex("06072a8648ce3d0209") + odd.certificate[at + len(ec_public_key):]
    w = DccWorld(root=world.root, signers=[signer(world, "DE"), Dsc(odd.key, unknown, "XX")])
    t = w.trust()
    assert check(t, code(signer(world, "DE"))).verdict is Verdict.OK
    assert t.current is not None and any("dcc[1]" in s and "key" in s for s in t.current.skipped)


def test_dsc_the_strict_parser_refuses_still_loads(world, trust) -> None:
    from cryptography import x509
    fi = signer(world, "FI")
    with pytest.raises(ValueError):
        _ = x509.load_der_x509_certificate(fi.certificate).extensions
    assert check(trust, code(fi)).verdict is Verdict.OK
    assert check(trust, code(fi, payload_test("FI", "T"))).verdict is Verdict.KEY_NOT_VALID


def test_dsc_with_two_key_usage_extensions_loads_with_both(world, trust) -> None:
    from cryptography import x509
    lu = signer(world, "LU")
    with pytest.raises(x509.DuplicateExtension):
        _ = x509.load_der_x509_certificate(lu.certificate).extensions
    assert check(trust, code(lu)).verdict is Verdict.OK
    assert check(trust, code(lu, payload_test("LU", "T"))).verdict is Verdict.OK
    assert check(trust, code(lu, payload_recovery("LU", "R"))).verdict is Verdict.KEY_NOT_VALID


def _resigned(dsc, protected: dict, unprotected: dict, payload: bytes | None = None) -> str:
    """The DE code again with these headers (and payload bytes), validly signed."""
    from keys.dcc import sign_dcc_raw

    cose = cbor2.loads(zlib.decompress(base45.b45decode(code(dsc)[4:])))
    payload = cose.value[2] if payload is None else payload
    prot = cbor2.dumps(protected)
    sig = sign_dcc_raw(dsc.key, "ES256", cbor2.dumps(["Signature1", prot, b"", payload]))
    cose = cbor2.dumps(cbor2.CBORTag(18, [prot, unprotected, payload, sig]))
    return "HC1:" + base45.b45encode(zlib.compress(cose)).decode()


def test_critical_headers_follow_rfc_9052(world, trust) -> None:
    # §3.1: a critical header parameter not understood rejects the message; crit only in the protected bucket.
    dsc = signer(world, "DE")
    kid = cbor2.loads(cbor2.loads(zlib.decompress(base45.b45decode(code(dsc)[4:]))).value[0])[4]
    assert check(trust, _resigned(dsc, {1: -7, 4: kid, 2: [1, 4]}, {})).verdict is Verdict.OK
    r = check(trust, _resigned(dsc, {1: -7, 4: kid, 2: [99], 99: 0}, {}))
    assert r.verdict is Verdict.UNSUPPORTED and "critical" in r.reasons[0]
    assert check(trust, _resigned(dsc, {1: -7, 4: kid, 2: []}, {})).verdict is Verdict.MALFORMED
    assert check(trust, _resigned(dsc, {1: -7, 4: kid}, {2: [99]})).verdict is Verdict.MALFORMED
    r = check(trust, _resigned(dsc, {1: "ES256", 4: kid}, {}))
    assert r.verdict is Verdict.UNSUPPORTED and "algorithm" in r.reasons[0]


def test_a_map_with_a_key_twice_is_malformed(world, trust) -> None:
    dsc = signer(world, "DE")
    cose = cbor2.loads(zlib.decompress(base45.b45decode(code(dsc)[4:])))
    claims = cbor2.loads(cose.value[2])
    # The CWT map with iss twice: one reader would take "DE", another "FR".
    pairs = b"".join(cbor2.dumps(k) + cbor2.dumps(v) for k, v in claims.items())
    payload = bytes([0xA0 + len(claims) + 1]) + cbor2.dumps(1) + cbor2.dumps("FR") + pairs
    r = check(trust, _resigned(dsc, cbor2.loads(cose.value[0]), {}, payload))
    assert r.verdict is Verdict.MALFORMED and "duplicate" in r.reasons[0]
