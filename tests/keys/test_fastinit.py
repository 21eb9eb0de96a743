"""fast_init: the same construction as the dataclass's own `__init__`, the class still frozen."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from keys.fastinit import fast_init
from scanner.codes.dcc import DccInfo
from scanner.policy import Decision
from scanner.verify import Verdict, VerifyResult


@fast_init
@dataclass(frozen=True)
class Fast:
    a: int
    b: str = "b"
    c: dict[str, int] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Slow:
    a: int
    b: str = "b"
    c: dict[str, int] = field(default_factory=dict, compare=False)


@pytest.mark.parametrize(("args", "kwargs"), [((1,), {}), ((1, "x"), {}), ((), {"a": 2, "c": {"k": 1}}),
                                              ((3,), {"b": "y"})])
def test_same_fields_as_the_generated_init(args, kwargs) -> None:
    fast, slow = Fast(*args, **kwargs), Slow(*args, **kwargs)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    assert repr(fast).removeprefix("Fast") == repr(slow).removeprefix("Slow")


def test_argument_mistakes_fail_as_before() -> None:
    with pytest.raises(TypeError):
        Fast()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Fast(1, d=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Fast(1, a=2)  # type: ignore[misc]


def test_still_frozen_with_fresh_defaults_and_replace() -> None:
    one, two = Fast(1), Fast(1)
    assert one.c is not two.c and one == two and hash(one) == hash(two)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.a = 2  # type: ignore[misc]
    assert dataclasses.replace(one, b="z") == Fast(1, "z")


def test_the_hot_path_classes_use_it() -> None:
    r = VerifyResult(verdict=Verdict.OK, reasons=("x",))
    assert r.extra == {} and r.status is None and r.reasons == ("x",)
    for cls in (VerifyResult, Decision, DccInfo):
        assert cls.__init__.__code__.co_filename == f"<fast_init {cls.__name__}>"


def test_refuses_what_it_cannot_copy() -> None:
    @dataclass
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class WithPostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True)
    class KwOnly:
        a: int = field(kw_only=True)

    @dataclass(frozen=True)
    class WithInitVar:
        a: int
        b: dataclasses.InitVar[int]

    for cls in (Mutable, WithPostInit, KwOnly, WithInitVar):
        with pytest.raises(TypeError):
            fast_init(cls)
