"""The Meetings page: meetings, the attendance checklist, check-ins, the report dialog, locking (real vaults)."""

import csv
from datetime import date, datetime

from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox

from companion.attendance.store import CheckIn
from companion.services import Changed, Changes
from tests.ui.conftest import PASSPHRASE, run_query, wait_idle
from tests.ui.test_privacy_a11y import interactive_widgets

NAMES = ("Robin", "Alex", "Sam", "Jo")


def meetings_page(window):
    page = next(p for p in window.pages if p.key == "meetings")
    window.show_page(window.pages.index(page))
    return page


def mutate(qtbot, window, fn):
    """Run ``fn(app)`` on the vault worker as a change (the page hears about it like any other change)."""
    box = {}

    def op(app):
        return Changed(fn(app), Changes.MEETINGS)

    window.ops.collection_op(op).success(lambda v: box.setdefault("value", v)).failure(
        lambda exc: box.setdefault("error", exc)
    ).run()
    qtbot.waitUntil(lambda: bool(box), timeout=10000)
    if "error" in box:
        raise box["error"]
    wait_idle(qtbot, window)
    return box["value"]


def checklist_state(page):
    out = {}
    for row in range(page.checklist.count()):
        item = page.checklist.item(row)
        if item.data(Qt.ItemDataRole.UserRole):
            out[item.text()] = item.checkState() == Qt.CheckState.Checked
    return out


def check_row(qtbot, page, text):
    """Toggle a person's check box from the keyboard (Space on the selected row)."""
    row = next(r for r in range(page.checklist.count()) if page.checklist.item(r).text() == text)
    page.checklist.setFocus()
    page.checklist.setCurrentRow(row)
    qtbot.keyClick(page.checklist.viewport(), Qt.Key.Key_Space)


def attendee_names(qtbot, window, meeting_id):
    return sorted(a.person.name for a in run_query(qtbot, window, lambda app: app.attendance.attendees(meeting_id)))


def save_dialog(qtbot, dialog):
    button = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_add_mark_edit_and_delete_a_meeting(qtbot, unlocked):
    window = unlocked
    page = meetings_page(window)
    mutate(qtbot, window, lambda app: app.attendance.add_person("Alex"))
    qtbot.waitUntil(lambda: "No meetings yet" in page.list_label.text())

    # add a meeting through the dialog
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    dialog = page.meeting_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.when.setDateTime(QDateTime(QDate(2025, 3, 4), QTime(18, 30)))
    dialog.format.setCurrentIndex(dialog.format.findData("online"))
    dialog.minutes.setValue(75)
    qtbot.keyClicks(dialog.topic, "Sleep & <b>rest</b>")
    save_dialog(qtbot, dialog)
    qtbot.waitUntil(lambda: page.list.count() == 1 and page.meeting_id is not None)
    wait_idle(qtbot, window)
    meeting_id = page.meeting_id
    item = page.list.item(0)
    assert "Tue 4 Mar 2025, 18:30" in item.text() and "Online" in item.text() and "75 min" in item.text()
    assert "<b>rest</b>" in page.detail.text() and page.detail.textFormat() == Qt.TextFormat.PlainText
    assert not page.announce_box.isVisibleTo(page)  # a meeting without a circle has nobody to announce to

    # the calendar moved to the meeting's month and marks its day
    qtbot.waitUntil(lambda: page.calendar.marks == {date(2025, 3, 4): 1})
    assert (page.calendar.yearShown(), page.calendar.monthShown()) == (2025, 3)

    # mark attendance: someone from the people list, and someone new added inline
    qtbot.waitUntil(lambda: checklist_state(page) == {"Alex": False})
    check_row(qtbot, page, "Alex")
    page.new_person.setFocus()
    qtbot.keyClicks(page.new_person, "Robin")
    qtbot.keyClick(page.new_person, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: checklist_state(page) == {"Alex": True, "Robin": True})
    assert page.new_person.text() == ""
    assert attendee_names(qtbot, window, meeting_id) == ["Alex", "Robin"]
    qtbot.waitUntil(lambda: "2 came" in page.list.item(0).text())

    # unchecking removes the mark
    check_row(qtbot, page, "Alex")
    qtbot.waitUntil(lambda: checklist_state(page) == {"Alex": False, "Robin": True})
    assert attendee_names(qtbot, window, meeting_id) == ["Robin"]

    # choosing the day in the calendar selects its meeting
    page.list.setCurrentRow(-1)
    qtbot.waitUntil(lambda: page.meeting_id is None)
    page.calendar.setSelectedDate(QDate(2025, 3, 4))
    page.calendar.activated.emit(QDate(2025, 3, 4))
    qtbot.waitUntil(lambda: page.meeting_id == meeting_id and bool(checklist_state(page)))

    # edit it
    qtbot.mouseClick(page.edit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.meeting_dialog is not None and page.meeting_dialog.meeting_id == meeting_id)
    dialog = page.meeting_dialog
    assert dialog.minutes.value() == 75 and dialog.topic.text() == "Sleep & <b>rest</b>"
    dialog.minutes.setValue(120)
    dialog.format.setCurrentIndex(dialog.format.findData("in_person"))
    dialog.topic.clear()
    qtbot.keyClicks(dialog.topic, "Boundaries")
    save_dialog(qtbot, dialog)
    qtbot.waitUntil(lambda: page.list.count() == 1 and "120 min" in page.list.item(0).text())
    assert "In person" in page.list.item(0).text() and "Boundaries" in page.list.item(0).text()
    meeting = run_query(qtbot, window, lambda app: app.attendance.get_meeting(meeting_id))
    assert (meeting.minutes, meeting.format, meeting.topic) == (120, "in_person", "Boundaries")
    assert attendee_names(qtbot, window, meeting_id) == ["Robin"]  # marks survive an edit

    # delete it (confirming the question)
    def confirm():
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        box.button(QMessageBox.StandardButton.Yes).click()

    QTimer.singleShot(100, confirm)
    qtbot.mouseClick(page.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.list.count() == 0)
    qtbot.waitUntil(lambda: page.calendar.marks == {})
    assert page.meeting_id is None and not page.edit_button.isEnabled()
    assert run_query(qtbot, window, lambda app: app.attendance.meetings()) == []


def test_keyboard_shortcut_opens_a_new_meeting_and_escape_closes_it(qtbot, unlocked):
    window = unlocked
    page = meetings_page(window)
    window.journal.search.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: page.meeting_dialog is not None and page.meeting_dialog.isVisible())
    dialog = page.meeting_dialog
    assert window.pages_stack.currentWidget() is page
    assert dialog.focusWidget() is not None
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: page.meeting_dialog is None)
    assert run_query(qtbot, window, lambda app: app.attendance.meetings()) == []
    rows = dict(window.shortcut_rows())
    assert rows["Ctrl+Shift+M"].endswith("New meeting") and rows["Ctrl+Shift+R"].endswith("Attendance report")


def test_closing_the_report_while_a_preview_is_on_its_way(qtbot, unlocked):
    window = unlocked
    page = meetings_page(window)
    mutate(qtbot, window, four_person_circle)
    dialog = page.open_export()
    dialog.refresh()
    dialog.reject()
    wait_idle(qtbot, window)
    qtbot.wait(50)
    assert page.export_dialog is None
    # destroyed with its parent while a preview is on its way: the result is dropped too
    import shiboken6
    from PySide6.QtWidgets import QWidget

    from companion.ui.attendance_export import ExportDialog

    holder = QWidget()
    orphan = ExportDialog(window.ops, holder)
    orphan.refresh()
    shiboken6.delete(holder)
    wait_idle(qtbot, window)
    qtbot.wait(50)
    assert not shiboken6.isValid(orphan)


def four_person_circle(app):
    """A circle of four who came to every in-person meeting in March 2025."""
    ids = []
    for day in (4, 11, 18, 25):
        meeting = app.attendance.add_meeting(
            datetime(2025, 3, day, 18, 0).astimezone(), "in_person", 90, topic="Weekly circle"
        ).value
        app.attendance.attend(meeting.id, NAMES)
        ids.append(meeting.id)
    return ids


def open_report(qtbot, page):
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    dialog = page.export_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.report is not None and dialog.profile_help.text() != "")
    return dialog


def set_period(qtbot, dialog, kind, first, last):
    dialog.kind.setCurrentIndex(dialog.kind.findData(kind))
    dialog.first.setDate(QDate(first))
    dialog.last.setDate(QDate(last))
    dialog.refresh()
    qtbot.waitUntil(dialog.is_current)
    assert dialog.report is not None


def test_report_preview_marks_suppressed_cells_and_export_writes_no_names(qtbot, unlocked, tmp_path):
    window = unlocked
    page = meetings_page(window)
    mutate(qtbot, window, four_person_circle)
    dialog = open_report(qtbot, page)
    set_period(qtbot, dialog, "month", date(2025, 3, 1), date(2025, 3, 1))
    assert dialog.report.labels == ("2025-03",)

    # the preview: every person count of the circle's rows is hidden, marked and shaded
    table = dialog.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["Period", "Format", "Sessions", "Hours", "Attendances", "People", "New", "Returning"]
    rows = {table.item(r, 1).text(): r for r in range(table.rowCount())}
    assert set(rows) == {"In person", "Online", "One-to-one", "All formats"}
    hidden = {(r, c) for r, c, _ in dialog.hidden_cells()}
    for fmt in ("In person", "All formats"):
        for col in range(4, 8):  # attendances, people, new, returning
            item = table.item(rows[fmt], col)
            assert (rows[fmt], col) in hidden, (fmt, headers[col], item.text())
            assert item.text() == "<11" or item.text() == "x"
            assert "hidden" in item.data(Qt.ItemDataRole.AccessibleTextRole)
            assert item.background().color().name() != table.palette().base().color().name()
    for r in range(table.rowCount()):  # nowhere is a person count shown as a number other than 0
        for col in range(4, 8):
            text = table.item(r, col).text()
            assert text in ("0", "<11", "x"), text
    assert len(hidden) == len(dialog.report.hidden())
    assert "“<11” stands for 1 to 10" in dialog.legend.text() and "“*” for 1 to 7" in dialog.legend.text()
    assert "rounded to the nearest 5" in dialog.legend.text()
    assert "overlaps one released before" in dialog.rules.text() and "same numbers" in dialog.rules.text()
    assert "no names" in dialog.no_names.text()
    assert dialog.export_button.isEnabled()

    # export: a CSV with counts only
    out = tmp_path / "march.csv"
    dialog.export_to(out)
    qtbot.waitUntil(lambda: dialog.result.text().startswith("Saved"), timeout=10000)
    text = out.read_text(encoding="utf-8")
    parsed = list(csv.reader(text.splitlines()))
    assert parsed[0][:3] == ["period", "format", "profile"]
    assert {row[1] for row in parsed[1:]} == {"in_person", "online", "one_to_one", "all"}
    for secret in (*NAMES, "Weekly circle", "2025-03-04", "18:00"):
        assert secret.lower() not in text.lower()
    assert "no names" in dialog.result.text()
    qtbot.waitUntil(lambda: "Released before" in dialog.state.text())

    # the quarter that holds March overlaps it: the preview says so, Export is off, and forcing it writes nothing
    set_period(qtbot, dialog, "quarter", date(2025, 1, 1), date(2025, 3, 1))
    assert dialog.report.labels == ("2025-Q1",)
    assert dialog.report.blocked
    assert "cannot be exported" in dialog.state.text() and dialog.report.blocked in dialog.state.text()
    assert "2025-03" in dialog.state.text()
    assert not dialog.export_button.isEnabled()
    refused = tmp_path / "q1.csv"
    dialog.export_to(refused)
    qtbot.waitUntil(lambda: dialog.result.text().startswith("Nothing was written"), timeout=10000)
    assert dialog.report.blocked.split(".")[0] in dialog.result.text()
    assert not refused.exists()
    releases = run_query(qtbot, window, lambda app: [r.period_label for r in app.attendance.releases()])
    assert releases == ["2025-03"]


def test_differential_privacy_option_follows_the_service(qtbot, unlocked):
    window = unlocked
    page = meetings_page(window)
    mutate(qtbot, window, four_person_circle)
    dialog = open_report(qtbot, page)
    available = run_query(qtbot, window, lambda app: app.attendance.dp_available())
    assert dialog.use_dp.isEnabled() == available
    profiles = run_query(qtbot, window, lambda app: app.attendance.profiles())
    assert [dialog.profile.itemData(i) for i in range(dialog.profile.count())] == [p for p, _ in profiles]
    assert dialog.profile_help.text() == profiles[0][1]
    if not available:
        assert "pip install 'companion[dp]'" in dialog.dp_help.text()
        return
    dialog._options_loaded((profiles, False))  # what a machine without the extra shows
    assert not dialog.use_dp.isEnabled() and "pip install 'companion[dp]'" in dialog.dp_help.text()
    dialog._options_loaded((profiles, True))
    assert "budget" in dialog.dp_help.text()
    dialog.use_dp.setChecked(True)
    assert dialog.epsilon.isEnabled() and not dialog.profile.isEnabled()
    set_period(qtbot, dialog, "month", date(2025, 3, 1), date(2025, 3, 1))
    qtbot.waitUntil(lambda: bool(dialog.report.pending))
    texts = {dialog.table.item(r, c).text() for r in range(dialog.table.rowCount()) for c in range(4, 8)}
    assert texts == {"noise"}
    assert "drawn when you export" in dialog.state.text()


def test_pending_check_in_is_confirmed_or_declined(qtbot, unlocked):
    window = unlocked
    page = meetings_page(window)

    def seed(app):
        meeting = app.attendance.add_meeting(datetime(2025, 5, 6, 19, 0).astimezone(), "online", 60).value
        for n, name in enumerate(("Kit", "Lee")):
            app.attendance.record_check_in(
                CheckIn(f"{n:032x}", meeting.uid, f"member-{n}", datetime(2025, 5, 6, 19, 5).astimezone(), None, name)
            )
        return meeting.id

    meeting_id = mutate(qtbot, window, seed)
    qtbot.waitUntil(lambda: page.check_ins.count() == 2)
    assert page.check_ins_box.isVisibleTo(page)
    assert page.check_ins.item(0).text().startswith("Kit checked in to Tue 6 May 2025, 19:00")
    page.check_ins.setCurrentRow(0)
    qtbot.mouseClick(page.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.check_ins.count() == 1)
    page.check_ins.setCurrentRow(0)
    qtbot.mouseClick(page.decline_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.check_ins.count() == 0 and not page.check_ins_box.isVisibleTo(page))
    assert attendee_names(qtbot, window, meeting_id) == ["Kit"]
    page.select_meeting(meeting_id)
    qtbot.waitUntil(lambda: checklist_state(page) == {"Kit  (circle member)": True})


def test_lock_clears_every_content_widget_on_the_page(qtbot, unlocked, tmp_path):
    window = unlocked
    page = meetings_page(window)
    ids = mutate(qtbot, window, four_person_circle)

    def seed_check_in(app):
        meeting = app.attendance.get_meeting(ids[0])
        app.attendance.record_check_in(
            CheckIn("ab" * 16, meeting.uid, "member-9", datetime(2025, 3, 4, 18, 1).astimezone(), None, "Secret Kit")
        )

    mutate(qtbot, window, seed_check_in)
    page.calendar.setCurrentPage(2025, 3)
    page.select_meeting(ids[0])
    qtbot.waitUntil(lambda: len(checklist_state(page)) == 4 and page.check_ins.count() == 1)
    qtbot.waitUntil(lambda: bool(page.calendar.marks))
    qtbot.keyClicks(page.new_person, "Secret Person")
    dialog = open_report(qtbot, page)
    set_period(qtbot, dialog, "month", date(2025, 3, 1), date(2025, 3, 1))
    assert dialog.table.rowCount() == 4
    report_dialog = dialog
    qtbot.mouseClick(page.edit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.meeting_dialog is not None and page.meeting_dialog.topic.text() != "")
    meeting_dialog = page.meeting_dialog
    meeting_dialog.notes.setPlainText("Secret notes")
    assert page.list.count() == 4 and "Weekly circle" in page.detail.text()

    window.lock()
    assert page.list.count() == 0
    assert page.checklist.count() == 0
    assert page.check_ins.count() == 0 and not page.check_ins_box.isVisibleTo(page)
    assert page.calendar.marks == {}
    assert page.detail.text() == "Select a meeting, or add one." and page.detail_notes.text() == ""
    assert page.list_label.text() == "" and page.new_person.text() == "" and page.announce_state.text() == ""
    assert page.meeting_id is None and page.meeting_dialog is None and page.export_dialog is None
    assert not report_dialog.isVisible() and report_dialog.table.rowCount() == 0
    assert report_dialog.state.text() == "" and report_dialog.report is None
    assert not meeting_dialog.isVisible()
    assert meeting_dialog.topic.text() == "" and meeting_dialog.notes.toPlainText() == ""
    assert not meeting_dialog.notes.document().isUndoAvailable()
    wait_idle(qtbot, window)
    # nothing read before the lock reaches the page afterwards
    assert page.list.count() == 0 and page.checklist.count() == 0 and page.calendar.marks == {}
    # unlocking loads the page again
    qtbot.keyClicks(window.unlock_screen.passphrase, PASSPHRASE)
    with qtbot.waitSignal(window.unlocked, timeout=15000):
        qtbot.keyClick(window.unlock_screen.passphrase, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.list.count() == 4 and page.check_ins.count() == 1)


def test_meeting_and_report_dialogs_name_every_control(qtbot, unlocked):
    window = unlocked
    page = meetings_page(window)
    missing = [type(w).__name__ for w in interactive_widgets(window) if not w.accessibleName().strip()]
    assert missing == []
    page.new_meeting()
    dialog = page.meeting_dialog
    missing = [type(w).__name__ for w in interactive_widgets(dialog) if not w.accessibleName().strip()]
    undescribed = [w.accessibleName() for w in interactive_widgets(dialog) if not w.accessibleDescription().strip()]
    dialog.reject()
    assert missing == [] and undescribed == []
    report = open_report(qtbot, page)
    missing = [type(w).__name__ for w in interactive_widgets(report) if not w.accessibleName().strip()]
    report.reject()
    assert missing == []


def test_tab_walks_the_page_in_reading_order(qtbot, unlocked):
    window = unlocked
    page = meetings_page(window)
    page.new_button.setFocus()
    qtbot.waitUntil(page.new_button.hasFocus)
    seen = []
    for _ in range(4):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        seen.append(QApplication.focusWidget())
    assert seen[0] is page.export_button
    assert seen[1] is page.calendar or page.calendar.isAncestorOf(seen[1])
    assert page.list in seen[2:]


def circle_with_ben(qtbot, window, tmp_path):
    """The window's journal (Ana) creates a circle over a shared folder; Ben, a second real vault, joins."""
    from companion.services import Companion
    from companion.vault.header import FLOOR

    shared = tmp_path / "shared"
    shared.mkdir()
    ben = Companion(tmp_path / "ben")
    ben.create("pw", params=FLOOR)

    def create(app):
        cid = app.circles.create_circle("Tuesday group", folder=shared, display_name="Ana").value.id
        return cid, app.circles.invite(cid).value.code

    cid, code = mutate(qtbot, window, create)
    ben.circles.join(code, display_name="Ben")
    ben.circles.sync()
    mutate(qtbot, window, lambda app: app.circles.sync())
    ben.circles.sync()
    return cid, ben


def test_circle_meeting_offers_the_circles_members(qtbot, unlocked, tmp_path):
    window = unlocked
    page = meetings_page(window)
    cid, ben = circle_with_ben(qtbot, window, tmp_path)
    ben_id = ben.circles.identity().member_id
    ben.lock()

    # the meeting dialog offers the circle
    page.new_meeting()
    dialog = page.meeting_dialog
    qtbot.waitUntil(lambda: dialog.circle.findData(cid) > 0)
    assert dialog.circle.itemText(dialog.circle.findData(cid)) == "Tuesday group"
    dialog.circle.setCurrentIndex(dialog.circle.findData(cid))
    dialog.when.setDateTime(QDateTime(QDate(2025, 6, 3), QTime(18, 0)))
    save_dialog(qtbot, dialog)
    qtbot.waitUntil(lambda: page.meeting_id is not None and page.checklist.count() > 0)

    # Ben is offered (not Ana herself); checking him adds him with his member id and marks him
    qtbot.waitUntil(lambda: checklist_state(page) == {"Ben  (circle member, not in your list yet)": False})
    check_row(qtbot, page, "Ben  (circle member, not in your list yet)")
    qtbot.waitUntil(lambda: checklist_state(page) == {"Ben  (circle member)": True})
    people = run_query(qtbot, window, lambda app: app.attendance.people())
    assert [(p.name, p.member_id) for p in people] == [("Ben", ben_id)]
    assert attendee_names(qtbot, window, page.meeting_id) == ["Ben"]


def test_pdf_export_runs_on_the_worker_and_holds_no_names(qtbot, unlocked, tmp_path):
    from pypdf import PdfReader

    window = unlocked
    page = meetings_page(window)
    mutate(qtbot, window, four_person_circle)
    dialog = open_report(qtbot, page)
    dialog.profile.setCurrentIndex(dialog.profile.findData("nhs"))
    dialog.fmt.setCurrentIndex(dialog.fmt.findData("pdf"))
    set_period(qtbot, dialog, "quarter", date(2025, 1, 1), date(2025, 3, 31))
    assert dialog.report.labels == ("2025-Q1",) and not dialog.report.blocked
    assert {text for _r, _c, text in dialog.hidden_cells()} == {"*"}
    dialog.export_to(tmp_path / "q1")  # the format's extension is added
    qtbot.waitUntil(lambda: dialog.result.text().startswith("Saved q1.pdf"), timeout=15000)
    data = (tmp_path / "q1.pdf").read_bytes()
    assert data.startswith(b"%PDF")
    text = " ".join(" ".join(sheet.extract_text() for sheet in PdfReader(tmp_path / "q1.pdf").pages).split())
    assert "Attendance summary" in text and "2025-Q1" in text
    for secret in (*NAMES, "Weekly circle"):
        assert secret not in text


def answer_modal(callback, delay=100):
    """Answer the next modal dialog (a question or a text input) the way a person would."""

    def act():
        widget = QApplication.activeModalWidget()
        if widget is None:
            QTimer.singleShot(30, act)
            return
        try:
            callback(widget)
        finally:
            if widget.isVisible():  # a failed check must not leave the test waiting on a modal dialog
                widget.reject()

    QTimer.singleShot(delay, act)


def test_rename_and_forget_a_person(qtbot, unlocked):
    from companion.ui.meetings_page import RenameDialog

    window = unlocked
    page = meetings_page(window)
    ids = mutate(qtbot, window, four_person_circle)
    page.select_meeting(ids[0])
    qtbot.waitUntil(lambda: len(checklist_state(page)) == 4)

    def rename(dialog):
        assert isinstance(dialog, RenameDialog) and dialog.field.text() == "Jo"
        seen.extend(type(w).__name__ for w in interactive_widgets(dialog) if not w.accessibleName().strip())
        dialog.field.setText("J. <i>Q</i>")
        dialog.accept()

    seen = []
    page.checklist.setCurrentRow(list(checklist_state(page)).index("Jo"))
    answer_modal(rename)
    qtbot.mouseClick(page.rename_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "J. <i>Q</i>" in checklist_state(page))
    assert seen == []  # every control of the rename dialog has an accessible name
    people = run_query(qtbot, window, lambda app: sorted(p.name for p in app.attendance.people()))
    assert people == ["Alex", "J. <i>Q</i>", "Robin", "Sam"]

    page.checklist.setCurrentRow(list(checklist_state(page)).index("Sam"))
    answer_modal(lambda box: box.button(QMessageBox.StandardButton.Yes).click())
    qtbot.mouseClick(page.forget_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Sam" not in checklist_state(page) and len(checklist_state(page)) == 3)
    assert attendee_names(qtbot, window, ids[1]) == ["Alex", "J. <i>Q</i>", "Robin"]
    qtbot.waitUntil(lambda: all("3 came" in page.list.item(r).text() for r in range(page.list.count())))


def test_announce_a_meeting_and_confirm_a_members_check_in(qtbot, unlocked, tmp_path):
    window = unlocked
    page = meetings_page(window)
    cid, ben = circle_with_ben(qtbot, window, tmp_path)
    try:
        starts = datetime.now().astimezone().replace(second=0, microsecond=0)
        meeting_id = mutate(
            qtbot,
            window,
            lambda app: app.attendance.add_meeting(starts, "online", 60, circle_id=cid, topic="Private topic").value.id,
        )
        page.select_meeting(meeting_id)
        qtbot.waitUntil(lambda: page.announce_box.isVisibleTo(page))
        assert "Not announced" in page.announce_state.text() and not page.withdraw_button.isEnabled()
        assert not page.announce_topic.isChecked()
        qtbot.mouseClick(page.announce_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "Announced to the circle, without the topic" in page.announce_state.text())
        assert page.withdraw_button.isEnabled() and page.announce_button.accessibleName() == "Announce again"

        # Ben's app gets the announcement (without the topic) and checks in; Ana's gets the check-in
        mutate(qtbot, window, lambda app: app.circles.sync())
        ben.circles.sync()
        (announced,) = ben.circles.meetings_announced()
        assert announced.topic in (None, "") and announced.starts_at == starts
        ben.circles.check_in(announced.meeting_uid)
        ben.circles.sync()
        mutate(qtbot, window, lambda app: app.circles.sync())
        qtbot.waitUntil(lambda: page.check_ins.count() == 1)
        assert page.check_ins.item(0).text().startswith("Ben checked in to ")
        page.check_ins.setCurrentRow(0)
        qtbot.mouseClick(page.confirm_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.check_ins.count() == 0)
        qtbot.waitUntil(lambda: checklist_state(page) == {"Ben  (circle member)": True})

        # withdrawing tells the page (and, on the next sync, Ben's app)
        qtbot.mouseClick(page.withdraw_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "withdrawn" in page.announce_state.text())
        mutate(qtbot, window, lambda app: app.circles.sync())
        ben.circles.sync()
        assert ben.circles.meetings_announced() == []
    finally:
        ben.lock()
