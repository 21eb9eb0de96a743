"""`LocalText`: a text in Chinese and English, as every name and message on the kiosk is shown.

Issuer names in the trust list, the venue profiles' words and the verdict explanations all use it.
"""

from __future__ import annotations

from keys.frozen import frozen


@frozen
class LocalText:
    """A text in Chinese and English, as every name and message on the kiosk is shown."""

    zh: str
    en: str

    def to_json(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}
