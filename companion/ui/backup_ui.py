"""Encrypted backups from the app: File → Back up now…, and automatic backups to a folder, keeping the last N.

**The key.** A backup is encrypted with a key derived from the journal's passphrase (same salt and Argon2id
settings as the vault, so a backup restores with the passphrase the person already knows). The app never keeps
the passphrase; the transfer service keeps the *derived* key in memory until the journal locks
(``app.transfer.remember_backup_passphrase``). It gets it in one of two ways:

- when automatic backups are on, the unlock op derives it right after opening the vault
  (:func:`unlock_and_remember`, in the same op, so the passphrase goes no further than that op). That costs
  one more Argon2id derivation at unlock, so it only happens when automatic backups are on;
- otherwise "Back up now…" asks for the passphrase when no key is remembered yet, and remembers it for the
  rest of the session (automatic backups switched on later in the session then work too).

**Automatic backups** (:class:`AutoBackup`): while unlocked, a timer checks every 15 minutes whether the
newest automatic backup in the chosen folder is older than a day (the folder *is* the schedule's state:
nothing else is stored), and writes one with ``backup_to_folder(folder, keep=N)``, which then keeps only the
newest N files named ``companion-backup-….cbackup``; on lock, and when the window closes, a due backup is
written before the vault closes. Failures go to the status bar (never a modal every 15 minutes); closing asks
"Close anyway?" (the window's ``closeEvent``).

The folder, N and on/off are UI settings (``ui-settings.json``): they say nothing about what is in the
journal.

**Restore** (:class:`RestoreDialog`, from the first-run screen's "Restore from a backup…"): choose a
``.cbackup`` file and give the passphrase it was made with; the whole file is checked before anything is
written (with progress and Cancel), it goes into this window's data folder, and the window then unlocks it with
that passphrase. Only a data folder without a journal can take a restore, so nothing is ever overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
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
from shiboken6 import isValid

from companion.errors import CompanionError
from companion.transfer.backup import BackupInfo
from companion.ui.settings import BACKUP_KEEP, UiSettings

INTERVAL = timedelta(days=1)
CHECK_MS = 15 * 60 * 1000
FIRST_CHECK_MS = 20 * 1000  # after unlock: not while the journal is still loading
SUFFIX = ".cbackup"


def unlock_and_remember(app, passphrase: str, remember: bool):
    """The unlock op: open the vault and, if asked, derive and keep the backup key (never the passphrase).

    A failure to derive the backup key never fails the unlock (backups then ask for the passphrase)."""
    changed = app.unlock(passphrase)
    if remember:
        try:
            app.transfer.remember_backup_passphrase(passphrase)
        except CompanionError:
            pass
    return changed


def change_passphrase_and_backup_key(app, current: str, new: str, remember: bool):
    """The change-passphrase op: re-key, then drop the backup key derived from the old passphrase.

    Kept, it would go on writing backups that open only with the old passphrase. With automatic backups on,
    the key is derived again from the new one (in the same op)."""
    changed = app.change_passphrase(current, new)
    app.transfer.forget_backup_passphrase()
    if remember:
        try:
            app.transfer.remember_backup_passphrase(new)
        except CompanionError:
            pass
    return changed


def _size(n: int) -> str:
    return f"{n / 1024:,.0f} KB" if n < 1024 * 1024 else f"{n / (1024 * 1024):,.1f} MB"


def _when(info: BackupInfo | None) -> str:
    if info is None or info.created_at is None:
        return "never"
    return info.created_at.astimezone().strftime("%a %d %b %Y, %H:%M")


class AutoBackup(QObject):
    """The automatic backup schedule (one per window). ``check()`` runs one check now.

    ``finished`` carries ``("done", BackupInfo, removed paths)``, ``("not due", newest)``,
    ``("no key", None)``,
    ``("off", None)`` or ``("failed", message)``.
    """

    finished = Signal(tuple)

    def __init__(self, ops, settings: UiSettings, status, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ops = ops
        self.settings = settings
        self.status = status
        self.interval = INTERVAL
        self._told_no_key = False
        self.timer = QTimer(self)
        self.timer.setInterval(CHECK_MS)
        self.timer.timeout.connect(self.check)
        self.first = QTimer(self)
        self.first.setSingleShot(True)
        self.first.setInterval(FIRST_CHECK_MS)
        self.first.timeout.connect(self.check)

    def wants_key(self) -> bool:
        return bool(self.settings.backup_enabled and self.settings.backup_folder)

    def start(self) -> None:
        """The journal was unlocked."""
        self._told_no_key = False
        self.timer.start()
        self.first.start()

    def stop(self) -> None:
        self.timer.stop()
        self.first.stop()

    def before_lock(self) -> None:
        """Called by the window's lock() before the lock op is queued: write a due backup first."""
        self.stop()
        self.check(on_lock=True)

    def before_close(self, then: Callable[[tuple], None]) -> None:
        """Called by the window when it is about to close: write a due backup first (on the vault worker), then
        ``then(result)`` with :attr:`finished`'s tuple. ``then`` always runs, a lock meanwhile included."""
        self.stop()
        self.check(on_lock=True, then=then)

    def check(self, *, on_lock: bool = False, then: Callable[[tuple], None] | None = None) -> None:
        if not self.wants_key():
            self.finished.emit(("off", None))
            if then is not None:
                then(("off", None))
            return
        folder, keep, interval = Path(self.settings.backup_folder), self.settings.backup_keep, self.interval

        def op(app):
            if not app.transfer.has_backup_key:
                return ("no key", None)
            backups = app.transfer.list_backups(folder)
            newest = backups[0] if backups else None
            if newest is not None and newest.created_at is not None:
                if datetime.now(UTC) - newest.created_at < interval:
                    return ("not due", newest)
            info, removed = app.transfer.backup_to_folder(folder, keep=keep)
            return ("done", info, removed)

        self.ops.query_op(op, keep_after_lock=on_lock).success(lambda r: self._result(r, then)).failure(
            lambda exc: self._failed(exc, then)
        ).run()

    def _result(self, result: tuple, then: Callable[[tuple], None] | None = None) -> None:
        if result[0] == "done":
            self.status(f"Automatic backup written ({_size(result[1].size)}).")
        elif result[0] == "no key" and not self._told_no_key:
            self._told_no_key = True
            self.status("Automatic backups need your passphrase once: use File → Back up now….")
        self.finished.emit(result)
        if then is not None:
            then(result)

    def _failed(self, exc: BaseException, then: Callable[[tuple], None] | None = None) -> None:
        if isinstance(exc, CompanionError):
            message = str(exc)
        elif isinstance(exc, OSError):  # e.g. the folder is gone, or is not a folder
            message = f"the backup folder could not be used ({exc.strerror or type(exc).__name__})"
        else:
            message = "the backup could not be written"
        self.status(f"Automatic backup failed: {message}")
        self.finished.emit(("failed", message))
        if then is not None:
            then(("failed", message))


class BackupNowDialog(QDialog):
    """Choose a file, give the passphrase if the session has no backup key yet, write an encrypted backup.

    ``backup_to(path, passphrase="")`` does what the Back up button does. ``backed_up`` carries the
    :class:`BackupInfo`, or None when it failed (the reason is in :attr:`status`).
    """

    backed_up = Signal(object)

    def __init__(self, ops, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops = ops
        self.op = None
        self.needs_passphrase = True
        self.setWindowTitle("Back up now")
        self.setAccessibleName("Back up now")
        self.setAccessibleDescription("Write one encrypted backup file of the whole journal")
        intro = QLabel(
            "A backup is one encrypted file holding your whole journal, images included. It opens with your "
            "journal's passphrase. Keep it on another disk or device."
        )
        intro.setWordWrap(True)
        stamp = datetime.now().strftime("%Y%m%d")
        self.path = QLineEdit(str(Path.home() / f"companion-{stamp}{SUFFIX}"))
        self.path.setAccessibleName("Backup file")
        self.path.setAccessibleDescription("Where the encrypted backup file is written")
        self.choose = QPushButton("Choose…")
        self.choose.setAccessibleName("Choose backup file")
        self.choose.setAccessibleDescription("Choose where to write the backup")
        where = QHBoxLayout()
        where.addWidget(self.path, 1)
        where.addWidget(self.choose)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName("Journal passphrase")
        self.passphrase.setAccessibleDescription(
            "Your journal's passphrase: needed once per unlock to make backups; it is not stored"
        )
        self.passphrase_label = QLabel("Passphrase")
        form = QFormLayout()
        form.addRow("Save to", where)
        form.addRow(self.passphrase_label, self.passphrase)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(6)
        self.busy.setTextVisible(False)
        self.busy.setAccessibleName("Backing up")
        self.busy.hide()
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Backup status")
        buttons = QDialogButtonBox()
        self.start_button = buttons.addButton("Back up", QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setAccessibleName("Back up")
        self.start_button.setAccessibleDescription("Write the encrypted backup file now")
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close")
        buttons.rejected.connect(self.reject)
        self.start_button.clicked.connect(
            lambda: self.backup_to(Path(self.path.text()), self.passphrase.text())
        )
        self.passphrase.returnPressed.connect(self.start_button.click)
        self.choose.clicked.connect(self._choose)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.busy)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.resize(560, 240)
        self._set_needs_passphrase(False)
        self.start_button.setEnabled(False)
        ops.query_op(lambda app: app.transfer.has_backup_key).success(self._key_known).run()

    def _key_known(self, known: bool) -> None:
        self._set_needs_passphrase(not known)
        self.start_button.setEnabled(True)
        (self.passphrase if not known else self.start_button).setFocus()

    def _set_needs_passphrase(self, needed: bool) -> None:
        self.needs_passphrase = needed
        self.passphrase.setVisible(needed)
        self.passphrase_label.setVisible(needed)

    def _choose(self) -> None:
        path, _f = QFileDialog.getSaveFileName(
            self, "Save the backup as", self.path.text(), f"Companion backups (*{SUFFIX})"
        )
        if path:
            self.path.setText(path if path.endswith(SUFFIX) else path + SUFFIX)

    def backup_to(self, path: Path, passphrase: str = "") -> None:
        if self.op is not None:
            return
        if self.needs_passphrase and not passphrase:
            self._set_status("Enter your journal's passphrase (it is needed once per unlock).")
            self.passphrase.setFocus()
            return
        self.passphrase.clear()
        self.start_button.setEnabled(False)
        self.busy.show()
        self._set_status("Writing the backup…")
        path = Path(path).expanduser()

        def op(app):
            if passphrase:
                app.transfer.remember_backup_passphrase(passphrase)  # kept (derived) until lock
            return app.transfer.backup(path)

        self.op = self.ops.query_op(op).success(self._done).failure(self._failed).run()

    def _done(self, info: BackupInfo) -> None:
        self.op = None
        self.busy.hide()
        self.start_button.setEnabled(True)
        self._set_needs_passphrase(False)
        self._set_status(f"Backup written: {info.path} ({_size(info.size)}). It opens with your passphrase.")
        self.backed_up.emit(info)

    def _failed(self, exc: BaseException) -> None:
        self.op = None
        self.busy.hide()
        self.start_button.setEnabled(True)
        if not isinstance(exc, CompanionError):
            self.ops.presenter.present(exc)
        self._set_status(str(exc) if isinstance(exc, CompanionError) else "The backup was not written.")
        self.backed_up.emit(None)

    def _set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setAccessibleDescription(text)

    def done(self, result: int) -> None:
        self.passphrase.clear()
        super().done(result)


class RestoreDialog(QDialog):
    """Choose a backup file and its passphrase, and restore it into the (journal-less) data folder.

    ``restore_from(path, passphrase)`` does what the Restore button does. ``restored`` carries the passphrase
    once the journal is in place (the window unlocks with it); on failure the reason is in :attr:`status`.
    """

    restored = Signal(str)

    def __init__(self, ops, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops = ops
        self.op = None
        self.setWindowTitle("Restore from a backup")
        self.setAccessibleName("Restore from a backup")
        self.setAccessibleDescription("Bring back a journal from an encrypted backup file")
        intro = QLabel(
            "Choose a backup file made by Companion and type the passphrase the journal had when the backup "
            "was made. The whole file is checked before anything is written."
        )
        intro.setWordWrap(True)
        self.path = QLineEdit()
        self.path.setPlaceholderText(f"A file ending in {SUFFIX}")
        self.path.setAccessibleName("Backup file")
        self.path.setAccessibleDescription("The encrypted backup file to restore")
        self.choose = QPushButton("Choose…")
        self.choose.setAccessibleName("Choose backup file")
        self.choose.setAccessibleDescription("Choose the backup file to restore")
        where = QHBoxLayout()
        where.addWidget(self.path, 1)
        where.addWidget(self.choose)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName("Backup passphrase")
        self.passphrase.setAccessibleDescription("The passphrase the journal had when the backup was made")
        form = QFormLayout()
        form.addRow("Backup file", where)
        form.addRow("Passphrase", self.passphrase)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Restore status")
        buttons = QDialogButtonBox()
        self.start_button = buttons.addButton("Restore", QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setAccessibleName("Restore")
        self.start_button.setAccessibleDescription("Check the backup and restore the journal from it")
        self.start_button.setEnabled(False)
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAccessibleName("Cancel")
        buttons.rejected.connect(self.reject)
        self.start_button.clicked.connect(lambda: self.restore_from(Path(self.path.text()), self.passphrase.text()))
        self.passphrase.returnPressed.connect(self.start_button.click)
        self.choose.clicked.connect(self._choose)
        for field in (self.path, self.passphrase):
            field.textChanged.connect(self._update)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.resize(560, 220)

    def _update(self) -> None:
        self.start_button.setEnabled(self.op is None and bool(self.path.text().strip() and self.passphrase.text()))

    def _choose(self) -> None:
        path, _f = QFileDialog.getOpenFileName(
            self, "Choose a backup", str(Path.home()), f"Companion backups (*{SUFFIX});;All files (*)"
        )
        if path:
            self.path.setText(path)
            self.passphrase.setFocus()

    def restore_from(self, path: Path, passphrase: str) -> None:
        if self.op is not None or not passphrase:
            return
        path = Path(path).expanduser()
        self.start_button.setEnabled(False)
        self._set_status("Checking the backup…")

        def op(app, task):
            from companion.services.transfer import restore

            restore(path, app.data_dir, passphrase, progress=task.report, cancelled=task.is_cancelled)
            return passphrase

        self.op = self.ops.query_op(
            op, progress="Checking and restoring the backup…", parent=self, keep_after_lock=True
        ).success(self._done).failure(self._failed).run()

    def _done(self, passphrase: str) -> None:
        self.op = None
        self.passphrase.clear()
        self._set_status("Restored. Opening the journal…")
        self.restored.emit(passphrase)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.op = None
        self._update()
        if not isinstance(exc, CompanionError):
            self.ops.presenter.present(exc)
        self._set_status(str(exc) if isinstance(exc, CompanionError) else "Nothing was restored.")
        if isinstance(exc, CompanionError) and "passphrase" in str(exc):
            self.passphrase.setFocus()
            self.passphrase.selectAll()

    def _set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setAccessibleDescription(text)

    def done(self, result: int) -> None:
        if self.op is not None and self.op.task is not None:
            self.op.task.cancel()  # closing the dialog mid-restore stops it; the folder stays as it was
        self.passphrase.clear()
        super().done(result)


class AutoBackupSettings(QGroupBox):
    """The Settings group: automatic backups on/off, the folder, how many to keep, and the last one's time."""

    changed = Signal()

    def __init__(self, settings: UiSettings, ops, parent: QWidget | None = None) -> None:
        super().__init__("Automatic backups", parent)
        self.settings = settings
        self.ops = ops
        self.enabled = QCheckBox("Back up automatically once a day while the journal is open, on lock and on closing")
        self.enabled.setChecked(settings.backup_enabled)
        self.enabled.setAccessibleName("Automatic backups")
        self.enabled.setAccessibleDescription(
            "Write an encrypted backup to the folder below once a day while unlocked, and when locking if due"
        )
        self.folder = QLineEdit(settings.backup_folder)
        self.folder.setReadOnly(True)
        self.folder.setPlaceholderText("Choose a folder, ideally on another disk")
        self.folder.setAccessibleName("Backup folder")
        self.folder.setAccessibleDescription("Where automatic backups are written")
        self.choose = QPushButton("Choose…")
        self.choose.setAccessibleName("Choose backup folder")
        self.choose.setAccessibleDescription("Choose the folder for automatic backups")
        self.keep = QSpinBox()
        self.keep.setRange(*BACKUP_KEEP)
        self.keep.setValue(settings.backup_keep)
        self.keep.setSuffix(" backups")
        self.keep.setAccessibleName("Backups to keep")
        self.keep.setAccessibleDescription(
            "Older automatic backups in the folder are deleted; nothing else is"
        )
        self.last = QLabel("")
        self.last.setObjectName("Muted")
        self.last.setAccessibleName("Last automatic backup")
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(self.choose)
        form = QFormLayout(self)
        form.addRow("", self.enabled)
        form.addRow("Folder", row)
        form.addRow("Keep the last", self.keep)
        form.addRow("", self.last)
        self.enabled.toggled.connect(self._changed)
        self.keep.valueChanged.connect(self._changed)
        self.choose.clicked.connect(self._choose)
        self.refresh_last()

    def set_folder(self, folder: str) -> None:
        self.folder.setText(folder)
        self._changed()

    def _choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for automatic backups", self.folder.text())
        if folder:
            self.set_folder(folder)

    def _changed(self) -> None:
        self.settings.backup_enabled = self.enabled.isChecked()
        self.settings.backup_folder = self.folder.text()
        self.settings.backup_keep = self.keep.value()
        self.refresh_last()
        self.changed.emit()

    def refresh_last(self) -> None:
        folder = self.settings.backup_folder
        if not folder:
            self.last.setText("Last automatic backup: none yet.")
            return
        from companion.transfer.backup import list_backups

        # file names only (no vault): the network pool keeps disk waits off the GUI thread
        def show(found: list[BackupInfo]) -> None:
            if isValid(self.last):  # the dialog may have closed meanwhile
                newest = found[0] if found else None
                self.last.setText(f"Last automatic backup: {_when(newest)} ({len(found)} in the folder).")

        self.ops.network_op(lambda: list_backups(Path(folder))).success(show).run()
