"""Built-in venue profiles (see `scanner.policy`): the TOML files are the source, with their comments;
`builtin.json` holds the same data as JSON, and is what commands read: importing the TOML parser and
parsing two files was a tenth of a one-code `checkpoint check`. After editing a TOML file, run
`python -m scanner.profiles` to write it again (tests/scanner/test_policy.py holds the two equal)."""

from __future__ import annotations

from pathlib import Path

from keys.jsontypes import JsonObject

# The venue profile of a device (and of `checkpoint check`) that names none.
DEFAULT_PROFILE = "transport"

PROFILE_DIR = Path(__file__).parent
BUILTIN_JSON = PROFILE_DIR / "builtin.json"


def parsed_toml() -> dict[str, JsonObject]:
    """Every built-in profile file (`_base` included) parsed, by name."""
    import tomllib

    return {p.name[:-5]: tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(PROFILE_DIR.glob("*.toml"))}
