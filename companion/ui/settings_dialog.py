"""Settings: theme, font size, auto-lock, data folder, change passphrase, export (opens File → Export),
automatic backups."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from companion.ui.settings import AUTOLOCK_MINUTES, FONT_SIZES, THEMES, UiSettings
from companion.ui.unlock import MIN_LENGTH


class SettingsDialog(QDialog):
    settings_changed = Signal()
    exported = Signal(int)

    def __init__(self, settings: UiSettings, data_dir: Path, ops, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self.settings = settings
        self.ops = ops

        self.theme = QComboBox()
        for name in THEMES:
            self.theme.addItem({"system": "Follow the system", "light": "Light", "dark": "Dark"}[name], name)
        self.theme.setCurrentIndex(self.theme.findData(settings.theme))
        self.theme.setAccessibleName("Theme")
        self.theme.setAccessibleDescription("Light, dark, or follow the system setting")
        self.font_size = QSpinBox()
        self.font_size.setRange(*FONT_SIZES)
        self.font_size.setSuffix(" pt")
        self.font_size.setValue(settings.font_size)
        self.font_size.setAccessibleName("Text size")
        self.font_size.setAccessibleDescription("The size of all text in Companion, in points")
        self.autolock = QSpinBox()
        self.autolock.setRange(*AUTOLOCK_MINUTES)
        self.autolock.setSuffix(" min")
        self.autolock.setValue(settings.autolock_minutes)
        self.autolock.setAccessibleName("Lock after idle minutes")
        self.autolock.setAccessibleDescription(
            "Lock the journal after this many minutes without use, including time the computer was asleep"
        )
        self.screen_lock = QCheckBox("Lock when the app is suspended or hidden, or the screen locks")
        self.screen_lock.setChecked(settings.lock_on_screen_lock)
        self.screen_lock.setAccessibleName("Lock with the screen")
        self.screen_lock.setAccessibleDescription(
            "Lock the journal when the system suspends or hides the app, or the screen locks (where known)"
        )
        self.folder = QLineEdit(str(data_dir))
        self.folder.setReadOnly(True)
        self.folder.setAccessibleName("Data folder")
        self.folder.setAccessibleDescription("Where the encrypted journal is stored")

        look = QGroupBox("Appearance and privacy")
        form = QFormLayout(look)
        form.addRow("Theme", self.theme)
        form.addRow("Text size", self.font_size)
        form.addRow("Lock after", self.autolock)
        form.addRow("", self.screen_lock)
        form.addRow("Data folder", self.folder)

        self.current = self._password("Current passphrase")
        self.new = self._password("New passphrase")
        self.repeat = self._password("Repeat new passphrase")
        self.change = QPushButton("Change passphrase")
        self.change.setAccessibleName("Change passphrase")
        self.change.setAccessibleDescription("Re-encrypt the journal with the new passphrase")
        self.change_busy = QProgressBar()
        self.change_busy.setRange(0, 0)
        self.change_busy.setMaximumHeight(6)
        self.change_busy.setTextVisible(False)
        self.change_busy.setAccessibleName("Changing passphrase")
        self.change_busy.hide()
        self.change_status = QLabel("")
        self.change_status.setWordWrap(True)
        self.change_status.setAccessibleName("Passphrase change status")
        passwd = QGroupBox("Passphrase")
        pform = QFormLayout(passwd)
        pform.addRow("Current", self.current)
        pform.addRow("New", self.new)
        pform.addRow("Repeat", self.repeat)
        pform.addRow("", self.change)
        pform.addRow("", self.change_busy)
        pform.addRow("", self.change_status)

        self.export_button = QPushButton("Export…")  # the one way: File → Export (JSON, Markdown, PDF, dates)
        self.export_button.setAccessibleName("Export")
        self.export_button.setAccessibleDescription(
            "Open File → Export: write entries, unencrypted, as JSON, Markdown or PDF"
        )
        self.export_status = QLabel("Exported files are not encrypted: keep them somewhere safe.")
        self.export_status.setWordWrap(True)
        self.export_status.setObjectName("Muted")
        export = QGroupBox("Export")
        erow = QHBoxLayout()
        erow.addStretch(1)
        erow.addWidget(self.export_button)
        elayout = QVBoxLayout(export)
        elayout.addLayout(erow)
        elayout.addWidget(self.export_status)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setAccessibleName("Close")
        from companion.ui.backup_ui import AutoBackupSettings

        self.backup = AutoBackupSettings(settings, ops)
        self.backup.changed.connect(self.settings_changed)
        layout = QVBoxLayout(self)
        for box in (look, passwd, export, self.backup):
            layout.addWidget(box)
        layout.addWidget(buttons)

        self.theme.currentIndexChanged.connect(self._changed)
        self.font_size.valueChanged.connect(self._changed)
        self.autolock.valueChanged.connect(self._changed)
        self.screen_lock.toggled.connect(self._changed)
        self.change.clicked.connect(self.change_passphrase)
        self.export_button.clicked.connect(self._choose_export)

    @staticmethod
    def _password(name: str) -> QLineEdit:
        field = QLineEdit()
        field.setEchoMode(QLineEdit.EchoMode.Password)
        field.setAccessibleName(name)
        field.setAccessibleDescription(name)
        return field

    def _changed(self) -> None:
        self.settings.theme = self.theme.currentData()
        self.settings.font_size = self.font_size.value()
        self.settings.autolock_minutes = self.autolock.value()
        self.settings.lock_on_screen_lock = self.screen_lock.isChecked()
        self.settings_changed.emit()

    def change_passphrase(self) -> None:
        current, new = self.current.text(), self.new.text()
        if len(new) < MIN_LENGTH:
            self._change_result(f"The new passphrase needs at least {MIN_LENGTH} characters.", ok=False)
            return
        if new != self.repeat.text():
            self._change_result("The two new passphrases are not the same.", ok=False)
            return
        self.change.setEnabled(False)
        self.change_busy.show()
        self.change_status.setText("Changing the passphrase… keep Companion open.")
        from companion.ui.backup_ui import change_passphrase_and_backup_key

        remember = self.settings.backup_enabled and bool(self.settings.backup_folder)
        self.ops.collection_op(
            lambda app: change_passphrase_and_backup_key(app, current, new, remember)
        ).success(
            lambda _v: self._change_result("Passphrase changed. Use the new one from now on.", ok=True)
        ).failure(lambda exc: self._change_result(str(exc), ok=False)).run()

    def _change_result(self, message: str, *, ok: bool) -> None:
        self.change.setEnabled(True)
        self.change_busy.hide()
        self.change_status.setText(message)
        self.change_status.setObjectName("Muted" if ok else "Warning")
        self.change_status.setStyleSheet("")
        self.change_status.setAccessibleDescription(message)
        if ok:
            for field in (self.current, self.new, self.repeat):
                field.clear()

    def _choose_export(self) -> None:
        from companion.ui.export_dialog import ExportDialog

        dialog = ExportDialog(self.ops, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def export_to(self, fmt: str, path: Path) -> None:
        self.export_button.setEnabled(False)
        self.export_status.setText("Exporting…")

        def done(count: int) -> None:
            self.export_button.setEnabled(True)
            self.export_status.setText(f"Exported {count:,} entries to {path}.")
            self.exported.emit(count)

        def failed(exc: BaseException) -> None:
            self.export_button.setEnabled(True)
            self.export_status.setText(str(exc) if str(exc) else "Export failed.")
            self.exported.emit(-1)

        self.export_op = self.ops.query_op(
            lambda app, task: app.transfer.export(
                fmt, path, progress=task.report, cancelled=task.is_cancelled
            ),
            progress="Exporting your journal…",
            parent=self,
        ).success(done).failure(failed).run()


SHORTCUTS_INTRO = "Everything in Companion can be done from the keyboard. Tab moves between controls."


class ShortcutsDialog(QDialog):
    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setAccessibleName("Keyboard shortcuts")
        from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

        intro = QLabel(SHORTCUTS_INTRO)
        intro.setWordWrap(True)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.setAccessibleName("Shortcut list")
        self.table.setAccessibleDescription("Each row: keys, then what they do")
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for i, (keys, what) in enumerate(rows):
            self.table.setItem(i, 0, QTableWidgetItem(keys))
            self.table.setItem(i, 1, QTableWidgetItem(what))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setAccessibleName("Close")
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 520)
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
