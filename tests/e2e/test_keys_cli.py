"""Round trips through `checkpoint keys …`: keys, trust list, status list and codes, then `check`."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

EXE = shutil.which("checkpoint", path=str(Path(sys.executable).parent)) or "checkpoint"


def cp(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    r = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120,
                       env={**os.environ, **(env or {})})
    return r


def test_issuer_tooling_round_trip(tmp_path: Path) -> None:
    t = tmp_path
    assert cp("keys", "generate", str(t / "root")).returncode == 0
    r = cp("keys", "generate", "--alg", "EdDSA", str(t / "zj"), "--passphrase-env", "ZJ_PASS",
           env={"ZJ_PASS": "s3cret"})
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((t / "root.key").stat().st_mode) == 0o600
    assert b"ENCRYPTED" in (t / "zj.key").read_bytes()
    assert cp("keys", "generate", str(t / "root")).returncode == 2  # never overwrite a key silently

    r = cp("keys", "trust-list", "--root", str(t / "root.key"), "--key", f"{t / 'zj.pub.pem'}:CN-ZJ:浙江:Zhejiang",
           "--version", "3", "--out", str(t / "tl.json"))
    assert r.returncode == 0, r.stderr
    sub = "ab" * 16
    (t / "subjects.jsonl").write_text(json.dumps({"sub": sub, "s": 2, "sd": 2_000_000_000}) + "\n")
    r = cp("keys", "status-list", "--signer", str(t / "zj.key"), "--passphrase-env", "ZJ_PASS", "--issuer", "CN-ZJ",
           "--version", "1", "--subjects", str(t / "subjects.jsonl"), "--out", str(t / "sl.json"),
           env={"ZJ_PASS": "s3cret"})
    assert r.returncode == 0, r.stderr

    codes = {}
    for name, extra in {"green": [], "red": ["--status", "red"], "card": ["--card"],
                        "kid": ["--guardian", "李*华:parent"], "listed": ["--sub", sub]}.items():
        r = cp("keys", "issue", "--key", str(t / "zj.key"), "--passphrase-env", "ZJ_PASS", "--issuer", "CN-ZJ",
               "--png", str(t / f"{name}.png"), *extra, env={"ZJ_PASS": "s3cret"})
        assert r.returncode == 0, r.stderr
        codes[name] = r.stdout.strip()
        assert codes[name].startswith("HCC1:")

    base = ["check", "--json", "--anchor", str(t / "root.pub.pem"), "--trust-list", str(t / "tl.json"),
            "--status-list", str(t / "sl.json")]
    r = cp(*base, *codes.values())
    assert r.returncode == 0, r.stderr
    rows = {n: json.loads(line) for n, line in zip(codes, r.stdout.splitlines(), strict=True)}
    assert (rows["green"]["verdict"], rows["green"]["status"], rows["green"]["issuer"]) == ("ok", "green", "CN-ZJ")
    assert rows["red"]["status"] == "red"
    assert (rows["card"]["type"], rows["card"]["status"]) == ("card", "green")
    assert rows["kid"]["guardian"]["name"] == "李*华" and rows["kid"]["guardian"]["relation"] == 1
    # The code says green, but the subject turned red after it was issued.
    assert rows["listed"]["status"] == "red" and rows["listed"]["admit"] is False

    # The QR images decode from pixels to the same codes.
    r = cp(*base, "--image", str(t / "green.png"), "--image", str(t / "kid.png"))
    assert [json.loads(x)["code_id"] for x in r.stdout.splitlines()] == [rows["green"]["code_id"],
                                                                        rows["kid"]["code_id"]]


def test_wrong_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    cp("keys", "generate", str(tmp_path / "k"), "--passphrase-env", "P", env={"P": "right"})
    r = cp("keys", "issue", "--key", str(tmp_path / "k.key"), "--issuer", "CN-ZJ")
    assert r.returncode == 2 and "passphrase" in r.stderr and "Traceback" not in r.stderr
    r = cp("keys", "issue", "--key", str(tmp_path / "k.key"), "--issuer", "CN-ZJ", "--passphrase-env", "P",
           env={"P": "wrong"})
    assert r.returncode == 2 and "passphrase" in r.stderr


def test_bad_issuer_input_is_named_never_an_internal_error(tmp_path: Path) -> None:
    t = tmp_path
    assert cp("keys", "generate", str(t / "zj")).returncode == 0
    (t / "bad.jsonl").write_text("{bad\n")
    status_list = ("keys", "status-list", "--signer", str(t / "zj.key"), "--issuer", "CN-ZJ", "--version", "1",
                   "--out", str(t / "sl.json"))
    issue = ("keys", "issue", "--key", str(t / "zj.key"), "--issuer", "CN-ZJ")
    for args, named in [((*status_list, "--revoke", "zz"), "--revoke 'zz'"),
                        ((*status_list, "--revoke", "00"), "--revoke '00'"),  # a code id is 16 bytes
                        ((*status_list, "--subjects", str(t / "bad.jsonl")), "bad.jsonl"),
                        ((*status_list, "--subjects", str(t / "missing.jsonl")), "missing.jsonl"),
                        ((*issue, "--sub", "zz"), "--sub 'zz'"),
                        ((*issue, "--sub", "00"), "--sub '00'")]:  # a pseudonym is 16 bytes
        r = cp(*args)
        assert r.returncode == 2 and named in r.stderr and "internal error" not in r.stderr, (args, r.stderr)
    assert not (t / "sl.json").exists()


def test_a_validity_that_is_not_whole_seconds_up_to_100_years_is_refused(tmp_path: Path) -> None:
    t = tmp_path
    assert cp("keys", "generate", str(t / "zj")).returncode == 0
    status_list = ("keys", "status-list", "--signer", str(t / "zj.key"), "--issuer", "CN-ZJ", "--version", "1",
                   "--out", str(t / "sl.json"))
    # 10^20 seconds puts next_update past what a device reads (2^63-1): a signed list every device refuses.
    for bad in ("nan", "inf", "100000000000000000000", "3153600001", "0", "-5", "1.5"):
        r = cp(*status_list, "--valid-for", bad)
        assert r.returncode == 2, (bad, r.stderr)
        assert f"argument --valid-for: {bad!r} is not a whole number of seconds from 1 to 3153600000" in r.stderr
    assert not (t / "sl.json").exists()
    r = cp("keys", "issue", "--key", str(t / "zj.key"), "--issuer", "CN-ZJ", "--valid-for", "1e99")
    assert r.returncode == 2 and "argument --valid-for: '1e99'" in r.stderr, r.stderr
    assert cp(*status_list, "--valid-for", "3153600000").returncode == 0
    assert json.loads((t / "sl.json").read_text())["protected"]
