"""The agent's list steps: trust list, status lists, the DCC revocation list, rules list and venue profiles,
fetched conditionally under size caps.

Each list is streamed to a spool file in the data directory (never more than its cap, `sync.max_*_mb`),
then verified by its store (`keys`, `scanner.rules`), which keeps the held list when it refuses a new one.
A refusal is a recorded error for the kiosk, not a failed round: the hub answered, the device protected
itself.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from keys.durable import atomic_write_json
from keys.jsontypes import Json, JsonObject, SignedJson
from scanner.errors import StorageError
from scanner.storage.datadir import VENUE_PROFILES_FILE
from scanner.storage.syncstate import SyncStatus
from sync.answers import ProfilesDoc, parse_answer
from sync.transport import Answer, HubClient, spool_path

if TYPE_CHECKING:
    from keys.errors import TrustListError
    from keys.statusstore import StatusStore
    from keys.trustlist import TrustStore
    from scanner.errors import RulesListError
    from scanner.rules.ruleslist import RulesStore
    from scanner.service.sdnotify import Notifier
    from sync.agent import AgentConfig

log = logging.getLogger("sync.agent")

MAX_STATUS_STEPS = 10
# Venue profile overrides from the hub, `{"version", "profiles": {NAME: {profile, outcomes}}}`, in the
# same shape as a settings file's `[profiles.NAME]` tables; the kiosk merges them under its own settings.
PROFILES_FILE = VENUE_PROFILES_FILE


class HeldList(Protocol):
    @property
    def document(self) -> JsonObject: ...


class SignedListStore(Protocol):
    """A store of one signed list with rollback protection: the trust store, the rules store."""

    @property
    def problem(self) -> str | None: ...

    @property
    def version(self) -> int | None: ...

    @property
    def current(self) -> HeldList | None: ...

    def update(self, doc: SignedJson, source: str = ...) -> object: ...


class ListSteps:
    """Mixed into `SyncAgent`, which provides these attributes."""

    config: AgentConfig
    client: HubClient
    state: SyncStatus
    trust: TrustStore | None
    status_store: StatusStore | None
    rules: RulesStore | None
    notifier: Notifier

    def _fetch(self, path: str, name: str, max_bytes: int, *, headers: Mapping[str, str] | None = None,
               params: Mapping[str, int] | None = None) -> Answer:
        """GET a list, streamed to a spool file under the size cap (`path` of the answer; the caller
        removes it)."""
        spool = spool_path(self.config.data_dir, name)
        return self.client.request("GET", path, max_bytes=max_bytes, to_file=spool, what=f"GET {path}",
                                   headers=headers, params=params)

    def _download(self, path: str, name: str, max_bytes: int, *, headers: Mapping[str, str] | None = None,
                  params: Mapping[str, int] | None = None) -> tuple[int, Mapping[str, str], bytes]:
        """`_fetch` read into memory; (status, headers, body)."""
        a = self._fetch(path, name, max_bytes, headers=headers, params=params)
        if a.path is None:
            return a.status, a.headers, a.body
        try:
            return a.status, a.headers, a.path.read_bytes()
        finally:
            a.path.unlink(missing_ok=True)

    def fetch_trust_list(self) -> str:
        from keys.errors import TrustListError

        if self.trust is None:
            return "no trust anchors configured"
        return self._fetch_signed_list("/v1/trust-list", "trustlist", self.config.max_trust_list_bytes,
                                       self.trust, self.state.trust_list, TrustListError)

    def fetch_rules_list(self) -> str:
        from scanner.errors import RulesListError

        if self.rules is None:
            return "no trust anchors configured"
        return self._fetch_signed_list("/v1/rules", "ruleslist", self.config.max_rules_list_bytes,
                                       self.rules, self.state.rules_list, RulesListError)

    def _fetch_signed_list(self, path: str, name: str, max_bytes: int, store: SignedListStore, info: JsonObject,
                           refused: type[TrustListError | RulesListError]) -> str:
        """GET a signed list conditionally and hand it to its store; a refusal is recorded in `info`."""
        info["problem"] = store.problem
        headers = {"If-None-Match": info["etag"]} if info.get("etag") and store.version is not None else {}
        status, got, body = self._download(path, name, max_bytes, headers=headers)
        if status == 304:
            info["error"] = None
            return "unchanged"
        if status == 404:
            return "none published"
        if store.current is not None and _json_or_none(body) == store.current.document:
            # The list already held (first contact after a bootstrap, or a lost ETag): not a rollback.
            info.update(etag=got.get("ETag"), error=None)
            return "unchanged"
        try:
            store.update(body, source="hub")
        except refused as e:
            # The cached list stays; the refusal is visible on the kiosk until a good list arrives.
            info["error"] = str(e)
            log.warning("%s", e)
            return f"refused: {e.reason}"
        info.update(etag=got.get("ETag"), error=None, problem=None)
        return f"updated to version {store.version}"

    def fetch_status_lists(self, only: list[str] | None = None) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.trust is None or self.status_store is None:
            return out
        for issuer in self.trust.issuers():
            if only is None or issuer in only:
                out[issuer] = self._fetch_status_list(issuer, self.state.status_lists.setdefault(issuer, {}),
                                                      self.trust, self.status_store)
        return out

    def _fetch_status_list(self, issuer: str, entry: JsonObject, trust: TrustStore, store: StatusStore) -> str:
        """Step one issuer's list up from its held version, a list at a time. A delta the device refuses
        (on another base than the held version, or not applicable at all) is followed by the latest full
        snapshot in the same round (docs/format.md §4), asked for once: a snapshot refused in turn is
        recorded, and the round protocol asks for the issuer again next round."""
        from keys.errors import StatusListError

        result = "unchanged"
        refused_delta: str | None = None
        want_snapshot = False
        for _ in range(MAX_STATUS_STEPS):
            since = store.version(issuer)
            # Without since= the hub answers its latest snapshot.
            params = {"since": since} if since is not None and not want_snapshot else {}
            want_snapshot = False
            # Applied straight from the spool file, a batch at a time: a province's list (millions
            # of entries) never sits in memory.
            a = self._fetch(f"/v1/status/{issuer}", f"status-{issuer}"[:80], self.config.max_status_list_bytes,
                            params=params)
            try:
                if a.status == 404:
                    return "none published"
                if a.status == 304:
                    entry["error"] = None
                    return result
                source = f"hub {issuer}"
                # The apply pings the watchdog as it goes: a long list outlasts WatchdogSec on a Pi.
                ping = self.notifier.watchdog
                applied = (store.apply_file(a.path, trust, source=source, progress=ping)
                           if a.path is not None
                           else store.apply(a.body, trust, source=source, progress=ping))
            except StatusListError as e:
                log.warning("%s", e)
                if params and refused_delta is None and a.headers.get("X-Base"):
                    refused_delta = f"delta {a.headers.get('X-Version', '')} refused: {e.reason}"
                    want_snapshot = True
                    continue
                entry["error"] = str(e) if refused_delta is None else f"{e} (after the {refused_delta})"
                return f"refused: {e.reason}"
            except (OSError, sqlite3.Error) as e:
                # The device's own storage failed (disk full, I/O error): the held list stays whole,
                # the step fails as an environment failure, and the next round tries again.
                raise StorageError(f"status list {issuer}: cannot apply it on this device "
                                   f"({getattr(e, 'strerror', None) or e})") from e
            finally:
                if a.path is not None:
                    a.path.unlink(missing_ok=True)
            entry["error"] = None
            kind = "snapshot" if applied.snapshot else "delta"
            result = f"{kind} {applied.version}"
            if refused_delta is not None and applied.snapshot:
                result += f" after the {refused_delta}"
        return result

    def fetch_dcc_revocation(self) -> str:
        """The EU DCC revocation list: verified against the pinned anchors, applied whole to the status store
        only when newer than the held one (a refusal keeps the held list and is recorded)."""
        from keys.dccrevocation import verify_dcc_revocation
        from keys.errors import StatusListError

        if self.trust is None or self.status_store is None:
            return "no trust anchors configured"
        info = self.state.dcc_revocation
        held = self.status_store.dcc_revocation_info()
        headers = {"If-None-Match": info["etag"]} if info.get("etag") and held is not None else {}
        status, got, body = self._download("/v1/dcc-revocation", "dccrevocation", self.config.max_status_list_bytes,
                                           headers=headers)
        if status == 304:
            info["error"] = None
            return "unchanged"
        if status == 404:
            return "none published"
        try:
            rl = verify_dcc_revocation(body, self.trust.anchors, "hub DCC revocation list")
            if held is not None and rl.version == held.version:
                # The list already held (a lost ETag): not a rollback.
                info.update(etag=got.get("ETag"), error=None)
                return "unchanged"
            applied = self.status_store.apply_dcc_revocation(rl)
        except StatusListError as e:
            info["error"] = str(e)
            log.warning("%s", e)
            return f"refused: {e.reason}"
        info.update(etag=got.get("ETag"), error=None)
        return f"updated to version {applied.version} ({applied.revoked} hashes)"

    def fetch_profiles(self) -> str:
        """Venue profile overrides from the hub, checked like a settings file, kept in `PROFILES_FILE`."""
        from scanner.policy import profile_problems

        info = self.state.profiles
        try:
            held = json.loads((self.config.data_dir / PROFILES_FILE).read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError, TypeError):
            held = None  # nothing usable held: fetch unconditionally
        headers = {"If-None-Match": info["etag"]} if info.get("etag") and held is not None else {}
        a = self.client.request("GET", "/v1/profiles", headers=headers)
        if a.status in (304, 404):
            return "unchanged" if a.status == 304 else "none published"
        doc = parse_answer(ProfilesDoc, a.body, "GET /v1/profiles")
        problem: str | None
        if held is not None and doc.version <= held:
            problem = f"version {doc.version} is not newer than the held version {held}"
        else:
            problems = profile_problems(doc.profiles)
            problem = "; ".join(problems) if problems else None
        if problem:
            info["error"] = f"venue profiles from the hub refused: {problem}"
            log.warning("%s", info["error"])
            return f"refused: {problem}"
        atomic_write_json(self.config.data_dir / PROFILES_FILE, {"version": doc.version, "profiles": doc.profiles})
        info.update(version=doc.version, etag=a.headers.get("ETag"), error=None)
        return f"updated to version {doc.version}"



def _json_or_none(data: bytes) -> Json:
    try:
        return json.loads(data)
    except ValueError:
        return None
