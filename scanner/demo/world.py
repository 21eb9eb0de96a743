"""A complete, generated little health-code world for the demo, the tests and the benchmarks.

One national root, two regions with different algorithms and the national platform as issuers, an EU
Document Signer Certificate (Germany) for DCCs, a signed trust list, signed status lists, a signed
rules list (the shipped example rule sets), and one sample code of every kind a checkpoint meets.
Nothing here is fixed data: every key is new, so the demo also proves the issuing tools work.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from keys.dcc import DccCode, generate_dsc_key, issue_dcc, make_dsc, payload_test, payload_vaccination
from keys.hcc1 import CodeClaims, encode_payload, issue_code, qr_png, sign_cose
from keys.keyfile import PrivateKey, generate_key, kid_of, write_private_key, write_public_key
from keys.publishing import DccEntry, KeyEntry, sign_status_list, sign_trust_list
from scanner.rules.shipped import sign_example_rules_list


@dataclass(frozen=True)
class SampleCode:
    name: str
    description: str
    payload: str
    expect_verdict: str
    expect_status: str | None


@dataclass
class DemoWorld:
    directory: Path
    now: int
    root: PrivateKey
    issuers: dict[str, PrivateKey]
    anchor_path: Path
    trust_list_path: Path
    status_list_paths: list[Path]
    samples: dict[str, SampleCode] = field(default_factory=dict)
    # The shipped example rule sets (3G, 2G, test-only, hcc1-transport) signed by the root.
    rules_list_path: Path | None = None

    @property
    def payloads(self) -> dict[str, str]:
        return {n: s.payload for n, s in self.samples.items()}


REGIONS = {
    # issuer: (zh, en, alg)
    "CN-ZJ": ("浙江", "Zhejiang", "ES256"),
    "CN-SH": ("上海", "Shanghai", "EdDSA"),
    "CN": ("国家政务服务平台", "National platform", "ES256"),
}


def build_demo_world(directory: str | Path, now: int, *, qr: bool = False) -> DemoWorld:
    """Generate keys, lists and sample codes under `directory`, valid around `now`."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    root = generate_key("ES256")
    write_private_key(d / "root.key", root)
    anchor = write_public_key(d / "root.pem", root)
    issuers = {iss: generate_key(alg) for iss, (_, _, alg) in REGIONS.items()}  # type: ignore[arg-type]
    for iss, key in issuers.items():
        write_private_key(d / f"issuer-{iss}.key", key)
        write_public_key(d / f"issuer-{iss}.pub.pem", key)
    entries = [KeyEntry(issuers[i].public_key(), i, zh, en, not_before=now - 365 * 86400,
                        not_after=now + 365 * 86400) for i, (zh, en, _) in REGIONS.items()]
    dsc_key = generate_dsc_key("P-256")
    dsc = make_dsc(dsc_key, "DE", not_before=now - 365 * 86400, not_after=now + 365 * 86400)
    tl = sign_trust_list(root, entries, version=1, issued_at=now - 3600, next_update=now + 86400,
                         dcc=[DccEntry(dsc, "DE")])
    tl_path = d / "trustlist.json"
    tl_path.write_text(json.dumps(tl))
    rules_path = d / "ruleslist.json"
    rules_path.write_text(json.dumps(sign_example_rules_list(root, version=1, issued_at=now - 3600,
                                                             next_update=now + 7 * 86400), ensure_ascii=False))

    zj = issuers["CN-ZJ"]
    hour = 3600

    def code(iss: str = "CN-ZJ", **kw: object) -> tuple[str, CodeClaims]:
        claims = CodeClaims(iss=iss, iat=now - hour, exp=now + 23 * hour, **kw)  # type: ignore[arg-type]
        return issue_code(issuers[iss], claims), claims

    samples: list[SampleCode] = []

    def add(name: str, desc: str, payload: str, verdict: str, status: str | None) -> None:
        samples.append(SampleCode(name, desc, payload, verdict, status))

    add("green", "personal green code", code(name="李*军")[0], "ok", "green")
    add("yellow", "personal yellow code", code(name="王*芳", status=1)[0], "ok", "yellow")
    add("red", "personal red code", code(name="赵*强", status=2)[0], "ok", "red")
    add("guardian", "child's code shown by a parent",
        code(name="张*涛", guardian=("李*华", 1, os.urandom(16)))[0], "ok", "green")
    card_payload, _ = code(name="林*刚", card=True)
    add("card", "printed card, status from the status list", card_payload, "ok", "green")
    add("other_region", "Shanghai code at a Zhejiang gate (mutual recognition)",
        code("CN-SH", name="M*** D****")[0], "ok", "green")
    add("national", "national platform code", code("CN", name="陈*明")[0], "ok", "green")
    expired = CodeClaims(iss="CN-ZJ", iat=now - 50 * hour, exp=now - 2 * hour, name="周*丽")
    add("expired", "code expired two hours ago", issue_code(zj, expired), "expired", None)
    # A forger's own key, claiming to be Zhejiang's: the kid matches, the signature cannot.
    forged = CodeClaims(iss="CN-ZJ", iat=now - hour, exp=now + 23 * hour, name="孙*伟")
    add("forged", "green code signed by a forger using Zhejiang's key id",
        encode_payload(sign_cose(forged.to_cbor_map(), generate_key("ES256"), kid=kid_of(zj))),
        "bad_signature", None)
    revoked_payload, revoked_claims = code(name="吴*斌")
    add("revoked", "code revoked by its issuer", revoked_payload, "revoked", None)
    turned_payload, turned_claims = code(name="郑*华")
    add("turned_red", "green code, holder turned red after issuance (status list)", turned_payload,
        "ok", "red")

    day = 24 * hour

    def dcc(hcert: dict[str, object], iat: int, exp: int) -> str:
        return issue_dcc(dsc_key, dsc, DccCode(hcert=hcert, iss="DE", iat=iat, exp=exp))

    def ymd(t: int) -> str:
        return time.strftime("%Y-%m-%d", time.gmtime(t))

    add("dcc_vaccination", "EU DCC: vaccination 2/2, 30 days ago",
        dcc(payload_vaccination("DE", "URN:UVCI:01:DE:DEMO1#V", date=ymd(now - 30 * day)),
            now - 29 * day, now + 300 * day), "ok", "green")
    add("dcc_test", "EU DCC: negative PCR test, sampled 5 hours ago",
        dcc(payload_test("DE", "URN:UVCI:01:DE:DEMO2#T", family="Schmidt", given="Jürgen", family_std="SCHMIDT",
                         given_std="JUERGEN", dob="1975-03-09",
                         sample_time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5 * hour))),
            now - 4 * hour, now + 2 * day), "ok", "green")
    add("dcc_expired", "EU DCC: vaccination certificate expired yesterday",
        dcc(payload_vaccination("DE", "URN:UVCI:01:DE:DEMO3#X", family="Weber", given="Anna", family_std="WEBER",
                                given_std="ANNA", dob="1990-11-30", date=ymd(now - 310 * day)),
            now - 300 * day, now - day), "expired", None)

    status_paths = []
    for iss in REGIONS:
        subjects: list[tuple[bytes, int, int]] = []
        revoked: list[bytes] = []
        if iss == "CN-ZJ":
            subjects = [(turned_claims.sub, 2, now - 600)]
            revoked = [revoked_claims.cti]
        doc = sign_status_list(issuers[iss], issuer=iss, version=1, issued_at=now - 1800,
                               next_update=now + 6 * hour, subjects=subjects, revoked=revoked)
        p = d / f"status-{iss}.json"
        p.write_text(json.dumps(doc))
        status_paths.append(p)

    world = DemoWorld(directory=d, now=now, root=root, issuers=issuers, anchor_path=anchor,
                      trust_list_path=tl_path, status_list_paths=status_paths,
                      samples={s.name: s for s in samples}, rules_list_path=rules_path)
    (d / "codes.json").write_text(json.dumps(
        [{"name": s.name, "description": s.description, "payload": s.payload, "verdict": s.expect_verdict,
          "status": s.expect_status} for s in samples], ensure_ascii=False, indent=1))
    if qr:
        (d / "qr").mkdir(exist_ok=True)
        for s in samples:
            qr_png(s.payload, d / "qr" / f"{s.name}.png")
    return world
