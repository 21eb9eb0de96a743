"""Exceptions of the appliance core.

Two families, kept apart on purpose: `EnvironmentFailure` is the world failing (no camera, disk full,
hub unreachable) and is shown to the operator as a state to fix; everything else is bad input or a bug.
"""

from __future__ import annotations


class CheckpointError(Exception):
    """Base of every error the core raises on purpose."""


class InputError(CheckpointError):
    """Bad input from a user or a file: the message names what was wrong."""


class ConfigError(InputError):
    """A configuration file is missing, unreadable or invalid.

    `problems` lists every error found, each already naming its key; `str()` names the file too.
    """

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(f"{path}: {p}" for p in self.problems))


class EnvironmentFailure(CheckpointError):
    """The environment failed (camera gone, disk full, device busy); not a bug, and often recoverable."""


class SourceError(EnvironmentFailure):
    """A source (camera, hardware scanner, input stream) could not be opened or stopped delivering."""


class StorageError(EnvironmentFailure):
    """The local database cannot be written (disk full, read-only, I/O error)."""


class CertLogicError(InputError):
    """A CertLogic expression is invalid, or failed on its data (a type mismatch, a bad date-time)."""


class RulesError(InputError):
    """A business rule or rules list is invalid: the message names the rule and the field."""


class RulesListError(RulesError):
    """A signed rules list was refused: bad envelope, not signed by a pinned anchor, bad content."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(f"rules list {source}: {reason}")


class RulesRollbackError(RulesListError):
    """A rules list whose version is not newer than the held one: a replay or rollback."""
