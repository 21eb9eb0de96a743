"""What a result says about its code: every field of `VerifyResult` carries the code's own claim, the key's
id and the versions of the lists it was checked against, whatever the verdict (the visit log and
`check --json` record them; several share a type, so a mix-up would change no verdict)."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

from keys import jws
from keys.keyfile import load_private_key, load_public_key
from keys.publishing import sign_status_list
from keys.statusstore import StatusStore
from keys.trustlist import TrustStore
from scanner.codes import decode_payload
from scanner.demo.world import DemoWorld
from scanner.verify import CodeType, Verdict, verify_code

# Verdicts given before a code's status is looked up: no status list version is reported with them.
BEFORE_STATUS = {Verdict.UNSUPPORTED, Verdict.MALFORMED, Verdict.UNKNOWN_KEY, Verdict.KEY_NOT_VALID,
                 Verdict.BAD_SIGNATURE}


def test_every_field_of_a_result_is_its_code_s(world: DemoWorld) -> None:
    trust = TrustStore.from_file(world.trust_list_path, [load_public_key(world.anchor_path)])
    status = StatusStore.open(":memory:")
    # The lists again at version 7 (the trust list is at 1): a result with the two swapped would show.
    for p in world.status_list_paths:
        payload = json.loads(jws.b64url_decode(json.loads(p.read_text())["payload"]))
        key = load_private_key(world.anchor_path.parent / f"issuer-{payload['issuer']}.key")
        subjects = [(base64.b64decode(e["sub"]), e["s"], e["sd"]) for e in payload["subjects"]]
        revoked = [base64.b64decode(c) for c in payload["revoked"]]
        doc = sign_status_list(key, issuer=payload["issuer"], version=7, issued_at=payload["issued_at"],
                               next_update=payload["next_update"], subjects=subjects, revoked=revoked)
        with tempfile.TemporaryDirectory() as tmp:
            again = Path(tmp) / "list.json"
            again.write_text(json.dumps(doc))
            status.apply_file(again, trust)
    assert trust.version == 1
    verdicts = set()
    for name, payload in world.payloads.items():
        if name.startswith("dcc_"):
            continue
        r = verify_code(payload, trust, status, world.now, max_code_age=86_400)
        code = decode_payload(payload)
        c = code.claims
        verdicts.add(r.verdict)
        assert (r.format, r.issuer, r.name, r.guardian, r.code_id, r.subject, r.iat, r.exp, r.kid) == (
            code.format, c.issuer, c.name, c.guardian, c.code_id, c.subject, c.iat, c.exp, code.kid), name
        assert r.code_type is (CodeType.CARD if c.card else CodeType.PERSONAL), name
        assert r.issuer_name == trust.issuer_name(c.issuer), name
        assert r.trust_list_version == 1, name
        assert r.status_list_version == (None if r.verdict in BEFORE_STATUS else 7), name
    # Passes and refusals from before and after the status lookup.
    assert {Verdict.OK, Verdict.REVOKED, Verdict.EXPIRED, Verdict.BAD_SIGNATURE} <= verdicts
