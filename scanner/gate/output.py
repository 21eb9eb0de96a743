"""Gate outputs: the relay behind a turnstile, a door strike or a lamp, pulsed for an opening.

`gate.output` names one: `none`, `gpio:PIN` (a BCM pin through gpiozero, so the lgpio backend on Raspberry
Pi OS Bookworm and gpiozero's mock pin factory in tests) or `serial:PORT[@BAUD]`, a USB relay board
speaking this line protocol (ASCII, one command per line, `\\n`-terminated, 9600 baud unless given):

    OPEN <ms>     close the relay for <ms> milliseconds, then release it (a new OPEN restarts the time)
    OFF           release the relay now
    the board may answer anything (e.g. "OK"); answers are read and ignored

A pulse never blocks the decision that asked for it: the relay is switched on in the caller's thread
(microseconds for a GPIO pin; a serial write with a short write timeout) and switched off by a timer
thread. A failing output (pin busy, board unplugged) makes `pulse()` return False and `problem` say why;
the next pulse tries to open it again (at most every `REOPEN_S` seconds).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gpiozero.pins import Factory

log = logging.getLogger(__name__)

REOPEN_S = 2.0
SERIAL_WRITE_TIMEOUT_S = 0.05


def gpio_pin(spec: str) -> int | None:
    """The pin number a `gpio:PIN` spec names (`gpio:017` is pin 17); None for another kind of spec, or a PIN
    that is not written in digits."""
    kind, _, arg = spec.partition(":")
    # ASCII digits only: str.isdigit() is also true of "²", which int() refuses.
    return int(arg) if kind == "gpio" and arg.isascii() and arg.isdigit() else None


def output_spec_problem(spec: str, *, allow_serial: bool = True) -> str | None:
    """Why `spec` is not a valid output name, or None."""
    kind, _, arg = spec.partition(":")
    if spec in ("none", "") and (spec == "none" or not allow_serial):
        return None
    if kind == "gpio":
        pin = gpio_pin(spec)
        if pin is None or not 0 <= pin <= 53:
            return f"{spec!r}: gpio:PIN takes a BCM pin number 0 to 53"
        return None
    if kind == "serial" and allow_serial:
        port, _, baud = arg.partition("@")
        if not port or (baud and not (baud.isascii() and baud.isdigit())):
            return f"{spec!r}: expected serial:PORT or serial:PORT@BAUD"
        return None
    return f"{spec!r}: expected none, gpio:PIN or serial:PORT[@BAUD]" if allow_serial else \
        f"{spec!r}: expected \"\" or gpio:PIN"


class Switch(Protocol):
    """One relay: `on()` / `off()` raise `OSError`/`RuntimeError`-like errors when the hardware fails."""

    def on(self) -> None: ...

    def off(self) -> None: ...

    def close(self) -> None: ...


class RelayPort(Protocol):
    """What `SerialRelaySwitch` uses of a `serial.Serial` port (tests pass a fake)."""

    @property
    def in_waiting(self) -> int: ...

    def write(self, data: bytes, /) -> int | None: ...

    def read(self, size: int = 1, /) -> bytes: ...

    def close(self) -> None: ...


class GpioSwitch:
    """A gpiozero `DigitalOutputDevice` on a BCM pin (`pin_factory` None: gpiozero's default)."""

    def __init__(self, pin: int, *, active_high: bool = True, pin_factory: Factory | None = None):
        from gpiozero import DigitalOutputDevice

        self.device = DigitalOutputDevice(pin, active_high=active_high, initial_value=False,
                                          pin_factory=pin_factory)

    def on(self) -> None:
        self.device.on()

    def off(self) -> None:
        self.device.off()

    def close(self) -> None:
        self.device.close()


class SerialRelaySwitch:
    """A USB relay board with the line protocol above; `on()` sends `OPEN <ms>` (the board times it too)."""

    def __init__(self, port: str, *, baud: int = 9600, pulse_ms: int = 800,
                 serial_factory: Callable[..., RelayPort] | None = None):
        import serial

        factory = serial_factory or serial.Serial
        self.pulse_ms = pulse_ms
        self._port = factory(port, baud, timeout=0, write_timeout=SERIAL_WRITE_TIMEOUT_S)

    def _send(self, line: str) -> None:
        self._port.write(line.encode("ascii") + b"\n")
        if getattr(self._port, "in_waiting", 0):
            self._port.read(self._port.in_waiting)

    def on(self) -> None:
        self._send(f"OPEN {self.pulse_ms}")

    def off(self) -> None:
        self._send("OFF")

    def close(self) -> None:
        self._port.close()


HARDWARE_ERRORS: tuple[type[BaseException], ...] = (OSError, RuntimeError, ValueError)


def _hardware_errors() -> tuple[type[BaseException], ...]:
    """gpiozero's and pyserial's own exception roots, next to the OS's."""
    extra: list[type[BaseException]] = []
    try:
        from gpiozero.exc import GPIOZeroError

        extra.append(GPIOZeroError)
    except ImportError:  # gpiozero is a dependency; an incomplete install only loses GPIO outputs
        pass
    try:
        from serial import SerialException

        extra.append(SerialException)
    except ImportError:
        pass
    return (*HARDWARE_ERRORS, *extra)


class PulseOutput:
    """One named output that can be pulsed; it opens its switch lazily and survives its failures.

    `opener()` builds the `Switch`; `pulse(ms)` switches it on now and off after `ms` (a pulse while one is
    running extends it). `problem` is "" while the output works, else what went wrong.
    """

    def __init__(self, name: str, opener: Callable[[], Switch], *, monotonic: Callable[[], float] = time.monotonic):
        self.name = name
        self._opener = opener
        self._mono = monotonic
        self._switch: Switch | None = None
        self._errors = _hardware_errors()
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._off_at: float | None = None
        self._last_attempt = -1e9
        self._closed = False
        self._timer: threading.Thread | None = None
        self.problem = ""
        self.pulses = 0
        self.last_pulse_monotonic: float | None = None

    def prepare(self) -> bool:
        """Open the switch now (at start-up), so the first opening is as fast as the others."""
        with self._lock:
            return self._ensure() is not None

    def _ensure(self) -> Switch | None:
        if self._switch is not None:
            return self._switch
        now = self._mono()
        if now - self._last_attempt < REOPEN_S and self.problem:
            return None
        self._last_attempt = now
        try:
            self._switch = self._opener()
        except self._errors as e:
            self._fail(f"cannot open: {e}")
            return None
        if self.problem:
            log.info("gate output %s works again", self.name)
        self.problem = ""
        return self._switch

    def _fail(self, message: str) -> None:
        if message != self.problem:
            log.error("gate output %s failed: %s", self.name, message)
        self.problem = message

    def pulse(self, ms: int) -> bool:
        """Switch on now, off after `ms`; False (and `problem` set) when the output does not work."""
        with self._lock:
            if self._closed:
                return False
            switch = self._ensure()
            if switch is None:
                return False
            try:
                switch.on()
            except self._errors as e:
                self._drop(f"switching on failed: {e}")
                return False
            self.pulses += 1
            self.last_pulse_monotonic = self._mono()
            self._off_at = self.last_pulse_monotonic + ms / 1000
            if self._timer is None:
                self._timer = threading.Thread(target=self._run_timer, name=f"gate-{self.name}", daemon=True)
                self._timer.start()
            self._cv.notify_all()
            return True

    def _drop(self, message: str) -> None:
        self._fail(message)
        switch, self._switch = self._switch, None
        if switch is not None:
            try:
                switch.close()
            except self._errors:
                log.debug("closing the failed gate output %s failed too", self.name)

    def _run_timer(self) -> None:
        with self._lock:
            while not self._closed:
                if self._off_at is None:
                    self._cv.wait()
                    continue
                left = self._off_at - self._mono()
                if left > 0:
                    self._cv.wait(left)
                    continue
                self._off_at = None
                if self._switch is not None:
                    try:
                        self._switch.off()
                    except self._errors as e:
                        self._drop(f"switching off failed: {e}")

    def close(self) -> None:
        """Release the relay (never leave a turnstile open) and the pin or port."""
        with self._lock:
            self._closed = True
            self._cv.notify_all()
            switch, self._switch = self._switch, None
        if self._timer is not None:
            self._timer.join(timeout=1.0)
        if switch is not None:
            try:
                switch.off()
                switch.close()
            except self._errors as e:
                log.warning("closing gate output %s: %s", self.name, e)


def open_output(spec: str, *, pulse_ms: int = 800, active_high: bool = True, pin_factory: Factory | None = None,
                serial_factory: Callable[..., RelayPort] | None = None) -> PulseOutput | None:
    """The output `spec` names (see `output_spec_problem`), not yet opened; None for "none"/""."""
    if spec in ("none", ""):
        return None
    pin = gpio_pin(spec)
    if pin is not None:
        return PulseOutput(spec, lambda: GpioSwitch(pin, active_high=active_high, pin_factory=pin_factory))
    port, _, baud = spec.partition(":")[2].partition("@")
    return PulseOutput(spec, lambda: SerialRelaySwitch(port, baud=int(baud or 9600), pulse_ms=pulse_ms,
                                                       serial_factory=serial_factory))
