import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from datetime import datetime

import pytest
from PySide6.QtWidgets import QApplication

from companion.vault.header import FLOOR

# Conftest files are imported at collection, before any test runs. Create the one QApplication now:
# otherwise a test elsewhere that renders a PDF creates a bare QGuiApplication first, and then no widget
# can exist in the process.
_QAPP = QApplication.instance() or QApplication(["companion-tests"])

PASSPHRASE = "correct horse battery staple"


class Clock:
    """A clock the test moves by hand (for idle time and time asleep)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _theme(qapp):
    from companion.ui import theme

    theme.apply(qapp, "light", 11)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_window(qtbot, tmp_path, clock):
    from companion.ui.main_window import MainWindow

    windows = []

    def finish_closing(window):
        """pytest-qt deletes the window right after closing it: let a backup due on closing be written first."""
        window.close()
        qtbot.waitUntil(lambda: window.state == "closed", timeout=20000)

    def make(data_dir=None, **kw):
        kw.setdefault("clock", clock)
        window = MainWindow(data_dir or tmp_path / "data", kdf_params=FLOOR, interactive_errors=False, **kw)
        qtbot.addWidget(window, before_close_func=finish_closing)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


def wait_idle(qtbot, window, timeout=10000):
    qtbot.waitUntil(lambda: not window.ops.busy, timeout=timeout)


def run_query(qtbot, window, fn):
    """Run ``fn(app)`` on the vault worker (the one thread that may use the connection); return its value."""
    box = {}
    window.ops.query_op(fn).success(lambda value: box.setdefault("value", value)).failure(
        lambda exc: box.setdefault("error", exc)
    ).run()
    qtbot.waitUntil(lambda: bool(box), timeout=10000)
    if "error" in box:
        raise box["error"]
    return box["value"]


def create_journal(qtbot, window, passphrase=PASSPHRASE):
    screen = window.create_screen
    qtbot.keyClicks(screen.passphrase, passphrase)
    qtbot.keyClicks(screen.repeat, passphrase)
    assert screen.create.isEnabled()
    with qtbot.waitSignal(window.unlocked, timeout=15000):
        qtbot.mouseClick(screen.create, qtbot_button())
    wait_idle(qtbot, window)


def qtbot_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def seed(qtbot, window, entries):
    """Add entries through the service on the worker: (body, title, tags, mood, created_at)."""

    def op(app):
        for body, title, tags, mood, created in entries:
            app.journal.add_entry(body, title=title, tags=tags, mood=mood, created_at=created)
        from companion.services import Changed, Changes

        return Changed(None, Changes.ENTRIES | Changes.TAGS)

    box = {}
    window.ops.collection_op(op).success(lambda _v: box.setdefault("done", True)).run()
    qtbot.waitUntil(lambda: bool(box), timeout=10000)
    wait_idle(qtbot, window)


@pytest.fixture
def unlocked(qtbot, make_window):
    window = make_window()
    create_journal(qtbot, window)
    return window


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone()
