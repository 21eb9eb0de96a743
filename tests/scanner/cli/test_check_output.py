"""`checkpoint check`'s output lines: `--json` writes exactly what `json.dumps(to_json, ensure_ascii=False)` does."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from keys.localtext import LocalText
from scanner.cli import check, jsonline
from scanner.codes import Guardian
from scanner.demo.world import build_demo_world
from scanner.policy import Decision, Tone, builtin_names, decide, load_profile
from scanner.verify import CodeType, Status, Verdict, VerifyResult

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@given(JSON_VALUES)
def test_the_json_encoder_writes_what_json_dumps_writes(value) -> None:
    assert jsonline.JSON_TEXT(value) == json.dumps(value, ensure_ascii=False)


# Text with what JSON escapes, braces (`str.format`'s own) and non-ASCII; a few fixed values, so that
# decisions of one kind meet again.
TEXTS = st.sampled_from(["CN-ZJ", "张*三", "", "{0}", "}{", '"q"\\', "\x00\n\u2028", "é"]) | st.text(max_size=8)
NAMES = st.sampled_from([LocalText("浙江", "Zhejiang"), LocalText("{", "}}")]) | st.builds(LocalText, TEXTS, TEXTS)
INTS = st.none() | st.integers() | st.sampled_from([0, 1, 1796308469]) | st.booleans() | st.floats()
PSEUDONYMS = st.binary(min_size=16, max_size=16)
IDS = st.none() | st.sampled_from([b"", b"\x00" * 16]) | st.binary(max_size=20)
RESULTS = st.builds(
    VerifyResult, verdict=st.sampled_from(Verdict), status=st.none() | st.sampled_from(Status),
    reasons=st.lists(TEXTS, max_size=3).map(tuple), format=st.none() | st.sampled_from(["HCC1", "HC1"]),
    issuer=st.none() | TEXTS, issuer_name=st.none() | NAMES, name=st.none() | TEXTS,
    code_type=st.none() | st.sampled_from(CodeType),
    guardian=st.none() | st.builds(Guardian, name=TEXTS, relation=st.sampled_from([1, 9]), subject=PSEUDONYMS),
    code_id=IDS, subject=IDS, iat=INTS, exp=INTS, kid=IDS, trust_list_version=INTS,
    status_list_version=INTS, failed_rule=st.none() | NAMES,
).filter(lambda r: r.verdict is not Verdict.OK or r.status is not None)  # as verification gives them
PROFILES = st.sampled_from([load_profile(name) for name in builtin_names()])


@st.composite
def decisions(draw: st.DrawFn) -> Decision:
    r, profile = draw(RESULTS), draw(PROFILES)
    d = decide(r, profile, clock_trusted=draw(st.booleans()))
    if draw(st.booleans()):  # words of its own, not the profile's
        d = Decision(r, draw(TEXTS), draw(TEXTS), draw(st.booleans()), d.tone, draw(NAMES), draw(NAMES),
                     draw(st.none() | NAMES), draw(st.booleans()), draw(st.booleans()))
    return d


@given(st.lists(decisions(), min_size=1, max_size=6))
def test_a_json_line_is_json_dumps_of_its_decision(ds: list[Decision]) -> None:
    # The same decisions twice: the second time from the templates the first made.
    for d in ds + ds:
        assert jsonline.json_line(d) == json.dumps(d.to_json(), ensure_ascii=False)


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
    assert [jsonline.json_line(d) for d in decisions] == expected
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


def test_every_field_of_a_decision_is_a_hole_a_template_key_or_encoded_whole() -> None:
    # A field in none of these would be written once into a template and then repeated for every code.
    names = {f.name for f in dataclasses.fields(VerifyResult)} | {f.name for f in dataclasses.fields(Decision)}
    kinds = [jsonline.HOLES, jsonline.KEYED, jsonline.WHOLE, jsonline.NOT_WRITTEN, ("result",)]
    assert sorted(names) == sorted(n for kind in kinds for n in kind)
    for name in jsonline.NOT_WRITTEN:
        assert name not in decide(VerifyResult(Verdict.OK, Status.GREEN), load_profile("transport")).to_json()
        assert name not in VerifyResult(Verdict.OK, Status.GREEN).to_json()


# For each field a template's key holds (and guardian, which makes a line encoded whole), a value other
# than the base decision's.
_OTHER_RESULT = {"format": "HC1", "issuer": "CN-SH", "verdict": Verdict.EXPIRED, "status": Status.RED,
                 "issuer_name": LocalText("上海", "Shanghai"), "code_type": CodeType.CARD,
                 "failed_rule": LocalText("规则", "a rule"), "guardian": Guardian("李*四", 1, b"\x01" * 16)}
_OTHER_DECISION = {"profile": "mall", "outcome": "red", "admit": False, "tone": Tone.STOP,
                   "headline": LocalText("停", "Stop"), "guidance": LocalText("等", "Wait"),
                   "reason": LocalText("因", "Because"), "alert_guard": True, "clock_trusted": False}


def test_decisions_differing_in_one_keyed_field_get_their_own_lines() -> None:
    assert sorted([*_OTHER_RESULT, *_OTHER_DECISION]) == sorted([*jsonline.KEYED, "guardian"])
    base = decide(VerifyResult(Verdict.OK, Status.GREEN, ("status from the code",), "HCC1", "CN-ZJ",
                               LocalText("浙江", "Zhejiang"), "张*三", CodeType.PERSONAL, None, b"\x02" * 16,
                               b"\x03" * 16, 1796308394, 1796383994, b"\x04" * 8, 1, 1),
                  load_profile("transport"))
    others = [dataclasses.replace(base, result=dataclasses.replace(base.result, **{k: v}))
              for k, v in _OTHER_RESULT.items()]
    others += [dataclasses.replace(base, **{k: v}) for k, v in _OTHER_DECISION.items()]
    for other in others:
        for first, second in ((base, other), (other, base)):
            jsonline._TEMPLATES.clear()
            for d in (first, second, first):
                assert jsonline.json_line(d) == json.dumps(d.to_json(), ensure_ascii=False)
