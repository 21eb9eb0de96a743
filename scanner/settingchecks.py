"""Checks of single settings beyond their type and range: names, the hub's URL, a PIN hash, outputs, sources.

`scanner.config` runs `VALUE_CHECKS[key]` on a value that has the right type and range, `same_pin` across
the two gate outputs and `same_key` across the kiosk's keys. Each check returns the problem, worded `key: what
is wrong`, or None. Imports of the modules that own a form (gate outputs, source specs, PIN hashes) happen
inside the checks, so loading the settings loads only the parts a file uses.
"""

from __future__ import annotations

import typing
import unicodedata
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from keys.jsontypes import Json

if TYPE_CHECKING:
    from scanner.config import HubSettings


def _check_pin_hash(key: str, value: str) -> str | None:
    # Empty means "no admin PIN set": the admin panel stays locked.
    if not value:
        return None
    from scanner.pin import validate_pin_hash

    problem = validate_pin_hash(value)
    return f"{key}: {problem}" if problem else None


def _check_not_empty(key: str, value: str) -> str | None:
    return None if value.strip() else f"{key}: must not be empty"


def _check_device_id(key: str, value: str) -> str | None:
    # The hub knows a device by its certificate's common name and refuses visits logged under another id.
    from keys.deviceca import DEVICE_ID_RE

    if DEVICE_ID_RE.fullmatch(value):
        return None
    return (f"{key}: {value!r} is not a device id (up to 64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit, as the device certificate's common name)")


def _check_venue_text(key: str, value: str) -> str | None:
    # Every visit carries the venue id and every health record the name: a NUL is text the hub refuses to
    # store, so each visit would be refused; any other control character garbles the pages and logs showing it.
    bad = next((c for c in value if unicodedata.category(c) == "Cc"), None)
    if bad is None:
        return None
    return f"{key}: {value!r} holds a control character (U+{ord(bad):04X})"


def device_id_problem(device_id: str, client_cert: str) -> str | None:
    """`device.id`'s problem when it is not the common name of the client certificate (a readable file)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_pem_x509_certificate(Path(client_cert).read_bytes())
    except (OSError, ValueError):
        return None  # named as hub.client_cert's problem
    names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names == [device_id]:
        return None
    return (f"device.id: {device_id!r} is not the common name of hub.client_cert ({', '.join(map(repr, names))}): "
            "the hub would refuse every visit logged under it")


def _check_hub_url(key: str, value: str) -> str | None:
    # The hub speaks mutual TLS only; requests would meet a missing scheme or a bad port as "hub unreachable"
    # in every sync round, without naming the setting.
    if not value:
        return None
    from urllib.parse import urlsplit

    try:
        url = urlsplit(value)
        port_ok = url.port is None or url.port > 0
    except ValueError:
        port_ok = False
    if (url.scheme != "https" or not url.hostname or not port_ok or url.query or url.fragment
            or value != value.strip()):
        return f"{key}: {value!r} is not the hub's address, https://HOST[:PORT]"
    return None


def _check_gate_output(key: str, value: str) -> str | None:
    from scanner.gate.output import output_spec_problem

    problem = output_spec_problem(value, allow_serial=key == "gate.output")
    return f"{key}: {problem}" if problem else None


def _check_guard_key(key: str, value: str) -> str | None:
    # A key line is compared without its spaces and line end, so such a key could never be pressed.
    if value != value.strip() or not value.isprintable():
        return f"{key}: {value!r} has spaces or control characters; a key line is read without them"
    return None


def _check_region(key: str, value: str) -> str | None:
    from scanner.rules.model import REGION

    return None if REGION.fullmatch(value) else f"{key}: {value!r} is not up to 5 capital letters or digits"


def _check_open_on(key: str, value: list[str]) -> str | None:
    bad = [v for v in value if v not in ("admit", "guard")]
    if bad:
        return f"{key}: {bad[0]!r} is not one of 'admit', 'guard'"
    # Empty, the turnstile would never open, not even for the guard's Admit: a gate locked for good.
    if not value:
        return f"{key}: empty, the gate would never open; [\"guard\"] opens it for the guard's Admit only"
    return None


def _source_problem(spec: str) -> str | None:
    from scanner.sources.spec import source_spec_problem

    if spec.partition(":")[0] == "synthetic":
        return "'synthetic' draws the demo's codes and cannot be set here"
    return source_spec_problem(spec)


def _check_camera_source(key: str, value: str) -> str | None:
    from scanner.sources.spec import no_camera

    problem = None if no_camera(value) else _source_problem(value)
    return f"{key}: {problem}" if problem else None


def _check_sources(key: str, value: list[str]) -> str | None:
    problem = next(filter(None, map(_source_problem, value)), None)
    return f"{key}: {problem}" if problem else None


# Checks beyond type and range, by `section.key`.
VALUE_CHECKS: dict[str, typing.Callable[[str, Json], str | None]] = {
    "device.id": _check_device_id,
    "device.checkpoint_id": _check_venue_text,
    "device.checkpoint_name": _check_venue_text,
    "device.data_dir": _check_not_empty,
    "hub.url": _check_hub_url,
    "admin.pin_hash": _check_pin_hash,
    "venue.region": _check_region,
    "gate.output": _check_gate_output,
    "gate.deny_output": _check_gate_output,
    "gate.open_on": _check_open_on,
    "gate.admit_key": _check_guard_key,
    "gate.deny_key": _check_guard_key,
    "camera.source": _check_camera_source,
    "gate.sources": _check_sources,
}


# Names Qt reads as one key (compared without case); the kiosk takes the keypad's Enter for Return.
_KEY_ALIASES = {"enter": "return", "escape": "esc", "delete": "del", "insert": "ins"}


def key_identity(setting: str, name: str) -> Hashable:
    """Which key a kiosk key name stands for, without Qt: its name, caseless, one name per key."""
    folded = name.strip().casefold()
    return _KEY_ALIASES.get(folded, folded)


def same_key(keys: Iterable[tuple[str, str]],
             identity: Callable[[str, str], Hashable] = key_identity) -> str | None:
    """The problem when two of the kiosk's keys (`(setting, name)` pairs) are one key, or None.

    One key for two acts: the first act checked would always win, silently. `identity` says which key a
    name stands for; the kiosk passes Qt's key codes.
    """
    named: dict[Hashable, tuple[str, str]] = {}
    for setting, name in keys:
        key = identity(setting, name)
        if key in named:
            return f"{setting}: {name!r} is the key of {named[key][0]} ({named[key][1]!r}) too"
        named[key] = (setting, name)
    return None


def same_pin(a: str, b: str) -> bool:
    """Whether two valid output specs drive the same GPIO pin (a pin opens once: the second fails at start)."""
    from scanner.gate.output import gpio_pin

    pin = gpio_pin(a)
    return pin is not None and pin == gpio_pin(b)


def hub_tls_problem(hub: HubSettings) -> str | None:
    """Why TLS could not use `[hub]`'s certificate and key, or its CA (files that can be read), worded by
    setting; None when it can. The sync agent checks this at start, `config check --files-exist` too."""
    from keys.deviceca import tls_files_problem

    problem = tls_files_problem(hub.client_cert, hub.client_key, hub.ca_cert)
    if problem is None:
        return None
    if problem[0] == "cert":
        return (f"hub.client_cert: {hub.client_cert} with hub.client_key: {hub.client_key}: not a PEM certificate "
                f"and its private key ({problem[1]})")
    return f"hub.ca_cert: {hub.ca_cert}: not a PEM CA certificate ({problem[1]})"
