"""The hub's refusal rules for one visit (`refusal`) and their batch form (`refusals`) give the same answers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.storage.chain import DECIDED_BY
from sync.hub.ingest import DAY_MS, IngestRules, _verdicts, refusal, refusals

NOW_MS = 1_790_000_000_000

_ts = st.sampled_from([NOW_MS, NOW_MS - 1, NOW_MS + 3_600_000, NOW_MS + 3_600_001,
                       NOW_MS - 60 * DAY_MS, NOW_MS - 60 * DAY_MS - 1])
_row = st.fixed_dictionaries(
    {"ts_ms": _ts, "verdict": st.sampled_from([*sorted(_verdicts()), "bogus"]),
     "checkpoint_id": st.sampled_from(["cp-1", "cp-2"]),
     "extra": st.sampled_from([{}, {"school": {"role": "student", "direction": "in"}}, {"phone": "138"}])},
    optional={"decided_by": st.sampled_from([None, *DECIDED_BY, "bogus"]),
              "gate": st.sampled_from([None, "open", "failed", "bogus"])})
_rules = st.sampled_from([IngestRules(), IngestRules(checkpoints=("cp-1",)), IngestRules(checkpoints=())])


@settings(max_examples=300, deadline=None)
@given(st.lists(_row, min_size=1, max_size=6), _rules)
def test_the_batch_form_answers_as_each_row_is_asked(rows, rules) -> None:
    expected = [refusal(r, rules, NOW_MS, _verdicts()) for r in rows]
    assert refusals(rows, rules, NOW_MS) == expected
