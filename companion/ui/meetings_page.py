"""The Meetings page (for facilitators): meetings in a list and a calendar, the attendance checklist of the
selected meeting, members' pending check-ins, and the anonymised report export (``attendance_export.py``).

Names, pseudonyms, topics and notes are the facilitator's own text: they are only ever shown as plain text
(list items, ``Qt.PlainText`` labels, ``QPlainTextEdit``)."""

from __future__ import annotations

import calendar as calmod
from datetime import date, datetime
from itertools import pairwise
from typing import Any

from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from companion.errors import CompanionError
from companion.services import Changed, Changes
from companion.ui.dialogs import Button, ask
from companion.ui.journal_page import MarkedCalendar
from companion.ui.pages import Page, register

FORMATS: list[tuple[str, str]] = [("in_person", "In person"), ("online", "Online"), ("one_to_one", "One-to-one")]
FORMAT_NAMES = dict(FORMATS)
ITEM_ROLE = Qt.ItemDataRole.UserRole
DAY_ROLE = Qt.ItemDataRole.UserRole + 1
NAME_ROLE = Qt.ItemDataRole.UserRole + 2


def one_line(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def when_text(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b %Y}, {moment:%H:%M}"


def meeting_text(meeting: Any, sep: str = " · ") -> str:
    """A meeting in plain text: when, then format, length, topic and how many came (``sep`` between)."""
    parts = [FORMAT_NAMES.get(meeting.format, meeting.format), f"{meeting.minutes} min"]
    if meeting.topic.strip():
        parts.append(one_line(meeting.topic, 60))
    came = meeting.attendee_count
    parts.append("nobody marked yet" if not came else f"{came} came" if came != 1 else "1 came")
    return when_text(meeting.starts_at) + sep + " · ".join(parts)


def name_buttons(root: QWidget, description: str = "") -> None:
    """Give every button under ``root`` that has none an accessible name (its text, without the mnemonic)."""
    for button in root.findChildren(QAbstractButton):
        if not button.accessibleName().strip():
            button.setAccessibleName(button.text().replace("&", "") or button.toolTip() or "Button")
        if description and not button.accessibleDescription().strip():
            button.setAccessibleDescription(description)


def plain_label(text: str = "", *, name: str, muted: bool = False, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    label.setAccessibleName(name)
    if muted:
        label.setObjectName("Muted")
    return label


class MeetingDialog(QDialog):
    """Add or edit a meeting: date and time, format, length, optional circle, topic, notes."""

    def __init__(self, parent: QWidget | None = None, *, meeting: Any = None) -> None:
        super().__init__(parent)
        self.meeting_id: int | None = meeting.id if meeting is not None else None
        self.setWindowTitle("Edit meeting" if meeting is not None else "New meeting")
        self.setAccessibleName(self.windowTitle())
        self.setAccessibleDescription("The meeting's date and time, format, length, circle, topic and notes.")
        self.when = QDateTimeEdit()
        self.when.setCalendarPopup(True)
        self.when.setDisplayFormat("ddd d MMM yyyy, HH:mm")
        self.when.setAccessibleName("Date and time")
        self.when.setAccessibleDescription("When the meeting starts, in local time.")
        self.format = QComboBox()
        for key, label in FORMATS:
            self.format.addItem(label, key)
        self.format.setAccessibleName("Format")
        self.format.setAccessibleDescription("In person, online, or one-to-one.")
        self.minutes = QSpinBox()
        self.minutes.setRange(1, 1440)
        self.minutes.setSingleStep(15)
        self.minutes.setSuffix(" minutes")
        self.minutes.setValue(90)
        self.minutes.setAccessibleName("Duration")
        self.minutes.setAccessibleDescription("How long the meeting lasts, in minutes (1 to 1440).")
        self.circle = QComboBox()
        self.circle.addItem("No circle", None)
        self.circle.setAccessibleName("Circle")
        self.circle.setAccessibleDescription("Optional: the circle this meeting belongs to.")
        self.topic = QLineEdit()
        self.topic.setMaxLength(200)
        self.topic.setPlaceholderText("Optional")
        self.topic.setAccessibleName("Topic")
        self.topic.setAccessibleDescription("Optional: what the meeting was about. Never part of a report.")
        self.notes = QPlainTextEdit()
        self.notes.setTabChangesFocus(True)
        self.notes.setPlaceholderText("Optional notes, for you only")
        self.notes.setAccessibleName("Notes")
        self.notes.setAccessibleDescription("Optional notes for yourself. Never part of a report.")
        self.notes.setMaximumHeight(90)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        name_buttons(self.buttons, "Save the meeting, or close without saving.")

        form = QFormLayout(self)
        form.addRow("&Date and time", self.when)
        form.addRow("&Format", self.format)
        form.addRow("D&uration", self.minutes)
        form.addRow("&Circle", self.circle)
        form.addRow("&Topic", self.topic)
        form.addRow("&Notes", self.notes)
        form.addRow(self.buttons)

        if meeting is not None:
            self.when.setDateTime(QDateTime(meeting.starts_at.astimezone().replace(tzinfo=None)))
            self.format.setCurrentIndex(max(0, self.format.findData(meeting.format)))
            self.minutes.setValue(meeting.minutes)
            if meeting.circle_id:
                self.circle.addItem("This meeting's circle", meeting.circle_id)
                self.circle.setCurrentIndex(1)
            self.topic.setText(meeting.topic)
            self.notes.setPlainText(meeting.notes)
        else:
            now = QDateTime.currentDateTime()
            self.when.setDateTime(QDateTime(now.date(), QTime(now.time().hour(), 0)))

    def set_circles(self, circles: list[tuple[str, str]]) -> None:
        """Offer the person's circles as (id, name); keeps the current choice."""
        current = self.circle.currentData()
        while self.circle.count() > 1:
            self.circle.removeItem(1)
        for cid, name in circles:
            self.circle.addItem(one_line(name, 60) or "Unnamed circle", cid)
        if current is not None:
            index = self.circle.findData(current)
            if index < 0:
                self.circle.addItem("This meeting's circle", current)
                index = self.circle.count() - 1
            self.circle.setCurrentIndex(index)

    def values(self) -> dict[str, Any]:
        return {
            "starts_at": self.when.dateTime().toPython().astimezone(),
            "format": self.format.currentData(),
            "minutes": self.minutes.value(),
            "circle_id": self.circle.currentData(),
            "topic": self.topic.text().strip(),
            "notes": self.notes.toPlainText().strip(),
        }

    def clear_for_lock(self) -> None:
        self.topic.clear()
        self.notes.setPlainText("")
        self.notes.document().clearUndoRedoStacks()
        while self.circle.count() > 1:
            self.circle.removeItem(1)


class RenameDialog(QDialog):
    """A new name or pseudonym for someone in the people list."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Rename person")
        self.setAccessibleName("Rename person")
        self.setAccessibleDescription("The name or pseudonym you use for this person.")
        self.field = QLineEdit(name)
        self.field.setMaxLength(120)
        self.field.selectAll()
        self.field.setAccessibleName("New name")
        self.field.setAccessibleDescription("A name or pseudonym you choose. Only you see it; no report holds it.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        name_buttons(buttons, "Rename, or keep the name as it is.")
        form = QFormLayout(self)
        form.addRow("&New name or pseudonym", self.field)
        form.addRow(buttons)


@register
class MeetingsPage(Page):
    key = "meetings"
    title = "Meetings"
    icon = "meetings"
    order = 40
    accessible_description = "Meetings you facilitate, who came, and anonymised attendance reports."

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
        self.meeting_id: int | None = None
        self._filling = False
        self.meeting_dialog: MeetingDialog | None = None
        self.export_dialog = None

        heading = QLabel("Meetings")
        heading.setObjectName("Heading")
        self.new_button = QPushButton("&New meeting…")
        self.new_button.setAccessibleName("New meeting")
        self.new_button.setAccessibleDescription("Add a meeting (Ctrl+Shift+M).")
        self.new_button.clicked.connect(self.new_meeting)
        self.export_button = QPushButton("&Attendance report…")
        self.export_button.setAccessibleName("Attendance report")
        self.export_button.setAccessibleDescription(
            "Preview and export an anonymised attendance report: counts only, no names (Ctrl+Shift+R)."
        )
        self.export_button.clicked.connect(self.open_export)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addStretch(1)
        top.addWidget(self.new_button)
        top.addWidget(self.export_button)

        # -- left: calendar and list ---------------------------------------------------------------------------
        self.calendar = MarkedCalendar()
        self.calendar.setAccessibleName("Meetings calendar")
        self.calendar.setAccessibleDescription(
            "Days with meetings are marked with a dot. Arrow keys move between days; Page Up and Page Down "
            "change month; choosing a day selects its first meeting in the list."
        )
        self.calendar.currentPageChanged.connect(self.load_month)
        self.calendar.clicked.connect(self._day_chosen)
        self.calendar.activated.connect(self._day_chosen)
        self.list = QListWidget()
        self.list.setAccessibleName("Meetings")
        self.list.setAccessibleDescription("Every meeting, newest first. Select one to mark who came.")
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setSpacing(2)
        self.list.currentItemChanged.connect(lambda _c, _p: self._selection_changed())
        self.list_label = plain_label("", name="Number of meetings", muted=True)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.calendar)
        lv.addWidget(self.list_label)
        lv.addWidget(self.list, 1)

        # -- right: the selected meeting and its checklist -------------------------------------------------------
        self.detail = plain_label("Select a meeting, or add one.", name="Selected meeting")
        bold = self.detail.font()
        bold.setBold(True)
        self.detail.setFont(bold)
        self.detail_notes = plain_label("", name="Meeting notes", muted=True)
        self.edit_button = QPushButton("Ed&it…")
        self.edit_button.setAccessibleName("Edit meeting")
        self.edit_button.setAccessibleDescription("Change the selected meeting's date, format, length or topic.")
        self.edit_button.clicked.connect(self.edit_meeting)
        self.delete_button = QPushButton("&Delete…")
        self.delete_button.setAccessibleName("Delete meeting")
        self.delete_button.setAccessibleDescription("Delete the selected meeting and its attendance marks.")
        self.delete_button.clicked.connect(self.delete_meeting)
        actions = QHBoxLayout()
        actions.addWidget(self.edit_button)
        actions.addWidget(self.delete_button)
        actions.addStretch(1)

        # announcing a circle's meeting to its members, so that they can check in from their own app
        self.announce_state = plain_label("", name="Announcement", muted=True)
        self.announce_topic = QCheckBox("Include the topic")
        self.announce_topic.setAccessibleName("Include the topic in the announcement")
        self.announce_topic.setAccessibleDescription("Members see the topic only if this is checked.")
        self.announce_button = QPushButton("Announce to &circle")
        self.announce_button.setAccessibleName("Announce to circle")
        self.announce_button.setAccessibleDescription(
            "Tell the circle's members about this meeting (date, time, format, length) so they can check in. "
            "Sent on the next sync."
        )
        self.announce_button.clicked.connect(self.announce)
        self.withdraw_button = QPushButton("&Withdraw")
        self.withdraw_button.setAccessibleName("Withdraw announcement")
        self.withdraw_button.setAccessibleDescription("Members' apps forget the meeting; check-ins are refused.")
        self.withdraw_button.clicked.connect(self.withdraw)
        self.announce_box = QWidget()
        ab = QVBoxLayout(self.announce_box)
        ab.setContentsMargins(0, 0, 0, 0)
        ab.addWidget(self.announce_state)
        arow = QHBoxLayout()
        arow.addWidget(self.announce_topic)
        arow.addStretch(1)
        arow.addWidget(self.announce_button)
        arow.addWidget(self.withdraw_button)
        ab.addLayout(arow)
        self.announce_box.hide()

        self.checklist = QListWidget()
        self.checklist.setAccessibleName("Who came")
        self.checklist.setAccessibleDescription(
            "Everyone you know, with a check box each: checked means they came to the selected meeting. "
            "Space toggles the selected person."
        )
        self.checklist.itemChanged.connect(self._item_toggled)
        self.new_person = QLineEdit()
        self.new_person.setMaxLength(120)
        self.new_person.setPlaceholderText("Name or pseudonym of someone new")
        self.new_person.setAccessibleName("New person")
        self.new_person.setAccessibleDescription(
            "A name or pseudonym you choose. Enter adds them and marks them present at this meeting."
        )
        self.new_person.returnPressed.connect(self.add_person)
        self.add_person_button = QPushButton("Add and mark &present")
        self.add_person_button.setAccessibleName("Add person and mark present")
        self.add_person_button.setAccessibleDescription("Add the new person and mark them present.")
        self.add_person_button.clicked.connect(self.add_person)
        add_row = QHBoxLayout()
        add_row.addWidget(self.new_person, 1)
        add_row.addWidget(self.add_person_button)
        self.rename_button = QPushButton("&Rename…")
        self.rename_button.setAccessibleName("Rename person")
        self.rename_button.setAccessibleDescription("Change the name or pseudonym of the selected person.")
        self.rename_button.clicked.connect(self.rename_person)
        self.forget_button = QPushButton("Forge&t…")
        self.forget_button.setAccessibleName("Forget person")
        self.forget_button.setAccessibleDescription(
            "Remove the selected person and every attendance mark of theirs. Reports already exported keep "
            "their numbers."
        )
        self.forget_button.clicked.connect(self.forget_person)
        people_row = QHBoxLayout()
        people_row.addStretch(1)
        people_row.addWidget(self.rename_button)
        people_row.addWidget(self.forget_button)
        attendance = QGroupBox("Who came")
        av = QVBoxLayout(attendance)
        av.addWidget(self.checklist, 1)
        av.addLayout(people_row)
        av.addLayout(add_row)

        self.check_ins = QListWidget()
        self.check_ins.setAccessibleName("Pending check-ins")
        self.check_ins.setAccessibleDescription("Members who checked in from their own app, waiting for you.")
        self.check_ins.setMaximumHeight(self.fontMetrics().height() * 4 + 12)
        self.check_ins.setWordWrap(True)
        self.confirm_button = QPushButton("C&onfirm")
        self.confirm_button.setAccessibleName("Confirm check-in")
        self.confirm_button.setAccessibleDescription("Mark the member present at the meeting they checked in to.")
        self.confirm_button.clicked.connect(self.confirm_check_in)
        self.decline_button = QPushButton("Dec&line")
        self.decline_button.setAccessibleName("Decline check-in")
        self.decline_button.setAccessibleDescription("Do not count this check-in.")
        self.decline_button.clicked.connect(self.decline_check_in)
        self.check_ins_box = QGroupBox("Check-ins from members")
        cv = QVBoxLayout(self.check_ins_box)
        cv.addWidget(self.check_ins)
        crow = QHBoxLayout()
        crow.addStretch(1)
        crow.addWidget(self.confirm_button)
        crow.addWidget(self.decline_button)
        cv.addLayout(crow)
        self.check_ins_box.hide()

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.detail)
        rv.addWidget(self.detail_notes)
        rv.addLayout(actions)
        rv.addWidget(self.announce_box)
        rv.addWidget(attendance, 1)
        rv.addWidget(self.check_ins_box)

        splitter = QSplitter()
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        self._set_meeting_enabled(False)
        chain = [
            self.new_button,
            self.export_button,
            self.calendar,
            self.list,
            self.edit_button,
            self.delete_button,
            self.announce_topic,
            self.announce_button,
            self.withdraw_button,
            self.checklist,
            self.rename_button,
            self.forget_button,
            self.new_person,
            self.add_person_button,
            self.check_ins,
            self.confirm_button,
            self.decline_button,
        ]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

        self.page_actions: list[QAction] = []
        for text, keys, slot in (
            ("New meeting", "Ctrl+Shift+M", self.new_meeting),
            ("Attendance report", "Ctrl+Shift+R", self.open_export),
        ):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(lambda _c=False, s=slot: self._from_menu(s))
            self.page_actions.append(action)

    # -- page hooks ------------------------------------------------------------------------------------------

    def on_unlock(self) -> None:
        self.reload()

    def on_lock(self) -> None:
        for dialog in (self.meeting_dialog, self.export_dialog):
            if dialog is not None:
                dialog.clear_for_lock()
                dialog.reject()
        self.meeting_dialog = None
        self.meeting_id = None
        self._filling = True
        self.list.clear()
        self.checklist.clear()
        self.check_ins.clear()
        self._filling = False
        self.calendar.set_marks({})
        self.list_label.clear()
        self.detail.setText("Select a meeting, or add one.")
        self.detail_notes.clear()
        self._show_announcement(None)
        self.new_person.clear()
        self.check_ins_box.hide()
        self._set_meeting_enabled(False)

    def on_changes(self, changes: Changes) -> None:
        if changes & (Changes.MEETINGS | Changes.LOCK):
            self.reload()
        elif changes & (Changes.CIRCLES | Changes.INBOX):
            self.load_check_ins()

    def actions_for_menu(self) -> list[QAction]:
        return self.page_actions

    def _from_menu(self, slot) -> None:
        window = self.window()
        if hasattr(window, "pages") and self in window.pages:
            window.show_page(window.pages.index(self))
        slot()

    # -- loading ---------------------------------------------------------------------------------------------

    def reload(self) -> None:
        self.load_meetings()
        self.load_month(self.calendar.yearShown(), self.calendar.monthShown())
        self.load_check_ins()

    def load_meetings(self) -> None:
        self.ops.query_op(lambda app: app.attendance.meetings()).success(self._fill_list).run()

    def load_month(self, year: int, month: int) -> None:
        first = date(year, month, 1)
        last = date(year, month, calmod.monthrange(year, month)[1])
        self.ops.query_op(lambda app: app.attendance.days_with_meetings(first, last)).success(
            self.calendar.set_marks
        ).run()

    def load_check_ins(self) -> None:
        def op(app):
            out = []
            for item in app.attendance.pending_check_ins():
                meeting = None
                if item.meeting_id is not None:
                    try:
                        meeting = app.attendance.get_meeting(item.meeting_id)
                    except CompanionError:
                        meeting = None
                out.append((item, meeting))
            return out

        self.ops.query_op(op).success(self._fill_check_ins).run()

    def load_selected(self) -> None:
        meeting_id = self.meeting_id
        if meeting_id is None:
            return

        def op(app):
            meeting = app.attendance.get_meeting(meeting_id)
            checklist = app.attendance.checklist(meeting_id)
            members: list[tuple[str, str]] = []
            if meeting.circle_id:
                known = {p.member_id for p, _ in checklist if p.member_id}
                try:
                    members = [
                        (m.member_id, m.name)
                        for m in app.circles.members(meeting.circle_id)
                        if m.status == "active" and not m.is_me and m.member_id not in known
                    ]
                except (CompanionError, AttributeError):
                    members = []  # the circle is not (or no longer) one of ours: offer the people list only
            announced: list[Any] | None = None
            if meeting.circle_id:
                try:
                    announced = app.circles.announcements(meeting_id)
                except (CompanionError, AttributeError):
                    announced = None
            return meeting, checklist, members, announced

        def failed(exc: BaseException) -> None:
            if self.meeting_id == meeting_id:
                self.meeting_id = None
                self._show_meeting(None)
            self.load_meetings()

        self.ops.query_op(op).success(self._show_selected).failure(failed).run()

    # -- filling widgets -------------------------------------------------------------------------------------

    def _fill_list(self, meetings: list[Any]) -> None:
        keep = self.meeting_id
        self._filling = True
        self.list.clear()
        current = None
        for meeting in reversed(meetings):
            text = meeting_text(meeting)
            item = QListWidgetItem(meeting_text(meeting, "\n"))
            item.setData(ITEM_ROLE, meeting.id)
            item.setData(DAY_ROLE, meeting.day)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, text)
            self.list.addItem(item)
            if meeting.id == keep:
                current = item
        self._filling = False
        count = len(meetings)
        self.list_label.setText(
            "No meetings yet: add one with New meeting." if not count else f"{count} meeting{'s' * (count != 1)}"
        )
        if current is not None:
            self._filling = True  # selecting it again is not a new selection: load it once, below
            self.list.setCurrentItem(current)
            self._filling = False
            self.load_selected()
        else:
            self.meeting_id = None
            self._show_meeting(None)

    def _fill_check_ins(self, rows: list[tuple[Any, Any]]) -> None:
        self.check_ins.clear()
        for item, meeting in rows:
            who = one_line(item.check_in.display_name, 60) or "A member"
            where = (
                f"{when_text(meeting.starts_at)} ({FORMAT_NAMES.get(meeting.format, meeting.format)})"
                if meeting is not None
                else "a meeting that is not in your records"
            )
            text = f"{who} checked in to {where}"
            entry = QListWidgetItem(text)
            entry.setData(ITEM_ROLE, item.id)
            entry.setData(Qt.ItemDataRole.AccessibleTextRole, text)
            self.check_ins.addItem(entry)
        self.check_ins_box.setVisible(bool(rows))
        if rows:
            self.check_ins.setCurrentRow(0)

    def _show_selected(self, result: tuple[Any, list[tuple[Any, bool]], list[tuple[str, str]], Any]) -> None:
        meeting, checklist, members, announced = result
        if meeting.id != self.meeting_id:
            return
        self._show_meeting(meeting)
        self._show_announcement(announced)
        row = self.checklist.currentRow()
        self._filling = True
        self.checklist.clear()
        for person, present in checklist:
            label = one_line(person.name, 80) + ("  (circle member)" if person.member_id else "")
            self._add_check_item(label, ("person", person.id), present, person.name)
        for member_id, name in members:
            self._add_check_item(
                f"{one_line(name, 60) or 'Unnamed member'}  (circle member, not in your list yet)",
                ("member", member_id, name),
                False,
                name,
            )
        if self.checklist.count() == 0:
            empty = QListWidgetItem("Nobody in your list yet: add someone below.")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.checklist.addItem(empty)
        self._filling = False
        if row >= 0:
            self.checklist.setCurrentRow(min(row, self.checklist.count() - 1))

    def _show_announcement(self, announced: list[Any] | None) -> None:
        if announced is None:
            self.announce_box.hide()
            self.announce_state.clear()
            return
        live = [a for a in announced if a.state == "announced"]
        if live:
            a = live[-1]
            text = (
                "Announced to the circle"
                + (", topic included" if a.include_topic else ", without the topic")
                + ". Members can check in from an hour before it starts until a day after it ends."
            )
            if a.changed:
                text += " It changed since then and could not be sent again; announce it again to update."
        elif announced:
            text = "The announcement was withdrawn: members cannot check in."
        else:
            text = "Not announced: members of the circle cannot check in to it yet."
        self.announce_state.setText(text)
        self.announce_button.setText("Announce &again" if live else "Announce to &circle")
        self.announce_button.setAccessibleName("Announce again" if live else "Announce to circle")
        if live:
            self.announce_topic.setChecked(live[-1].include_topic)
        self.withdraw_button.setEnabled(bool(live))
        self.announce_box.show()

    def announce(self) -> None:
        meeting_id, topic = self.meeting_id, self.announce_topic.isChecked()
        if meeting_id is not None:
            self.ops.collection_op(lambda app: app.circles.announce_meeting(meeting_id, include_topic=topic)).success(
                lambda _a: self.ctx.status("Announced: the circle's members get it on the next sync.")
            ).run()

    def withdraw(self) -> None:
        meeting_id = self.meeting_id
        if meeting_id is not None:
            self.ops.collection_op(lambda app: app.circles.withdraw_meeting(meeting_id)).success(
                lambda _a: self.ctx.status("Announcement withdrawn; sent on the next sync.")
            ).run()

    def _add_check_item(self, label: str, data: tuple, present: bool, name: str) -> None:
        item = QListWidgetItem(label)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if present else Qt.CheckState.Unchecked)
        item.setData(ITEM_ROLE, data)
        item.setData(NAME_ROLE, name)
        item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{label}: {'came' if present else 'not marked'}")
        self.checklist.addItem(item)

    def _show_meeting(self, meeting: Any) -> None:
        if meeting is None:
            self.detail.setText("Select a meeting, or add one.")
            self.detail_notes.clear()
            self._show_announcement(None)
            self._filling = True
            self.checklist.clear()
            self._filling = False
            self._set_meeting_enabled(False)
            return
        self.detail.setText(meeting_text(meeting))
        self.detail_notes.setText(meeting.notes)
        self.detail_notes.setVisible(bool(meeting.notes))
        self._set_meeting_enabled(True)

    def _set_meeting_enabled(self, on: bool) -> None:
        for widget in (
            self.edit_button,
            self.delete_button,
            self.checklist,
            self.new_person,
            self.add_person_button,
            self.rename_button,
            self.forget_button,
        ):
            widget.setEnabled(on)

    # -- selection -------------------------------------------------------------------------------------------

    def _selection_changed(self) -> None:
        if self._filling:
            return
        item = self.list.currentItem()
        self.meeting_id = item.data(ITEM_ROLE) if item is not None else None
        if self.meeting_id is None:
            self._show_meeting(None)
        else:
            self.load_selected()

    def select_meeting(self, meeting_id: int) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(ITEM_ROLE) == meeting_id:
                self.list.setCurrentRow(row)
                return
        self.meeting_id = meeting_id  # not listed yet: selected when the list reloads
        self.load_selected()

    def _day_chosen(self, qdate: QDate) -> None:
        day = qdate.toPython()
        for row in range(self.list.count() - 1, -1, -1):  # the day's earliest first (the list is newest first)
            if self.list.item(row).data(DAY_ROLE) == day:
                self.list.setCurrentRow(row)
                return

    # -- commands --------------------------------------------------------------------------------------------

    def new_meeting(self) -> None:
        self._open_meeting_dialog(None)

    def edit_meeting(self) -> None:
        meeting_id = self.meeting_id
        if meeting_id is None:
            return
        self.ops.query_op(lambda app: app.attendance.get_meeting(meeting_id)).success(self._open_meeting_dialog).run()

    def _open_meeting_dialog(self, meeting: Any) -> MeetingDialog:
        if self.meeting_dialog is not None:
            self.meeting_dialog.reject()
        dialog = MeetingDialog(self, meeting=meeting)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.meeting_dialog = dialog
        dialog.accepted.connect(lambda: self._save_meeting(dialog))
        dialog.finished.connect(lambda _r: self._dialog_closed(dialog))

        def circles(app) -> list[tuple[str, str]]:
            try:
                return [(c.id, c.name) for c in app.circles.list_circles() if c.state == "active"]
            except (CompanionError, AttributeError):
                return []  # no identity yet, or no circles feature: the meeting simply has no circle

        self.ops.query_op(circles).success(
            lambda rows: dialog.set_circles(rows) if self.meeting_dialog is dialog else None
        ).run()
        dialog.open()
        dialog.when.setFocus()
        return dialog

    def _dialog_closed(self, dialog: MeetingDialog) -> None:
        if self.meeting_dialog is dialog:
            self.meeting_dialog = None

    def _save_meeting(self, dialog: MeetingDialog) -> None:
        values = dialog.values()
        meeting_id = dialog.meeting_id
        if meeting_id is None:
            op = lambda app: app.attendance.add_meeting(  # noqa: E731
                values["starts_at"],
                values["format"],
                values["minutes"],
                circle_id=values["circle_id"],
                topic=values["topic"],
                notes=values["notes"],
            )
        else:
            op = lambda app: app.attendance.update_meeting(meeting_id, **values)  # noqa: E731
        self.ops.collection_op(op).success(self._saved).run()

    def _saved(self, meeting: Any) -> None:
        self.meeting_id = meeting.id
        self.calendar.setSelectedDate(QDate(meeting.day))
        self.ctx.status("Meeting saved.")

    def delete_meeting(self) -> None:
        meeting_id = self.meeting_id
        if meeting_id is None:
            return
        if not ask(
            self,
            "Delete meeting",
            "Delete this meeting and who came to it? Reports already exported keep their numbers.",
            yes=Button.Yes,
        ):
            return
        self.meeting_id = None
        self.ops.collection_op(lambda app: app.attendance.delete_meeting(meeting_id)).success(
            lambda _v: self.ctx.status("Meeting deleted.")
        ).run()

    def _item_toggled(self, item: QListWidgetItem) -> None:
        if self._filling or self.meeting_id is None:
            return
        data = item.data(ITEM_ROLE)
        if not data:
            return
        meeting_id = self.meeting_id
        present = item.checkState() == Qt.CheckState.Checked
        if data[0] == "person":
            person_id = data[1]
            if present:
                op = lambda app: app.attendance.mark(meeting_id, [person_id])  # noqa: E731
            else:
                op = lambda app: app.attendance.unmark(meeting_id, [person_id])  # noqa: E731
        else:
            if not present:
                return
            member_id, name = data[1], data[2]

            def op(app) -> Changed[int]:
                known = {p.name.casefold() for p in app.attendance.people()}
                label = one_line(name, 120) or "Member"
                while label.casefold() in known:
                    label += "′"
                person = app.attendance.add_person(label, member_id=member_id).value
                return Changed(app.attendance.mark(meeting_id, [person.id]).value, Changes.MEETINGS)

        self.ops.collection_op(op).success(lambda _v: None).failure(self._toggle_failed).run()

    def _toggle_failed(self, exc: BaseException) -> None:
        self.ops.presenter.present(exc)
        self.load_selected()

    def add_person(self) -> None:
        name = self.new_person.text().strip()
        meeting_id = self.meeting_id
        if not name or meeting_id is None:
            return
        self.ops.collection_op(lambda app: app.attendance.attend(meeting_id, [name])).success(
            lambda _people: self.new_person.clear()
        ).run()

    def _current_person(self) -> tuple[int, str] | None:
        item = self.checklist.currentItem()
        data = item.data(ITEM_ROLE) if item is not None else None
        if not data or data[0] != "person":
            self.ctx.status("Select someone in the list first.")
            return None
        return data[1], item.data(NAME_ROLE)

    def rename_person(self) -> None:
        current = self._current_person()
        if current is None:
            return
        person_id, name = current
        dialog = RenameDialog(name, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        new_name = dialog.field.text().strip()
        if new_name and new_name != name:
            self.ops.collection_op(lambda app: app.attendance.update_person(person_id, name=new_name)).run()

    def forget_person(self) -> None:
        current = self._current_person()
        if current is None:
            return
        person_id, name = current
        if not ask(
            self,
            "Forget person",
            f"Forget “{one_line(name, 60)}” and every meeting they were marked at? Reports already exported "
            "keep their numbers.",
            yes=Button.Yes,
        ):
            return
        self.ops.collection_op(lambda app: app.attendance.delete_person(person_id)).run()

    def _current_check_in(self) -> int | None:
        item = self.check_ins.currentItem()
        return item.data(ITEM_ROLE) if item is not None else None

    def confirm_check_in(self) -> None:
        check_in_id = self._current_check_in()
        if check_in_id is not None:
            self.ops.collection_op(lambda app: app.attendance.confirm_check_in(check_in_id)).run()

    def decline_check_in(self) -> None:
        check_in_id = self._current_check_in()
        if check_in_id is not None:
            self.ops.collection_op(lambda app: app.attendance.decline_check_in(check_in_id)).run()

    def open_export(self):
        from companion.ui.attendance_export import ExportDialog

        if self.export_dialog is not None:
            self.export_dialog.reject()
        dialog = ExportDialog(self.ops, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(
            lambda _r: setattr(self, "export_dialog", None) if self.export_dialog is dialog else None
        )
        self.export_dialog = dialog
        dialog.open()
        QTimer.singleShot(0, dialog.kind.setFocus)
        return dialog
