"""The signed rules list (docs/format.md, "Rules list") and the store that holds a device's current one.

A rules list is a JWS in the trust list's envelope, signed by a pinned national anchor, with `typ`
`hc-rules+json`; its payload carries the business rules, the named rule sets venue profiles choose
from, and the value sets the rules see. The store mirrors the trust store: a list is accepted only when
it verifies and every rule in it parses and compiles; a persisted store refuses a version not newer than
the held one (rollback), writes atomically (`rules/ruleslist.json`), and never refuses to open: a cached
list that no longer verifies is set aside and the bootstrap list, or none, is used, `problem` saying why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from keys import jws
from keys.durable import atomic_write, open_cached
from keys.errors import TrustListError
from keys.jsontypes import JsonObject, SignedJson
from keys.keyfile import PrivateKey, PublicKey
from keys.trustlist import is_int, verify_envelope
from scanner.errors import RulesError, RulesListError, RulesRollbackError
from scanner.rules.model import RuleBook, parse_rule_book
from scanner.storage.datadir import RULES_LIST_FILE

log = logging.getLogger(__name__)

RULES_TYP = "hc-rules+json"
RULES_TYPE = "hc-ruleslist"


@dataclass(frozen=True)
class RulesList:
    """A verified rules list: its version and validity, and the rule book it carries."""

    version: int
    issued_at: int
    next_update: int
    book: RuleBook
    document: JsonObject

    @classmethod
    def verify(cls, doc: SignedJson, anchors: Sequence[PublicKey], source: str = "<rules list>") -> RulesList:
        if not anchors:
            raise RulesListError(source, "no trust anchor is pinned")
        try:
            payload, _ = verify_envelope(doc, anchors, RULES_TYP, source)
        except TrustListError as e:
            raise RulesListError(source, e.reason) from None
        if payload.get("type") != RULES_TYPE:
            raise RulesListError(source, f"payload type is {payload.get('type')!r}, expected {RULES_TYPE!r}")
        for name in ("version", "issued_at", "next_update"):
            if not is_int(payload.get(name)):
                raise RulesListError(source, f"{name} missing or not an integer from 0 to 2^63-1")
        try:
            # Unlike a trust list's keys, one bad rule refuses the list: a venue's rule set missing a rule
            # would admit codes the authority meant to refuse.
            book = parse_rule_book(payload, "")
        except RulesError as e:
            raise RulesListError(source, str(e).removeprefix(": ")) from None
        document = jws.load_json(doc, "the document") if isinstance(doc, bytes | str) else doc
        if not isinstance(document, dict):
            raise RulesListError(source, "not a JWS object")
        return cls(payload["version"], payload["issued_at"], payload["next_update"], book, document)


def sign_rules_list(root: PrivateKey, *, version: int, issued_at: int, next_update: int, country: str,
                    rules: list[JsonObject], rule_sets: JsonObject, value_sets: dict[str, list[str]]) -> dict[str, str]:
    """The authority's side: a rules list signed with the national root key. The content is checked first
    (every rule parsed and compiled, every set's rules present), so no device ever receives a list it
    would refuse for its content."""
    payload: JsonObject = {"type": RULES_TYPE, "version": version, "issued_at": issued_at,
                           "next_update": next_update, "country": country, "rules": list(rules),
                           "rule_sets": rule_sets, "value_sets": dict(value_sets)}
    parse_rule_book(payload, "rules list")
    for name in ("version", "issued_at", "next_update"):
        if not is_int(payload[name]):
            raise RulesError(f"rules list: {name} must be an integer from 0 to 2^63-1")
    return jws.sign(payload, root, RULES_TYP)


class RulesStore:
    """The device's current rules list, in memory or persisted in a folder of the data directory."""

    FILE = RULES_LIST_FILE

    def __init__(self, anchors: Sequence[PublicKey], directory: Path | None = None):
        self.anchors = list(anchors)
        self.directory = directory
        self.current: RulesList | None = None
        # Why the store holds no valid list although one was expected (refused cache or bootstrap).
        self.problem: str | None = None
        self._mtime: float | None = None

    @classmethod
    def from_document(cls, doc: SignedJson, anchors: Sequence[PublicKey],
                      source: str = "<rules list>") -> RulesStore:
        store = cls(anchors)
        store.current = RulesList.verify(doc, store.anchors, source)
        return store

    @classmethod
    def from_file(cls, path: str | Path, anchors: Sequence[PublicKey]) -> RulesStore:
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise RulesListError(str(path), f"cannot read: {e.strerror}") from None
        return cls.from_document(data, anchors, str(path))

    @classmethod
    def open(cls, directory: str | Path, anchors: Sequence[PublicKey],
             bootstrap: str | Path | None = None) -> RulesStore:
        """Open the persisted store; a refused cache is set aside, then the bootstrap list or none is used."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        store = cls(anchors, d)
        store.problem = open_cached(d / cls.FILE, what="rules list", load=lambda *_: store._load(d / cls.FILE),
                                    install=store.update, bootstrap=bootstrap, refused=(RulesListError,))
        return store

    def _load(self, path: Path) -> None:
        mtime = path.stat().st_mtime
        self.current = RulesList.verify(path.read_bytes(), self.anchors, str(path))
        self._mtime = mtime

    def update(self, doc: SignedJson, source: str = "<rules list>") -> RulesList:
        """Accept a newer list (verified, every rule compiled) and persist it atomically."""
        new = RulesList.verify(doc, self.anchors, source)
        if self.current is not None and new.version <= self.current.version:
            raise RulesRollbackError(source, f"version {new.version} is not newer than the held "
                                             f"version {self.current.version}")
        if self.directory is not None:
            path = atomic_write(self.directory / self.FILE, json.dumps(new.document, ensure_ascii=False))
            self._mtime = path.stat().st_mtime
        self.current = new
        self.problem = None
        return new

    def refresh(self) -> bool:
        """Pick up a list another process (the sync agent) wrote; True when a new one was loaded.

        A running device keeps the list it holds when the file on disk is refused.
        """
        if self.directory is None:
            return False
        path = self.directory / self.FILE
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return False
        if mtime == self._mtime:
            return False
        held = self.current
        try:
            self._load(path)
        except (RulesListError, OSError) as e:
            self._mtime = mtime
            self.current = held
            log.error("new rules list on disk refused, keeping the loaded one: %s", e)
            return False
        return True

    @property
    def version(self) -> int | None:
        return self.current.version if self.current else None

    @property
    def book(self) -> RuleBook | None:
        return self.current.book if self.current else None

    def is_stale(self, now: float, grace: float = 0) -> bool:
        return self.current is None or now > self.current.next_update + grace
