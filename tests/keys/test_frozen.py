"""`@frozen`: every method as `@dataclass(frozen=True)` makes it, the class still a dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from keys.frozen import frozen
from scanner.codes.dcc import DccInfo
from scanner.policy import Decision
from scanner.verify import Verdict, VerifyResult


@frozen
class Fast:
    """Every kind of field `frozen` takes."""

    a: int
    b: str = "b"
    c: dict[str, int] = field(default_factory=dict, compare=False)
    d: tuple[int, ...] = field(default=(), repr=False)
    e: list[int] = field(default_factory=list, hash=False)


@dataclass(frozen=True)
class Slow:
    """The same, as dataclasses makes it."""

    a: int
    b: str = "b"
    c: dict[str, int] = field(default_factory=dict, compare=False)
    d: tuple[int, ...] = field(default=(), repr=False)
    e: list[int] = field(default_factory=list, hash=False)


CASES = [((1,), {}), ((1, "x"), {}), ((), {"a": 2, "c": {"k": 1}}), ((3,), {"b": "y", "d": (4,)}),
         ((5, "z", {}, (6,)), {})]


@pytest.mark.parametrize(("args", "kwargs"), CASES)
def test_the_same_fields_repr_equality_and_hash_as_the_dataclass(args, kwargs) -> None:
    fast, slow = Fast(*args, **kwargs), Slow(*args, **kwargs)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    assert repr(fast).removeprefix("Fast") == repr(slow).removeprefix("Slow")
    assert hash(fast) == hash(slow)
    for other_args, other_kwargs in CASES:
        assert (fast == Fast(*other_args, **other_kwargs)) == (slow == Slow(*other_args, **other_kwargs))
    assert fast != slow and fast != dataclasses.astuple(fast)  # another class is never equal
    assert Fast.__match_args__ == Slow.__match_args__
    assert [f.name for f in dataclasses.fields(Fast)] == [f.name for f in dataclasses.fields(Slow)]


def test_argument_mistakes_fail_as_before() -> None:
    with pytest.raises(TypeError):
        Fast()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Fast(1, x=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Fast(1, a=2)  # type: ignore[misc]


def test_frozen_with_fresh_defaults_and_replace() -> None:
    one, two = Fast(1), Fast(1)
    assert one.c is not two.c and one.e is not two.e and one == two and hash(one) == hash(two)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'a'"):
        one.a = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.z = 2  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'a'"):
        del one.a  # type: ignore[misc]
    assert dataclasses.replace(one, b="z") == Fast(1, "z") and one.b == "b"
    assert dataclasses.is_dataclass(one)


def test_a_record_inside_itself_and_methods_the_class_defines() -> None:
    @frozen
    class Node:
        """A record that may hold itself."""

        items: list[object]

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Node) and len(self.items) == len(other.items)

        __hash__ = object.__hash__

    n = Node([])
    n.items.append(n)
    assert repr(n).endswith(".Node(items=[...])")  # the qualified name, as dataclasses writes it
    assert n == Node([1]) and hash(n) == object.__hash__(n)


def test_the_hot_path_classes_use_it() -> None:
    r = VerifyResult(verdict=Verdict.OK, reasons=("x",))
    assert r.extra == {} and r.status is None and r.reasons == ("x",)
    for cls in (VerifyResult, Decision, DccInfo):
        assert cls.__init__.__code__.co_filename == f"<frozen {cls.__name__}>"


def test_refuses_what_it_cannot_copy() -> None:
    class WithPostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    class KwOnly:
        a: int = field(kw_only=True)

    class NotInInit:
        a: int = field(default=0, init=False)

    class WithInitVar:
        a: int
        b: dataclasses.InitVar[int]

    class WithClassVar:
        a: int
        b: ClassVar[int] = 1

    class WithSlots:
        __slots__ = ("a",)
        a: int

    class WithSetattr:
        a: int

        def __setattr__(self, name: str, value: object) -> None:
            pass

    for cls in (WithPostInit, KwOnly, NotInInit, WithInitVar, WithClassVar, WithSlots, WithSetattr):
        with pytest.raises(TypeError):
            frozen(cls)
