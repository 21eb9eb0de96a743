"""Exceptions of the sync side (agent and hub).

`HubUnavailable` is the network or the hub failing (timeout, refused connection, 5xx, 429 "too many
requests"): the agent backs off and retries by itself. `HubRefused` is the hub saying no (4xx: not enrolled, bad batch),
which needs an operator. `PublishError` is a bad file given to `checkpoint hub publish-…`.
"""

from __future__ import annotations

from scanner.errors import CheckpointError, EnvironmentFailure, InputError


class SyncError(CheckpointError):
    """Base of every error the sync package raises on purpose."""


class HubUnavailable(SyncError, EnvironmentFailure):
    """The hub could not be reached or failed transiently; retried with backoff, and not before the
    `retry_after` seconds the hub asked for (its Retry-After), if it asked."""

    def __init__(self, message: str, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message)


class HubRefused(SyncError):
    """The hub answered with a refusal (4xx) or an answer that makes no sense."""

    def __init__(self, status: int, detail: str):
        self.status = status
        self.detail = detail
        super().__init__(f"hub refused ({status}): {detail}")


class SyncConfigError(SyncError, InputError):
    """The `[hub]` settings are incomplete or name files that cannot be used."""


class PublishError(SyncError, InputError):
    """A trust list or status list file given to the hub is not a usable signed document."""


class HubStoreError(SyncError, EnvironmentFailure):
    """The hub's database cannot be opened or written."""


class HubServeError(SyncError, EnvironmentFailure):
    """`hub serve` cannot start: its address is taken, or a TLS file it was given cannot be used."""
