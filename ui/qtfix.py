"""Work around PySide6/shiboken6 6.12.0 dropping references to None/True/False on Python 3.11.

The 6.12.0 wheels (cp310-abi3) return `None` from every void method without taking a reference, as if
`None` were immortal (it is only from Python 3.12, PEP 683). On 3.11 each `widget.update()`,
`setText()`, `processEvents()`… lowers `None`'s reference count by one, and a kiosk painting ten
frames a second aborts with "Fatal Python error: none_dealloc" within hours (the test suite within
seconds). The same happens to `True`/`False` on some paths ("bool_dealloc").

These three singletons are never freed anyway, so giving them a reference count no program can use
up (2**40) makes them immortal as on 3.12 and changes nothing else. This runs once, before Qt is
used, and only where the bug can bite (CPython < 3.12). Remove it once the set-up pins a PySide6
that handles 3.11 correctly, or the appliance runs Python 3.12+.
"""

from __future__ import annotations

import ctypes
import sys

_BOOST = 2**40
_done = False


def immortalize_singletons() -> bool:
    """Raise the reference counts of None, True and False out of reach; True if it was needed."""
    global _done
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    for obj in (None, True, False):
        # CPython: `id()` is the object's address and `ob_refcnt` (Py_ssize_t) its first field.
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST
    _done = True
    return True
