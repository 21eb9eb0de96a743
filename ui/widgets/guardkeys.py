"""The guard's keys on a USB keypad (`[display] admit_key`, `deny_key`, `guard_key`, `family_key`).

Keys are named as Qt names them ("Return", "Backspace", "Space", "F2"); a name Qt does not know is a
`ConfigError` naming the key. Return and the keypad's Enter count as one key; two settings naming one key
are refused by `scanner.settingchecks.same_key`, here by Qt's key codes.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from scanner.errors import ConfigError
from scanner.settingchecks import same_key

ALIASES = {int(Qt.Key.Key_Enter): int(Qt.Key.Key_Return)}


def key_code(setting: str, name: str) -> int:
    """The Qt key code of `name`, set as `setting` (`display.deny_key`); a `ConfigError` naming the setting if
    Qt knows no such key."""
    seq = QKeySequence.fromString(name)
    combo = seq[0] if seq.count() == 1 else None  # type: ignore[index]  # the stubs lack __getitem__
    if combo is None or combo.key() == Qt.Key.Key_unknown:
        raise ConfigError("<settings>", [f"{setting}: {name!r} is not a key name Qt knows "
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
        keys = [(f"display.{setting}", name) for setting, name in
                (("admit_key", admit), ("deny_key", deny), ("guard_key", ack), ("family_key", family))]
        # The settings file was checked by name; Qt's codes also catch a pair of names for one key that
        # `scanner.settingchecks` does not list.
        if problem := same_key(keys, lambda setting, name: normal(key_code(setting, name))):
            raise ConfigError("<settings>", [problem])
        return cls(*(normal(key_code(setting, name)) for setting, name in keys))
