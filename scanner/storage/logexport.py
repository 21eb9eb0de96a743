"""The visit log's export (`checkpoint log export`, the kiosk's USB export): JSON lines or CSV.

A site with no network takes its visits to the health authority on a USB stick, so the export holds
everything the log keeps: its own rows, then the visits salvaged from a damaged log
(`scanner/storage/recovered.py`). A salvaged row is written as it was read, with one field more,
`recovered_from_log` (the damaged log's id), so nobody takes it for a row of this log's chain; the CSV
has that column only when there are such rows.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterable
from typing import TextIO

from scanner.errors import InputError
from scanner.storage.chain import ROW_FIELDS, ChainedVisitRow

RECOVERED_FIELD = "recovered_from_log"


def write_export(out: TextIO, rows: Iterable[ChainedVisitRow], recovered: Iterable[tuple[str, ChainedVisitRow]],
                 *, fmt: str = "jsonl") -> int:
    """Write the rows, then the recovered ones; how many were written."""
    if fmt not in ("jsonl", "csv"):
        raise InputError(f"export format {fmt!r}: expected jsonl or csv")
    recovered = iter(recovered)
    first = next(recovered, None)
    fields = [*ROW_FIELDS, RECOVERED_FIELD] if first is not None else list(ROW_FIELDS)
    writer = csv.DictWriter(out, fieldnames=fields) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    n = 0
    tagged = ({**row, RECOVERED_FIELD: log_id}
              for log_id, row in itertools.chain([first] if first is not None else [], recovered))
    for row in itertools.chain(rows, tagged):
        if writer is not None:
            writer.writerow({**row, "extra": json.dumps(row["extra"], sort_keys=True, ensure_ascii=False)})
        else:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        n += 1
    return n
