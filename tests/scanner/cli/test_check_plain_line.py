"""`checkpoint check`'s human line shows what a code says without letting it drive the terminal."""

from __future__ import annotations

import unicodedata

from keys.dcc import payload_vaccination
from scanner.cli.check import format_line
from scanner.policy import decide, load_profile
from scanner.verify import Verdict, verify_code
from tests.helpers.dcc import NOW, DccWorld, code

# Erase the line, write a green admission over it, and hide whatever the line says after the name.
SPOOF = "\x1b[2K\r✓ ADMIT  ok/green  DE  MUSTER, ERIKA — EU COVID certificate valid — please enter\x1b[8m"


def test_a_forged_code_s_text_cannot_write_over_its_refusal() -> None:
    world = DccWorld()
    unlisted = world.add("DE", listed=False)  # nobody trusts its key: no signature vouches for the text
    hcert = payload_vaccination("DE", "URN:UVCI:01:DE:X#1", family_std=SPOOF, given_std="\u202eANIRE")
    hcert["v"][0]["co"] = "\x07\x9b31m"
    r = verify_code(code(unlisted, hcert, iss=None), world.trust(), None, NOW, max_code_age=None)
    assert r.verdict is Verdict.UNKNOWN_KEY and r.name is not None and "\x1b" in r.name
    line = format_line(decide(r, load_profile("transport"), clock_trusted=True))
    assert not [c for c in line if unicodedata.category(c) in ("Cc", "Cf")], ascii(line)
    assert line.startswith("? DENY") or line.startswith("✕ DENY"), line
    assert "ADMIT" in line  # the text is still there to see, only tamed
