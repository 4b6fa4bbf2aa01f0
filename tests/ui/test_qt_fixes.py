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


def test_a_progress_dialog_whose_parent_closed_mid_op_is_left_alone(qtbot, unlocked) -> None:
    """A long op shows progress under a dialog that closes (and is deleted) before the op ends: the result
    still arrives and nothing touches the deleted progress dialog."""
    import threading

    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDialog

    parent = QDialog(unlocked)
    parent.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    parent.show()
    release = threading.Event()
    results: list[int] = []

    def slow(app, task):
        task.report(1, 2)
        release.wait(5)
        return app.journal.count()

    unlocked.ops.query_op(slow, progress="Working…", parent=parent).success(results.append).run()
    parent.close()
    qtbot.waitUntil(lambda: not shiboken_valid(parent))
    release.set()
    qtbot.waitUntil(lambda: results == [0])


def shiboken_valid(obj: object) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)
