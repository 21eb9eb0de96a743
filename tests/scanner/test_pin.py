"""Admin PIN hashes: scrypt in a self-describing string, verification, validation of stored hashes."""

from __future__ import annotations

import pytest

from scanner.errors import InputError
from scanner.pin import hash_pin, pin_problem, validate_pin_hash, verify_pin

# Cheaper parameters keep the tests quick; the format records them, so verification uses them too.
FAST = {"ln": 10, "r": 8, "p": 1}


def test_hash_and_verify_round_trip() -> None:
    h = hash_pin("482916", **FAST)
    assert h.startswith("$scrypt$ln=10,r=8,p=1$")
    assert "482916" not in h
    assert validate_pin_hash(h) is None
    assert verify_pin("482916", h)
    assert not verify_pin("482917", h)
    assert not verify_pin("48291", h)
    assert not verify_pin("", h)


def test_default_parameters_are_recorded_in_the_hash() -> None:
    h = hash_pin("1234")
    assert h.startswith("$scrypt$ln=14,r=8,p=1$")
    assert verify_pin("1234", h)


def test_same_pin_gets_a_new_salt_each_time() -> None:
    assert hash_pin("1234", **FAST) != hash_pin("1234", **FAST)


@pytest.mark.parametrize("pin", ["", "123", "1234567890123", "12a4", "１２３４", " 1234", "12 34"])
def test_bad_pins_are_refused_with_a_reason(pin: str) -> None:
    with pytest.raises(InputError, match="PIN must"):
        hash_pin(pin, **FAST)
    assert pin_problem(pin) is not None


@pytest.mark.parametrize(("stored", "words"), [
    ("1234", "not a PIN hash"),
    ("$2b$12$abcdefghijklmnopqrstuu", "not a PIN hash"),
    ("$scrypt$ln=30,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", "ln=30"),
    ("$scrypt$ln=14,r=99,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", "r=99"),
    ("$scrypt$ln=14,r=8,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", "salt has 4 bytes"),
    ("$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA", "hash has 4 bytes"),
    ("$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a", "base64"),
])
def test_malformed_stored_hashes_are_named(stored: str, words: str) -> None:
    problem = validate_pin_hash(stored)
    assert problem is not None and words in problem
    with pytest.raises(InputError, match=r"admin\.pin_hash"):
        verify_pin("1234", stored)


def test_a_truncated_hash_is_reported() -> None:
    h = hash_pin("1234", **FAST)
    problem = validate_pin_hash(h[:-1])
    assert problem is not None and "truncated" in problem
