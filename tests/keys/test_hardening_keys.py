"""Attacks on the trust side: retired keys, hostile lists, ambiguous JWS envelopes, damaged caches."""

from __future__ import annotations

import base64
import json
import time

import pytest

from keys import jws
from keys.deviceca import DeviceCAError, enroll, init_ca
from keys.errors import StatusListError, TrustListError
from keys.hcc1 import CodeClaims, issue_code
from keys.keyfile import generate_key, kid_of
from keys.publishing import KeyEntry, sign_status_list, sign_trust_list
from keys.signing import sign_raw
from keys.statuslist import STATUS_TYP
from keys.statusstore import StatusStore
from keys.trustlist import TRUST_TYP, TrustStore
from scanner.verify import Verdict, verify_code

DAY = 86400
NOW = int(time.time())


def _sign_raw_jws(payload: bytes, header: bytes, key, extra: dict | None = None) -> dict:
    protected = jws.b64url_encode(header)
    body = jws.b64url_encode(payload)
    sig = sign_raw(key, (protected + "." + body).encode())
    doc = {"protected": protected, "payload": body, "signature": jws.b64url_encode(sig)}
    doc.update(extra or {})
    return doc


@pytest.fixture()
def region():
    root = generate_key("ES256")
    issuer = generate_key("ES256")
    return root, issuer


def _store(root, entries, version=1):
    return TrustStore.from_document(
        sign_trust_list(root, entries, version=version, issued_at=NOW - DAY, next_update=NOW + DAY),
        [root.public_key()])


# --- a retired key mints backdated codes ---------------------------------------------------------
def test_retired_key_cannot_mint_backdated_card(region) -> None:
    root, issuer = region
    # The key retired 30 days ago; 400 days of card lifetime after that would still cover now, so
    # retire it further back for the default rule, and also show the per-key field.
    entry = KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - 900 * DAY,
                     not_after=NOW - 30 * DAY, max_code_lifetime=20 * DAY)
    trust = _store(root, [entry])
    card = issue_code(issuer, CodeClaims(iss="CN-ZJ", iat=NOW - 40 * DAY, exp=NOW + 365 * DAY, card=True))
    status = StatusStore.open()
    r = verify_code(card, trust, status, NOW, max_code_age=None)
    assert r.verdict is Verdict.KEY_NOT_VALID and "retired" in r.reasons[0]


def test_card_default_lifetime_is_400_days(region) -> None:
    root, issuer = region
    entry = KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - 2000 * DAY,
                     not_after=NOW - 401 * DAY)
    trust = _store(root, [entry])
    card = issue_code(issuer, CodeClaims(iss="CN-ZJ", iat=NOW - 402 * DAY, exp=NOW + 365 * DAY, card=True))
    assert verify_code(card, trust, StatusStore.open(), NOW, max_code_age=None).verdict is Verdict.KEY_NOT_VALID


def test_a_personal_code_past_the_venue_s_maximum_age_is_stale_whether_or_not_its_key_retired(region) -> None:
    # docs/format.md §5: the key was valid at iat, so the code is `stale`; a key retired before now minus
    # the venue's maximum age signed nothing younger than that maximum.
    root, issuer = region
    entry = KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - 100 * DAY,
                     not_after=NOW - 2 * DAY)
    trust = _store(root, [entry])
    code = issue_code(issuer, CodeClaims(iss="CN-ZJ", iat=NOW - 3 * DAY, exp=NOW + DAY))
    r = verify_code(code, trust, None, NOW, max_code_age=DAY)
    assert r.verdict is Verdict.STALE
    # Within the venue's maximum age the key still verifies what it signed while valid.
    fresh = KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - 100 * DAY,
                     not_after=NOW - 3600)
    code = issue_code(issuer, CodeClaims(iss="CN-ZJ", iat=NOW - 7200, exp=NOW + DAY))
    assert verify_code(code, _store(root, [fresh]), None, NOW, max_code_age=DAY).verdict is Verdict.OK
    # The key's own lifetime, shorter than the venue's maximum, still retires it.
    short = KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - 100 * DAY,
                     not_after=NOW - 3600, max_code_lifetime=1800)
    r = verify_code(code, _store(root, [short]), None, NOW, max_code_age=DAY)
    assert r.verdict is Verdict.KEY_NOT_VALID and "retired" in r.reasons[0]


def test_a_personal_code_without_a_venue_maximum_age_lives_400_days_after_its_key(region) -> None:
    root, issuer = region
    entry = KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - 2000 * DAY,
                     not_after=NOW - 401 * DAY)
    code = issue_code(issuer, CodeClaims(iss="CN-ZJ", iat=NOW - 402 * DAY, exp=NOW + DAY))
    assert verify_code(code, _store(root, [entry]), None, NOW, max_code_age=None).verdict is Verdict.KEY_NOT_VALID


def test_retired_key_may_not_sign_status_lists(region) -> None:
    root, issuer = region
    entry = KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - 100 * DAY,
                     not_after=NOW - DAY)
    trust = _store(root, [entry])
    sl = sign_status_list(issuer, issuer="CN-ZJ", version=1, issued_at=NOW - 2 * DAY, next_update=NOW + DAY)
    with pytest.raises(StatusListError, match="retired"):
        StatusStore.open().apply(sl, trust, now=NOW)


def test_bad_max_code_lifetime_skips_the_entry(region) -> None:
    root, issuer = region
    entry = KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - DAY,
                     not_after=NOW + DAY, max_code_lifetime=0)
    trust = _store(root, [entry])
    assert trust.current is not None and "max_code_lifetime" in trust.current.skipped[0]


# --- hostile lists: deep nesting, huge integers ---------------------------------------------------
def _raw_trust_list(root, payload: bytes) -> dict:
    return _sign_raw_jws(payload, json.dumps({"alg": "ES256", "kid": jws.b64url_encode(kid_of(root.public_key())),
                                              "typ": TRUST_TYP}).encode(), root)


@pytest.mark.parametrize("depth", [1000, 200_000])
def test_deeply_nested_trust_list_is_refused(region, depth) -> None:
    root, _ = region
    payload = b'{"type":"hc-trustlist","version":1,"issued_at":1,"next_update":2,"keys":' + \
        b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(TrustListError, match=r"nested too deeply|keys"):
        TrustStore.from_document(_raw_trust_list(root, payload), [root.public_key()])
    doc = json.dumps({"protected": "x" * 10, "payload": "", "signature": ""})
    deep = "[" * depth + doc + "]" * depth
    with pytest.raises(TrustListError):
        TrustStore.from_document(deep, [root.public_key()])


def test_deeply_nested_status_list_is_refused(region) -> None:
    root, issuer = region
    trust = _store(root, [KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang",
                                   not_before=NOW - DAY, not_after=NOW + DAY)])
    deep = b'{"type":"hc-statuslist","subjects":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    header = json.dumps({"alg": "ES256", "kid": jws.b64url_encode(kid_of(issuer.public_key())),
                         "typ": STATUS_TYP}).encode()
    with pytest.raises(StatusListError, match="nested too deeply"):
        StatusStore.open().apply(_sign_raw_jws(deep, header, issuer), trust, now=NOW)


@pytest.mark.parametrize("field", ["version", "issued_at", "next_update"])
def test_trust_list_integers_beyond_64_bits_are_refused(region, field) -> None:
    root, _ = region
    payload = {"type": "hc-trustlist", "version": 1, "issued_at": 1, "next_update": 2, "keys": []}
    payload[field] = 2**63
    with pytest.raises(TrustListError, match=field):
        TrustStore.from_document(_raw_trust_list(root, json.dumps(payload).encode()), [root.public_key()])


def test_huge_status_list_integers_are_refused_not_stored(region) -> None:
    root, issuer = region
    trust = _store(root, [KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang",
                                   not_before=NOW - DAY, not_after=NOW + DAY)])
    store = StatusStore.open()
    for kw in ({"version": 2**63}, {"next_update": 2**64}):
        args = {"issuer": "CN-ZJ", "version": 1, "issued_at": NOW, "next_update": NOW + DAY} | kw
        with pytest.raises(StatusListError, match="2\\^63"):
            store.apply(sign_status_list(issuer, **args), trust, now=NOW)
    sub = base64.b64encode(b"\x01" * 16).decode()
    doc = sign_status_list(issuer, issuer="CN-ZJ", version=1, issued_at=NOW, next_update=NOW + DAY)
    payload = json.loads(jws.b64url_decode(doc["payload"]))
    payload["subjects"] = [{"sub": sub, "s": 1, "sd": 2**63}]
    header = jws.b64url_decode(doc["protected"])
    with pytest.raises(StatusListError, match="sd"):
        store.apply(_sign_raw_jws(json.dumps(payload).encode(), header, issuer), trust, now=NOW)
    assert store.issuers() == []


# --- ambiguous JWS envelopes ----------------------------------------------------------------------
def _tl_payload() -> bytes:
    return json.dumps({"type": "hc-trustlist", "version": 1, "issued_at": 1, "next_update": 2,
                       "keys": []}).encode()


def test_kid_in_both_headers_is_refused(region) -> None:
    root, _ = region
    kid = jws.b64url_encode(kid_of(root.public_key()))
    doc = _sign_raw_jws(_tl_payload(), json.dumps({"alg": "ES256", "kid": kid, "typ": TRUST_TYP}).encode(),
                        root, {"header": {"kid": kid}})
    with pytest.raises(TrustListError, match="both"):
        TrustStore.from_document(doc, [root.public_key()])


def test_duplicate_kid_in_protected_header_is_refused(region) -> None:
    root, _ = region
    kid = jws.b64url_encode(kid_of(root.public_key()))
    other = jws.b64url_encode(b"other")
    header = f'{{"alg":"ES256","kid":"{kid}","kid":"{other}","typ":"{TRUST_TYP}"}}'.encode()
    with pytest.raises(TrustListError, match="twice"):
        TrustStore.from_document(_sign_raw_jws(_tl_payload(), header, root), [root.public_key()])


def test_unknown_crit_is_refused(region) -> None:
    root, issuer = region
    header = json.dumps({"alg": "ES256", "typ": TRUST_TYP, "crit": ["exp"], "exp": 1}).encode()
    with pytest.raises(TrustListError, match="crit"):
        TrustStore.from_document(_sign_raw_jws(_tl_payload(), header, root), [root.public_key()])
    trust = _store(root, [KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang",
                                   not_before=NOW - DAY, not_after=NOW + DAY)])
    sl = json.dumps({"type": "hc-statuslist", "issuer": "CN-ZJ", "version": 1, "base": None, "issued_at": NOW,
                     "next_update": NOW + DAY, "subjects": [], "revoked": []}).encode()
    sh = json.dumps({"alg": "ES256", "typ": STATUS_TYP, "crit": ["b64"], "b64": True}).encode()
    with pytest.raises(StatusListError, match="crit"):
        StatusStore.open().apply(_sign_raw_jws(sl, sh, issuer), trust, now=NOW)


# --- a damaged cached trust list ----------------------------------------------------------------
def test_damaged_cached_list_is_moved_aside_and_bootstrap_used(region, tmp_path) -> None:
    root, issuer = region
    entries = [KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - DAY,
                        not_after=NOW + DAY)]
    store = TrustStore.open(tmp_path / "trust", [root.public_key()])
    store.update(sign_trust_list(root, entries, version=5, issued_at=NOW, next_update=NOW + DAY))
    cached = tmp_path / "trust" / "trustlist.json"
    truncated = cached.read_bytes()[:100]
    cached.write_bytes(truncated)  # cut short by a power cut on a worn SD card
    boot = tmp_path / "bootstrap.json"
    boot.write_text(json.dumps(sign_trust_list(root, entries, version=2, issued_at=NOW, next_update=NOW + DAY)))

    reopened = TrustStore.open(tmp_path / "trust", [root.public_key()], bootstrap=boot)
    assert reopened.version == 2 and reopened.problem and "kept as trustlist.json.bad-1" in reopened.problem
    assert (tmp_path / "trust" / "trustlist.json.bad-1").read_bytes() == truncated
    # A fresh list from the hub clears the problem.
    reopened.update(sign_trust_list(root, entries, version=6, issued_at=NOW, next_update=NOW + DAY))
    assert reopened.problem is None and reopened.version == 6


def test_anchor_rotation_without_overlap_leaves_an_empty_store(region, tmp_path) -> None:
    root, issuer = region
    entries = [KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - DAY,
                        not_after=NOW + DAY)]
    TrustStore.open(tmp_path, [root.public_key()]).update(
        sign_trust_list(root, entries, version=5, issued_at=NOW, next_update=NOW + DAY))
    new_root = generate_key("ES256")
    bad_boot = tmp_path / "boot.json"
    bad_boot.write_text("{")
    store = TrustStore.open(tmp_path, [new_root.public_key()], bootstrap=bad_boot)
    assert store.current is None
    assert "signature" in (store.problem or "") and "bootstrap" in (store.problem or "")
    assert not (tmp_path / "trustlist.json").exists() and (tmp_path / "trustlist.json.bad-1").exists()
    # The agent can now store a list signed by the new anchor.
    store.update(sign_trust_list(new_root, entries, version=1, issued_at=NOW, next_update=NOW + DAY))
    assert TrustStore.open(tmp_path, [new_root.public_key()]).version == 1



@pytest.mark.parametrize("damage", ["garbage_tail", "not_a_database"])
def test_a_damaged_status_store_is_moved_aside_and_started_afresh(region, tmp_path, damage) -> None:
    root, issuer = region
    trust = _store(root, [KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=NOW - DAY,
                                   not_after=NOW + DAY)])
    listed = sign_status_list(issuer, issuer="CN-ZJ", version=3, issued_at=NOW, next_update=NOW + DAY)
    path = tmp_path / "status.sqlite"
    store = StatusStore.open(path)
    store.apply(listed, trust, now=NOW)
    store.close()
    # A worn SD card: the database's pages after the first are gone, or the file is not SQLite at all.
    damaged = path.read_bytes()[:3000] + b"garbage" * 100 if damage == "garbage_tail" else b"garbage" * 100
    path.write_bytes(damaged)

    reopened = StatusStore.open(path)  # the lists can be fetched again: the device keeps working
    assert reopened.issuers() == [] and reopened.problem and "status.sqlite.bad-1" in reopened.problem
    assert (tmp_path / "status.sqlite.bad-1").read_bytes() == damaged
    reopened.apply(listed, trust, now=NOW)
    reopened.close()
    assert [i.version for i in StatusStore.open(path).issuers()] == [3]


# --- device CA ---------------------------------------------------------------------------------
@pytest.mark.parametrize("days", [0, -5])
def test_enroll_refuses_certificates_valid_for_no_time(tmp_path, days) -> None:
    init_ca(tmp_path / "ca")
    with pytest.raises(DeviceCAError, match="--days"):
        enroll(tmp_path / "ca", "gate-1", tmp_path / "out", days=days)
    assert not (tmp_path / "out" / "gate-1.pem").exists()


def test_a_reload_may_keep_the_refused_file_in_place(region, tmp_path) -> None:
    root, _ = region
    (tmp_path / "trustlist.json").write_text("{")
    with pytest.raises(TrustListError):
        TrustStore.open(tmp_path, [root.public_key()], set_aside=False)
    assert (tmp_path / "trustlist.json").read_text() == "{"
