"""Auto-lock clears every content widget; keyboard-only use; accessible names; hostile text; themes."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QTextImageFormat
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QCalendarWidget,
    QComboBox,
    QLineEdit,
    QMenuBar,
    QPlainTextEdit,
    QScrollBar,
    QTabBar,
    QTextEdit,
    QWidget,
)

from companion.ui import theme
from tests.ui.conftest import PASSPHRASE, create_journal, run_query, seed, wait_idle

ROOT = Path(__file__).resolve().parents[2]


def content_state(window):
    page = window.journal
    editor = page.editor
    return {
        "body": editor.body.toPlainText(),
        "undo": editor.body.document().isUndoAvailable(),
        "title": editor.title.text(),
        "tags": editor.tags.text(),
        "known_tags": editor.tags.tag_model.stringList(),
        "reading": editor.reading.toPlainText(),
        "search": page.search.text(),
        "rows": page.model.rowCount(),
        "marks": dict(page.calendar.marks),
        "day_list": page.day_list.count(),
        "on_this_day": page.on_this_day.count(),
        "trash": page.trash_list.count(),
        "tag_filter": page.tag_filter.count(),
        "memories": page.memories.text(),
    }


def open_titled(qtbot, page, title):
    row = next(i for i, r in enumerate(page.model.rows) if r.title == title)
    page.list.setCurrentIndex(page.model.index(row))
    qtbot.waitUntil(lambda: page.editor.title.text() == title)


def a_year_ago():
    today = date.today()
    earlier = today.replace(year=today.year - (4 if (today.month, today.day) == (2, 29) else 1))
    return datetime(earlier.year, earlier.month, earlier.day, 12, 0).astimezone()


def fill_everything(qtbot, window):
    seed(
        qtbot,
        window,
        [
            ("Secret words about my week.", "Private title", ["secret-tag"], 3, None),
            ("Old one, to trash.", "Trashed", [], None, None),
            ("A year ago today.", "Memory", [], 4, a_year_ago()),
        ],
    )
    page = window.journal
    qtbot.waitUntil(lambda: page.model.rowCount() == 3)
    open_titled(qtbot, page, "Trashed")
    page.trash_current()
    qtbot.waitUntil(lambda: page.trash_list.item(0).data(Qt.ItemDataRole.UserRole) is not None)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    open_titled(qtbot, page, "Private title")
    page.editor.body.moveCursor(page.editor.body.textCursor().MoveOperation.End)
    page.editor.body.setFocus()
    qtbot.keyClicks(page.editor.body, " More.")
    page.editor.set_reading(True)
    page.show_view(1)
    page.load_day()
    qtbot.waitUntil(
        lambda: (
            bool(page.calendar.marks)
            and page.day_list.item(0).data(Qt.ItemDataRole.UserRole)
            and page.on_this_day.item(0).data(Qt.ItemDataRole.UserRole)
            and page.memories.text()
        )
    )
    qtbot.keyClicks(page.search, "secret")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1 and page.model.rows[0].snippet is not None)
    state = content_state(window)
    assert state["body"] and state["undo"] and state["title"] and state["known_tags"] and state["reading"]
    assert state["search"] and state["rows"] and state["marks"] and state["trash"] and state["tag_filter"] > 1


def assert_cleared(window):
    state = content_state(window)
    assert state == {
        "body": "",
        "undo": False,
        "title": "",
        "tags": "",
        "known_tags": [],
        "reading": "",
        "search": "",
        "rows": 0,
        "marks": {},
        "day_list": 0,
        "on_this_day": 0,
        "trash": 0,
        "tag_filter": 1,
        "memories": "",
    }
    assert window.stack.currentWidget() is window.unlock_screen
    assert window.windowTitle() == "Companion"
    for widget in window.findChildren(QLineEdit) + window.findChildren(QPlainTextEdit):
        text = widget.text() if isinstance(widget, QLineEdit) else widget.toPlainText()
        assert "Secret" not in text and "secret" not in text and "Private" not in text


def test_auto_lock_after_idle_clears_every_content_widget(qtbot, make_window, clock):
    window = make_window()
    create_journal(qtbot, window)
    fill_everything(qtbot, window)
    window.idle._timer.setInterval(20)
    window.idle.start()
    clock.now += 4 * 60  # 4 minutes: not yet
    qtbot.wait(100)
    assert window.state == "main"
    clock.now += 61  # past 5 minutes of idle (time asleep counts: the clock just jumped)
    with qtbot.waitSignal(window.locked, timeout=3000):
        pass
    assert_cleared(window)
    wait_idle(qtbot, window)
    assert not window.companion.is_unlocked
    # what was being typed before the lock was saved, not lost
    unlock = window.unlock_screen
    qtbot.keyClicks(unlock.passphrase, PASSPHRASE)
    with qtbot.waitSignal(window.unlocked, timeout=10000):
        qtbot.keyClick(unlock.passphrase, Qt.Key.Key_Return)
    wait_idle(qtbot, window)
    bodies = run_query(
        qtbot, window, lambda app: [app.journal.get_entry(r.id).body for r in app.journal.recent()]
    )
    assert "Secret words about my week. More." in bodies


def test_input_after_sleep_locks_before_it_is_delivered(qtbot, make_window, clock):
    window = make_window()
    create_journal(qtbot, window)
    window.idle.start()
    clock.now += 3600  # the machine slept for an hour; the check timer has not fired yet
    qtbot.keyClicks(window.journal.editor.title, "x")
    assert window.state == "unlock"
    assert window.journal.editor.title.text() == ""


def test_lock_on_demand_clears_too(qtbot, make_window):
    window = make_window()
    create_journal(qtbot, window)
    fill_everything(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert_cleared(window)


def test_results_queued_before_a_lock_never_reach_widgets(qtbot, make_window):
    window = make_window()
    create_journal(qtbot, window)
    seed(qtbot, window, [("late text", "Late", [], None, None)])
    window.journal.model.set_query(window.journal.model.query)  # a page read in flight …
    window.lock()  # … then lock at once
    wait_idle(qtbot, window)
    assert window.journal.model.rowCount() == 0


def test_keyboard_only_flow(qtbot, make_window):
    window = make_window()
    screen = window.create_screen
    assert QApplication.focusWidget() is screen.passphrase
    qtbot.keyClicks(QApplication.focusWidget(), PASSPHRASE)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is screen.repeat
    qtbot.keyClicks(QApplication.focusWidget(), PASSPHRASE)
    with qtbot.waitSignal(window.unlocked, timeout=15000):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    wait_idle(qtbot, window)
    editor = window.journal.editor
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is editor.title
    qtbot.keyClicks(editor.title, "Keyboard day")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is editor.date
    for _section in range(6):  # Tab walks the date's fields (day, month, year, time), then leaves it
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        if QApplication.focusWidget() is not editor.date:
            break
    assert QApplication.focusWidget() is editor.tags
    qtbot.keyClicks(QApplication.focusWidget(), "calm")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is editor.mood
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is editor.body
    qtbot.keyClicks(editor.body, "Only the keyboard today")
    qtbot.keyClick(editor.body, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: editor.save_state.text() == "Saved", timeout=5000)
    qtbot.keyClick(editor.body, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.journal.search
    qtbot.keyClicks(window.journal.search, "keyboard")
    qtbot.keyClick(window.journal.search, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is window.journal.list
    qtbot.waitUntil(lambda: window.journal.model.rowCount() == 1)
    qtbot.keyClick(window.journal.list, Qt.Key.Key_Down)
    qtbot.keyClick(window.journal.list, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is editor.body
    assert editor.tags.text() == "calm"
    qtbot.keyClick(editor.body, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.pages_stack.currentWidget().key == "shared"
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.pages_stack.currentWidget() is window.journal
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.unlock_screen.passphrase
    qtbot.keyClicks(QApplication.focusWidget(), PASSPHRASE)
    with qtbot.waitSignal(window.unlocked, timeout=10000):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)


INTERACTIVE = (
    QAbstractButton,
    QLineEdit,
    QAbstractItemView,
    QComboBox,
    QAbstractSpinBox,
    QPlainTextEdit,
    QTextEdit,
    QCalendarWidget,
    QTabBar,
)
COMPOSITE = (QComboBox, QAbstractSpinBox, QCalendarWidget, QTabBar, QLineEdit, QMenuBar)


def interactive_widgets(root: QWidget):
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, INTERACTIVE) or isinstance(widget, QScrollBar):
            continue
        parent, inner = widget.parentWidget(), False
        while parent is not None and parent is not root:
            if isinstance(parent, COMPOSITE):
                inner = True  # a part of a composite control, named by the control itself
            parent = parent.parentWidget()
        if not inner and widget.window() is root.window():
            yield widget


def test_every_interactive_widget_has_an_accessible_name(qtbot, unlocked):
    window = unlocked
    missing = [
        f"{type(w).__name__} {w.objectName()!r}"
        for w in interactive_widgets(window)
        if not w.accessibleName().strip()
    ]
    assert missing == []
    described = [w for w in interactive_widgets(window) if w.accessibleDescription().strip()]
    assert len(described) >= 0.8 * len(list(interactive_widgets(window)))
    dialog = window.open_settings()
    missing = [f"{type(w).__name__}" for w in interactive_widgets(dialog) if not w.accessibleName().strip()]
    dialog.reject()
    assert missing == []


def test_help_lists_every_shortcut(qtbot, unlocked):
    rows = dict(unlocked.shortcut_rows())
    for keys in ("Ctrl+N", "Ctrl+L", "Ctrl+F", "Ctrl+E", "Ctrl+,", "F1", "Ctrl+Shift+T", "Ctrl+1", "Ctrl+B"):
        assert any(keys in k for k in rows), keys


class _Listener:
    """A local TCP port that records whether anything connected (a hostile entry must not load from it)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.hits += 1
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()


def image_count(document) -> int:
    found, block = 0, document.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            if (
                it.fragment().charFormat().isImageFormat()
                and QTextImageFormat(it.fragment().charFormat()).name()
            ):
                found += 1
            it += 1
        block = block.next()
    return found


def test_hostile_entry_text_is_only_text(qtbot, unlocked, tmp_path):
    listener = _Listener()
    secret_file = tmp_path / "local.png"
    secret_file.write_bytes(b"not an image")
    url = f"http://127.0.0.1:{listener.port}/x.png"
    hostile = (
        f'<img src="{url}"> <img src="file://{secret_file}">\n\n'
        f'<span style="font-size:400px">HUGE</span> <font size=100>big</font>\n\n'
        f'<style>*{{color:red}}</style><a href="{url}">click</a>\n\n'
        f"![remote]({url}) ![local](file://{secret_file})\n\n"
        "שלום עולם \u202eevil\u202c z\u200be\u200dr\u200co-width \ufeff done"
    )
    seed(qtbot, unlocked, [(hostile, "<b>bold?</b> \u202etitle", ["x"], None, None)])
    page = unlocked.journal
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    page.list.setCurrentIndex(page.model.index(0))
    qtbot.waitUntil(lambda: page.editor.entry_id is not None)
    assert page.editor.body.toPlainText() == hostile
    page.editor.set_reading(True)
    reading = page.editor.reading
    shown = reading.toPlainText()
    assert '<img src="' in shown and "<span" in shown and "<font size=100>" in shown and "<style>" in shown
    assert image_count(reading.document()) <= 2  # only the two Markdown image references, never loaded:
    assert reading.loadResource(0, QUrl(url)) is None
    for w in (page.list, reading, page.editor):
        w.grab()
    time.sleep(0.3)
    listener.close()
    assert listener.hits == 0
    max_font = max(reading.document().defaultFont().pointSizeF(), 1)
    block = reading.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            size = it.fragment().charFormat().fontPointSize()
            assert size <= max_font * 2.5, size  # headings at most; no 400px text
            it += 1
        block = block.next()
    # links only report; opening needs the confirmation dialog (switched off here)
    reading.confirm_links = False
    with qtbot.waitSignal(reading.link_requested) as blocker:
        reading.anchorClicked.emit(QUrl(url))
    assert blocker.args[0].toString() == url


def test_ten_megabyte_single_line_opens_without_freezing(qtbot, unlocked):
    huge = "word " * 2_000_000
    seed(qtbot, unlocked, [(huge, "Long", [], None, None)])
    page = unlocked.journal
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    page.list.grab()
    start = time.perf_counter()
    page.list.setCurrentIndex(page.model.index(0))
    qtbot.waitUntil(lambda: page.editor.entry_id is not None, timeout=10000)
    page.editor.grab()
    page.editor.set_reading(True)
    page.editor.grab()
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0, elapsed
    assert page.editor.read_only and page.editor.banner.isVisible()
    assert page.editor.body.isReadOnly()
    assert page.editor.word_count.text() == "2,000,000 words"
    page.editor.set_reading(False)
    unlocked.lock()
    assert page.editor.body.toPlainText() == ""


@pytest.mark.parametrize("t", [theme.LIGHT, theme.DARK], ids=["light", "dark"])
def test_theme_text_contrast_is_at_least_4_5(t):
    for fg, bg in theme.TEXT_PAIRS:
        ratio = theme.contrast(getattr(t, fg), getattr(t, bg))
        assert ratio >= 4.5, (t.name, fg, bg, round(ratio, 2))
    p = theme.palette(t)
    from PySide6.QtGui import QPalette

    pairs = [
        (QPalette.ColorRole.WindowText, QPalette.ColorRole.Window),
        (QPalette.ColorRole.Text, QPalette.ColorRole.Base),
        (QPalette.ColorRole.ButtonText, QPalette.ColorRole.Button),
        (QPalette.ColorRole.HighlightedText, QPalette.ColorRole.Highlight),
    ]
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Disabled):
        for fg, bg in pairs:
            assert theme.contrast(p.color(group, fg).name(), p.color(group, bg).name()) >= 4.5


def test_font_size_and_theme_settings_apply(qtbot, unlocked, qapp):
    dialog = unlocked.open_settings()
    dialog.font_size.setValue(16)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    assert qapp.font().pointSize() == 16
    assert unlocked.journal.editor.body.font().pointSize() == 16
    assert theme.current() is theme.DARK
    saved = (unlocked.data_dir / "ui-settings.json").read_text()
    assert '"font_size": 16' in saved and "Secret" not in saved
    dialog.autolock.setValue(2)
    assert unlocked.idle.delay_seconds == 120
    dialog.reject()


def test_change_passphrase_and_export_with_progress(qtbot, unlocked, tmp_path):
    seed(qtbot, unlocked, [(f"entry {i}", f"E{i}", [], None, None) for i in range(30)])
    dialog = unlocked.open_settings()
    qtbot.keyClicks(dialog.current, "wrong one")
    qtbot.keyClicks(dialog.new, "a brand new passphrase")
    qtbot.keyClicks(dialog.repeat, "a brand new passphrase")
    qtbot.mouseClick(dialog.change, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.change.isEnabled(), timeout=15000)
    assert "not right" in dialog.change_status.text()
    dialog.current.setText(PASSPHRASE)
    qtbot.mouseClick(dialog.change, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "changed" in dialog.change_status.text(), timeout=20000)
    with qtbot.waitSignal(dialog.exported, timeout=10000) as blocker:
        dialog.export_to("json", tmp_path / "out.json")
    assert blocker.args == [30]
    assert '"E29"' in (tmp_path / "out.json").read_text()
    dialog.reject()
    unlocked.lock()
    unlock = unlocked.unlock_screen
    qtbot.keyClicks(unlock.passphrase, "a brand new passphrase")
    with qtbot.waitSignal(unlocked.unlocked, timeout=10000):
        qtbot.keyClick(unlock.passphrase, Qt.Key.Key_Return)


def test_app_starts_in_a_subprocess_and_shows_the_create_screen(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", COMPANION_UI_SMOKE="1")
    result = subprocess.run(
        [sys.executable, "-m", "companion", "--data-dir", str(tmp_path / "fresh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "companion-ui: create shown" in result.stdout


def test_vault_ops_run_on_one_worker_and_network_ops_elsewhere(qtbot, unlocked):
    ops = unlocked.ops
    seen = run_query(qtbot, unlocked, lambda app: ops.on_vault_thread())
    assert seen is True
    box = {}
    ops.network_op(lambda: ops.on_vault_thread()).success(lambda v: box.setdefault("net", v)).run()
    qtbot.waitUntil(lambda: "net" in box)
    assert box["net"] is False


def test_failures_go_to_the_one_presenter(qtbot, unlocked):
    from companion.errors import NotFoundError

    with qtbot.waitSignal(unlocked.presenter.shown) as blocker:
        unlocked.ops.query_op(lambda app: app.journal.get_entry(999_999)).run()
    assert blocker.args == [str(NotFoundError("There is no entry 999999."))]
    with qtbot.waitSignal(unlocked.presenter.shown) as blocker:
        unlocked.ops.query_op(lambda app: 1 / 0).run()
    assert "did not finish" in blocker.args[0] and "division" not in blocker.args[0]


def test_export_can_be_cancelled(qtbot, unlocked, tmp_path):
    seed(qtbot, unlocked, [(f"entry {i}", f"E{i}", [], None, None) for i in range(20)])
    dialog = unlocked.open_settings()
    unlocked.ops.query_op(lambda app: time.sleep(0.3)).run()  # keep the worker busy for a moment
    with qtbot.waitSignal(dialog.exported, timeout=10000) as blocker:
        dialog.export_to("json", tmp_path / "cancelled.json")
        dialog.export_op.task.cancel()
    assert blocker.args == [-1]
    assert "cancelled" in dialog.export_status.text()
    assert not (tmp_path / "cancelled.json").exists()
    dialog.reject()


def test_a_feature_page_replaces_its_placeholder(qtbot, make_window):
    from companion.ui import pages

    original = pages._REGISTRY["circles"]
    seen = []

    @pages.register
    class RealCircles(pages.Page):
        key = "circles"
        title = "Circles"
        icon = "circles"
        order = 30
        accessible_description = "Circles, for real"

        def on_changes(self, changes):
            seen.append(changes)

    try:
        window = make_window()
        create_journal(qtbot, window)
        page = next(p for p in window.pages if p.key == "circles")
        assert isinstance(page, RealCircles)
        seed(qtbot, window, [("x", "x", [], None, None)])
        assert seen
    finally:
        pages._REGISTRY["circles"] = original


@pytest.mark.skipif(shutil.which("dbus-run-session") is None, reason="needs dbus-run-session")
def test_screen_saver_activation_locks_over_dbus():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        ["dbus-run-session", "--", sys.executable, str(ROOT / "tests/ui/scripts/screensaver_lock.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "available True" in result.stdout, result.stdout + result.stderr
    assert "locked True" in result.stdout and result.returncode == 0, result.stdout + result.stderr


def test_lock_closes_open_dialogs_and_clears_their_fields(qtbot, unlocked):
    dialog = unlocked.open_settings()
    qtbot.waitExposed(dialog)
    qtbot.keyClicks(dialog.current, PASSPHRASE)
    unlocked.lock()
    assert not dialog.isVisible()
    assert dialog.current.text() == ""
