"""File → Export…: JSON (complete, re-importable), a Markdown folder, or a printable PDF, with a date range.

This is the one way to export from the app (Settings → Export opens this dialog). Exporting writes plaintext
outside the vault, so before anything is written the person reads a plain warning (the command line's wording)
and must confirm. The export runs on the vault worker with progress and Cancel; the core writes under a
temporary name and renames into place, so a cancelled export leaves nothing behind.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from companion.errors import CancelledError, CompanionError

FORMATS = [
    ("json", "JSON (one file, complete: can be imported again)", "companion-journal.json", "JSON (*.json)"),
    ("markdown", "Markdown (a new folder, one file per entry)", "companion-journal", ""),
    ("pdf", "PDF (a printable journal)", "companion-journal.pdf", "PDF (*.pdf)"),
]
CANCELLED = "Export cancelled. Nothing was written."


def plaintext_warning(output: Path) -> str:
    """The same words the command line prints before an export."""
    return (
        f"Warning: this writes your journal to {output} WITHOUT encryption. Anyone who can read that file "
        "can read what you wrote."
    )


def confirm_plaintext(parent: QWidget | None, output: Path) -> bool:
    """Show the plaintext warning; True only if the person chose to write the unencrypted copy."""
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Export without encryption",
        plaintext_warning(output),
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setObjectName("PlaintextWarning")
    box.setInformativeText(
        "Keep the copy somewhere only you can reach, and delete it when you no longer need it."
    )
    write = box.addButton("Write unencrypted copy", QMessageBox.ButtonRole.AcceptRole)
    write.setAccessibleName("Write unencrypted copy")
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    cancel.setAccessibleName("Cancel")
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    box.setAccessibleName("Export without encryption")
    box.setAccessibleDescription(plaintext_warning(output))
    box.exec()
    return box.clickedButton() is write


class ExportDialog(QDialog):
    """Format, optional date range, destination; warn; export with progress. ``exported`` carries the count
    written, or -1 when cancelled, refused or failed (the reason is in :attr:`status`)."""

    exported = Signal(int)

    def __init__(self, ops, parent: QWidget | None = None, *, confirm=confirm_plaintext) -> None:
        super().__init__(parent)
        self.ops = ops
        self.op = None
        self._confirm = confirm
        self.setWindowTitle("Export")
        self.setAccessibleName("Export")
        self.setAccessibleDescription("Write entries, unencrypted, to a file or folder you choose")

        self.format = QComboBox()
        for key, label, *_rest in FORMATS:
            self.format.addItem(label, key)
        self.format.setAccessibleName("Export format")
        self.format.setAccessibleDescription(
            "JSON keeps everything; Markdown is easy to read elsewhere; PDF prints"
        )
        self.ranged = QCheckBox("Only entries from")
        self.ranged.setAccessibleName("Only a date range")
        self.ranged.setAccessibleDescription("Export only entries written between the two dates (inclusive)")
        today = QDate.currentDate()
        self.date_from = self._date("From date", today.addMonths(-1))
        self.date_to = self._date("To date", today)
        dates = QHBoxLayout()
        dates.addWidget(self.ranged)
        dates.addWidget(self.date_from)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.date_to)
        dates.addStretch(1)
        form = QFormLayout()
        form.addRow("Format", self.format)
        form.addRow("Entries", dates)
        note = QLabel("Exported files are not encrypted: keep them somewhere safe.")
        note.setObjectName("Muted")
        note.setWordWrap(True)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Export status")

        buttons = QDialogButtonBox()
        self.export_button = buttons.addButton("Export…", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setAccessibleName("Choose where and export")
        self.export_button.setAccessibleDescription("Choose a destination, confirm the warning, then export")
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close")
        buttons.rejected.connect(self.reject)
        self.export_button.clicked.connect(self._choose)
        self.ranged.toggled.connect(self._ranged)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self._ranged(False)

    @staticmethod
    def _date(name: str, value: QDate) -> QDateEdit:
        edit = QDateEdit(value)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("d MMM yyyy")
        edit.setAccessibleName(name)
        edit.setAccessibleDescription(f"{name} of the entries to export (inclusive)")
        return edit

    def _ranged(self, on: bool) -> None:
        self.date_from.setEnabled(on)
        self.date_to.setEnabled(on)

    def range(self) -> tuple[date | None, date | None]:
        if not self.ranged.isChecked():
            return None, None
        return self.date_from.date().toPython(), self.date_to.date().toPython()

    def _choose(self) -> None:
        fmt = self.format.currentData()
        _key, _label, default, file_filter = next(f for f in FORMATS if f[0] == fmt)
        if fmt == "markdown":
            path, _f = QFileDialog.getSaveFileName(
                self, "Export to a new folder", default, options=QFileDialog.Option.ShowDirsOnly
            )
        else:
            path, _f = QFileDialog.getSaveFileName(self, "Export to a file", default, file_filter)
        if path:
            self.export_to(fmt, Path(path))

    def export_to(
        self, fmt: str, path: Path, date_from: date | None = None, date_to: date | None = None
    ) -> None:
        """Warn, then export ``fmt`` to ``path``; the range defaults to the dialog's."""
        if self.op is not None:
            return
        if date_from is None and date_to is None:
            date_from, date_to = self.range()
        if not self._confirm(self, path):
            self._finish(CANCELLED, -1)
            return
        self.export_button.setEnabled(False)
        self._set_status("Exporting…")
        self.op = self.ops.query_op(
            lambda app, task: app.transfer.export(
                fmt,
                path,
                date_from=date_from,
                date_to=date_to,
                progress=task.report,
                cancelled=task.is_cancelled,
            ),
            progress="Exporting your journal…",
            parent=self.parentWidget() or self,  # outlives this dialog (closed on lock)
        )
        self.op.success(
            lambda count: self._finish(
                f"Exported {count:,} {'entry' if count == 1 else 'entries'} to {path}. "
                "This copy is not encrypted.",
                count,
            )
        ).failure(self._failed).run()

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, CancelledError):
            self._finish(CANCELLED, -1)
            return
        if not isinstance(exc, CompanionError):
            self.ops.presenter.present(exc)
        self._finish(str(exc) or "The export did not finish.", -1)

    def _finish(self, text: str, count: int) -> None:
        self.op = None
        self.export_button.setEnabled(True)
        self._set_status(text)
        self.exported.emit(count)

    def _set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setAccessibleDescription(text)
