"""Reading the files given to `checkpoint hub publish-…`: signed trust/status/rules lists, the DCC
revocation list, venue profiles.

The hub stores and serves the document as it was signed; devices verify it themselves against their
pinned anchors. The hub only reads the envelope's payload for the version (and issuer, base) it needs
to index the document, and refuses files that are not a JWS envelope of the right type.
"""

from __future__ import annotations

import json
from pathlib import Path

from keys import jws
from keys.errors import KeysError
from keys.jsontypes import JsonObject
from keys.trustlist import INT_MAX, is_int
from sync.errors import PublishError
from sync.hub.store import DCC_REVOCATION_KIND, HubStore, Published


def _payload(path: Path, expected_type: str) -> tuple[str, JsonObject]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PublishError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise PublishError(f"{path}: not UTF-8 text") from None
    try:
        parts = jws.parse(text)
        payload = json.loads(parts.payload)
    except (KeysError, ValueError) as e:
        raise PublishError(f"{path}: not a signed JWS document: {e}") from None
    if not isinstance(payload, dict) or payload.get("type") != expected_type:
        raise PublishError(f"{path}: payload type is not {expected_type!r}")
    if type(payload.get("version")) is not int:
        raise PublishError(f"{path}: payload has no integer version")
    if not is_int(payload["version"]):
        raise PublishError(f"{path}: version {payload['version']} is outside 0 to {INT_MAX} (no device accepts it)")
    return text, payload


def publish_trust_list(store: HubStore, path: str | Path) -> Published:
    text, payload = _payload(Path(path), "hc-trustlist")
    return store.publish("trust", "", payload["version"], None, text)


def publish_status_list(store: HubStore, path: str | Path) -> Published:
    text, payload = _payload(Path(path), "hc-statuslist")
    issuer, base = payload.get("issuer"), payload.get("base")
    if not isinstance(issuer, str) or not issuer:
        raise PublishError(f"{path}: status list names no issuer")
    if "\x00" in issuer:
        raise PublishError(f"{path}: status list issuer {issuer!r} holds a NUL character")
    if base is not None and not is_int(base):
        raise PublishError(f"{path}: base is neither null nor an integer from 0 to {INT_MAX}")
    return store.publish("status", issuer, payload["version"], base, text)


def publish_dcc_revocation(store: HubStore, path: str | Path) -> Published:
    """The signed EU DCC revocation list (`checkpoint keys dcc-revocation`); one list, replaced whole."""
    text, payload = _payload(Path(path), "hc-dccrevocation")
    if not isinstance(payload.get("hashes"), list):
        raise PublishError(f"{path}: DCC revocation list has no hashes list")
    return store.publish(DCC_REVOCATION_KIND, "", payload["version"], None, text)


def publish_rules_list(store: HubStore, path: str | Path) -> Published:
    """A signed rules list. Its rules are parsed and compiled here too (the signature is the devices' to
    check): a list every device would refuse for its content is refused before any device fetches it."""
    from scanner.errors import RulesError
    from scanner.rules.model import parse_rule_book

    text, payload = _payload(Path(path), "hc-ruleslist")
    try:
        parse_rule_book(payload, str(path))
    except RulesError as e:
        raise PublishError(str(e)) from None
    return store.publish("rules", "", payload["version"], None, text)


def publish_profiles(store: HubStore, path: str | Path) -> Published:
    """Venue profile overrides for devices: TOML (or JSON) with `version` and `[profiles.NAME]` tables,
    checked with the same rules as a device's own settings file before they are served."""
    import tomllib

    from scanner.policy import profile_problems

    p = Path(path)
    try:
        raw = p.read_bytes()
        doc = json.loads(raw) if p.suffix == ".json" else tomllib.loads(raw.decode("utf-8"))
    except OSError as e:
        raise PublishError(f"{p}: cannot read: {e.strerror}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise PublishError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {e}") from None
    if not isinstance(doc, dict) or type(doc.get("version")) is not int or not isinstance(doc.get("profiles"), dict):
        raise PublishError(f"{p}: expected an integer version and [profiles.NAME] tables")
    if not is_int(doc["version"]):
        raise PublishError(f"{p}: version {doc['version']} is outside 0 to {INT_MAX} (no device accepts it)")
    unknown = set(doc) - {"version", "profiles"}
    if unknown:
        raise PublishError(f"{p}: unknown key(s) {', '.join(sorted(unknown))}")
    problems = profile_problems(doc["profiles"])
    if problems:
        raise PublishError(f"{p}: " + "; ".join(problems))
    body = json.dumps({"version": doc["version"], "profiles": doc["profiles"]}, ensure_ascii=False, sort_keys=True)
    return store.publish("profiles", "", doc["version"], None, body)
