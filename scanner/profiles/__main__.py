"""`python -m scanner.profiles`: write `builtin.json` from the TOML files (see the package's docstring)."""

from __future__ import annotations

import json

from scanner.profiles import BUILTIN_JSON, parsed_toml

if __name__ == "__main__":
    BUILTIN_JSON.write_text(json.dumps(parsed_toml(), ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                            encoding="utf-8")
    print(f"wrote {BUILTIN_JSON}")
