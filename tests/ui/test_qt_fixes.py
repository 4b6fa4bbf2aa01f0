"""The PySide6 reference-count workaround is active as soon as the app's package is imported."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

import companion.ui  # noqa: F401  (installs the fix)
from companion.ui import qt_fixes


class _Sender(QObject):
    fired = Signal()


def _slot() -> None:
    pass


def test_emit_and_disconnect_keep_true_alive() -> None:
    sender = _Sender()
    before = sys.getrefcount(True)
    for _ in range(5000):  # more than True's references at start-up: without the fix this aborts the interpreter
        sender.fired.connect(_slot)
        sender.fired.emit()
        sender.fired.disconnect(_slot)
    assert sys.getrefcount(True) - before > -10
    assert not qt_fixes.emit_leaks_true() and not qt_fixes.disconnect_leaks_true()
