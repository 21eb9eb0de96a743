"""`set_pin_hash`: the settings text edit behind `checkpoint config pin`."""

from __future__ import annotations

import tomllib

from hypothesis import given
from hypothesis import strategies as st

from scanner.cli.config import set_pin_hash

H = "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"


def test_replaces_only_the_admin_entry() -> None:
    text = '[profiles.x]\npin_hash = "other"\n[admin]  # the panel\n  pin_hash = "old"\nmax_attempts = 3\n'
    out = set_pin_hash(text, H)
    assert out == f'[profiles.x]\npin_hash = "other"\n[admin]  # the panel\n  pin_hash = "{H}"\nmax_attempts = 3\n'


def test_inserts_under_an_existing_header() -> None:
    out = set_pin_hash("[admin]\nlockout_seconds = 9\n[hub]\n", H)
    assert tomllib.loads(out)["admin"] == {"pin_hash": H, "lockout_seconds": 9}


def test_appends_a_section() -> None:
    out = set_pin_hash("# nothing yet", H)
    assert out.startswith("# nothing yet\n")
    assert tomllib.loads(out) == {"admin": {"pin_hash": H}}


@given(st.dictionaries(st.sampled_from(["device", "hub", "sound", "admin"]),
                       st.dictionaries(st.sampled_from(["id", "url", "pin_hash", "volume"]),
                                       st.text("abc$/+ ", max_size=8), max_size=3), max_size=4))
def test_result_always_parses_and_changes_nothing_else(doc: dict) -> None:
    text = "".join(f"[{s}]\n" + "".join(f'{k} = "{v}"\n' for k, v in t.items()) for s, t in doc.items())
    out = tomllib.loads(set_pin_hash(text, H))
    expected = {s: dict(t) for s, t in doc.items()}
    expected.setdefault("admin", {})["pin_hash"] = H
    assert out == expected
