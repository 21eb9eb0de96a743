"""EU DCCs through the command line: `keys dsc`, `keys trust-list --dcc`, `keys issue --format dcc`, `check`."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

EXE = shutil.which("checkpoint", path=str(Path(sys.executable).parent)) or "checkpoint"


def cp(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_dsc_trust_list_issue_and_check(tmp_path: Path) -> None:
    t = tmp_path
    assert cp("keys", "generate", str(t / "root")).returncode == 0
    r = cp("keys", "dsc", str(t / "de"), "--country", "DE")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((t / "de.key").stat().st_mode) == 0o600
    r = cp("keys", "dsc", str(t / "at"), "--country", "AT", "--types", "t", "--early-arc", "--kind", "P-384")
    assert r.returncode == 0, r.stderr
    assert cp("keys", "dsc", str(t / "de"), "--country", "DE").returncode == 2  # never overwrite silently
    r = cp("keys", "trust-list", "--root", str(t / "root.key"), "--dcc", f"{t / 'de.der'}:DE",
           "--dcc", f"{t / 'at.der'}:AT", "--version", "1", "--out", str(t / "tl.json"))
    assert r.returncode == 0, r.stderr

    def issue(dsc: str, *extra: str) -> str:
        r = cp("keys", "issue", "--format", "dcc", "--key", str(t / f"{dsc}.key"), "--dsc", str(t / f"{dsc}.der"),
               "--country", dsc.upper(), *extra)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    vacc = issue("de", "--family", "Muster", "--given", "Max", "--dob", "1980-05-05", "--dose", "3/3")
    for dose in ("3/2", "\u00b2/2"):  # a superscript two is a digit to str.isdigit(), not to int()
        r = cp("keys", "issue", "--format", "dcc", "--key", str(t / "de.key"), "--dsc", str(t / "de.der"),
               "--country", "DE", "--dose", dose)
        assert r.returncode == 2 and f"--dose {dose!r}: expected N/M" in r.stderr, r.stderr
    test = issue("at", "--type", "test")
    wrong = issue("at")  # AT's DSC may sign tests only
    assert vacc.startswith("HC1:")
    r = cp("check", "--json", "--anchor", str(t / "root.pub.pem"), "--trust-list", str(t / "tl.json"), "-",
           stdin=f"{vacc}\n{test}\n{wrong}\n")
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["verdict"] for o in out] == ["ok", "ok", "key_not_valid"]
    d = out[0]["dcc"]
    assert d["type"] == "vaccination" and d["dob"] == "1980-05-05" and d["country"] == "DE"
    assert d["name"]["standardised"] == "MUSTER, MAX" and d["facts"]["dose"] == 3
    assert out[0]["admit"] is True and out[1]["dcc"]["type"] == "test"
    assert "may not sign vaccination" in out[2]["reasons"][0]


def test_bad_dcc_arguments_are_named(tmp_path: Path) -> None:
    r = cp("keys", "dsc", str(tmp_path / "x"), "--country", "DE", "--types", "vq")
    assert r.returncode == 2 and "--types" in r.stderr
    # An X.509 country is two letters; an RSA key this small is no key at all.
    for args, named in [(("--country", ""), "--country ''"), (("--country", "DEU"), "--country 'DEU'"),
                        (("--country", "DE", "--kind", "RSA-1"), "'RSA-1'")]:
        r = cp("keys", "dsc", str(tmp_path / "x"), *args)
        assert r.returncode == 2 and named in r.stderr and "internal error" not in r.stderr, r.stderr
    assert not (tmp_path / "x.key").exists()
    assert cp("keys", "generate", str(tmp_path / "root")).returncode == 0
    r = cp("keys", "issue", "--format", "dcc", "--key", str(tmp_path / "root.key"))
    assert r.returncode == 2 and "--dsc" in r.stderr
    r = cp("keys", "trust-list", "--root", str(tmp_path / "root.key"), "--dcc", "nofile.der:DE", "--version", "1")
    assert r.returncode == 2 and "nofile.der" in r.stderr
