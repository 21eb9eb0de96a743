"""Subject entries staged in buckets come back in key order, each subject once with its last listed entry
(listed, or cleared when that entry has status 0 and the list is a delta; a snapshot's status 0 entries
are listed like any other)."""

from __future__ import annotations

import base64
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from keys import bucketstage
from keys.bucketstage import SINCE_DIGITS, BucketStage
from keys.packedrows import packed_subjects

INT_MAX = 2**63 - 1
# A small pool of pseudonyms, so that subjects are listed more than once; some share their first byte.
pseudonyms = st.sampled_from([bytes([i % 3]) + bytes([i]) * 15 for i in range(12)] + [b"\xff" * 16, bytes(16)])
rows = st.lists(st.tuples(pseudonyms, st.integers(0, 2), st.integers(0, 10**12) | st.integers(0, INT_MAX)),
                max_size=60)


def expected(listed: list[tuple[bytes, int, int]], keep_green: bool) -> tuple[dict[bytes, tuple[int, int]], set[bytes]]:
    """In list order, the later entry of a subject wins, a status 0 one too (cleared, unless kept)."""
    last = {sub: (s, sd) for sub, s, sd in listed}
    if keep_green:
        return last, set()
    return {sub: e for sub, e in last.items() if e[0]}, {sub for sub, e in last.items() if not e[0]}


@settings(max_examples=200, deadline=None)
@given(listed=rows, cuts=st.lists(st.integers(0, 60), max_size=4), packed=st.booleans(), in_memory=st.integers(0, 70),
       keep_green=st.booleans())
def test_runs_are_in_key_order_with_the_last_entry_of_each_subject(listed, cuts: list[int], packed: bool,
                                                                   in_memory: int, keep_green: bool) -> None:
    """Held in memory and sorted by Python, or spilled to the bucket files and sorted by numpy."""
    bounds = sorted({0, len(listed), *(c for c in cuts if c < len(listed))})
    kept, bucketstage.IN_MEMORY = bucketstage.IN_MEMORY, in_memory
    try:
        held, cleared, subs = staged(listed, bounds, packed, keep_green)
    finally:
        bucketstage.IN_MEMORY = kept
    assert subs == sorted(set(subs))
    assert (held, cleared) == expected(listed, keep_green)


def staged(listed, bounds: list[int], packed: bool, keep_green: bool):
    with BucketStage() as stage:
        for a, b in pairwise(bounds):
            batch = listed[a:b]
            if packed and all(sd < 10**18 for _, _, sd in batch):
                text = ",".join(f'{{"sub":"{base64.b64encode(sub).decode()}","s":{s},"sd":{sd}}}'
                                for sub, s, sd in batch) + ","
                got = packed_subjects(text)
                assert got is not None and len(got[1]) == len(batch)
                stage.add(got[1])
            else:
                stage.add(batch)
        assert stage.count == len(listed)
        subs: list[bytes] = []
        held: dict[bytes, tuple[int, int]] = {}
        cleared: set[bytes] = set()
        for run in stage.runs(keep_green=keep_green):
            w = SINCE_DIGITS
            for i in range(run.count):
                sub = run.subs[16 * i:16 * i + 16]
                subs.append(sub)
                held[sub] = (run.statuses[i] - 48, int(run.sinces[w * i:w * i + w].rstrip(b"\0")))
            cleared |= {run.cleared[i:i + 16] for i in range(0, len(run.cleared), 16)}
    return held, cleared, subs
