"""Operator login pieces: scrypt hashes, the operator file's checks, signed sessions and CSRF tokens."""

from __future__ import annotations

import time

import pytest

from sync.errors import SyncConfigError
from sync.hub.operator.auth import OperatorConfig, Sessions, check_password, hash_password, load_operator_config


def test_password_hash_round_trip_and_salted():
    h = hash_password("s3cret-password")
    assert h.startswith("scrypt$16384$8$1$") and h != hash_password("s3cret-password")
    assert check_password("s3cret-password", h)
    assert not check_password("s3cret-passwore", h)
    assert not check_password("x", "scrypt$bad") and not check_password("x", "md5$1$2$3$4$5")


def test_sessions_are_signed_bound_to_the_password_and_expire(monkeypatch):
    cfg = OperatorConfig(b"k" * 32, {"alice": hash_password("pw-alice-123")}, session_seconds=60)
    s = Sessions(cfg)
    assert s.login("alice", "wrong") is None and s.login("bob", "pw-alice-123") is None
    token = s.login("alice", "pw-alice-123")
    assert token and s.operator(token) == "alice"
    body, mac = token.split(".")
    assert s.operator(body + "." + mac[:-2] + "AA") is None
    assert s.operator("x" + token) is None and s.operator(None) is None
    # Another secret or a changed password: the cookie no longer counts.
    assert Sessions(OperatorConfig(b"j" * 32, cfg.operators)).operator(token) is None
    assert Sessions(OperatorConfig(cfg.secret, {"alice": hash_password("new-password-1")})).operator(token) is None
    later = time.time() + 61
    monkeypatch.setattr("sync.hub.operator.auth.time.time", lambda: later)
    assert s.operator(token) is None


def test_csrf_token_belongs_to_its_cookie():
    s = Sessions(OperatorConfig(b"k" * 32, {"a": hash_password("pw-123456789")}))
    assert s.csrf_ok("cookie-1", s.csrf("cookie-1"))
    assert not s.csrf_ok("cookie-2", s.csrf("cookie-1"))
    assert not s.csrf_ok(None, s.csrf("cookie-1")) and not s.csrf_ok("cookie-1", None)


@pytest.mark.parametrize("text, words", [
    ('session_secret = "short"\n[operators.a]\npassword = "scrypt$1$2$3$4$5"', "session_secret"),
    ('session_secret = "' + "x" * 40 + '"', "no [operators.NAME]"),
    ('session_secret = "' + "x" * 40 + '"\n[operators.a]\npassword = "plain"', "operators.a"),
    ('session_secret = "' + "x" * 40 + '"\nsession_hours = 0\n[operators.a]\npassword = "scrypt$1$2$3$4$5"',
     "session_hours"),
    ('sesion_secret = "x"', "unknown key(s) sesion_secret"),
    ('not toml [', "not valid TOML"),
])
def test_operator_file_problems_name_file_and_key(tmp_path, text, words):
    p = tmp_path / "operators.toml"
    p.write_text(text)
    with pytest.raises(SyncConfigError) as e:
        load_operator_config(p)
    assert str(p) in str(e.value) and words in str(e.value)
