"""The gate controller: which decisions open the turnstile (or pulse the red lamp), and what it reported.

`Gate.on_decision(admit, decided_by)` is called by the session right after a decision, before the visit is
logged, so the turnstile opens within a millisecond or two; its answer ("open", "failed" or None when the
gate is not asked to open) goes into the visit row's `gate` field. Every action is also handed to the
listeners (`GateAction`), which the headless gate prints as `{"event": "gate", ...}`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keys.jsontypes import JsonObject
from scanner.config import GateSettings
from scanner.gate.output import PulseOutput, RelayPort, open_output

if TYPE_CHECKING:
    from gpiozero.pins import Factory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateAction:
    action: str  # "open" (the turnstile) or "deny" (the red lamp / buzzer)
    reason: str  # "admit" (the device admitted) or "guard" (the guard's decision)
    pulse_ms: int
    ok: bool
    at: float  # monotonic, when the relay was switched
    problem: str = ""


class Gate:
    """The configured outputs (`[gate]`); `close()` releases them."""

    def __init__(self, settings: GateSettings, *, pin_factory: Factory | None = None,
                 serial_factory: Callable[..., RelayPort] | None = None):
        self.settings = settings
        self.output: PulseOutput | None = open_output(settings.output, pulse_ms=settings.pulse_ms,
                                                      active_high=settings.active_high, pin_factory=pin_factory,
                                                      serial_factory=serial_factory)
        self.deny_output: PulseOutput | None = open_output(settings.deny_output, pulse_ms=settings.pulse_ms,
                                                           active_high=settings.active_high,
                                                           pin_factory=pin_factory)
        for out in (self.output, self.deny_output):
            if out is not None:
                out.prepare()  # a failure is reported by `problem` and retried on the next pulse
        self._listeners: list[Callable[[GateAction], None]] = []
        self._lock = threading.Lock()
        self.last_action: GateAction | None = None

    def add_listener(self, listener: Callable[[GateAction], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    @property
    def configured(self) -> bool:
        return self.output is not None or self.deny_output is not None

    def opens_for(self, admit: bool, decided_by: str) -> bool:
        if not admit or self.output is None:
            return False
        return "admit" in self.settings.open_on or (decided_by == "guard" and "guard" in self.settings.open_on)

    def on_decision(self, admit: bool, decided_by: str) -> str | None:
        """Pulse what this decision calls for; the visit row's `gate` value ("open", "failed", None)."""
        reason = "guard" if decided_by == "guard" else "admit"
        if self.opens_for(admit, decided_by):
            assert self.output is not None
            return "open" if self._pulse(self.output, "open", reason) else "failed"
        if not admit and self.deny_output is not None:
            self._pulse(self.deny_output, "deny", reason)
        return None

    def _pulse(self, out: PulseOutput, action: str, reason: str) -> bool:
        ok = out.pulse(self.settings.pulse_ms)
        event = GateAction(action, reason, self.settings.pulse_ms, ok, time.monotonic(), out.problem)
        self.last_action = event
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("a gate listener failed")
        return ok

    @property
    def problem(self) -> str:
        """What is wrong with the outputs, for the status bar; "" when they work (or none is configured)."""
        parts = [f"{o.name}: {o.problem}" for o in (self.output, self.deny_output) if o is not None and o.problem]
        return "; ".join(parts)

    def health(self) -> JsonObject:
        """For `appliance-health.json` (`gate_output`)."""
        if self.output is None:
            return {"state": "none"}
        return {"state": "failed" if self.output.problem else "ok", "output": self.output.name,
                "error": self.output.problem or None, "pulses": self.output.pulses}

    def close(self) -> None:
        for out in (self.output, self.deny_output):
            if out is not None:
                out.close()
