"""A quicker `__init__` for the frozen dataclasses made on every scan (results, decisions, DCC contents).

A frozen dataclass's generated `__init__` sets each field through `object.__setattr__`, one call per
field: a 21-field `VerifyResult` cost a tenth of what the rest of a code's check does in Python. The
`__init__` made here takes the same arguments with the same defaults and fills the instance's
`__dict__` in one step; the class stays a frozen dataclass (assignment still raises, equality, hash,
repr and `dataclasses.replace` are unchanged). Only plain fields with or without a default or a
default factory are supported; anything else is refused when the class is defined.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar

T = TypeVar("T")

_NO_VALUE = object()


def fast_init(cls: type[T]) -> type[T]:
    """Give the frozen dataclass `cls` an `__init__` that fills `__dict__` at once (apply above `@dataclass`)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__}: fast_init is for frozen dataclasses without slots")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: fast_init does not call __post_init__")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if list(inspect.signature(cls.__init__).parameters)[1:] != [f.name for f in fields]:
        raise TypeError(f"{cls.__name__}: fast_init needs __init__ to take exactly the fields (no InitVar)")
    args, items = [], []
    env: dict[str, Any] = {"_NO_VALUE": _NO_VALUE}
    for f in fields:
        if not f.init or f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: fast_init supports only plain init fields")
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
    source = (f"def __init__(self, {', '.join(args)}):\n"
              f"    self.__dict__.update({{{', '.join(items)}}})\n")
    # The source is built above from the class's own field names only.
    exec(compile(source, f"<fast_init {cls.__qualname__}>", "exec"), env)
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
