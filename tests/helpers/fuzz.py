"""Fuzz targets shared by the test suite (hypothesis, briefly) and `bench/fuzz.py` (long, random mutations).

Each target takes mutated bytes derived from a valid, signed seed and says what happened:

* "refused": the typed refusal the component promises (CodeError verdict, TrustListError,
  StatusListError, BodyRefused / ValidationError);
* "accepted": the input passed; it is a **forgery** when what was accepted differs from what the seed's
  signer signed (checked by `Target.forged`);
* any other exception propagates: a **crash**.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from keys import jws
from keys.errors import StatusListError, TrustListError
from keys.hcc1 import CodeClaims, issue_code
from keys.keyfile import generate_key
from keys.publishing import KeyEntry, sign_status_list, sign_trust_list
from keys.statuslist import verify_status_list
from keys.statusstore import StatusStore
from keys.trustlist import TrustList, TrustStore
from scanner.verify import Verdict, verify_code
from sync.hub.limits import BodyLimits, BodyRefused, decode_body
from sync.hub.visits import UploadBatch


@dataclass
class Target:
    name: str
    seed: bytes
    run: Callable[[bytes], str]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four byte-level mutations: flip, replace, insert, delete, duplicate or truncate."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        i = rng.randrange(len(b)) if b else 0
        if op == 0 and b:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[i] = rng.randrange(256)
        elif op == 2:
            b[i:i] = bytes([rng.randrange(256)])
        elif op == 3 and b:
            del b[i:i + rng.randint(1, 8)]
        elif op == 4 and b:
            j = rng.randrange(len(b))
            b[i:i] = b[j:j + rng.randint(1, 16)]
        elif op == 5 and b:
            del b[i:]
    return bytes(b)


def build_targets() -> list[Target]:
    now = int(time.time())
    root = generate_key("ES256")
    issuer = generate_key("ES256")
    entries = [KeyEntry(issuer.public_key(), "CN-ZJ", "浙江", "Zhejiang", not_before=now - 86400,
                        not_after=now + 86400 * 30)]
    tl_doc = sign_trust_list(root, entries, version=3, issued_at=now, next_update=now + 3600)
    trust = TrustStore.from_document(tl_doc, [root.public_key()])
    tl_payload = json.loads(jws.b64url_decode(tl_doc["payload"]))
    status = StatusStore.open(":memory:")
    sl_doc = sign_status_list(issuer, issuer="CN-ZJ", version=5, issued_at=now, next_update=now + 3600,
                              subjects=[(b"\x01" * 16, 2, now - 10)], revoked=[b"\x02" * 16])
    sl_payload = json.loads(jws.b64url_decode(sl_doc["payload"]))
    status.apply(sl_doc, trust, now=now)
    claims = CodeClaims(iss="CN-ZJ", iat=now - 60, exp=now + 86400, name="张*三")
    code = issue_code(issuer, claims)
    original = verify_code(code, trust, status, now, max_code_age=None)
    assert original.verdict is Verdict.OK

    def code_target(data: bytes) -> str:
        r = verify_code(data, trust, status, now, max_code_age=None)
        if r.verdict is not Verdict.OK:
            return "refused"
        # Accepted: the claims must be exactly what the issuer signed.
        same = (r.issuer, r.code_id, r.subject, r.iat, r.exp, r.name, r.status) == \
            (original.issuer, original.code_id, original.subject, original.iat, original.exp, original.name,
             original.status)
        return "accepted" if same else "forged"

    def trust_target(data: bytes) -> str:
        try:
            tl = TrustList.verify(data, [root.public_key()], "fuzz")
        except TrustListError:
            return "refused"
        payload = json.loads(jws.b64url_decode(tl.document["payload"]))
        return "accepted" if payload == tl_payload and tl.version == 3 else "forged"

    def status_target(data: bytes) -> str:
        try:
            sl = verify_status_list(data, trust, "fuzz", now=now)
        except StatusListError:
            return "refused"
        same = (sl.issuer, sl.version, sl.base, sl.issued_at, sl.next_update, sl.subjects, sl.revoked) == \
            (sl_payload["issuer"], 5, None, now, now + 3600, ((b"\x01" * 16, 2, now - 10),), (b"\x02" * 16,))
        return "accepted" if same else "forged"

    limits = BodyLimits(max_inflated=1024 * 1024)

    def upload_target(data: bytes) -> str:
        outcome = "refused"
        for encoding in (None, "gzip"):
            try:
                UploadBatch.model_validate_json(decode_body(data, encoding, limits))
                outcome = "accepted"  # a well-formed batch; the store's own checks come after
            except (BodyRefused, ValidationError):
                continue
        return outcome

    row = {"seq": 1, "visit_id": "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", "ts_ms": now * 1000, "device_id": "dev-1",
           "checkpoint_id": "gate-1", "profile": "transport", "clock_trusted": True, "format": "HCC1",
           "issuer": "CN-ZJ", "code_id": "ab" * 16, "subject": "cd" * 16, "code_type": "personal",
           "verdict": "ok", "status": "green", "admit": True, "tone": "pass", "guardian": False,
           "trust_list_version": 3, "status_list_version": 5, "latency_ms": 4,
           "extra": {"school": {"role": "student", "direction": "in"}}, "prev_chain": "00" * 32, "chain": "11" * 32}
    upload_seed = json.dumps({"visits": [row, {**row, "seq": 2}]}).encode()

    return [
        Target("payload decoder + verifier", code.encode(), code_target),
        Target("trust-list parser", json.dumps(tl_doc).encode(), trust_target),
        Target("status-list parser", json.dumps(sl_doc).encode(), status_target),
        Target("hub upload body + model", upload_seed, upload_target),
    ]


def run_one(target: Target, data: bytes) -> tuple[str, Any]:
    """("refused" | "accepted" | "forged" | "crash", detail)."""
    try:
        return target.run(data), None
    except Exception as e:  # the whole point: anything untyped is a crash to report
        return "crash", f"{type(e).__name__}: {e}"
