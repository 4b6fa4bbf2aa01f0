"""The Journal page: search and filters, the entry list, calendar with "On this day", trash, the editor."""

from __future__ import annotations

import calendar as calmod
from datetime import date

from PySide6.QtCore import QDate, QRect, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QKeySequence, QPainter, QTextCharFormat
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCalendarWidget,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from companion.journal.entries import EntrySummary
from companion.journal.search import Filters
from companion.services import Changes
from companion.ui import theme
from companion.ui.dialogs import Button, ask
from companion.ui.editor import EntryEditor
from companion.ui.entry_model import MOODS, EntryDelegate, EntryListModel, IdRole, Query, format_day, one_line
from companion.ui.pages import Page, register
from companion.ui.share_dialog import ShareBar

SEARCH_DELAY_MS = 150


def _summary_text(row: EntrySummary) -> str:
    return f"{one_line(row.title, 120) or 'Untitled'} · {format_day(row.created_at)}"


class MarkedCalendar(QCalendarWidget):
    """A month calendar that marks days with entries (a dot under the number)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.marks: dict[date, int] = {}
        self.setGridVisible(False)
        self.setVerticalHeaderFormat(QCalendarWidget.VerticalHeaderFormat.NoVerticalHeader)
        plain = QTextCharFormat()  # weekends in the normal text colour (Qt's red fails 4.5:1 contrast)
        for weekday in (Qt.DayOfWeek.Saturday, Qt.DayOfWeek.Sunday):
            self.setWeekdayTextFormat(weekday, plain)
        self.setAccessibleName("Calendar")
        self.setAccessibleDescription(
            "Days with entries are marked with a dot. Arrow keys move between days; Page Up and Page Down "
            "change month; Enter shows that day's entries."
        )

    def set_marks(self, marks: dict[date, int]) -> None:
        self.marks = marks
        self.updateCells()

    def paintCell(self, painter: QPainter, rect: QRect, day: QDate) -> None:
        super().paintCell(painter, rect, day)
        if day.toPython() in self.marks:
            t = theme.current()
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(t.accent))
            d = max(4, rect.height() // 6)
            painter.drawEllipse(rect.right() - d - 4, rect.top() + 4, d, d)
            painter.restore()


class SearchField(QLineEdit):
    """Escape clears the search (and the list goes back to every entry)."""

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            event.accept()
            return
        super().keyPressEvent(event)


class EntryItemList(QListWidget):
    """A short list of entries (a day's, on this day, trash): plain-text items carrying their id."""

    def set_rows(self, rows: list[EntrySummary], empty: str) -> None:
        self.clear()
        for row in rows:
            item = QListWidgetItem(_summary_text(row))
            item.setData(Qt.ItemDataRole.UserRole, row.id)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, _summary_text(row))
            self.addItem(item)
        if not rows:
            item = QListWidgetItem(empty)
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.addItem(item)

    def current_id(self) -> int | None:
        item = self.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None


@register
class JournalPage(Page):
    key = "journal"
    title = "Journal"
    icon = "journal"
    order = 10
    accessible_description = "Your private journal: entries, search, calendar and trash."

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
        self.editor = EntryEditor(self.ops)
        self.share_bar = ShareBar(self.editor, self.ops)  # "Share…" and "Shared with … · Unshare" (issue 7)
        self.editor.layout().insertWidget(self.editor.layout().count() - 1, self.share_bar)  # above the footer
        self.model = EntryListModel(self.ops, self)
        self._select_after_load: int | None = None

        # -- entries tab -------------------------------------------------------------------------------------
        self.search = SearchField()
        self.search.setPlaceholderText("Search your journal (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search")
        self.search.setAccessibleDescription(
            'Search as you type. Use "quotes" for a phrase and -word to leave a word out. Escape clears.'
        )
        self.tag_filter = QComboBox()
        self.tag_filter.setAccessibleName("Tag filter")
        self.tag_filter.setAccessibleDescription("Show only entries with this tag")
        self.tag_filter.addItem("Any tag", None)
        self.mood_filter = QComboBox()
        self.mood_filter.setAccessibleName("Mood filter")
        self.mood_filter.setAccessibleDescription("Show only entries with this mood")
        self.mood_filter.addItem("Any mood", None)
        for value, word in MOODS.items():
            self.mood_filter.addItem(f"Mood {value}: {word}", value)
        self.date_filter = QCheckBox("Dates")
        self.date_filter.setAccessibleName("Filter by dates")
        self.date_filter.setAccessibleDescription("Show only entries between the two dates")
        today = QDate.currentDate()
        self.date_from = QDateEdit(today.addMonths(-1))
        self.date_to = QDateEdit(today)
        for edit, name in ((self.date_from, "From date"), (self.date_to, "To date")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("d MMM yyyy")
            edit.setAccessibleName(name)
            edit.setAccessibleDescription(f"{name} of the date filter, inclusive")
            edit.setEnabled(False)
        self.result_label = QLabel("")
        self.result_label.setObjectName("Muted")
        self.result_label.setAccessibleName("Results")
        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setItemDelegate(EntryDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setAccessibleName("Entries")
        self.list.setAccessibleDescription(
            "Your entries, newest first. Enter opens the selected entry for writing."
        )
        self.memories = QPushButton("")
        self.memories.setObjectName("Memories")
        self.memories.setAccessibleName("On this day")
        self.memories.setAccessibleDescription("Show entries written on this day in earlier years (calendar)")
        self.memories.hide()
        self.new_button = QPushButton("New entry")
        self.new_button.setAccessibleName("New entry")
        self.new_button.setAccessibleDescription("Start a new entry (Ctrl+N)")

        entries = QWidget()
        grid = QGridLayout(entries)
        grid.setContentsMargins(8, 8, 8, 8)
        grid.addWidget(self.search, 0, 0, 1, 3)
        grid.addWidget(self.tag_filter, 1, 0)
        grid.addWidget(self.mood_filter, 1, 1, 1, 2)
        grid.addWidget(self.date_filter, 2, 0)
        grid.addWidget(self.date_from, 2, 1)
        grid.addWidget(self.date_to, 2, 2)
        grid.addWidget(self.result_label, 3, 0, 1, 2)
        grid.addWidget(self.new_button, 3, 2)
        grid.addWidget(self.memories, 4, 0, 1, 3)
        grid.addWidget(self.list, 5, 0, 1, 3)
        grid.setRowStretch(5, 1)

        # -- calendar tab ------------------------------------------------------------------------------------
        self.calendar = MarkedCalendar()
        self.day_label = QLabel("")
        self.day_label.setAccessibleName("Selected day")
        self.day_list = EntryItemList()
        self.day_list.setAccessibleName("Entries on the selected day")
        self.day_list.setAccessibleDescription("Enter opens the entry")
        self.on_this_day = EntryItemList()
        self.on_this_day.setAccessibleName("On this day")
        self.on_this_day.setAccessibleDescription(
            "Entries from the same day in earlier years. Enter opens one."
        )
        on_label = QLabel("On this day in earlier years")
        on_label.setObjectName("Muted")
        cal = QWidget()
        cal_layout = QVBoxLayout(cal)
        cal_layout.setContentsMargins(8, 8, 8, 8)
        cal_layout.addWidget(self.calendar)
        cal_layout.addWidget(self.day_label)
        cal_layout.addWidget(self.day_list, 1)
        cal_layout.addWidget(on_label)
        cal_layout.addWidget(self.on_this_day, 1)

        # -- trash tab ---------------------------------------------------------------------------------------
        self.trash_list = EntryItemList()
        self.trash_list.setAccessibleName("Trash")
        self.trash_list.setAccessibleDescription("Entries moved to the trash. Restore brings one back.")
        self.restore_button = QPushButton("Restore")
        self.restore_button.setAccessibleName("Restore")
        self.restore_button.setAccessibleDescription("Put the selected entry back in the journal")
        self.purge_button = QPushButton("Delete forever…")
        self.purge_button.setAccessibleName("Delete forever")
        self.purge_button.setAccessibleDescription(
            "Delete the selected entry permanently; this cannot be undone"
        )
        self.empty_button = QPushButton("Empty trash…")
        self.empty_button.setAccessibleName("Empty trash")
        self.empty_button.setAccessibleDescription("Delete every entry in the trash permanently")
        trash = QWidget()
        trash_layout = QVBoxLayout(trash)
        trash_layout.setContentsMargins(8, 8, 8, 8)
        note = QLabel("Entries in the trash are kept until you delete them.")
        note.setObjectName("Muted")
        note.setWordWrap(True)
        trash_layout.addWidget(note)
        trash_layout.addWidget(self.trash_list, 1)
        row = QHBoxLayout()
        for button in (self.restore_button, self.purge_button, self.empty_button):
            row.addWidget(button)
        trash_layout.addLayout(row)

        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Journal views")
        self.tabs.setAccessibleDescription(
            "Entries, Calendar and Trash (Ctrl+Shift+E, Ctrl+Shift+C, Ctrl+Shift+T)"
        )
        self.tabs.addTab(entries, "Entries")
        self.tabs.addTab(cal, "Calendar")
        self.tabs.addTab(trash, "Trash")
        self.tabs.tabBar().setAccessibleName("Journal views")

        splitter = QSplitter()
        splitter.addWidget(self.tabs)
        splitter.addWidget(self.editor)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 640])
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self.setTabOrder(self.search, self.tag_filter)
        self.setTabOrder(self.tag_filter, self.mood_filter)
        self.setTabOrder(self.mood_filter, self.date_filter)
        self.setTabOrder(self.date_filter, self.date_from)
        self.setTabOrder(self.date_from, self.date_to)
        self.setTabOrder(self.date_to, self.new_button)
        self.setTabOrder(self.new_button, self.memories)
        self.setTabOrder(self.memories, self.list)
        self.setTabOrder(self.list, self.editor.title)
        self.editor.fix_tab_order()

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_query)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.returnPressed.connect(self._focus_list)
        for combo in (self.tag_filter, self.mood_filter):
            combo.currentIndexChanged.connect(lambda _i: self.apply_query())
        self.date_filter.toggled.connect(self._dates_toggled)
        self.date_from.dateChanged.connect(lambda _d: self.apply_query())
        self.date_to.dateChanged.connect(lambda _d: self.apply_query())
        self.list.selectionModel().currentChanged.connect(self._current_changed)
        self.list.activated.connect(lambda _i: self.editor.body.setFocus())
        self.model.loaded.connect(self._loaded)
        self.new_button.clicked.connect(self.new_entry)
        self.memories.clicked.connect(self.show_memories)
        self.editor.created.connect(self._created)
        self.calendar.currentPageChanged.connect(lambda y, m: self.load_month(y, m))
        self.calendar.selectionChanged.connect(self.load_day)
        self.calendar.activated.connect(lambda _d: self.day_list.setFocus())
        for lst in (self.day_list, self.on_this_day):
            lst.itemActivated.connect(self._open_item)
            lst.itemClicked.connect(self._open_item)
        self.restore_button.clicked.connect(self.restore_selected)
        self.purge_button.clicked.connect(self.purge_selected)
        self.empty_button.clicked.connect(self.empty_trash)
        self.tabs.currentChanged.connect(self._tab_changed)

        self.view_actions: list[QAction] = []
        for name, keys, index in (
            ("Entries", "Ctrl+Shift+E", 0),
            ("Calendar", "Ctrl+Shift+C", 1),
            ("Trash", "Ctrl+Shift+T", 2),
        ):
            action = QAction(name, self)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(lambda _c=False, i=index: self.show_view(i))
            self.view_actions.append(action)

    # -- page hooks ------------------------------------------------------------------------------------------

    def on_unlock(self) -> None:
        self.model.set_query(self.current_query())
        self.load_tags()
        self.load_trash()
        self.load_month(self.calendar.yearShown(), self.calendar.monthShown())
        self.load_day()
        self.load_memories()
        self.editor.new_entry()

    def on_lock(self) -> None:
        self._search_timer.stop()
        self.editor.clear_for_lock()
        for widget in (self.search, self.tag_filter, self.mood_filter, self.date_filter):
            widget.blockSignals(True)
        self.search.clear()
        self.search.setModified(False)
        while self.tag_filter.count() > 1:
            self.tag_filter.removeItem(1)
        self.tag_filter.setCurrentIndex(0)
        self.mood_filter.setCurrentIndex(0)
        self.date_filter.setChecked(False)
        self.date_from.setEnabled(False)
        self.date_to.setEnabled(False)
        for widget in (self.search, self.tag_filter, self.mood_filter, self.date_filter):
            widget.blockSignals(False)
        self.model.query = Query()
        self.model.reset_empty()
        self.result_label.clear()
        self.memories.setText("")
        self.memories.hide()
        self.calendar.set_marks({})
        self.day_label.clear()
        for lst in (self.day_list, self.on_this_day, self.trash_list):
            lst.clear()
        self.tabs.setCurrentIndex(0)

    def on_changes(self, changes: Changes) -> None:
        if changes & (Changes.ENTRIES | Changes.LOCK):
            self.model.refresh()
            self.load_month(self.calendar.yearShown(), self.calendar.monthShown())
            if self.tabs.currentIndex() == 1:
                self.load_day()
            self.load_memories()
        if changes & Changes.TAGS:
            self.load_tags()
        if changes & Changes.TRASH:
            self.load_trash()

    def actions_for_menu(self) -> list[QAction]:
        return self.view_actions

    # -- commands --------------------------------------------------------------------------------------------

    def new_entry(self) -> None:
        self.list.selectionModel().clearCurrentIndex()
        self.list.clearSelection()
        self.editor.new_entry()
        self.editor.title.setFocus()

    def focus_search(self) -> None:
        self.show_view(0)
        self.search.setFocus()
        self.search.selectAll()

    def show_view(self, index: int) -> None:
        self.tabs.setCurrentIndex(index)
        target = (self.list, self.calendar, self.trash_list)[index]
        target.setFocus()

    def trash_current(self) -> None:
        entry_id = self.editor.entry_id
        if entry_id is None:
            self.editor.new_entry(with_prompt=False)
            return
        self.editor.new_entry(with_prompt=False)  # saves pending edits first (queued before the trash op)
        self.ops.collection_op(lambda app: app.journal.trash_entry(entry_id)).success(
            lambda _e: self.ctx.status("Moved to the trash. You can restore it from Trash.")
        ).run()

    def current_filters(self) -> Filters:
        tag = self.tag_filter.currentData()
        mood = self.mood_filter.currentData()
        if self.date_filter.isChecked():
            start, end = self.date_from.date().toPython(), self.date_to.date().toPython()
            if start > end:
                start, end = end, start
        else:
            start = end = None
        return Filters(
            tags=(tag,) if tag else (), moods=(mood,) if mood else (), date_from=start, date_to=end
        )

    def current_query(self) -> Query:
        return Query(self.search.text(), self.current_filters())

    def apply_query(self) -> None:
        self._search_timer.stop()
        query = self.current_query()
        if query == self.model.query and self.model.rows:
            return
        self.result_label.setText("Searching…" if query.is_search else "")
        self.model.set_query(query)

    def load_tags(self) -> None:
        def done(tags: list[tuple[str, int]]) -> None:
            names = [name for name, _n in tags]
            self.editor.set_known_tags(names)
            current = self.tag_filter.currentData()
            self.tag_filter.blockSignals(True)
            while self.tag_filter.count() > 1:
                self.tag_filter.removeItem(1)
            for name, count in tags:
                self.tag_filter.addItem(f"#{name} ({count})", name)
            index = self.tag_filter.findData(current) if current else 0
            self.tag_filter.setCurrentIndex(max(index, 0))
            self.tag_filter.blockSignals(False)
            if current and index < 0:
                self.apply_query()

        self.ops.query_op(lambda app: app.journal.tags()).success(done).run()

    def load_trash(self) -> None:
        self.ops.query_op(lambda app: app.journal.trash()).success(
            lambda rows: self.trash_list.set_rows(rows, "The trash is empty.")
        ).run()

    def load_month(self, year: int, month: int) -> None:
        first = date(year, month, 1)
        last = date(year, month, calmod.monthrange(year, month)[1])
        self.ops.query_op(lambda app: app.journal.days_with_entries(first, last)).success(
            self.calendar.set_marks
        ).run()

    def load_day(self) -> None:
        day = self.calendar.selectedDate().toPython()
        self.day_label.setText(f"Entries on {format_day_only(day)}")

        def op(app):
            return (
                app.journal.search("", Filters(date_from=day, date_to=day), limit=100),
                app.journal.on_this_day(day),
            )

        def done(result) -> None:
            same_day, earlier = result
            self.day_list.set_rows(same_day, "No entries on this day.")
            self.on_this_day.set_rows(earlier, "Nothing from this day in earlier years yet.")

        self.ops.query_op(op).success(done).run()

    def load_memories(self) -> None:
        """A quiet line above the list when earlier years have entries on today's date."""
        today = date.today()

        def done(rows: list[EntrySummary]) -> None:
            years = sorted({row.created_at.year for row in rows}, reverse=True)
            if not rows:
                self.memories.hide()
                return
            when = ", ".join(str(y) for y in years[:3]) + ("…" if len(years) > 3 else "")
            count = f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}"
            self.memories.setText(f"On this day: {count} from {when}")
            self.memories.show()

        self.ops.query_op(lambda app: app.journal.on_this_day(today)).success(done).run()

    def show_memories(self) -> None:
        today = QDate.currentDate()
        self.calendar.setSelectedDate(today)
        self.show_view(1)
        self.load_day()
        self.on_this_day.setFocus()

    def restore_selected(self) -> None:
        entry_id = self.trash_list.current_id()
        if entry_id is None:
            self.ctx.status("Select an entry in the trash first.")
            return
        self.ops.collection_op(lambda app: app.journal.restore_entry(entry_id)).success(
            lambda _e: self.ctx.status("Entry restored.")
        ).run()

    def purge_selected(self) -> None:
        entry_id = self.trash_list.current_id()
        if entry_id is None:
            return
        if not ask(
            self,
            "Delete forever?",
            "Delete this entry permanently? This cannot be undone.",
            yes=Button.Yes,
        ):
            return
        self.ops.collection_op(lambda app: app.journal.purge_entry(entry_id)).run()

    def empty_trash(self) -> None:
        if not ask(
            self,
            "Empty trash?",
            "Delete every entry in the trash permanently? This cannot be undone.",
            yes=Button.Yes,
        ):
            return
        self.ops.collection_op(lambda app: app.journal.empty_trash()).run()

    # -- internals -------------------------------------------------------------------------------------------

    def _dates_toggled(self, on: bool) -> None:
        self.date_from.setEnabled(on)
        self.date_to.setEnabled(on)
        self.apply_query()

    def _focus_list(self) -> None:
        self.apply_query()
        self.list.setFocus()

    def _current_changed(self, current, _previous) -> None:
        if current.isValid():
            entry_id = current.data(IdRole)
            if entry_id is not None and entry_id != self.editor.entry_id:
                self.editor.load_entry(entry_id)

    def _loaded(self) -> None:
        model = self.model
        if model.query.is_search:
            if model.total is not None:
                n = model.total
                self.result_label.setText(f"{n:,} result" + ("" if n == 1 else "s"))
            elif model.exhausted:
                n = len(model.rows)
                self.result_label.setText(f"{n:,} result" + ("" if n == 1 else "s"))
        else:
            self.result_label.setText("")
        if self._select_after_load is not None:
            row = model.row_of(self._select_after_load)
            if row >= 0:
                self._select_after_load = None
                self.list.selectionModel().blockSignals(True)
                self.list.setCurrentIndex(model.index(row))
                self.list.selectionModel().blockSignals(False)
                self.list.viewport().update()

    def _created(self, entry_id: int) -> None:
        self._select_after_load = entry_id

    def _open_item(self, item: QListWidgetItem) -> None:
        entry_id = item.data(Qt.ItemDataRole.UserRole)
        if entry_id is not None:
            self.editor.load_entry(entry_id)

    def _tab_changed(self, index: int) -> None:
        if index == 1:
            self.load_day()


def format_day_only(day: date) -> str:
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}"
