"""`build_session`: the settings turned into a running core (stores, clock, checker, gate, Session).

The kiosk (`ui.app.build_core`) and the headless gate (`scanner.gate.runner`) both start here, so they
decide, log and open the gate the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scanner.config import Settings
from scanner.session import Session

if TYPE_CHECKING:
    from gpiozero.pins import Factory

    from scanner.clock import Clock
    from scanner.gate.control import Gate
    from scanner.policy import VenueProfile
    from scanner.timesync import NtpWatch


def build_session(settings: Settings, *, clock: Clock | None = None, profile: VenueProfile | None = None,
                  pin_factory: Factory | None = None, ntp: NtpWatch | None = None,
                  gate: Gate | None = None, show_before_durable: bool = True) -> Session:
    """Stores, checker, clock, gate outputs and visit log from the settings (the data directory is created).

    `profile` replaces the config's venue profile (the kiosk's on-site choice); `ntp` defaults to polling
    systemd's NTP state; `gate` to the `[gate]` outputs (`pin_factory` for gpiozero, e.g. a mock one).
    `show_before_durable=False` writes each visit before its decision is returned (the headless gate).
    """
    from scanner.checker import Checker
    from scanner.clock import TrustedClock
    from scanner.gate.control import Gate
    from scanner.policy import load_profile
    from scanner.storage.stores import open_stores
    from scanner.timesync import NtpWatch
    from scanner.verify import VerifySettings

    stores = open_stores(settings)
    assert stores.trust is not None and stores.status is not None  # require_trust: anchors are configured
    clock = clock or TrustedClock.open(stores.data.root, settings.clock)
    verify = VerifySettings(clock_skew=settings.verify.clock_skew, status_grace=settings.verify.status_grace)
    checker = Checker(trust=stores.trust, status=stores.status,
                      profile=profile or load_profile(settings.venue.profile, settings.profiles), settings=verify,
                      clock=clock, max_code_age=settings.venue.max_code_age, rules=stores.rules,
                      region=settings.venue.region)
    return Session(checker, stores.visit_log, clock=clock, data_dir=stores.data.root, device_id=settings.device.id,
                   checkpoint_id=settings.device.checkpoint_id, checkpoint_name=settings.device.checkpoint_name,
                   anchors=stores.anchors, trust_grace=settings.verify.trust_list_grace,
                   status_grace=settings.verify.status_grace, profile_overrides=settings.profiles,
                   gate=gate if gate is not None else Gate(settings.gate, pin_factory=pin_factory),
                   family_window=settings.display.family_window, fast_stream=settings.display.fast_stream,
                   ack_pin_hash=settings.admin.pin_hash if settings.admin.ack_requires_pin else None,
                   ntp=ntp if ntp is not None else NtpWatch(), show_before_durable=show_before_durable)
