"""Decoding an upload batch in one C pass: msgspec structs built from the visit row's one declaration.

The API's pydantic model (`sync/hub/visits.py: UploadBatch`) stays the documented schema and gives the
detailed 422 answer; decoding 500 rows through it (with the byte-level shape check in front, then
`model_dump`) cost more hub CPU than everything else of an upload. `decode_batch` applies the same
rules to the same `VISIT_FIELDS` with msgspec: strict types (no bool for an int, no float for an int),
unknown fields refused, the same patterns and bounds, and integers within 64 bits. It answers None for
anything it does not accept outright (a body that may hold too many JSON values, a type error, nesting
beyond the decoder's recursion limit); the caller then takes the careful path (shape check, pydantic)
for the exact refusal, so the fast path never accepts what the careful one refuses.

Only a visit's `extra` holds free-form JSON; its nesting is measured here (`BodyLimits.max_depth`,
counting the batch, the visit list and the row above it), so nothing deeper reaches the code that
walks it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Annotated, Any

import msgspec

from keys.jsontypes import Json, JsonObject
from scanner.storage.chain import VISIT_FIELDS
from sync.hub.limits import BodyLimits, BodyRefused, items_at_most

_INT = msgspec.Meta(ge=-(2**63), le=2**63 - 1)  # what a BIGINT column holds
# A length bound with the pattern: msgspec matches with `re.search`, where "$" also matches before a
# trailing newline.
_HEX64 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$", min_length=64, max_length=64)]
# A row's two chain hashes: 64 characters here, lower-case hex checked for the whole batch at once
# (`_all_hex`; a pattern per value was a third of the decoding).
_HASH = Annotated[str, msgspec.Meta(min_length=64, max_length=64)]
_ROWS_ABOVE_EXTRA = 3  # the batch object, its visit list, the row


def _typ(spec: type | tuple[type, None]) -> Any:
    base = spec[0] if isinstance(spec, tuple) else spec
    typ: Any = {int: Annotated[int, _INT], dict: dict[str, Any]}.get(base, base)
    return typ | None if isinstance(spec, tuple) else typ


def _visit_struct() -> type[msgspec.Struct]:
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, spec in VISIT_FIELDS.items():
        # A nullable field may be left out (rows from devices older than the field).
        fields.append((name, _typ(spec), None) if isinstance(spec, tuple) else (name, _typ(spec)))
    fields.append(("prev_chain", _HASH))
    fields.append(("chain", _HASH))
    overrides = {"seq": Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)],
                 "visit_id": Annotated[str, msgspec.Meta(min_length=1, max_length=64)]}
    fields = [(f[0], overrides.get(f[0], f[1]), *f[2:]) for f in fields]
    # Required fields first: msgspec wants those with defaults at the end.
    fields.sort(key=len)
    return msgspec.defstruct("UploadVisitStruct", fields, forbid_unknown_fields=True)


_Visit = _visit_struct()


class _Checkpoint(msgspec.Struct, forbid_unknown_fields=True):
    seq: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
    chain: _HEX64
    signature: Annotated[str, msgspec.Meta(max_length=200)]


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    visits: Annotated[list[_Visit], msgspec.Meta(max_length=10000)]  # type: ignore[valid-type]
    log_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$", min_length=32, max_length=32)] | None = None
    checkpoint: _Checkpoint | None = None
    recovered: bool = False


_DECODER = msgspec.json.Decoder(_Batch)


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    chain: str
    signature: str


@dataclass(frozen=True)
class Batch:
    log_id: str | None
    rows: list[JsonObject]
    checkpoint: Checkpoint | None
    recovered: bool = False  # rows the device salvaged from a damaged log (`scanner/storage/salvage.py`)


def decode_batch(text: bytes, limits: BodyLimits) -> Batch | None:
    """The batch if the fast decoder accepts it outright, else None (take the careful path).

    Raises `BodyRefused` (413) for a row's `extra` nested deeper than the limits allow.
    """
    if not items_at_most(text, limits.max_items):
        return None
    try:
        batch = _DECODER.decode(text)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None
    rows: list[JsonObject] = [msgspec.structs.asdict(v) for v in batch.visits]
    if not (_all_hex(map(_PREV_CHAIN, rows)) and _all_hex(map(_CHAIN, rows))):
        return None
    for row in rows:
        if row["extra"] and _depth(row["extra"]) > limits.max_depth - _ROWS_ABOVE_EXTRA:
            raise BodyRefused(413, f"body nests JSON deeper than {limits.max_depth} levels")
    cp = batch.checkpoint
    return Batch(batch.log_id, rows, Checkpoint(cp.seq, cp.chain, cp.signature) if cp else None, batch.recovered)


_PREV_CHAIN, _CHAIN = itemgetter("prev_chain"), itemgetter("chain")


def _all_hex(values: Iterator[str]) -> bool:
    """Whether every value is lower-case hex: digits only (each two make one byte; `fromhex` refuses
    any other character but skips white space, which the length then shows), no upper-case letter."""
    text = "".join(values)
    try:
        return len(bytes.fromhex(text)) * 2 == len(text) and text == text.lower()
    except ValueError:
        return False


def _depth(value: Json) -> int:
    """Nesting of containers in a parsed JSON value (a scalar is 0, `{}` is 1)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict):
            todo += [(x, d + 1) for x in v.values()]
        elif isinstance(v, list):
            todo += [(x, d + 1) for x in v]
        else:
            continue
        deepest = max(deepest, d)
    return deepest
