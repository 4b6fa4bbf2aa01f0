"""File → Import…: bring entries in from jrnl, Day One, a Markdown folder or a Companion JSON export.

The import runs as one op on the vault worker with a progress dialog and Cancel
(``app.transfer.import_file(fmt, path, progress=task.report, cancelled=task.is_cancelled)``); the core does it
in one transaction, so Cancel or an error leaves the journal exactly as it was. Afterwards the dialog shows
the :class:`~companion.transfer.model.ImportReport`: how many entries, new tags and attachments came in, and
every skipped item with its place and reason (plain text).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from companion.errors import CancelledError, CompanionError
from companion.transfer.model import ImportReport

# (format, label, accepts a file, accepts a folder, file filter)
FORMATS = [
    (
        "jrnl",
        "jrnl (journal file or JSON export)",
        True,
        False,
        "jrnl journals (*.txt *.json *);;All files (*)",
    ),
    (
        "dayone",
        "Day One (JSON export: .zip or its folder)",
        True,
        True,
        "Day One export (*.zip);;All files (*)",
    ),
    ("markdown", "A folder of Markdown notes (Obsidian, Companion …)", False, True, ""),
    ("companion", "Companion JSON export", True, False, "Companion export (*.json);;All files (*)"),
]
CANCELLED = "Import cancelled. Nothing was imported."


class ImportDialog(QDialog):
    """Choose a format and a source, import with progress, then read the report.

    ``import_from(fmt, path)`` starts an import programmatically (tests); ``finished_import`` carries the
    :class:`ImportReport`, or None when it was cancelled or failed (the reason is in :attr:`status`).
    """

    finished_import = Signal(object)

    def __init__(self, ops, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops = ops
        self.op = None
        self.report: ImportReport | None = None
        self.setWindowTitle("Import")
        self.setAccessibleName("Import")
        self.setAccessibleDescription("Bring entries into Companion from another journal app")

        intro = QLabel(
            "Entries come into this journal encrypted, in one step: if you cancel or something is wrong with "
            "the file, nothing is imported. Importing the same source again adds nothing twice."
        )
        intro.setWordWrap(True)
        self.format = QComboBox()
        for key, label, *_rest in FORMATS:
            self.format.addItem(label, key)
        self.format.setAccessibleName("Import format")
        self.format.setAccessibleDescription("Which app the entries come from")
        self.path = QLineEdit()
        self.path.setPlaceholderText("Choose a file or folder")
        self.path.setAccessibleName("Import source")
        self.path.setAccessibleDescription("The file or folder to import from")
        self.choose_file = QPushButton("File…")
        self.choose_file.setAccessibleName("Choose file")
        self.choose_file.setAccessibleDescription("Choose the file to import")
        self.choose_folder = QPushButton("Folder…")
        self.choose_folder.setAccessibleName("Choose folder")
        self.choose_folder.setAccessibleDescription("Choose the folder to import")
        source = QHBoxLayout()
        source.addWidget(self.path, 1)
        source.addWidget(self.choose_file)
        source.addWidget(self.choose_folder)
        form = QFormLayout()
        form.addRow("From", self.format)
        form.addRow("Source", source)

        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Import status")
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setAccessibleName("Import report")
        self.details.setAccessibleDescription("What was imported, and what was skipped and why")
        self.details.hide()

        self.buttons = QDialogButtonBox()
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setAccessibleName("Start import")
        self.import_button.setAccessibleDescription("Import the chosen source into this journal")
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.setAccessibleName("Close")
        self.buttons.rejected.connect(self.reject)
        self.import_button.clicked.connect(self._start)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.buttons)
        self.resize(620, 300)

        self.format.currentIndexChanged.connect(self._format_changed)
        self.path.textChanged.connect(lambda _t: self._update())
        self.choose_file.clicked.connect(self._choose_file)
        self.choose_folder.clicked.connect(self._choose_folder)
        self._format_changed()

    # -- public ----------------------------------------------------------------------------------------------

    def import_from(self, fmt: str, path: Path) -> None:
        """Start importing ``path`` as ``fmt`` (what the Import button does)."""
        self.format.setCurrentIndex(self.format.findData(fmt))
        self.path.setText(str(path))
        self._start()

    def clear(self) -> None:
        self.details.clear()
        self.status.clear()
        self.path.clear()
        self.report = None

    def done(self, result: int) -> None:
        # A running import keeps running (it is one transaction); a closed dialog just stops showing it.
        self.clear()
        super().done(result)

    # -- internals -------------------------------------------------------------------------------------------

    def _spec(self):
        return next(f for f in FORMATS if f[0] == self.format.currentData())

    def _format_changed(self) -> None:
        _key, _label, files, folders, _filter = self._spec()
        self.choose_file.setEnabled(files)
        self.choose_folder.setEnabled(folders)
        self._update()

    def _update(self) -> None:
        self.import_button.setEnabled(bool(self.path.text().strip()) and self.op is None)

    def _choose_file(self) -> None:
        path, _f = QFileDialog.getOpenFileName(self, "Import from a file", "", self._spec()[4])
        if path:
            self.path.setText(path)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import from a folder")
        if path:
            self.path.setText(path)

    def _start(self) -> None:
        text = self.path.text().strip()
        if not text or self.op is not None:
            return
        fmt, path = self.format.currentData(), Path(text).expanduser()
        self.report = None
        self.details.clear()
        self.details.hide()
        self._set_status("Importing…")
        self.op = self.ops.collection_op(
            lambda app, task: app.transfer.import_file(
                fmt, path, progress=task.report, cancelled=task.is_cancelled
            ),
            progress="Importing entries…",
            parent=self.parentWidget() or self,  # outlives this dialog (closed on lock)
        )
        self.op.success(self._imported).failure(self._failed).run()
        self._update()

    def _imported(self, report: ImportReport) -> None:
        self.op = None
        self.report = report
        headline, _sep, rest = report.summary().partition("\n")
        if not report.entries and report.duplicates and report.duplicates == len(report.skipped):
            headline += " Everything in it was already in the journal."
        self._set_status(headline)
        self.details.setPlainText(rest.strip() if rest.strip() else "Nothing was skipped.")
        self.details.show()
        self.details.setFocus()
        self._update()
        self.finished_import.emit(report)

    def _failed(self, exc: BaseException) -> None:
        self.op = None
        if isinstance(exc, CancelledError):
            self._set_status(CANCELLED)
        else:
            message = str(exc) if str(exc) else "The import did not finish. Nothing was imported."
            self._set_status(message)
            if not isinstance(exc, CompanionError):  # unexpected: the one presenter logs it (by type only)
                self.ops.presenter.present(exc)
        self._update()
        self.finished_import.emit(None)

    def _set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setAccessibleDescription(text)
