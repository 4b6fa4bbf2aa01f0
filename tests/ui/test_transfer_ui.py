"""Issue 9 in the app: import with progress, cancel and report; attachments in the editor; export with the
plaintext warning (PDF with a date range); Back up now and automatic backups; hostile image bytes."""

import itertools
import struct
import time
import zlib
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QMessageBox

from companion.services.transfer import verify
from companion.ui import attachments as att_ui
from companion.ui.ops import Task
from tests.ui.conftest import PASSPHRASE, create_journal, day, qtbot_button, run_query, seed, wait_idle
from tests.ui.test_privacy_a11y import interactive_widgets, open_titled

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JRNL = FIXTURES / "jrnl" / "journal.txt"
DAYONE = FIXTURES / "dayone"
PHOTO = next((DAYONE / "photos").iterdir())


def entry_count(qtbot, window):
    return run_query(qtbot, window, lambda app: app.journal.count())


def click_in_next_modal(qtbot, text, box=None):
    """Answer the next modal dialog by clicking the button whose text contains ``text``."""

    def answer():
        modal = QApplication.activeModalWidget()
        if not isinstance(modal, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        if box is not None:
            box["text"] = modal.text() if isinstance(modal, QMessageBox) else ""
            box["title"] = modal.windowTitle()
        for button in modal.buttons():
            if text in button.text():
                button.click()
                return
        raise AssertionError(f"no button {text!r} in {[b.text() for b in modal.buttons()]}")

    QTimer.singleShot(0, answer)


def png_bytes(width=64, height=48, color="teal") -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data)


def huge_png(width=100_000, height=100_000) -> bytes:
    """A valid PNG header declaring a huge image, with a tiny compressed body (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 100_000, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# -- import ------------------------------------------------------------------------------------------------


def test_import_jrnl_and_day_one_through_the_dialog_with_report_and_photo_in_editor(qtbot, unlocked):
    window = unlocked
    dialog = window.open_import()
    with qtbot.waitSignal(dialog.finished_import, timeout=15000) as blocker:
        dialog.import_from("jrnl", JRNL)
    report = blocker.args[0]
    assert report is not None and report.entries > 0
    assert dialog.status.text().startswith(f"Imported {report.entries} entries")
    assert dialog.details.isVisible()
    assert entry_count(qtbot, window) == report.entries
    qtbot.waitUntil(lambda: window.journal.model.rowCount() == report.entries, timeout=5000)

    # the same file again: nothing twice, and the report says why
    with qtbot.waitSignal(dialog.finished_import, timeout=15000) as blocker:
        dialog.import_from("jrnl", JRNL)
    again = blocker.args[0]
    assert again.entries == 0 and again.duplicates == report.entries
    assert "already in the journal" in dialog.status.text()
    assert "already in the journal" in dialog.details.toPlainText()

    with qtbot.waitSignal(dialog.finished_import, timeout=15000) as blocker:
        dialog.import_from("dayone", DAYONE)
    dayone = blocker.args[0]
    assert dayone.entries >= 2 and dayone.attachments == 1
    assert "1 attachment" in dialog.status.text()
    assert dayone.skipped and all(s.reason in dialog.details.toPlainText() for s in dayone.skipped)
    dialog.reject()

    page = window.journal
    qtbot.waitUntil(lambda: any(r.title.startswith("Sunrise") for r in page.model.rows), timeout=5000)
    title = next(r.title for r in page.model.rows if r.title.startswith("Sunrise"))
    strip = page.editor.attachments
    with qtbot.waitSignal(strip.thumb_ready, timeout=10000):
        open_titled(qtbot, page, title)
    assert strip.isVisible() and strip.list.count() == 1
    assert strip.problems == {} and len(strip.thumbs) == 1
    assert max(next(iter(strip.thumbs.values())).width(), 1) <= att_ui.THUMB
    name = strip.list.item(0).data(Qt.ItemDataRole.AccessibleTextRole)
    assert "JPEG" in name


def test_cancelled_import_leaves_nothing(qtbot, unlocked, tmp_path, monkeypatch):
    window = unlocked
    big = tmp_path / "big.txt"
    start = date(2015, 1, 1)
    big.write_text(
        "".join(
            f"[{(start + timedelta(days=i)).isoformat()} 09:00] Day {i}.\nSome words @tag{i % 7}.\n\n"
            for i in range(2500)
        ),
        encoding="utf-8",
    )
    dialog = window.open_import()
    # cancel as the first batch of 2,000 is reported: the import is then mid-way through its transaction
    original = Task.report

    def report_then_cancel(self, done, total):
        original(self, done, total)
        if 0 < done < total:
            self.cancel()

    monkeypatch.setattr(Task, "report", report_then_cancel)
    with qtbot.waitSignal(dialog.finished_import, timeout=30000) as blocker:
        dialog.import_from("jrnl", big)
    assert blocker.args == [None]
    assert dialog.status.text() == "Import cancelled. Nothing was imported."
    assert entry_count(qtbot, window) == 0
    assert run_query(qtbot, window, lambda app: app.journal.tags()) == []

    # cancelled before it starts (the person pressed Cancel while the worker was busy)
    monkeypatch.setattr(Task, "report", original)
    window.ops.query_op(lambda app: time.sleep(0.3)).run()
    with qtbot.waitSignal(dialog.finished_import, timeout=15000) as blocker:
        dialog.import_from("jrnl", JRNL)
        dialog.op.task.cancel()
    assert blocker.args == [None]
    assert entry_count(qtbot, window) == 0
    dialog.reject()


def test_jrnl_json_and_companion_json_round_trip_through_the_dialogs(qtbot, make_window, tmp_path):
    first = make_window(tmp_path / "first")
    create_journal(qtbot, first)
    importer = first.open_import()
    with qtbot.waitSignal(importer.finished_import, timeout=15000) as blocker:
        importer.import_from("jrnl", FIXTURES / "jrnl" / "export.json")
    assert blocker.args[0].entries > 0
    with qtbot.waitSignal(importer.finished_import, timeout=15000) as blocker:
        importer.import_from("jrnl", JRNL)  # the same journal as plain text: nothing twice
    assert blocker.args[0].entries == 0
    with qtbot.waitSignal(importer.finished_import, timeout=15000) as blocker:
        importer.import_from("dayone", DAYONE)
    expected = entry_count(qtbot, first)
    importer.reject()
    exporter = first.open_export()
    click_in_next_modal(qtbot, "Write unencrypted copy")
    with qtbot.waitSignal(exporter.exported, timeout=15000) as blocker:
        exporter.export_to("json", tmp_path / "everything.json")
    assert blocker.args == [expected]
    click_in_next_modal(qtbot, "Write unencrypted copy")
    with qtbot.waitSignal(exporter.exported, timeout=15000) as blocker:
        exporter.export_to("markdown", tmp_path / "notes")
    assert blocker.args == [expected]
    exporter.reject()

    second = make_window(tmp_path / "second")
    create_journal(qtbot, second)
    importer = second.open_import()
    with qtbot.waitSignal(importer.finished_import, timeout=15000) as blocker:
        importer.import_from("companion", tmp_path / "everything.json")
    report = blocker.args[0]
    assert report.entries == expected and report.attachments == 1
    with qtbot.waitSignal(importer.finished_import, timeout=15000) as blocker:
        importer.import_from("markdown", tmp_path / "notes")  # the same entries (by uid): nothing twice
    assert blocker.args[0].entries == 0 and blocker.args[0].duplicates == expected
    importer.reject()


def test_locking_during_an_import_is_safe(qtbot, unlocked, tmp_path):
    window = unlocked
    big = tmp_path / "big.txt"
    start = date(2000, 1, 1)
    big.write_text(
        "".join(
            f"[{(start + timedelta(days=i)).isoformat()} 09:00] Day {i}.\nWords.\n\n" for i in range(3000)
        ),
        encoding="utf-8",
    )
    dialog = window.open_import()
    dialog.import_from("jrnl", big)
    qtbot.wait(100)
    window.lock()  # closes the dialog; the import finishes or is cancelled as one transaction
    wait_idle(qtbot, window)
    assert not window.companion.is_unlocked
    qtbot.keyClicks(window.unlock_screen.passphrase, PASSPHRASE)
    with qtbot.waitSignal(window.unlocked, timeout=15000):
        window.unlock_screen._submit()
    assert entry_count(qtbot, window) in (0, 3000)


def test_malformed_source_reports_where_and_imports_nothing(qtbot, unlocked, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("no date here\n[2021-01-01 10:00] later\n", encoding="utf-8")
    dialog = unlocked.open_import()
    with qtbot.waitSignal(dialog.finished_import, timeout=15000) as blocker:
        dialog.import_from("jrnl", bad)
    assert blocker.args == [None]
    assert "notes.txt" in dialog.status.text() and "Nothing was imported" in dialog.status.text()
    assert entry_count(qtbot, unlocked) == 0
    dialog.reject()


# -- attachments -------------------------------------------------------------------------------------------


def write_entry(qtbot, window, title="With a picture"):
    editor = window.journal.editor
    qtbot.keyClicks(editor.title, title)
    editor.body.setFocus()
    qtbot.keyClicks(editor.body, "The heron again.")
    qtbot.waitUntil(
        lambda: editor.save_state.text() == "Saved" and editor.entry_id is not None, timeout=10000
    )
    wait_idle(qtbot, window)
    return editor


def data_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_add_view_and_remove_an_attachment_in_the_editor(qtbot, unlocked, tmp_path):
    window = unlocked
    editor = window.journal.editor
    strip = editor.attachments
    assert not strip.isVisible()  # a new, unsaved entry has nowhere to attach yet
    editor = write_entry(qtbot, window)
    assert strip.isVisible() and strip.add_button.isEnabled()
    assert not strip.list.isVisible() and not strip.remove_button.isVisible()

    image = png_bytes(640, 480, "darkorange")
    source = tmp_path / "outside" / "heron.png"
    source.parent.mkdir()
    source.write_bytes(image)
    before = set(data_files(window.data_dir))
    with qtbot.waitSignal(strip.thumb_ready, timeout=10000):
        strip.add_file(source)
    wait_idle(qtbot, window)
    assert strip.list.count() == 1 and strip.list.isVisible()
    assert strip.thumbs[strip.items[0].id].width() == att_ui.THUMB  # 640x480 scaled into 96x96
    stored = run_query(qtbot, window, lambda app: app.transfer.attachments(editor.entry_id))
    assert [(a.name, a.media_type, a.size) for a in stored] == [("heron.png", "image/png", len(image))]
    assert run_query(qtbot, window, lambda app: app.transfer.attachment_data(stored[0].id)) == image
    after = data_files(window.data_dir)
    assert set(after) - before <= {"vault.db-wal", "vault.db-shm"}  # no image file, no thumbnail cache
    assert not any(image[:64] in blob or image[-64:] in blob for blob in after.values())  # never plaintext

    # view larger: decoded from memory, up to the viewer's size
    strip.list.setFocus()
    strip.view_current()  # what Enter on the list does
    viewer = strip.viewer
    with qtbot.waitSignal(viewer.shown_image, timeout=10000) as blocker:
        pass
    assert blocker.args == [True]
    assert viewer.image.width() == 640  # decoded whole (under the viewer's limit), shown fitted
    shown = viewer.picture.pixmap()
    assert 0 < shown.width() <= max(viewer.picture.width(), 640) and shown.height() <= 480
    viewer.reject()
    qtbot.waitUntil(lambda: strip.viewer is None)
    window.activateWindow()  # the offscreen platform does not hand activation back by itself
    qtbot.waitUntil(window.isActiveWindow)

    # remove with the keyboard: Delete on the list, then confirm
    strip.list.setFocus()
    click_in_next_modal(qtbot, "Yes")
    with qtbot.waitSignal(strip.loaded, timeout=10000) as blocker:
        qtbot.keyClick(strip.list, Qt.Key.Key_Delete)
    assert blocker.args == [0]
    assert run_query(qtbot, window, lambda app: app.transfer.attachments(editor.entry_id)) == []
    assert not strip.list.isVisible()


def test_lock_forgets_images_and_closes_the_viewer(qtbot, unlocked, tmp_path):
    window = unlocked
    editor = write_entry(qtbot, window)
    strip = editor.attachments
    (tmp_path / "a.png").write_bytes(png_bytes())
    with qtbot.waitSignal(strip.thumb_ready, timeout=10000):
        strip.add_file(tmp_path / "a.png")
    strip.view_current()
    viewer = strip.viewer
    qtbot.waitUntil(lambda: viewer.picture.pixmap() is not None and not viewer.picture.pixmap().isNull())
    window.lock()
    assert strip.list.count() == 0 and strip.items == [] and strip.thumbs == {}
    assert not strip.isVisible()
    qtbot.waitUntil(lambda: strip.viewer is None, timeout=5000)


def test_hostile_image_bytes_neither_crash_nor_freeze(qtbot, unlocked):
    window = unlocked
    editor = write_entry(qtbot, window, "Hostile")
    photo = PHOTO.read_bytes()
    truncated = photo[: len(photo) // 2]
    huge = huge_png()
    wide = huge_png(60_000, 10)  # a side over the limit, few pixels
    header_only = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
    gif_junk = b"GIF89a" + b"\xff" * 200
    entry_id = editor.entry_id

    def add_all(app):
        from companion.services import Changed, Changes

        for i, data in enumerate((truncated, huge, wide, header_only, gif_junk)):
            app.transfer.add_attachment(entry_id, data, name=f"bad{i}<img src='x.png'>")
        return Changed(None, Changes.ENTRIES)

    box = {}
    window.ops.collection_op(add_all).success(lambda _v: box.setdefault("ok", True)).run()
    qtbot.waitUntil(lambda: "ok" in box, timeout=10000)

    # each decode refuses before allocating (sizes come from the header) and returns fast
    for data, media in ((huge, "image/png"), (wide, "image/png"), (truncated, "image/jpeg")):
        started = time.monotonic()
        result = att_ui.decode_image(data, media, att_ui.VIEW_MAX)
        assert result.image is None or media == "image/jpeg"
        assert time.monotonic() - started < 2
    assert "too large" in att_ui.decode_image(huge, "image/png", 96).problem
    assert "100,000" in att_ui.decode_image(huge, "image/png", 96).problem
    assert att_ui.decode_image(b"<svg/>", "image/svg+xml", 96).problem  # never handed to a guessing decoder
    assert att_ui.decode_image(b"\x00\x00\x00\x18ftypheic", "image/heic", 96).image is None

    # through the editor: the GUI keeps ticking while the strip loads them
    strip = editor.attachments
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    strip.set_entry(None)
    strip.set_entry(entry_id)
    qtbot.waitUntil(
        lambda: strip.list.count() == 5 and len(strip.problems) + len(strip.thumbs) == 5, timeout=15000
    )
    timer.stop()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert not gaps or max(gaps) < 1.0
    names = {a.id: a.name.split("<")[0] for a in strip.items}
    assert all("<img" not in strip.list.item(i).toolTip() for i in range(5))  # names are shown literally
    problems = {names[i]: p for i, p in strip.problems.items()}
    assert "too large" in problems["bad1"] and "too large" in problems["bad2"]
    assert "damaged" in problems["bad3"] and "damaged" in problems["bad4"]

    # the viewer shows a reason instead of a picture
    strip.list.setCurrentRow(1)
    strip.view_current()
    with qtbot.waitSignal(strip.viewer.shown_image, timeout=10000) as blocker:
        pass
    assert blocker.args == [False] and "too large" in strip.viewer.picture.text()
    strip.viewer.reject()


# -- export ------------------------------------------------------------------------------------------------


def test_export_warns_before_writing_and_pdf_takes_a_date_range(qtbot, unlocked, tmp_path):
    window = unlocked
    seed(
        qtbot,
        window,
        [
            ("In March.", "March", [], None, day("2024-03-10T12:00")),
            ("In April.", "April", [], None, day("2024-04-02T12:00")),
            ("In May.", "May", [], None, day("2024-05-20T12:00")),
        ],
    )
    dialog = window.open_export()

    # declining the warning writes nothing
    warning = {}
    click_in_next_modal(qtbot, "Cancel", warning)
    with qtbot.waitSignal(dialog.exported, timeout=10000) as blocker:
        dialog.export_to("json", tmp_path / "declined.json")
    assert blocker.args == [-1]
    assert "WITHOUT encryption" in warning["text"] and str(tmp_path / "declined.json") in warning["text"]
    assert not (tmp_path / "declined.json").exists()

    click_in_next_modal(qtbot, "Write unencrypted copy")
    with qtbot.waitSignal(dialog.exported, timeout=10000) as blocker:
        dialog.export_to("json", tmp_path / "all.json")
    assert blocker.args == [3]
    assert '"March"' in (tmp_path / "all.json").read_text()

    dialog.ranged.setChecked(True)
    dialog.date_from.setDate(date(2024, 4, 1))
    dialog.date_to.setDate(date(2024, 5, 31))
    click_in_next_modal(qtbot, "Write unencrypted copy")
    with qtbot.waitSignal(dialog.exported, timeout=30000) as blocker:
        dialog.export_to("pdf", tmp_path / "journal.pdf")
    assert blocker.args == [2]
    pdf = (tmp_path / "journal.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"%%EOF" in pdf[-64:]
    assert "Exported 2 entries" in dialog.status.text()

    click_in_next_modal(qtbot, "Write unencrypted copy")
    with qtbot.waitSignal(dialog.exported, timeout=10000) as blocker:
        dialog.export_to("markdown", tmp_path / "notes")
    assert blocker.args == [2]
    assert len(list((tmp_path / "notes").glob("*.md"))) == 2
    assert (tmp_path / "notes").stat().st_mode & 0o077 == 0
    dialog.reject()


def test_settings_export_opens_the_one_export_dialog(qtbot, unlocked):
    from companion.ui.export_dialog import ExportDialog

    settings = unlocked.open_settings()
    settings.export_button.click()
    qtbot.waitUntil(lambda: any(isinstance(w, ExportDialog) and w.isVisible() for w in settings.children()))
    settings.reject()


# -- backup ------------------------------------------------------------------------------------------------


def test_back_up_now_asks_once_for_the_passphrase_and_writes_a_verifiable_backup(qtbot, unlocked, tmp_path):
    window = unlocked
    seed(qtbot, window, [("Keep me safe.", "Backed up", ["b"], 3, None)])
    dialog = window.open_backup()
    qtbot.waitUntil(dialog.start_button.isEnabled, timeout=5000)
    assert dialog.needs_passphrase and dialog.passphrase.isVisible()

    dialog.backup_to(tmp_path / "x.cbackup", "")
    assert "Enter your journal's passphrase" in dialog.status.text()
    with qtbot.waitSignal(dialog.backed_up, timeout=15000) as blocker:
        dialog.backup_to(tmp_path / "wrong.cbackup", "not the passphrase")
    assert blocker.args == [None] and "not the journal's current passphrase" in dialog.status.text()
    assert not (tmp_path / "wrong.cbackup").exists()

    qtbot.keyClicks(dialog.passphrase, PASSPHRASE)
    dialog.path.setText(str(tmp_path / "now.cbackup"))
    with qtbot.waitSignal(dialog.backed_up, timeout=15000) as blocker:
        dialog.start_button.click()
    info = blocker.args[0]
    assert info is not None and info.path == tmp_path / "now.cbackup"
    assert dialog.passphrase.text() == "" and not dialog.passphrase.isVisible()
    assert verify(tmp_path / "now.cbackup", PASSPHRASE).size == info.size
    dialog.reject()

    # the derived key stays for the session: the next backup needs no passphrase
    dialog = window.open_backup()
    qtbot.waitUntil(dialog.start_button.isEnabled, timeout=5000)
    assert not dialog.needs_passphrase
    with qtbot.waitSignal(dialog.backed_up, timeout=15000) as blocker:
        dialog.backup_to(tmp_path / "again.cbackup")
    assert blocker.args[0] is not None
    verify(tmp_path / "again.cbackup", PASSPHRASE)
    dialog.reject()
    window.lock()
    wait_idle(qtbot, window)
    assert not window.companion.is_unlocked  # the key went with the lock (services closed)


def test_automatic_backups_keep_the_last_n_and_run_on_lock(qtbot, make_window, tmp_path):
    window = make_window()
    create_journal(qtbot, window)
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "my-notes.txt").write_text("not a backup")
    window.settings.backup_enabled = True
    window.settings.backup_folder = str(folder)
    window.settings.backup_keep = 2
    backups = window.backups

    # no key yet in this session (created, not unlocked): the schedule says so once and writes nothing
    with qtbot.waitSignal(backups.finished, timeout=10000) as blocker:
        backups.check()
    assert blocker.args[0][0] == "no key"
    assert "passphrase" in window.statusBar().currentMessage()

    # unlocking with automatic backups on derives the key in the unlock op
    window.lock()
    qtbot.keyClicks(window.unlock_screen.passphrase, PASSPHRASE)
    with qtbot.waitSignal(window.unlocked, timeout=15000):
        window.unlock_screen._submit()
    assert run_query(qtbot, window, lambda app: app.transfer.has_backup_key)
    assert backups.timer.isActive() and backups.first.isActive()
    backups.first.stop()  # the test drives the checks itself

    written = []
    backups.interval = timedelta(0)  # every check is due
    for _ in range(3):
        with qtbot.waitSignal(backups.finished, timeout=15000) as blocker:
            backups.check()
        assert blocker.args[0][0] == "done", blocker.args
        written.append(blocker.args[0][1].path)
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 3 and "my-notes.txt" in names  # 2 backups + the person's own file
    assert {written[1].name, written[2].name} <= set(names) and written[0].name not in names
    verify(written[2], PASSPHRASE)

    backups.interval = timedelta(days=1)
    with qtbot.waitSignal(backups.finished, timeout=10000) as blocker:
        backups.check()
    assert blocker.args[0][0] == "not due"

    backups.interval = timedelta(0)
    with qtbot.waitSignal(backups.finished, timeout=15000) as blocker:
        window.lock()  # due: written before the vault closes
    assert blocker.args[0][0] == "done"
    wait_idle(qtbot, window)
    assert not window.companion.is_unlocked and not backups.timer.isActive()
    newest = blocker.args[0][1].path
    assert newest.exists() and len([p for p in folder.iterdir() if p.suffix == ".cbackup"]) == 2
    verify(newest, PASSPHRASE)


def test_changing_the_passphrase_renews_the_backup_key(qtbot, unlocked, tmp_path):
    window = unlocked
    folder = tmp_path / "auto"
    window.settings.backup_enabled, window.settings.backup_folder = True, str(folder)
    dialog = window.open_backup()
    qtbot.waitUntil(dialog.start_button.isEnabled, timeout=5000)
    with qtbot.waitSignal(dialog.backed_up, timeout=15000):
        dialog.backup_to(tmp_path / "old.cbackup", PASSPHRASE)
    dialog.reject()
    settings = window.open_settings()
    settings.current.setText(PASSPHRASE)
    settings.new.setText("a brand new passphrase")
    settings.repeat.setText("a brand new passphrase")
    settings.change.click()
    qtbot.waitUntil(lambda: "changed" in settings.change_status.text(), timeout=20000)
    settings.reject()
    window.backups.interval = timedelta(0)
    with qtbot.waitSignal(window.backups.finished, timeout=15000) as blocker:
        window.backups.check()
    assert blocker.args[0][0] == "done"
    verify(blocker.args[0][1].path, "a brand new passphrase")
    from companion.errors import CompanionError

    with pytest.raises(CompanionError):
        verify(blocker.args[0][1].path, PASSPHRASE)


def test_automatic_backup_settings_are_saved_without_content(qtbot, unlocked, tmp_path):
    dialog = unlocked.open_settings()
    group = dialog.backup
    group.enabled.setChecked(True)
    group.set_folder(str(tmp_path / "bk"))
    group.keep.setValue(5)
    saved = (unlocked.data_dir / "ui-settings.json").read_text()
    assert '"backup_enabled": true' in saved and '"backup_keep": 5' in saved and "bk" in saved
    qtbot.waitUntil(lambda: "Last automatic backup" in group.last.text(), timeout=5000)
    missing = [type(w).__name__ for w in interactive_widgets(dialog) if not w.accessibleName().strip()]
    assert missing == []
    dialog.reject()


# -- accessibility -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("opener", ["open_import", "open_export", "open_backup"])
def test_transfer_dialogs_name_every_control(qtbot, unlocked, opener):
    dialog = getattr(unlocked, opener)()
    wait_idle(qtbot, unlocked)
    missing = [f"{type(w).__name__}" for w in interactive_widgets(dialog) if not w.accessibleName().strip()]
    described = [w for w in interactive_widgets(dialog) if w.accessibleDescription().strip()]
    assert missing == []
    assert len(described) >= 0.6 * len(list(interactive_widgets(dialog)))
    dialog.reject()


def test_editor_with_images_names_every_control_and_menu_lists_the_actions(qtbot, unlocked, tmp_path):
    window = unlocked
    editor = write_entry(qtbot, window)
    (tmp_path / "a.png").write_bytes(png_bytes())
    with qtbot.waitSignal(editor.attachments.thumb_ready, timeout=10000):
        editor.attachments.add_file(tmp_path / "a.png")
    missing = [f"{type(w).__name__}" for w in interactive_widgets(window) if not w.accessibleName().strip()]
    assert missing == []
    rows = dict((what, keys) for keys, what in window.shortcut_rows())
    assert rows["File → Import"] == "Ctrl+Shift+I" and rows["File → Export"] == "Ctrl+Shift+X"
    assert "File → Back up now" in rows


def test_restore_from_the_first_run_screen_then_unlock(qtbot, make_window, tmp_path):
    """A new data folder: Restore from a backup… checks the file (a wrong passphrase and a damaged file are
    refused with their reason and write nothing), restores, and opens the journal with the backup's passphrase."""
    from companion.services import Companion
    from companion.vault.header import FLOOR

    source = Companion(tmp_path / "old")
    source.create("the old passphrase", params=FLOOR)
    source.journal.add_entry("RESTOREDMARKER words from before", title="Before the move")
    source.transfer.backup(tmp_path / "old.cbackup", passphrase="the old passphrase")
    source.lock()

    data = tmp_path / "fresh"
    window = make_window(data)
    assert window.stack.currentWidget() is window.create_screen
    screen = window.create_screen
    assert screen.restore.isVisible() and screen.restore.accessibleName() == "Restore from a backup"
    qtbot.mouseClick(screen.restore, qtbot_button())
    from companion.ui.backup_ui import RestoreDialog

    dialog = next(d for d in window.findChildren(RestoreDialog) if d.isVisible())
    assert not dialog.start_button.isEnabled()

    dialog.path.setText(str(tmp_path / "old.cbackup"))
    qtbot.keyClicks(dialog.passphrase, "not it")
    qtbot.mouseClick(dialog.start_button, qtbot_button())
    qtbot.waitUntil(lambda: "does not open" in dialog.status.text(), timeout=15000)
    assert not data.exists() or not any(p.name.startswith("vault") for p in data.iterdir())

    damaged = bytearray((tmp_path / "old.cbackup").read_bytes())
    damaged[len(damaged) // 2] ^= 0x40
    (tmp_path / "damaged.cbackup").write_bytes(bytes(damaged))
    dialog.path.setText(str(tmp_path / "damaged.cbackup"))
    dialog.passphrase.clear()
    qtbot.keyClicks(dialog.passphrase, "the old passphrase")
    qtbot.mouseClick(dialog.start_button, qtbot_button())
    qtbot.waitUntil(lambda: "integrity check" in dialog.status.text(), timeout=15000)
    assert not data.exists() or not any(p.name.startswith("vault") for p in data.iterdir())

    dialog.path.setText(str(tmp_path / "old.cbackup"))
    with qtbot.waitSignal(window.unlocked, timeout=20000):
        qtbot.mouseClick(dialog.start_button, qtbot_button())
    wait_idle(qtbot, window)
    assert window.state == "main"
    assert "restored" in window.statusBar().currentMessage().lower()
    found = run_query(qtbot, window, lambda app: app.journal.search("RESTOREDMARKER"))
    assert [e.title for e in found] == ["Before the move"]
