"""The attendance report dialog: choose the periods, format and disclosure profile (or differential privacy),
see the report exactly as it would be written — hidden cells marked — and only then write the file.

The preview is ``app.attendance.preview(...)`` (writes nothing, draws no noise); Export is
``app.attendance.export(...)`` in an op with progress. The service's refusals (an overlapping period, a period
not over yet, a spent privacy budget) are written for the person and shown as they are."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QDate, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from companion.ui import theme

MEASURES = ("sessions", "hours", "attendances", "unique_attendees", "new_attendees", "returning_attendees")
HEADERS = ("Period", "Format", "Sessions", "Hours", "Attendances", "People", "New", "Returning")
ROW_NAMES = {"in_person": "In person", "online": "Online", "one_to_one": "One-to-one", "all": "All formats"}
FORMATS = (("CSV (spreadsheet)", "csv"), ("JSON", "json"), ("PDF (one page)", "pdf"))
MARKER_MEANING = {
    "<11": "hidden: fewer than 11",
    "*": "hidden: a small number, or hidden to protect another cell",
    "x": "hidden: 11 or more, hidden so that a smaller hidden cell cannot be worked out",
}
LEGEND = (
    "Shaded cells are hidden. “<11” stands for 1 to 10 (strict), “*” for 1 to 7 (NHS); either may also hide a "
    "0 in a row about very few people. “x” (and “*” under NHS) hides a cell that would let a reader work out a "
    "hidden one. Other counts are rounded to the nearest 5, hours to the nearest 5 hours; 0 means none. "
    "People counts are different people; New means their first attendance ever was in that period."
)
RELEASE_RULES = (
    "Exporting records what was released. A period released before gives exactly the same numbers again, "
    "even if you changed the records since. A period that overlaps one released before (a quarter after one "
    "of its months, or the other way round) is refused, and so is a period that has not ended yet."
)
NO_NAMES = "The file holds counts per period only: no names or pseudonyms, no meeting dates, times, topics or notes."
DP_HELP = (
    "Differential privacy needs OpenDP, an optional part of Companion (about 265 MB). To enable it, install "
    "it with: pip install 'companion[dp]' — then restart Companion. Without it, use the strict or NHS profile."
)
DP_NOTE = (
    "Noise is drawn once, when you export, and recorded; the preview shows which cells will get it. Each "
    "period has a privacy budget of epsilon 2. Useful for programmes with hundreds of attendances, not for one "
    "small circle."
)


def last_month(today: date) -> date:
    return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)


class ExportDialog(QDialog):
    """Preview, then export, an anonymised attendance report."""

    def __init__(self, ops, parent: QWidget | None = None, *, today: date | None = None) -> None:
        super().__init__(parent)
        self.ops = ops
        self.today = today  # tests and screenshots may fix "today"; None means the real date
        self.report: Any = None
        self.dp_available = False
        self._preview_serial = 0
        self._answered_serial = 0
        self._closed = False  # results that arrive after the dialog closed are dropped
        self.setWindowTitle("Attendance report")
        self.setAccessibleName("Attendance report")
        self.setAccessibleDescription("Preview an anonymised attendance report, then export it.")
        self.resize(900, 760)

        start = last_month(today or date.today())
        self.kind = QComboBox()
        self.kind.addItem("Months", "month")
        self.kind.addItem("Quarters", "quarter")
        self.kind.setAccessibleName("Period")
        self.kind.setAccessibleDescription("Report by whole calendar month or by quarter.")
        self.first = QDateEdit(QDate(start))
        self.last = QDateEdit(QDate(start))
        for edit, name in ((self.first, "From"), (self.last, "To")):
            edit.setDisplayFormat("MMMM yyyy")
            edit.setCalendarPopup(True)
            edit.setAccessibleName(name)
            edit.setAccessibleDescription("Every whole month or quarter this range touches is included.")
        self.fmt = QComboBox()
        for label, key in FORMATS:
            self.fmt.addItem(label, key)
        self.fmt.setAccessibleName("File format")
        self.fmt.setAccessibleDescription("CSV, JSON or a one-page PDF.")
        self.profile = QComboBox()
        self.profile.addItem("Strict", "strict")
        self.profile.addItem("NHS", "nhs")
        self.profile.setAccessibleName("Disclosure profile")
        self.profile.setAccessibleDescription("How small numbers are hidden and counts rounded.")
        self.profile_help = self._label("", "Profile description", muted=True)
        self.use_dp = QCheckBox("Use differential privacy instead (adds random noise)")
        self.use_dp.setAccessibleName("Use differential privacy")
        self.use_dp.setAccessibleDescription("Add calibrated random noise instead of hiding small numbers.")
        self.epsilon = QDoubleSpinBox()
        self.epsilon.setRange(0.01, 2.0)
        self.epsilon.setDecimals(2)
        self.epsilon.setSingleStep(0.1)
        self.epsilon.setValue(1.0)
        self.epsilon.setPrefix("epsilon ")
        self.epsilon.setAccessibleName("Epsilon")
        self.epsilon.setAccessibleDescription("Privacy loss: smaller means more noise and more privacy.")
        self.epsilon.setEnabled(False)
        self.use_dp.setEnabled(False)
        self.dp_help = self._label("", "Differential privacy", muted=True)

        period_row = QHBoxLayout()
        period_row.addWidget(self.kind)
        period_row.addWidget(QLabel("from"))
        period_row.addWidget(self.first)
        period_row.addWidget(QLabel("to"))
        period_row.addWidget(self.last)
        period_row.addStretch(1)
        dp_row = QHBoxLayout()
        dp_row.addWidget(self.use_dp)
        dp_row.addWidget(self.epsilon)
        dp_row.addStretch(1)
        form = QFormLayout()
        for text, buddy, field in (
            ("Peri&ods", self.kind, period_row),
            ("&Profile", self.profile, self.profile),
            ("File &format", self.fmt, self.fmt),
        ):
            label = QLabel(text)
            label.setBuddy(buddy)  # Alt + the underlined letter moves to the field
            form.addRow(label, field)
            if field is self.profile:
                form.addRow("", self.profile_help)
                form.addRow("", dp_row)
                form.addRow("", self.dp_help)

        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.setTabKeyNavigation(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName("Report preview")
        self.table.setAccessibleDescription(
            "The report as it would be written, one row per period and format. Hidden cells are shaded and "
            "say what their marker means."
        )
        for header, name in ((self.table.horizontalHeader(), "Columns"), (self.table.verticalHeader(), "Rows")):
            header.setAccessibleName(name)
        rows_high = self.table.verticalHeader().defaultSectionSize() * 4
        self.table.setMinimumHeight(
            self.table.horizontalHeader().sizeHint().height() + rows_high + 2 * self.table.frameWidth() + 2
        )
        for button in self.table.findChildren(QAbstractButton):
            button.setAccessibleName("Select all cells")
        self.legend = self._label(LEGEND, "Legend", muted=True)
        self.state = self._label("", "Preview status")
        self.rules = self._label(RELEASE_RULES, "Release rules", muted=True)
        self.no_names = self._label(NO_NAMES, "What the file holds")
        self.result = self._label("", "Export result")

        self.preview_button = QPushButton("P&review")
        self.preview_button.setAccessibleName("Preview")
        self.preview_button.setAccessibleDescription("Show the report as it would be written (writes nothing).")
        self.preview_button.clicked.connect(self.refresh)
        self.export_button = QPushButton("&Export…")
        self.export_button.setAccessibleName("Export")
        self.export_button.setAccessibleDescription("Choose where to save the file, record the release and write it.")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._export_clicked)
        self.close_button = QPushButton("Close")
        self.close_button.setAccessibleName("Close")
        self.close_button.setAccessibleDescription("Close without exporting.")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.preview_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.state)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.legend)
        layout.addWidget(self.rules)
        layout.addWidget(self.no_names)
        layout.addWidget(self.result)
        layout.addLayout(buttons)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self.refresh)
        for signal in (
            self.kind.currentIndexChanged,
            self.profile.currentIndexChanged,
            self.first.dateChanged,
            self.last.dateChanged,
            self.use_dp.toggled,
            self.epsilon.valueChanged,
        ):
            signal.connect(lambda *_a: self._changed())
        self.use_dp.toggled.connect(self._dp_toggled)
        self.profile.currentIndexChanged.connect(lambda _i: self._show_profile_help())
        self._descriptions: dict[str, str] = {}

        self.ops.query_op(lambda app: (app.attendance.profiles(), app.attendance.dp_available())).success(
            self._options_loaded
        ).run()
        self.refresh()

    @staticmethod
    def _label(text: str, name: str, *, muted: bool = False) -> QLabel:
        label = QLabel(text)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setWordWrap(True)
        label.setAccessibleName(name)
        if muted:
            label.setObjectName("Muted")
        return label

    # -- options ---------------------------------------------------------------------------------------------

    def _options_loaded(self, result: tuple[list[tuple[str, str]], bool]) -> None:
        if self._gone():
            return
        profiles, available = result
        current = self.profile.currentData()
        self.profile.blockSignals(True)
        self.profile.clear()
        for name, description in profiles:
            self.profile.addItem("NHS" if name == "nhs" else name.capitalize(), name)
            self._descriptions[name] = description
        self.profile.setCurrentIndex(max(0, self.profile.findData(current)))
        self.profile.blockSignals(False)
        self._show_profile_help()
        self.dp_available = available
        self.use_dp.setEnabled(available)
        self.dp_help.setText(DP_NOTE if available else DP_HELP)

    def _show_profile_help(self) -> None:
        self.profile_help.setText(self._descriptions.get(self.profile.currentData(), ""))

    def _dp_toggled(self, on: bool) -> None:
        self.epsilon.setEnabled(on)
        self.profile.setEnabled(not on)

    # -- the request -----------------------------------------------------------------------------------------

    def request(self) -> dict[str, Any]:
        first = self.first.date().toPython().replace(day=1)
        last = self.last.date().toPython()
        return {
            "kind": self.kind.currentData(),
            "first": first,
            "last": max(last, first),
            "profile": self.profile.currentData() or "strict",
            "epsilon": round(self.epsilon.value(), 2) if self.use_dp.isChecked() else None,
        }

    def _changed(self) -> None:
        self.export_button.setEnabled(False)
        self.result.clear()
        self._timer.start()

    def refresh(self) -> None:
        """Ask the service for the preview of the current choices."""
        self._timer.stop()
        self._preview_serial += 1
        serial = self._preview_serial
        r = self.request()
        today = self.today
        self.state.setText("Preparing the preview…")
        self.export_button.setEnabled(False)
        self.ops.query_op(
            lambda app: app.attendance.preview(
                r["kind"], r["first"], r["last"], profile=r["profile"], epsilon=r["epsilon"], today=today
            )
        ).success(lambda report: self._show(serial, report)).failure(lambda exc: self._failed(serial, exc)).run()

    def done(self, result: int) -> None:
        self._closed = True
        self._timer.stop()
        super().done(result)

    def _gone(self) -> bool:
        """Closed, or destroyed with its parent: results arriving now are dropped."""
        return self._closed or not shiboken6.isValid(self)

    def is_current(self) -> bool:
        """Whether the preview shown answers the current choices (none is on its way)."""
        return self._answered_serial == self._preview_serial and not self._timer.isActive()

    def _failed(self, serial: int, exc: BaseException) -> None:
        if self._gone() or serial != self._preview_serial:
            return
        self._answered_serial = serial
        self.report = None
        self.table.setRowCount(0)
        self.state.setText(self._message(exc))

    def _message(self, exc: BaseException) -> str:
        from companion.errors import CompanionError

        if isinstance(exc, CompanionError):
            return str(exc)
        self.ops.presenter.present(exc)
        return "The preview could not be prepared."

    def _show(self, serial: int, report: Any) -> None:
        if self._gone() or serial != self._preview_serial:
            return  # the choices changed while this preview was on its way
        self._answered_serial = serial
        self.report = report
        t = theme.current()
        shade, on_shade = QBrush(QColor(t.mark)), QBrush(QColor(t.mark_text))
        bold = QFont(self.table.font())
        bold.setBold(True)
        self.table.setRowCount(len(report.rows))
        for row, cells in enumerate(report.rows):
            values = [cells["period"], ROW_NAMES.get(cells["format"], cells["format"])]
            self._set(row, 0, values[0], values[0])
            self._set(row, 1, values[1], values[1])
            for col, measure in enumerate(MEASURES, start=2):
                value = cells[measure]
                header = HEADERS[col]
                if value is None:
                    item = self._set(row, col, "noise", f"{header}: drawn at export, with noise")
                    item.setForeground(QBrush(QColor(t.muted)))
                elif isinstance(value, str):
                    meaning = MARKER_MEANING.get(value, "hidden")
                    item = self._set(row, col, value, f"{header}: {meaning}")
                    item.setBackground(shade)
                    item.setForeground(on_shade)
                    item.setFont(bold)
                    item.setToolTip(meaning)
                    item.setData(Qt.ItemDataRole.UserRole, "hidden")
                else:
                    self._set(row, col, str(value), f"{header}: {value}")
        hidden = len(report.hidden())
        periods = f"{report.labels[0]} to {report.labels[-1]}" if len(report.labels) > 1 else report.labels[0]
        parts = [f"Preview of {periods}: {hidden} cell{'s' * (hidden != 1)} hidden."]
        if report.released_before:
            parts.append(f"Released before, so the same numbers again: {', '.join(report.released_before)}.")
        if report.pending:
            parts.append("Cells marked “noise” are drawn when you export.")
        if report.blocked:
            parts = [f"This report cannot be exported. {report.blocked}"]
        self.state.setText(" ".join(parts))
        self.export_button.setEnabled(report.blocked is None)

    def _set(self, row: int, col: int, text: str, accessible: str) -> QTableWidgetItem:
        item = QTableWidgetItem(text)
        item.setData(Qt.ItemDataRole.AccessibleTextRole, accessible)
        if col >= 2:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.table.setItem(row, col, item)
        return item

    def hidden_cells(self) -> list[tuple[int, int, str]]:
        """(row, column, text) of every cell shown as hidden (for tests and screen readers)."""
        out = []
        for row in range(self.table.rowCount()):
            for col in range(self.table.columnCount()):
                item = self.table.item(row, col)
                if item is not None and item.data(Qt.ItemDataRole.UserRole) == "hidden":
                    out.append((row, col, item.text()))
        return out

    # -- export ----------------------------------------------------------------------------------------------

    def ask_path(self) -> Path | None:
        fmt = self.fmt.currentData()
        r = self.request()
        suggested = f"attendance-{r['first']:%Y-%m}.{fmt}"
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the attendance report", str(Path.home() / suggested), f"{fmt.upper()} (*.{fmt})"
        )
        return Path(path) if path else None

    def _export_clicked(self) -> None:
        path = self.ask_path()
        if path is not None:
            self.export_to(path)

    def export_to(self, path: Path) -> None:
        """Release the report to ``path`` (an op with progress); the result shows below the preview."""
        fmt = self.fmt.currentData()
        path = Path(path)
        if path.suffix.lower() != f".{fmt}":
            path = path.with_name(path.name + f".{fmt}")
        r = self.request()
        today = self.today

        def op(app, task):
            task.report(0, 1)
            changed = app.attendance.export(
                r["kind"], r["first"], r["last"], fmt, path, profile=r["profile"], epsilon=r["epsilon"], today=today
            )
            task.report(1, 1)
            return changed

        self.export_button.setEnabled(False)
        self.result.setText("Writing the report…")
        self.ops.collection_op(op, progress="Writing the attendance report…", parent=self).success(
            lambda _report: self._exported(path)
        ).failure(self._export_failed).run()

    def _exported(self, path: Path) -> None:
        if self._gone():
            return
        self.result.setText(f"Saved {path.name}. {NO_NAMES}")
        self.refresh()

    def _export_failed(self, exc: BaseException) -> None:
        if self._gone():
            self.ops.presenter.present(exc)
            return
        self.result.setText(f"Nothing was written. {self._message(exc)}")
        self.refresh()

    # -- locking ---------------------------------------------------------------------------------------------

    def clear_for_lock(self) -> None:
        self._timer.stop()
        self._preview_serial += 1
        self.report = None
        self.table.clearContents()
        self.table.setRowCount(0)
        for label in (self.state, self.result, self.profile_help):
            label.clear()
