"""`@frozen`: a frozen dataclass made for the cost of one compile, with a quicker `__init__`.

`@dataclass(frozen=True)` compiles each method it makes on its own: `__init__`, `__repr__`, `__eq__`,
`__hash__`, `__setattr__` and `__delattr__`, six compiles per class. For the twenty records a one-code
`checkpoint check` imports that was a fifth of its start-up. `@frozen` lets dataclasses declare the class
(its fields and defaults, `__dataclass_fields__`, `__match_args__`: `fields`, `replace` and `asdict` work
as ever) without making any method, compiles only `__init__`, and makes the other five as closures over
the field names (comparing and hashing through `operator.attrgetter`, in C).

The methods behave as the frozen dataclass's: assigning or deleting an attribute raises
`FrozenInstanceError`; equality (same class only), hash and repr follow each field's `compare`, `hash`
and `repr`; a method the class defines itself is kept. `__init__` takes the same arguments with the same
defaults and fills the instance's `__dict__` in one step instead of one `object.__setattr__` per field
(for a 19-field `VerifyResult` a tenth of a code's check in Python). `__dataclass_params__` describes the
class as declared to dataclasses (no generated methods, not frozen), so a frozen dataclass cannot inherit
from one: a mistake reported when the class is defined. Only plain fields (with or without a default or a
default factory) are supported: an `InitVar`, a `ClassVar`, a keyword-only or non-init field, slots or a
`__post_init__` are refused when the class is defined. tests/keys/test_frozen.py holds the methods to
the dataclass's own.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")

_NO_VALUE = object()


def _fields_of(names: list[str]) -> Callable[[object], tuple[object, ...]]:
    """The values of the named attributes as one tuple, as the dataclass's methods compare and hash them."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return attrgetter(*names)


def _methods(owner: type[Any], names: frozenset[str], compared: list[str], hashed: list[str],
             shown: list[str]) -> dict[str, Callable[..., object]]:
    """Every method but `__init__`: the same for every class but for the names, so made without compiling."""
    compare, hash_values = _fields_of(compared), _fields_of(hashed)

    def __repr__(self: object) -> str:
        return f"{self.__class__.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in shown)})"

    def __eq__(self: object, other: object) -> bool:
        if other.__class__ is self.__class__:
            return compare(self) == compare(other)
        return NotImplemented

    def __hash__(self: object) -> int:
        return hash(hash_values(self))

    def __setattr__(self: object, name: str, value: object) -> None:
        if type(self) is owner or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(owner, self).__setattr__(name, value)

    def __delattr__(self: object, name: str) -> None:
        if type(self) is owner or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(owner, self).__delattr__(name)

    return {"__repr__": reprlib.recursive_repr()(__repr__),  # "..." for a record inside itself
            "__eq__": __eq__, "__hash__": __hash__, "__setattr__": __setattr__, "__delattr__": __delattr__}


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen(cls: type[T]) -> type[T]:
    """`@dataclass(frozen=True)` for a class of plain fields, for the cost of compiling its `__init__`."""
    own = cls.__dict__
    if "__slots__" in own or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: frozen is for classes without slots or __post_init__")
    for name in ("__setattr__", "__delattr__"):
        if name in own:
            raise TypeError(f"{cls.__name__}: a frozen class cannot define {name}")
    # As dataclasses reads it: a class that defines __eq__ alone gets __hash__ = None from Python.
    explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    keep = {name for name in ("__init__", "__repr__", "__eq__") if name in own}
    dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = [f.name for f in fields]
    if list(cls.__dataclass_fields__) != names:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__}: frozen supports only plain fields (no InitVar or ClassVar)")
    args, items = [], []
    env: dict[str, Any] = {"_NO_VALUE": _NO_VALUE}
    for f in fields:
        if not f.init or f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: frozen supports only plain init fields")
        if f.default is not dataclasses.MISSING:
            env[f"_default_{f.name}"] = f.default
            args.append(f"{f.name}=_default_{f.name}")
            items.append(f"{f.name!r}: {f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            env[f"_factory_{f.name}"] = f.default_factory
            args.append(f"{f.name}=_NO_VALUE")
            items.append(f"{f.name!r}: _factory_{f.name}() if {f.name} is _NO_VALUE else {f.name}")
        else:
            args.append(f.name)
            items.append(f"{f.name!r}: {f.name}")
    methods = _methods(cls, frozenset(names), [f.name for f in fields if f.compare],
                       [f.name for f in fields if (f.compare if f.hash is None else f.hash)],
                       [f.name for f in fields if f.repr])
    source = (f"def __init__(self, {', '.join(args)}):\n"
              f"    self.__dict__.update({{{', '.join(items)}}})\n")
    # The source is built above from the class's own field names only.
    exec(compile(source, f"<frozen {cls.__qualname__}>", "exec"), env)
    methods["__init__"] = env["__init__"]
    for name, method in methods.items():
        if name in keep or (name == "__hash__" and explicit_hash):
            continue
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    return cls
