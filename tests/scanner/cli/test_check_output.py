"""`checkpoint check`'s output lines: `--json` writes exactly what `json.dumps(to_json, ensure_ascii=False)` does."""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from scanner.cli import check
from scanner.demo.world import build_demo_world

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@given(JSON_VALUES)
def test_the_json_encoder_writes_what_json_dumps_writes(value) -> None:
    assert check._JSON_TEXT(value) == json.dumps(value, ensure_ascii=False)


def _plain_line(d) -> str:
    """The human-readable line as documented: mark, ADMIT/DENY, verdict[/status], issuer (name), name, type,
    guardian, then the headline and the reason."""
    r = d.result
    mark = {"pass": "✓", "stop": "✕", "alert": "✕!", "check": "?"}[d.tone.value]
    parts = [f"{mark} {'ADMIT' if d.admit else 'DENY '}", r.verdict.value + (f"/{r.status.value}" if r.status else "")]
    if r.issuer:
        parts.append(r.issuer + (f" ({r.issuer_name.en})" if r.issuer_name and r.issuer_name.en != r.issuer else ""))
    parts += [x for x in (r.name, r.code_type.value if r.code_type else None) if x]
    if r.guardian:
        parts.append(f"shown by {r.guardian.name} ({r.guardian.relation_name})")
    return "  ".join(parts) + f" — {d.headline.en}" + (f": {d.reason.en}" if d.reason else "")


def _args(world, now: int, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    check.register(sub)
    argv = ["check", "--at", str(now), "--anchor", str(world.anchor_path), "--trust-list", str(world.trust_list_path)]
    for p in world.status_list_paths:
        argv += ["--status-list", str(p)]
    return parser.parse_args([*argv, *extra])


def test_every_demo_code_s_json_line_is_json_dumps_of_its_decision(tmp_path: Path, monkeypatch, capsys) -> None:
    now = int(time.time())
    world = build_demo_world(tmp_path, now)
    payloads = list(world.payloads.values())
    checker = check.checker_from_args(_args(world, now, "x"))
    decisions = [checker.check(p) for p in payloads]
    expected = [json.dumps(d.to_json(), ensure_ascii=False) for d in decisions]
    assert [check.json_line(d) for d in decisions] == expected
    assert len({d.result.verdict for d in decisions}) > 3  # passes and refusals of several kinds

    # The whole command on stdin: the same lines, in order, one per payload.
    stdin = io.TextIOWrapper(io.BytesIO("".join(p + "\n" for p in payloads).encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert check.run(_args(world, now, "--json", "-")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == expected


def test_every_demo_code_s_plain_line_holds_its_decision_s_parts(tmp_path: Path) -> None:
    now = int(time.time())
    world = build_demo_world(tmp_path, now)
    checker = check.checker_from_args(_args(world, now, "x"))
    decisions = [checker.check(p) for p in world.payloads.values()]
    lines = [check.format_line(d) for d in decisions]
    assert lines == [_plain_line(d) for d in decisions]
    assert any(" shown by " in x for x in lines) and any(x.startswith("✕ DENY ") for x in lines)
