"""The device's data directory: every file in it is named here, once.

Several processes share it (kiosk, sync agent, `checkpoint` commands); each file has one owner
that writes it and any number of readers.

| path | owner | what |
|---|---|---|
| `trust/trustlist.json` | `keys.trustlist.TrustStore` | the last accepted trust list |
| `trust/trustlist.json.bad-N` | `keys.trustlist.TrustStore` | cached lists refused at start-up, kept for inspection |
| `rules/ruleslist.json` | `scanner.rules.ruleslist.RulesStore` | the last accepted rules list (`.bad-N` as for trust) |
| `status.sqlite` | `keys.statusstore.StatusStore` | synced status lists |
| `visits.sqlite` | `scanner.storage.visitlog.VisitLog` | the visit log and its outbox |
| `visits.sqlite.bad-N` | `scanner.storage.stores` | a damaged visit log set aside, its visits salvaged |
| `visits.sqlite.damaged` | `scanner.storage.damagenote` | damage met while running: the next start checks |
| `clock.json` | `scanner.clock.TrustedClock` | last known good time, trust state |
| `sync-status.json` | the sync agent (`scanner.storage.syncstate`) | last success, pending, hub time |
| `sync-request` | kiosk (creates), agent (takes) | "sync now" from the admin panel |
| `venue-profiles.json` | the sync agent | venue profiles published by the hub |
| `kiosk-prefs.json` | the kiosk's admin panel | profile, volume, mute chosen on site |
| `pin-lockout.json` | the kiosk's admin PIN pad | wrong admin PINs and the lock-out, kept across restarts |
| `exports/` | `Session.export_logs` | visit-log exports made from the admin panel |
| `appliance-health.json` | kiosk or gate | camera, gate output, audio, last decision (sent to the hub by the agent) |
| `site-admissions.json` | the sync agent | code ids admitted at this site recently, from the hub (anti-passback) |
| `voice/` | `scanner.sound.voice.CueCache` | spoken prompts synthesised by espeak-ng, one WAV per cue |
| `spool/` | the sync agent | lists being downloaded, before they are verified |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TRUST_DIR = "trust"
TRUST_LIST_FILE = "trustlist.json"  # inside TRUST_DIR; `keys.trustlist.TrustStore.FILE` is this name
RULES_DIR = "rules"
RULES_LIST_FILE = "ruleslist.json"  # inside RULES_DIR; `scanner.rules.ruleslist.RulesStore.FILE` is this name
STATUS_DB = "status.sqlite"
VISITS_DB = "visits.sqlite"
DAMAGE_NOTE_SUFFIX = ".damaged"  # beside the visit log: `visits.sqlite.damaged` (`scanner.storage.damagenote`)
CLOCK_FILE = "clock.json"
SYNC_STATUS_FILE = "sync-status.json"
SYNC_REQUEST_FILE = "sync-request"
VENUE_PROFILES_FILE = "venue-profiles.json"
KIOSK_PREFS_FILE = "kiosk-prefs.json"
PIN_LOCKOUT_FILE = "pin-lockout.json"
EXPORTS_DIR = "exports"
APPLIANCE_HEALTH_FILE = "appliance-health.json"
SITE_ADMISSIONS_FILE = "site-admissions.json"
SPOOL_DIR = "spool"
VOICE_DIR = "voice"


@dataclass(frozen=True)
class DataDir:
    """Paths inside one data directory."""

    root: Path

    @property
    def trust(self) -> Path:
        """The trust store's folder (it names its own files)."""
        return self.root / TRUST_DIR

    @property
    def trust_list(self) -> Path:
        return self.trust / TRUST_LIST_FILE

    @property
    def rules(self) -> Path:
        """The rules store's folder (it names its own files)."""
        return self.root / RULES_DIR

    @property
    def rules_list(self) -> Path:
        return self.rules / RULES_LIST_FILE

    @property
    def status_db(self) -> Path:
        return self.root / STATUS_DB

    @property
    def visits_db(self) -> Path:
        return self.root / VISITS_DB

    @property
    def clock(self) -> Path:
        return self.root / CLOCK_FILE

    @property
    def sync_status(self) -> Path:
        return self.root / SYNC_STATUS_FILE

    @property
    def sync_request(self) -> Path:
        return self.root / SYNC_REQUEST_FILE

    @property
    def venue_profiles(self) -> Path:
        return self.root / VENUE_PROFILES_FILE

    @property
    def kiosk_prefs(self) -> Path:
        return self.root / KIOSK_PREFS_FILE

    @property
    def pin_lockout(self) -> Path:
        return self.root / PIN_LOCKOUT_FILE

    @property
    def exports(self) -> Path:
        return self.root / EXPORTS_DIR

    @property
    def appliance_health(self) -> Path:
        return self.root / APPLIANCE_HEALTH_FILE

    @property
    def site_admissions(self) -> Path:
        return self.root / SITE_ADMISSIONS_FILE

    @property
    def spool(self) -> Path:
        return self.root / SPOOL_DIR

    @property
    def voice(self) -> Path:
        return self.root / VOICE_DIR
