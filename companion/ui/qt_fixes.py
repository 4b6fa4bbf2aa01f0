"""A workaround for a reference-counting bug in PySide6 6.12 (seen with Python 3.11).

``SignalInstance.emit()`` and ``SignalInstance.disconnect(slot)`` return ``True`` without taking a reference to
it, so every call whose result is discarded takes one reference away from ``True``. ``True`` starts with a few
thousand references; after that many calls (every op result, every progress report, every entry opened) the
interpreter aborts with
"Fatal Python error: bool_dealloc: deallocating True or False". The test suite hit it at exit; a long session
of the app would hit it while running.

:func:`install` checks whether this PySide6 has the bug (by emitting an unconnected signal and watching
``True``'s reference count, and the same for a connect/disconnect pair) and only then wraps the leaking method
to give back the missing reference.
On a PySide6 without the bug it changes nothing. Idempotent; safe from any thread (``ctypes.pythonapi`` keeps
the GIL).
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal, SignalInstance

_installed = False


class _Probe(QObject):
    fired = Signal()


def _noop() -> None:
    pass


def emit_leaks_true() -> bool:
    """True if emitting takes a reference away from ``True`` on this PySide6."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.fired.emit()
    return sys.getrefcount(True) - before <= -8


def disconnect_leaks_true() -> bool:
    """True if ``disconnect(slot)`` takes a reference away from ``True`` on this PySide6 (6.12 does, like emit)."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.fired.connect(_noop)
        probe.fired.disconnect(_noop)
    return sys.getrefcount(True) - before <= -8


def _give_back(original):  # type: ignore[no-untyped-def]
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    incref.restype = None

    def wrapper(self, *args):  # type: ignore[no-untyped-def]
        result = original(self, *args)
        if result is True or result is False:
            incref(result)  # the reference the binding forgot to take
        return result

    return wrapper


def install() -> bool:
    """Install the fixes this PySide6 needs; returns whether any is (now) installed."""
    global _installed
    if _installed:
        return True
    if emit_leaks_true():
        SignalInstance.emit = _give_back(SignalInstance.emit)  # type: ignore[method-assign]
        _installed = True
    if disconnect_leaks_true():
        SignalInstance.disconnect = _give_back(SignalInstance.disconnect)  # type: ignore[method-assign]
        _installed = True
    return _installed
