"""Closing the window while unlocked: like a lock, a due automatic backup is written first (on the vault worker,
with the text being edited in it, and a small note if it takes a moment); a failure asks "Close anyway?"."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt

from companion.services import Companion
from companion.services.transfer import restore, verify
from companion.ui.main_window import ClosingNote
from tests.ui.conftest import PASSPHRASE, create_journal, run_query, wait_idle


def with_automatic_backups(qtbot, make_window, folder: Path):
    """An unlocked window with automatic backups to ``folder`` and the backup key derived at unlock."""
    window = make_window()
    create_journal(qtbot, window)
    window.settings.backup_enabled = True
    window.settings.backup_folder = str(folder)
    window.lock()
    qtbot.keyClicks(window.unlock_screen.passphrase, PASSPHRASE)
    with qtbot.waitSignal(window.unlocked, timeout=15000):
        qtbot.keyClick(window.unlock_screen.passphrase, Qt.Key.Key_Return)
    assert run_query(qtbot, window, lambda app: app.transfer.has_backup_key)
    window.backups.first.stop()  # the test decides when backups happen
    return window


def type_unsaved(qtbot, window, title: str, body: str) -> None:
    editor = window.journal.editor
    window.show_page(0)
    window.journal.new_entry()
    qtbot.keyClicks(editor.title, title)
    editor.body.setFocus()
    qtbot.keyClicks(editor.body, body)
    assert editor.save_state.text() != "Saved"  # still only in the editor (autosave waits for a pause)


def backups_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix == ".cbackup") if folder.is_dir() else []


def test_closing_writes_a_due_backup_holding_the_text_being_edited(qtbot, make_window, tmp_path):
    folder = tmp_path / "backups"
    window = with_automatic_backups(qtbot, make_window, folder)
    assert backups_in(folder) == []  # none yet: one is due
    type_unsaved(qtbot, window, "Last words", "Written just before quitting, never saved by hand.")

    # hold the vault worker so the backup takes a noticeable moment: the note appears, the window waits
    release = threading.Event()
    window.ops.query_op(lambda app: release.wait(10)).run()
    assert window.close() is False  # not yet: the backup comes first
    assert window.isVisible() and window.closing_note is not None
    qtbot.waitUntil(lambda: window.closing_note is not None and window.closing_note.isVisible(), timeout=3000)
    note = window.closing_note
    assert isinstance(note, ClosingNote)
    assert note.label.text() == "Writing a backup before closing…"
    assert note.accessibleName() == "Writing a backup before closing" and note.bar.accessibleName()
    assert note.isModal() or note.windowModality() == Qt.WindowModality.WindowModal
    note.grab().save(str(tmp_path / "closing-note.png"))
    qtbot.keyClick(note, Qt.Key.Key_Escape)  # nothing to cancel: it stays until the backup is written
    assert note.isVisible()
    window.close()  # closing again meanwhile changes nothing
    release.set()

    qtbot.waitUntil(lambda: window.state == "closed", timeout=15000)
    assert not window.isVisible() and not window.companion.is_unlocked
    (written,) = backups_in(folder)
    verify(written, PASSPHRASE)
    restored = tmp_path / "restored"
    restore(written, restored, PASSPHRASE)
    app = Companion(restored)
    app.unlock(PASSPHRASE)
    try:
        (hit,) = app.journal.search("quitting")
        assert hit.title == "Last words"
        assert app.journal.get_entry(hit.id).body == "Written just before quitting, never saved by hand."
    finally:
        app.lock()
    # and the journal itself has it too
    app = Companion(tmp_path / "data")
    app.unlock(PASSPHRASE)
    try:
        assert [h.title for h in app.journal.search("quitting")] == ["Last words"]
    finally:
        app.lock()


def test_closing_when_no_backup_is_due_closes_at_once(qtbot, make_window, tmp_path):
    folder = tmp_path / "backups"
    window = with_automatic_backups(qtbot, make_window, folder)
    with qtbot.waitSignal(window.backups.finished, timeout=15000) as blocker:
        window.backups.check()
    assert blocker.args[0][0] == "done"
    type_unsaved(qtbot, window, "Not backed up today", "Saved, but the backup of today is already there.")
    window.close()
    qtbot.waitUntil(lambda: window.state == "closed", timeout=10000)
    assert window.closing_note is None and window.close_question is None
    assert len(backups_in(folder)) == 1  # not due: no second one
    app = Companion(tmp_path / "data")
    app.unlock(PASSPHRASE)
    try:
        assert [h.title for h in app.journal.search("today")] == ["Not backed up today"]
    finally:
        app.lock()


def test_a_backup_that_fails_on_closing_asks_whether_to_close_anyway(qtbot, make_window, tmp_path):
    blocker_file = tmp_path / "not-a-folder"
    blocker_file.write_text("a file where the backup folder's parent should be")
    folder = blocker_file / "backups"  # cannot be created, whoever runs the test (root ignores permissions)
    window = with_automatic_backups(qtbot, make_window, folder)
    type_unsaved(qtbot, window, "Kept", "The journal keeps this even though the backup fails.")

    window.close()
    qtbot.waitUntil(lambda: window.close_question is not None and window.close_question.isVisible(), timeout=15000)
    box = window.close_question
    assert "could not be written before closing" in box.text() and "Not a directory" in box.text()
    assert box.text().endswith("Close anyway?") and box.textFormat() == Qt.TextFormat.PlainText
    assert {b.text() for b in box.buttons()} == {"Close anyway", "Don't close"}
    assert box.defaultButton().text() == "Don't close"
    box.grab().save(str(tmp_path / "close-question.png"))

    # "Don't close": the window stays open and unlocked, and the schedule runs again
    next(b for b in box.buttons() if b.text() == "Don't close").click()
    qtbot.waitUntil(lambda: window.close_question is None, timeout=3000)
    assert window.isVisible() and window.state == "main" and window.companion.is_unlocked
    assert window.backups.timer.isActive()
    assert "not written" in window.statusBar().currentMessage()
    assert window.journal.editor.title.text() == "Kept"  # nothing was cleared
    assert [h.title for h in run_query(qtbot, window, lambda app: app.journal.search("fails"))] == ["Kept"]

    # closing again asks again; "Close anyway" closes and locks
    window.close()
    qtbot.waitUntil(lambda: window.close_question is not None and window.close_question.isVisible(), timeout=15000)
    next(b for b in window.close_question.buttons() if b.text() == "Close anyway").click()
    qtbot.waitUntil(lambda: window.state == "closed", timeout=10000)
    assert not window.isVisible() and not window.companion.is_unlocked
    wait_idle(qtbot, window)


def test_results_arriving_after_shutdown_reach_no_callback(qtbot, tmp_path):
    """A result queued to the GUI thread while shutdown waited must not reach a window being deleted."""
    from companion.ui.ops import OpRunner

    runner = OpRunner(Companion(tmp_path / "data"))
    release = threading.Event()
    got: list[object] = []
    runner.query_op(lambda app: release.wait(10) and "late").success(got.append).failure(got.append).run()
    threading.Timer(0.3, release.set).start()
    runner.shutdown()  # waits for the worker: the op finishes meanwhile, its result queued behind us
    qtbot.wait(300)  # the queued result is delivered now, if at all
    assert got == []
    assert not runner.busy  # and the shutdown's own lock job did not leave the count below zero
    assert runner._pending == 0
