"""JWS flattened JSON serialization (RFC 7515 §7.2.2), as the trust list and status lists use it.

Only what `docs/format.md` §3.2 needs: ES256 (raw r‖s) and EdDSA, a `kid` and a `typ` in the protected header.
Verification hands back the header and the payload bytes; the caller decides which key may sign.
Ambiguous envelopes are refused: a protected header with a repeated member, a `kid` in both the
protected and the unprotected header, or any `crit` extension (none is understood here).
"""

from __future__ import annotations

import base64
import binascii
import json

from keys.frozen import frozen
from keys.jsontypes import Json, JsonObject, SignedJson
from keys.keyfile import PrivateKey, alg_of, kid_of
from keys.signing import sign_raw


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError("expected a base64url string")
    pad = "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode((text + pad).encode("ascii"))
    except (binascii.Error, UnicodeEncodeError) as e:
        raise ValueError(f"invalid base64url: {e}") from None


def _no_duplicates(pairs: list[tuple[str, Json]]) -> JsonObject:
    seen: JsonObject = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError(f"member {k!r} appears twice")
        seen[k] = v
    return seen


def load_json(data: bytes | str, what: str, *, strict_members: bool = False) -> Json:
    """Parse JSON from an untrusted source; any failure (bad text, nesting too deep) is a ValueError."""
    try:
        if strict_members:
            return json.loads(data, object_pairs_hook=_no_duplicates)
        return json.loads(data)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError(f"{what} is not UTF-8 text") from None
    except ValueError as e:
        raise ValueError(f"{what} is not JSON: {e}") from None


@frozen
class JwsParts:
    """A flattened JWS taken apart: the protected header, the payload and what was signed."""

    header: JsonObject
    payload: bytes
    signing_input: bytes
    signature: bytes
    kid: bytes | None


def parse(doc: SignedJson) -> JwsParts:
    """Split a flattened JWS into its parts; raises ValueError naming what is wrong."""
    if isinstance(doc, bytes | str):
        doc = load_json(doc, "the document")
    if not isinstance(doc, dict):
        raise ValueError("not a JWS object (expected protected, payload, signature)")
    for field in ("protected", "payload", "signature"):
        if not isinstance(doc.get(field), str):
            raise ValueError(f"JWS field {field!r} missing or not a string")
    header, kid = read_header(doc["protected"], doc.get("header", {}))
    return JwsParts(
        header=header,
        payload=b64url_decode(doc["payload"]),
        signing_input=(doc["protected"] + "." + doc["payload"]).encode("ascii"),
        signature=b64url_decode(doc["signature"]),
        kid=kid,
    )


def read_header(protected: str, unprotected: Json) -> tuple[JsonObject, bytes | None]:
    """The protected header and the `kid`, checked: shared by `parse` and readers that stream the payload."""
    header_bytes = b64url_decode(protected)
    try:
        header = load_json(header_bytes, "protected header", strict_members=True)
    except ValueError as e:
        raise ValueError(f"protected header: {e}") from None
    if not isinstance(header, dict):
        raise ValueError("protected header is not a JSON object")
    if not isinstance(unprotected, dict):
        raise ValueError("unprotected header is not a JSON object")
    if "kid" in header and "kid" in unprotected:
        raise ValueError("kid appears in both the protected and the unprotected header")
    if "crit" in header or "crit" in unprotected:
        raise ValueError(f"crit header {header.get('crit', unprotected.get('crit'))!r} names an "
                         "extension this verifier does not understand")
    kid = None
    if "kid" in header:
        if not isinstance(header["kid"], str):
            raise ValueError("header kid is not a string")
        kid = b64url_decode(header["kid"])
    return header, kid


def sign(payload: JsonObject, key: PrivateKey, typ: str) -> dict[str, str]:
    header = {"alg": alg_of(key), "kid": b64url_encode(kid_of(key)), "typ": typ}
    protected = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    body = b64url_encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    sig = sign_raw(key, (protected + "." + body).encode("ascii"))
    return {"protected": protected, "payload": body, "signature": b64url_encode(sig)}
