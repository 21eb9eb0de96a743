"""What every code format hands to verification, and the typed failure a decoder raises.

A decoder turns scanned text into a `DecodedCode` (signed structure plus claims) or raises
`CodeError` carrying the verdict of `docs/format.md` §5.2 (`unsupported` or `malformed`) and a reason in words.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from keys.frozen import frozen


class CodeError(Exception):
    """A payload that cannot be decoded; `verdict` is its verdict code (`docs/format.md` §5.2)."""

    def __init__(self, verdict: str, reason: str):
        self.verdict = verdict
        self.reason = reason
        super().__init__(f"{verdict}: {reason}")


RELATION_NAMES = {1: "parent", 2: "child", 3: "spouse", 4: "grandparent", 5: "grandchild", 6: "sibling",
                  9: "other"}
RELATION_ZH = {1: "父母", 2: "子女", 3: "配偶", 4: "祖父母", 5: "孙子女", 6: "兄弟姐妹", 9: "其他"}


@frozen
class Guardian:
    """Relatives binding: the code is held and shown by this guardian."""

    name: str
    relation: int
    subject: bytes

    @property
    def relation_name(self) -> str:
        return RELATION_NAMES.get(self.relation, "other")

    @property
    def relation_zh(self) -> str:
        return RELATION_ZH.get(self.relation, "其他")


class HealthClaims(NamedTuple):
    issuer: str
    iat: int
    exp: int
    code_id: bytes
    version: int
    subject: bytes
    name: str
    status: int
    status_since: int
    card: bool
    guardian: Guardian | None


class DecodedCode(NamedTuple):
    """A decoded, not yet verified, code (a NamedTuple: built on every scan, and cheap to build)."""

    format: str
    alg: str
    kid: bytes
    signed_data: bytes
    signature: bytes
    claims: HealthClaims


class CodeFormat(Protocol):
    name: str
    prefix: str

    def decode(self, text: str) -> DecodedCode: ...
