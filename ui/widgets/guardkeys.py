"""The guard's keys on a USB keypad (`[display] admit_key`, `deny_key`, `guard_key`, `family_key`).

Keys are named as Qt names them ("Return", "Backspace", "Space", "F2"); a name Qt does not know is a
`ConfigError` naming the key. Return and the keypad's Enter count as one key.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from scanner.errors import ConfigError

ALIASES = {int(Qt.Key.Key_Enter): int(Qt.Key.Key_Return)}


def key_code(setting: str, name: str) -> int:
    seq = QKeySequence.fromString(name)
    combo = seq[0] if seq.count() == 1 else None  # type: ignore[index]  # the stubs lack __getitem__
    if combo is None or combo.key() == Qt.Key.Key_unknown:
        raise ConfigError("<settings>", [f"display.{setting}: {name!r} is not a key name Qt knows "
                                         "(e.g. \"Return\", \"Backspace\", \"Space\", \"F2\")"])
    return int(combo.key())


def normal(key: int) -> int:
    return ALIASES.get(int(key), int(key))


@dataclass(frozen=True)
class GuardKeys:
    admit: int
    deny: int
    ack: int
    family: int

    @classmethod
    def named(cls, admit: str = "Return", deny: str = "Backspace", ack: str = "Space",
              family: str = "F2") -> GuardKeys:
        return cls(normal(key_code("admit_key", admit)), normal(key_code("deny_key", deny)),
                   normal(key_code("guard_key", ack)), normal(key_code("family_key", family)))
