"""Names for data as a parser hands it over: JSON or CBOR that no code has validated yet.

This is the one place `Any` stands for data: a parser's output has no type until validating code narrows it
(isinstance checks, then a frozen dataclass or a TypedDict). Functions that take or build such data say so
with these names; everything past validation has a real type.
"""

from __future__ import annotations

from typing import Any, TypeAlias

Json: TypeAlias = Any
"""Any parsed JSON value, before validation."""

JsonObject: TypeAlias = dict[str, Any]
"""A JSON object: parsed and not yet validated, or built to be serialised."""

SignedJson: TypeAlias = JsonObject | bytes | str
"""A signed JSON document (a JWS) as received: parsed, or the raw bytes or text."""

Cbor: TypeAlias = Any
"""Any decoded CBOR item, before validation."""

CborMap: TypeAlias = dict[Any, Any]
"""A CBOR map, before validation (integer and text keys)."""
