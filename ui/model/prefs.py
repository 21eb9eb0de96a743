"""What the admin panel changes on site (venue profile, volume, mute), kept across kiosk restarts.

The config file is the installer's and stays read-only to the kiosk (the unit runs with
`ProtectSystem=strict`); the panel's choices go to `kiosk-prefs.json` in the data directory and win
over the config until changed again. A missing or damaged file means "no changes made on site".
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from keys.durable import atomic_write_json
from scanner.storage.datadir import KIOSK_PREFS_FILE

log = logging.getLogger(__name__)

PREFS_FILE = KIOSK_PREFS_FILE


@dataclass
class KioskPrefs:
    profile: str | None = None
    volume: float | None = None
    muted: bool | None = None

    @classmethod
    def load(cls, data_dir: Path) -> KioskPrefs:
        path = Path(data_dir) / PREFS_FILE
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as e:
            log.warning("ignoring %s: %s", path, e)
            return cls()
        if not isinstance(doc, dict):
            log.warning("ignoring %s: not a JSON object", path)
            return cls()
        profile, volume, muted = doc.get("profile"), doc.get("volume"), doc.get("muted")
        return cls(profile=profile if isinstance(profile, str) and profile else None,
                   volume=float(volume) if isinstance(volume, int | float) and not isinstance(volume, bool)
                   and 0 <= volume <= 1 else None,
                   muted=muted if isinstance(muted, bool) else None)

    def save(self, data_dir: Path) -> None:
        try:
            atomic_write_json(Path(data_dir) / PREFS_FILE, asdict(self))
        except OSError as e:
            # The change still applies now; only its survival across a restart is lost.
            log.error("cannot save %s: %s", PREFS_FILE, e.strerror)
