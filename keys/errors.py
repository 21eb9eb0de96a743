"""Exceptions of the trust side: key files, trust lists and status lists.

Each names the source (a file path or "hub") and the reason, so the operator knows what to fix.
"""

from __future__ import annotations


class KeysError(Exception):
    """Base of every error the keys package raises on purpose."""


class KeyFileError(KeysError):
    """A key or certificate file is missing, unreadable, of the wrong kind or wrongly protected."""


class TrustListError(KeysError):
    """A trust list was refused: bad envelope, signature not from a pinned anchor, bad content."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(f"trust list {source}: {reason}")


class RollbackError(TrustListError):
    """A trust list whose version is not newer than the cached one: a replay or rollback."""


class StatusListError(KeysError):
    """A status list was refused: bad signature, signer not allowed for its issuer, wrong base."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(f"status list {source}: {reason}")
