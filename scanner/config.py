"""The appliance's settings: one typed, validated object loaded from a TOML file.

Each `[section]` is a frozen dataclass below; its fields are the keys, with their defaults. An unknown
key, a wrong type or an out-of-range value is a `ConfigError` naming the file and the key, and every
problem in the file is reported at once so an operator fixes them in one round.
`config.example.toml` documents every key; a test keeps the two in step.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import functools
import math
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from keys.jsontypes import Json, JsonObject
from scanner.errors import ConfigError
from scanner.profiles import DEFAULT_PROFILE
from scanner.settingchecks import VALUE_CHECKS, same_key, same_pin

T = TypeVar("T")

# Every number has a maximum, in seconds where it is a duration: a value beyond what the services can
# hold (a retention of 10^20 days overflows SQLite's integers, a timeout of 1e300 s a socket's) is named
# by `config check`, not met as a failure in every sync round.
HOUR, DAY = 3600, 86400
WEEK, YEAR = 7 * DAY, 365 * DAY
LIST_MB = 16384


def _opt(default: T, *, choices: tuple[T, ...] | None = None, minimum: float | None = None,
         maximum: float | None = None) -> T:
    meta: dict[str, object] = {}
    if choices is not None:
        meta["choices"] = choices
    if minimum is not None:
        meta["min"] = minimum
    if maximum is not None:
        meta["max"] = maximum
    if isinstance(default, list):
        # A list default is copied for every instance (a shared one would leak edits between them).
        fresh: Callable[[], T] = functools.partial(copy.copy, default)
        return field(default_factory=fresh, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DeviceSettings:
    id: str = "checkpoint-dev"
    checkpoint_id: str = "gate-1"
    checkpoint_name: str = "Checkpoint"
    data_dir: str = "/var/lib/checkpoint"


@dataclass(frozen=True)
class VenueSettings:
    profile: str = DEFAULT_PROFILE
    name: str = ""
    # 0 keeps the profile's own maximum code age.
    max_code_age: int = _opt(0, minimum=0, maximum=YEAR)
    # The venue's region within the rules list's country: business rules with this Region apply here too.
    region: str = ""


@dataclass(frozen=True)
class TrustSettings:
    anchors: list[str] = _opt([])
    # Optional bootstrap files, used when the data directory holds nothing newer.
    trust_list: str = ""
    status_lists: list[str] = _opt([])
    # Optional bootstrap rules list (business rules for DCCs and HCC1 codes), signed by an anchor.
    rules_list: str = ""


@dataclass(frozen=True)
class VerifySettingsSection:
    clock_skew: int = _opt(300, minimum=0, maximum=3600)
    status_grace: int = _opt(0, minimum=0, maximum=YEAR)
    trust_list_grace: int = _opt(86400, minimum=0, maximum=YEAR)


@dataclass(frozen=True)
class CameraSettings:
    source: str = "camera:0"
    width: int = _opt(640, minimum=160, maximum=4096)
    height: int = _opt(480, minimum=120, maximum=4096)
    fps: int = _opt(30, minimum=1, maximum=120)
    decoders: list[str] = _opt(["zxing", "zbar"])
    # Frames with nothing code-like in them get a local-threshold read at half resolution on every Nth
    # frame, the full fast pass on every third of those (a cheap one otherwise); the fallbacks look
    # only where something code-like is left unread.
    slow_pass_every: int = _opt(3, minimum=1, maximum=1000)
    debounce: float = _opt(4.0, minimum=0, maximum=HOUR)


@dataclass(frozen=True)
class ScannerSettings:
    serial_port: str = ""
    baud: int = _opt(9600, minimum=1200, maximum=4_000_000)
    wedge_timeout: float = _opt(0.15, minimum=0.01, maximum=10)


@dataclass(frozen=True)
class DisplaySettings:
    result_seconds: float = _opt(4.0, minimum=0.5, maximum=HOUR)
    fullscreen: bool = True
    # A decision that waited behind another is shown at least this long before the next replaces it.
    min_result_seconds: float = _opt(0.8, minimum=0.0, maximum=10.0)
    # Replace a result with the next person's at once (the transport profile turns this on too).
    fast_stream: bool = False
    # While the guard holds the family key, codes this close together join one family screen.
    family_window: float = _opt(2.0, minimum=0.0, maximum=30.0)
    # The guard's keys (a USB keypad), as Qt names them: Admit and Deny on a manual check, acknowledging
    # an alert, and the key held while a family shows its codes.
    admit_key: str = "Return"
    deny_key: str = "Backspace"
    guard_key: str = "Space"
    family_key: str = "F2"


@dataclass(frozen=True)
class GateSettings:
    # "none", "gpio:PIN" (BCM number, through gpiozero) or "serial:PORT[@BAUD]" (a USB relay board).
    output: str = "none"
    pulse_ms: int = _opt(800, minimum=20, maximum=30000)
    active_high: bool = True
    # "admit": every admitted person, whoever decided; "guard": only the guard's Admit.
    open_on: list[str] = _opt(["admit"])
    # Optional red lamp or buzzer pulsed on a refusal: "gpio:PIN" or "" for none.
    deny_output: str = ""
    # Where the headless gate reads codes; empty: camera.source and scanner.serial_port.
    sources: list[str] = _opt([])
    # The headless gate's guard keys: a line holding only this (a USB keypad's key and Enter) is the guard's
    # Admit or Deny for the last manual check or repeat; "" turns the key off.
    admit_key: str = "+"
    deny_key: str = "-"


@dataclass(frozen=True)
class SoundSettings:
    enabled: bool = True
    volume: float = _opt(0.8, minimum=0.0, maximum=1.0)
    # What a decision sounds like: a tone, the spoken headline, or the tone then the words.
    mode: str = _opt("both", choices=("tones", "voice", "both"))
    language: str = _opt("both", choices=("zh", "en", "both"))
    # ALSA device for the aplay fallback ("" is the default device; "plughw:1" a USB speaker).
    aplay_device: str = ""


@dataclass(frozen=True)
class AdminSettings:
    pin_hash: str = ""
    max_attempts: int = _opt(5, minimum=1, maximum=100)
    lockout_seconds: int = _opt(60, minimum=1, maximum=DAY)
    # The PIN pad and admin panel return to scanning after this many seconds without a touch or key.
    idle_timeout: int = _opt(60, minimum=10, maximum=HOUR)
    # Acknowledging a red alert needs the PIN (otherwise holding the screen 1 s or the guard key).
    ack_requires_pin: bool = False


@dataclass(frozen=True)
class HubSettings:
    url: str = ""
    client_cert: str = ""
    client_key: str = ""
    ca_cert: str = ""


@dataclass(frozen=True)
class SyncSettings:
    interval: float = _opt(30.0, minimum=1, maximum=DAY)
    batch_size: int = _opt(500, minimum=1, maximum=10000)
    timeout: float = _opt(10.0, minimum=0.5, maximum=600)
    backoff_max: float = _opt(300.0, minimum=1, maximum=DAY)
    # Largest list the agent downloads, in MiB; a bigger answer is refused before it fills memory.
    max_trust_list_mb: float = _opt(16.0, minimum=0.01, maximum=LIST_MB)
    max_status_list_mb: float = _opt(64.0, minimum=0.01, maximum=LIST_MB)
    max_rules_list_mb: float = _opt(8.0, minimum=0.01, maximum=LIST_MB)


@dataclass(frozen=True)
class LogSettings:
    retention_days: int = _opt(28, minimum=1, maximum=36500)
    storage_cap_mb: int = _opt(1024, minimum=1, maximum=1024 * 1024)
    storage_alarm_percent: int = _opt(80, minimum=1, maximum=100)
    level: str = _opt("info", choices=("debug", "info", "warning", "error"))
    format: str = _opt("logfmt", choices=("logfmt", "json"))


@dataclass(frozen=True)
class ClockSettings:
    # A system time this far before the last known good time makes the clock untrusted.
    tolerance: int = _opt(300, minimum=0, maximum=WEEK)
    # A wall-clock jump this large against the monotonic clock makes it untrusted too.
    jump_threshold: int = _opt(600, minimum=1, maximum=WEEK)
    persist_interval: int = _opt(60, minimum=1, maximum=DAY)
    # After a reboot, a system time this many days past the last known good time makes it untrusted too
    # (a device off longer is confirmed again; a clock running ahead would make every code look expired).
    reboot_ahead_days: int = _opt(30, minimum=1, maximum=3650)


SECTIONS: dict[str, type] = {
    "device": DeviceSettings,
    "venue": VenueSettings,
    "trust": TrustSettings,
    "verify": VerifySettingsSection,
    "camera": CameraSettings,
    "scanner": ScannerSettings,
    "display": DisplaySettings,
    "gate": GateSettings,
    "sound": SoundSettings,
    "admin": AdminSettings,
    "hub": HubSettings,
    "sync": SyncSettings,
    "log": LogSettings,
    "clock": ClockSettings,
}


@dataclass(frozen=True)
class Settings:
    device: DeviceSettings = field(default_factory=DeviceSettings)
    venue: VenueSettings = field(default_factory=VenueSettings)
    trust: TrustSettings = field(default_factory=TrustSettings)
    verify: VerifySettingsSection = field(default_factory=VerifySettingsSection)
    camera: CameraSettings = field(default_factory=CameraSettings)
    scanner: ScannerSettings = field(default_factory=ScannerSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)
    gate: GateSettings = field(default_factory=GateSettings)
    sound: SoundSettings = field(default_factory=SoundSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    hub: HubSettings = field(default_factory=HubSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    log: LogSettings = field(default_factory=LogSettings)
    clock: ClockSettings = field(default_factory=ClockSettings)
    # `[profiles.NAME]` tables: venue profile overrides, validated by `scanner.policy`.
    profiles: dict[str, JsonObject] = field(default_factory=dict)
    source: str = "<defaults>"

    @property
    def data_dir(self) -> Path:
        return Path(self.device.data_dir)


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _given(value: object) -> str:
    """A TOML value as a message names it: a string, number or boolean as written, anything else in words."""
    # datetime is a date too: asked first.
    if isinstance(value, datetime.datetime):
        return f"a date and time ({value.isoformat()})"
    if isinstance(value, datetime.date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, datetime.time):
        return f"a time of day ({value.isoformat()})"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _check_value(key: str, hint: type, value: Json, meta: typing.Mapping[str, Json]) -> tuple[Json, str | None]:
    origin = typing.get_origin(hint)
    if origin is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            return None, f"{key}: expected a list, got {type(value).__name__}"
        out = []
        for i, item in enumerate(value):
            checked, err = _check_value(f"{key}[{i}]", item_type, item, {})
            if err:
                return None, err
            out.append(checked)
        return out, None
    if origin in (types.UnionType, typing.Union):
        raise TypeError(f"optional settings are not supported: {key}")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if (hint is int and isinstance(value, bool)) or not isinstance(value, hint):
        return None, f"{key}: expected {_TYPE_NAMES.get(hint, hint)}, got {_given(value)}"
    if isinstance(value, float) and not math.isfinite(value):  # TOML's nan passes every range check
        return None, f"{key}: expected a finite number, got {value!r}"
    if "choices" in meta and value not in meta["choices"]:
        allowed = ", ".join(repr(c) for c in meta["choices"])
        return None, f"{key}: {value!r} is not one of {allowed}"
    if "min" in meta and value < meta["min"]:
        return None, f"{key}: {value!r} is below the minimum {meta['min']}"
    if "max" in meta and value > meta["max"]:
        return None, f"{key}: {value!r} is above the maximum {meta['max']}"
    return value, None


def _build_section(name: str, cls: type, table: Json, problems: list[str]) -> object:
    if not isinstance(table, dict):
        problems.append(f"[{name}]: expected a table, got {_given(table)}")
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: JsonObject = {}
    for key, value in table.items():
        full = f"{name}.{key}"
        if key not in fields:
            problems.append(f"{full}: unknown setting")
            continue
        checked, err = _check_value(full, hints[key], value, fields[key].metadata)
        if err is None and full in VALUE_CHECKS:
            err = VALUE_CHECKS[full](full, checked)
        if err:
            problems.append(err)
        else:
            values[key] = checked
    return cls(**values)


def settings_from_dict(data: JsonObject, source: str = "<dict>") -> Settings:
    """Validate a parsed TOML document; raise `ConfigError` listing every problem."""
    problems: list[str] = []
    sections: dict[str, Any] = {}  # section name -> its settings object
    profiles: dict[str, JsonObject] = {}
    for name, table in data.items():
        if name == "profiles":
            if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
                problems.append("profiles: expected tables [profiles.NAME]")
            else:
                profiles = table
            continue
        cls = SECTIONS.get(name)
        if cls is None:
            problems.append(f"[{name}]: unknown section")
            continue
        sections[name] = _build_section(name, cls, table, problems)
    gate = sections.get("gate")
    if isinstance(gate, GateSettings) and gate.deny_output and same_pin(gate.deny_output, gate.output):
        problems.append(f"gate.deny_output: {gate.deny_output!r} is gate.output's pin too")
    admin = sections.get("admin")
    if isinstance(admin, AdminSettings) and admin.ack_requires_pin and not admin.pin_hash:
        # Without a PIN no alert could ever be acknowledged: the first red code would hold the screen for good.
        problems.append("admin.ack_requires_pin: true needs admin.pin_hash (set it with `checkpoint config pin`)")
    if isinstance(gate, GateSettings) and gate.admit_key and gate.admit_key == gate.deny_key:
        # One key cannot be both: the guard's Admit would be read as Deny.
        problems.append(f"gate.deny_key: {gate.deny_key!r} is gate.admit_key too")
    display = sections.get("display")
    if isinstance(display, DisplaySettings) and (clash := same_key(
            (f"display.{k}", getattr(display, k)) for k in ("admit_key", "deny_key", "guard_key", "family_key"))):
        problems.append(clash)
    # Imported here: policy imports this module's types at import time.
    from scanner.policy import profile_problems, unknown_profile_problem

    if profiles:
        problems.extend(profile_problems(profiles))
    venue = sections.get("venue")
    if isinstance(venue, VenueSettings) and (unknown := unknown_profile_problem(venue.profile, profiles)):
        problems.append(unknown)
    if problems:
        raise ConfigError(source, problems)
    return Settings(profiles=profiles, source=source, **sections)


def read_settings_text(path: str | Path) -> str:
    """A settings file's text, or a `ConfigError` saying why it cannot be read: missing, a folder, not UTF-8."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(p), ["file not found"]) from None
    except OSError as e:
        raise ConfigError(str(p), [f"cannot read: {e.strerror}"]) from None
    try:
        # utf-8-sig: Windows Notepad starts a UTF-8 file with a byte-order mark, which TOML does not allow.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(str(p), ["not UTF-8 text"]) from None


def load_settings(path: str | Path) -> Settings:
    """Load and validate a TOML settings file."""
    text = read_settings_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), [f"invalid TOML: {e}"]) from None
    return settings_from_dict(data, str(path))


def schema_keys() -> list[str]:
    """Every `section.key` the schema knows, for the example-file test and `config check`."""
    return [f"{name}.{f.name}" for name, cls in SECTIONS.items() for f in dataclasses.fields(cls)]
