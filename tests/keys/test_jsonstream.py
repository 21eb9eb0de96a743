"""The streaming JSON reader agrees with `json.loads` on every object, however the text is cut into chunks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import jsonstream
from keys.jsonstream import JsonStreamError, object_events

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12)
objects = st.dictionaries(st.text(max_size=8), values, max_size=6)


def chunked(text: str, sizes: list[int]) -> list[str]:
    out, i = [], 0
    for n in sizes:
        out.append(text[i:i + n])
        i += n
    out.append(text[i:])
    return out


def rebuild(chunks: list[str], *, strings=(), arrays=(), batch_chars: int = jsonstream.BATCH_CHARS) -> dict:
    out: dict = {}
    for kind, name, value in object_events(chunks, strings=strings, arrays=arrays, batch_chars=batch_chars):
        if kind == "member":
            out[name] = value
        elif kind == "piece":
            out[name] = out.get(name, "") + value
        else:
            out.setdefault(name, []).extend(value)
    return out


@settings(max_examples=300, deadline=None)
@given(obj=objects, sizes=st.lists(st.integers(1, 7), max_size=40), indent=st.sampled_from([None, 0, 2]))
def test_any_object_in_any_chunks_reads_as_json_loads_reads_it(obj: dict, sizes: list[int], indent) -> None:
    text = json.dumps(obj, indent=indent)
    names = list(obj)
    arrays = [n for n in names if isinstance(obj[n], list)]
    strings = [n for n in names if isinstance(obj[n], str) and "\\" not in json.dumps(obj[n])]
    got = rebuild(chunked(text, sizes), strings=strings, arrays=arrays)
    # A streamed empty string or array yields nothing: it reads as missing.
    expected = {k: v for k, v in obj.items() if not ((k in strings or k in arrays) and v in ("", []))}
    assert {k: v for k, v in got.items()} == expected


@settings(max_examples=200, deadline=None)
@given(elements=st.lists(values, max_size=60), sizes=st.lists(st.integers(1, 50), max_size=30),
       batch=st.integers(2, 40))
def test_batches_of_elements_are_exactly_the_elements(elements: list, sizes: list[int], batch: int) -> None:
    text = json.dumps({"a": elements, "after": [1, 2]})
    expected = {"a": elements, "after": [1, 2]} if elements else {"after": [1, 2]}
    assert rebuild(chunked(text, sizes), arrays=["a"], batch_chars=batch) == expected


@pytest.mark.parametrize("text, problem", [
    ('{"a": 1, "a": 2}', "appears twice"),
    ('{"a": 1} x', "after the JSON object"),
    ('[1, 2]', "JSON object"),
    ('{"a": [1, 2,]}', "not JSON"),
    ('{"a": [1 2]}', "',' or ']'"),
    ('{"a": 1', "',' or '}'"),
    ('{"s": "ab\\u0041"}', "escape"),
    ('{"s": "abc', "unterminated"),
    ('', "JSON object"),
])
def test_bad_text_is_refused_with_a_reason(text: str, problem: str) -> None:
    with pytest.raises(JsonStreamError, match=problem):
        rebuild([text[:3], text[3:]], strings=["s"], arrays=["a"])
