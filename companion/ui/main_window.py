"""The main window: first run / unlock / journal, the sidebar of pages, menus and shortcuts, and locking."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from companion.errors import WrongPassphraseError
from companion.services import Changes, Companion
from companion.ui import icons, theme
from companion.ui.dialogs import message
from companion.ui.locking import IdleWatcher, ScreenLockWatcher, default_clock
from companion.ui.ops import ErrorPresenter, OpRunner
from companion.ui.pages import Page, UiContext
from companion.ui.settings import UiSettings
from companion.ui.unlock import CreateScreen, UnlockScreen
from companion.vault.header import DEFAULT, KdfParams

log = logging.getLogger(__name__)
APP_TITLE = "Companion"  # the window title never shows entry text or titles


class MainWindow(QMainWindow):
    locked = Signal()
    unlocked = Signal()

    def __init__(
        self,
        data_dir: Path,
        *,
        kdf_params: KdfParams = DEFAULT,
        settings: UiSettings | None = None,
        clock=default_clock,
        interactive_errors: bool = True,
    ) -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        self.kdf_params = kdf_params
        self.settings = settings or UiSettings.load(self.data_dir)
        self.setWindowTitle(APP_TITLE)
        self.setAccessibleName("Companion")
        self.presenter = ErrorPresenter(lambda: self)
        self.presenter.interactive = interactive_errors
        self.companion = Companion(self.data_dir)
        self.ops = OpRunner(self.companion, self.presenter)
        self.ops.changed.connect(self._fan_out)
        self.state = ""
        self._closing = ""  # "backup": writing a backup before closing (or asking about its failure); "go"
        self.closing_note: ClosingNote | None = None
        self.close_question: QMessageBox | None = None

        status = QStatusBar()
        status.setAccessibleName("Status")
        self.setStatusBar(status)
        self.ctx = UiContext(ops=self.ops, settings=self.settings, status=self.show_status)

        self.create_screen = CreateScreen(str(self.data_dir))
        self.unlock_screen = UnlockScreen()
        self.create_screen.submitted.connect(self._create)
        self.create_screen.restore_requested.connect(self.restore_from_backup)
        self.unlock_screen.submitted.connect(self._unlock)

        self.page_classes: list[type[Page]] = []
        self.pages: list[Page] = []
        self._main_built = False
        self.main_area = QWidget()  # filled by ensure_main(), after the first screen is painted

        self.stack = QStackedWidget()
        for widget in (self.create_screen, self.unlock_screen, self.main_area):
            self.stack.addWidget(widget)
        self.setCentralWidget(self.stack)
        self._build_menus()

        self.idle = IdleWatcher(self.settings.autolock_minutes * 60, clock=clock, parent=self)
        self.idle.timed_out.connect(lambda: self.lock(reason="idle"))
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self.idle)
            app.applicationStateChanged.connect(self._app_state_changed)
            hints = QGuiApplication.styleHints()
            if hints is not None:
                hints.colorSchemeChanged.connect(self._color_scheme_changed)

        from companion.ui.backup_ui import AutoBackup

        self.backups = AutoBackup(self.ops, self.settings, self.show_status, self)  # automatic backups (issue 9)
        self.screen_lock = ScreenLockWatcher(self)
        self.screen_lock.screen_locked.connect(self._screen_locked)

        if self.settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(self.settings.window_geometry.encode("ascii")))
        else:
            self.resize(1100, 720)
        self._show_start()
        # Build the journal while the person types the passphrase, once the first screen has been painted.
        QTimer.singleShot(150, self.ensure_main)

    def ensure_main(self) -> None:
        """Build the sidebar and pages (once). Deferred so the first screen shows fast."""
        if self._main_built:
            return
        self._main_built = True
        from companion.ui.journal_page import JournalPage  # imported here: not needed for the first screen
        from companion.ui.pages import registered

        self.page_classes = registered()
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("Sidebar")
        self.sidebar.setAccessibleName("Sections")
        self.sidebar.setAccessibleDescription("Journal, Shared, Circles and Meetings (Ctrl+1 to Ctrl+4)")
        self.sidebar.setSpacing(2)
        self.sidebar.setIconSize(QSize(18, 18))
        self.pages_stack = QStackedWidget()
        for cls in self.page_classes:
            page = cls(self.ctx)
            self.pages.append(page)
            self.pages_stack.addWidget(page)
            item = QListWidgetItem(icons.icon(cls.icon), cls.title)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, cls.title)
            item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, cls.accessible_description)
            item.setToolTip(cls.accessible_description)
            item.setSizeHint(QSize(0, self.fontMetrics().height() + 18))
            self.sidebar.addItem(item)
        self.sidebar.currentRowChanged.connect(self.show_page)
        self.journal = next(p for p in self.pages if isinstance(p, JournalPage))
        pane = QWidget()
        pane.setObjectName("SidebarPane")
        pane.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        pane.setFixedWidth(180)
        brand = QLabel("Companion")
        brand.setObjectName("Brand")
        side = QVBoxLayout(pane)
        side.setContentsMargins(6, 0, 6, 6)
        side.addWidget(brand)
        side.addWidget(self.sidebar, 1)
        main = self.main_area
        row = QHBoxLayout(main)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(pane)
        row.addWidget(self.pages_stack, 1)
        self.main_area = main

        self.sidebar.setCurrentRow(0)
        self._view_menu.addSeparator()
        for i, cls in enumerate(self.page_classes):
            action = self._action(
                self._view_menu,
                cls.title,
                f"Ctrl+{i + 1}" if i < 9 else None,
                lambda i=i: (self.show_page(i), self.pages[i].setFocus()),
            )
            action.setEnabled(self.state == "main")
        self._view_menu.addSeparator()
        for page in self.pages:  # page-specific actions (with their shortcuts) join the View menu
            for action in page.actions_for_menu():
                self._view_menu.addAction(action)
                self._main_actions.append(action)
                action.setEnabled(self.state == "main")

    # -- states ----------------------------------------------------------------------------------------------

    def _show_start(self) -> None:
        if self.companion.exists:
            self._to_unlock(locked=False)
        else:
            self.state = "create"
            self.stack.setCurrentWidget(self.create_screen)
            self._set_main_actions(False)
            self.create_screen.passphrase.setFocus()

    def _to_unlock(self, *, locked: bool) -> None:
        self.state = "unlock"
        self.unlock_screen.clear()
        self.unlock_screen.set_locked_message(locked)
        self.stack.setCurrentWidget(self.unlock_screen)
        self._set_main_actions(False)
        self.unlock_screen.passphrase.setFocus()

    def _create(self, passphrase: str) -> None:
        params = self.kdf_params
        self.ops.collection_op(
            lambda app: app.create(passphrase, params=params), keep_after_lock=True
        ).success(lambda _v: self._opened()).failure(
            lambda exc: self.create_screen.show_error(str(exc), self.create_screen.passphrase)
        ).run()

    def restore_from_backup(self) -> QDialog:
        """First run: restore a backup into this data folder, then unlock it with the backup's passphrase."""
        from companion.ui.backup_ui import RestoreDialog

        dialog = RestoreDialog(self.ops, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def restored(passphrase: str) -> None:
            self._to_unlock(locked=False)  # the journal is there now; unlock it as if typed there
            self.unlock_screen.set_busy(True)
            self.unlocked.connect(self._say_restored, Qt.ConnectionType.SingleShotConnection)
            self._unlock(passphrase)

        dialog.restored.connect(restored)
        dialog.open()
        return dialog

    def _say_restored(self) -> None:
        self.show_status("Journal restored from the backup.")

    def _unlock(self, passphrase: str) -> None:
        def failed(exc: BaseException) -> None:
            if isinstance(exc, WrongPassphraseError):
                self.unlock_screen.wrong(
                    "That passphrase did not open the journal. Check Caps Lock and try again."
                )
            else:
                self.unlock_screen.set_busy(False)
                self.presenter.present(exc)

        from companion.ui.backup_ui import unlock_and_remember

        remember = self.backups.wants_key()  # the backup key is derived in the unlock op, only if needed
        self.ops.collection_op(
            lambda app: unlock_and_remember(app, passphrase, remember), keep_after_lock=True
        ).success(
            lambda _v: self._opened()
        ).failure(failed).run()

    def _opened(self) -> None:
        self.ensure_main()
        self.create_screen.clear()
        self.unlock_screen.clear()
        self.state = "main"
        self.stack.setCurrentWidget(self.main_area)
        self._set_main_actions(True)
        for page in self.pages:
            page.on_unlock()
        self.idle.delay_seconds = self.settings.autolock_minutes * 60
        self.idle.start()
        self.backups.start()
        self.journal.editor.title.setFocus()
        self.show_status("Journal unlocked.")
        self.unlocked.emit()

    def lock(self, reason: str = "") -> None:
        """Clear every content-bearing widget, drop pending results, then close the vault on the worker."""
        if self.state != "main":
            return
        self.idle.stop()
        self.journal.editor.flush()  # queued before the lock: the last words are saved, never shown again
        self.ops.new_generation()
        for page in self.pages:
            page.on_lock()
        if self._clipboard_is_ours():
            QApplication.clipboard().clear()
        self._close_dialogs()
        self.backups.before_lock()  # a due automatic backup is written before the vault closes
        self.ops.collection_op(lambda app: app.lock(), keep_after_lock=True).run()
        self._to_unlock(locked=True)
        self.show_status("Locked after a period of inactivity." if reason == "idle" else "Locked.")
        self.locked.emit()

    def _close_dialogs(self) -> None:
        """Close every open dialog (settings, a link's address, a message): none may stay up over the lock."""
        for widget in QApplication.topLevelWidgets():
            if widget is self or not widget.isVisible():
                continue
            for field in widget.findChildren(QLineEdit):
                field.clear()
            if isinstance(widget, QDialog):
                widget.reject()
            else:
                widget.close()

    def _clipboard_is_ours(self) -> bool:
        clipboard = QApplication.clipboard()
        return clipboard is not None and clipboard.ownsClipboard()

    # -- pages and changes -----------------------------------------------------------------------------------

    def show_page(self, index: int) -> None:
        self.ensure_main()
        if 0 <= index < len(self.pages):
            self.pages_stack.setCurrentIndex(index)
            if self.sidebar.currentRow() != index:
                self.sidebar.setCurrentRow(index)
            self.pages[index].on_shown()

    def _fan_out(self, changes: Changes) -> None:
        if self.state != "main":
            return
        for page in self.pages:
            page.on_changes(changes)

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 6000)

    # -- menus -----------------------------------------------------------------------------------------------

    def _action(
        self, menu, text: str, keys: str | QKeySequence.StandardKey | None, slot, main_only=True
    ) -> QAction:
        action = QAction(text, self)
        if keys is not None:
            action.setShortcut(QKeySequence(keys))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        if main_only:
            self._main_actions.append(action)
        return action

    def _build_menus(self) -> None:
        self._main_actions: list[QAction] = []
        bar = self.menuBar()
        bar.setAccessibleName("Menu bar")
        file = bar.addMenu("&File")
        self._action(file, "&New entry", "Ctrl+N", lambda: self.journal.new_entry())
        self._action(file, "&Save now", "Ctrl+S", lambda: self.journal.editor.save_now())
        file.addSeparator()
        self._action(file, "&Import…", "Ctrl+Shift+I", self.open_import)
        self._action(file, "E&xport…", "Ctrl+Shift+X", self.open_export)
        self._action(file, "&Back up now…", None, self.open_backup)
        file.addSeparator()
        self._action(file, "&Lock", "Ctrl+L", self.lock)
        self._action(file, "Se&ttings…", "Ctrl+,", self.open_settings)
        file.addSeparator()
        self._action(file, "&Quit", "Ctrl+Q", self.close, main_only=False)
        edit = bar.addMenu("&Edit")
        self._action(edit, "&Undo", None, lambda: self.journal.editor.body.undo()).setShortcutContext(
            Qt.ShortcutContext.WidgetShortcut
        )
        self._action(edit, "&Redo", None, lambda: self.journal.editor.body.redo())
        edit.addSeparator()
        self._action(edit, "&Find…", "Ctrl+F", lambda: self.journal.focus_search())
        self._action(edit, "Move entry to &trash", "Ctrl+Delete", lambda: self.journal.trash_current())
        view = bar.addMenu("&View")
        self._action(view, "Reading &view", "Ctrl+E", lambda: self.journal.editor.toggle_reading())
        self._view_menu = view
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", "F1", self.show_shortcuts, main_only=False)
        self._action(help_menu, "&About Companion", None, self.show_about, main_only=False)
        for menu in (file, edit, view, help_menu):
            menu.setAccessibleName(menu.title().replace("&", ""))

    def _set_main_actions(self, enabled: bool) -> None:
        for action in self._main_actions:
            action.setEnabled(enabled)

    def shortcut_rows(self) -> list[tuple[str, str]]:
        from companion.ui.editor import EDITOR_SHORTCUTS

        rows: list[tuple[str, str]] = []
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()
            for action in menu.actions() if menu else []:
                if action.isSeparator():
                    continue
                keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                name = action.text().replace("&", "").rstrip("…")
                where = menu_action.text().replace("&", "")
                rows.append((keys or "Alt + menu letter", f"{where} → {name}"))
        rows.extend(EDITOR_SHORTCUTS)
        rows.extend(
            [
                ("Tab / Shift+Tab", "Move to the next / previous control"),
                ("Enter (in search)", "Go to the results"),
                ("Enter (in the list)", "Write in the selected entry"),
                ("Escape", "Close a dialog or suggestion list"),
            ]
        )
        return rows

    def show_shortcuts(self) -> None:
        from companion.ui.settings_dialog import ShortcutsDialog

        ShortcutsDialog(self.shortcut_rows(), self).exec()

    def show_about(self) -> None:
        message(
            self,
            "About Companion",
            "Companion: a private, encrypted journal for people in peer support.\n\n"
            "Your entries stay on this device, encrypted with your passphrase.",
        )

    def open_settings(self):
        from companion.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self.data_dir, self.ops, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.settings_changed.connect(self.apply_settings)
        dialog.open()
        return dialog

    def _open_transfer(self, dialog):
        self.journal.editor.flush()  # what was just typed goes into the export or backup
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_import(self):
        from companion.ui.import_dialog import ImportDialog

        return self._open_transfer(ImportDialog(self.ops, self))

    def open_export(self):
        from companion.ui.export_dialog import ExportDialog

        return self._open_transfer(ExportDialog(self.ops, self))

    def open_backup(self):
        from companion.ui.backup_ui import BackupNowDialog

        return self._open_transfer(BackupNowDialog(self.ops, self))

    def apply_settings(self) -> None:
        app = QApplication.instance()
        if app is not None:
            theme.apply(app, self.settings.theme, self.settings.font_size)
        self.refresh_icons()
        self.idle.delay_seconds = self.settings.autolock_minutes * 60
        self.settings.save(self.data_dir)

    def refresh_icons(self) -> None:
        if not self._main_built:
            return
        for row, cls in enumerate(self.page_classes):
            self.sidebar.item(row).setIcon(icons.icon(cls.icon))

    def _screen_locked(self) -> None:
        if self.settings.lock_on_screen_lock:
            self.lock(reason="screen")

    def _color_scheme_changed(self, _scheme) -> None:
        if self.settings.theme == "system":
            self.apply_settings()

    # -- locking triggers ------------------------------------------------------------------------------------

    def _app_state_changed(self, state: Qt.ApplicationState) -> None:
        if not self.settings.lock_on_screen_lock:
            return
        if state in (Qt.ApplicationState.ApplicationSuspended, Qt.ApplicationState.ApplicationHidden):
            self.lock(reason="suspended")
        elif state == Qt.ApplicationState.ApplicationInactive:
            self.idle.check()  # coming back from sleep shows up as a state change: check at once

    # -- closing ---------------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.state == "closed":
            super().closeEvent(event)
            return
        if self._closing == "backup":  # a backup before closing is being written, or its failure asked about
            event.ignore()
            return
        if self.state == "main" and self._closing != "go" and self.backups.wants_key():
            event.ignore()
            self._back_up_then_close()
            return
        self._tear_down()
        super().closeEvent(event)

    def _back_up_then_close(self) -> None:
        """Closing while unlocked with automatic backups on does what a lock does: the editor's last words are
        saved, then a due backup is written on the vault worker, and the window closes when that is done. If it
        takes a moment, a small note says so; if it fails, the person is asked whether to close anyway."""
        self._closing = "backup"
        self.journal.editor.flush()  # queued first: the backup has what was just typed
        self.idle.stop()
        self.closing_note = ClosingNote(self)
        self.backups.before_close(self._closing_backup_done)

    def _closing_backup_done(self, result: tuple) -> None:
        if self.closing_note is not None:
            self.closing_note.finish()
            self.closing_note = None
        if self._closing != "backup":
            return
        if result[0] != "failed":
            self._close_now()
            return
        reason = str(result[1]).strip()
        if not reason.endswith((".", "!", "?")):
            reason += "."
        text = (
            "The automatic backup could not be written before closing:\n\n"
            f"{reason[:1].upper()}{reason[1:]}\n\n"
            "Your journal itself is saved; only this backup is missing. Close anyway?"
        )
        box = QMessageBox(QMessageBox.Icon.Warning, "Backup not written", text, parent=self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        close_anyway = box.addButton("Close anyway", QMessageBox.ButtonRole.AcceptRole)
        close_anyway.setAccessibleName("Close anyway")
        stay = box.addButton("Don't close", QMessageBox.ButtonRole.RejectRole)
        stay.setAccessibleName("Don't close")
        box.setDefaultButton(stay)  # Enter or Escape keeps the window (and its chance of a backup)
        box.setEscapeButton(stay)
        box.setAccessibleName("Backup not written")
        box.setAccessibleDescription(text)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(_result: int) -> None:
            self.close_question = None
            if box.clickedButton() is close_anyway:
                self._close_now()
            else:
                self._stay_open()

        box.finished.connect(answered)
        self.close_question = box
        box.open()

    def _close_now(self) -> None:
        self._closing = "go"
        self.close()

    def _stay_open(self) -> None:
        self._closing = ""
        if self.state == "main":  # (a lock meanwhile leaves it locked)
            self.idle.start()
            self.backups.start()
            self.show_status("Not closed: the automatic backup was not written. Check Settings → Automatic backups.")

    def _tear_down(self) -> None:
        """The window is closing: save, stop every timer and listener, cut network work short, lock the vault."""
        if self._main_built:
            self.journal.editor.flush()
        self.settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode("ascii")
        try:
            self.settings.save(self.data_dir)
        except OSError:
            pass
        self.idle.stop()
        self.backups.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.idle)
            try:
                app.applicationStateChanged.disconnect(self._app_state_changed)
                hints = QGuiApplication.styleHints()
                if hints is not None:
                    hints.colorSchemeChanged.disconnect(self._color_scheme_changed)
            except (RuntimeError, TypeError):
                pass
        for page in self.pages:
            page.on_lock()
        sync = getattr(self.ops, "circle_sync", None)
        if sync is not None:
            sync.stop()  # (the Circles page did): relay requests in flight are aborted, listeners stop
        self.ops.shutdown()  # the saves queued above, then the lock, on the worker; the pool is done at once
        self.state = "closed"


class ClosingNote(QDialog):
    """"Writing a backup before closing…": shown only if the backup takes a noticeable moment (then it also
    keeps input from the window). Nothing to press: it goes away when the backup is written."""

    DELAY_MS = 400

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle("Companion")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setWindowFlag(Qt.WindowType.WindowCloseButtonHint, False)
        text = "Writing a backup before closing…"
        self.setAccessibleName("Writing a backup before closing")
        self.setAccessibleDescription("Companion closes when the automatic backup is written.")
        self.label = QLabel(text)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy: the backup reports no progress
        self.bar.setTextVisible(False)
        self.bar.setAccessibleName("Writing a backup")
        self.bar.setAccessibleDescription(text)
        column = QVBoxLayout(self)
        column.setContentsMargins(24, 18, 24, 18)
        column.setSpacing(10)
        column.addWidget(self.label)
        column.addWidget(self.bar)
        self._done = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._appear)
        self._timer.start(self.DELAY_MS)

    def _appear(self) -> None:
        if not self._done:
            self.open()

    def finish(self) -> None:
        self._done = True
        self._timer.stop()
        super().reject()
        self.deleteLater()

    def reject(self) -> None:  # Escape (and a lock's closing of dialogs) leave it: it goes when the backup is done
        if self._done:
            super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._done:
            super().closeEvent(event)
        else:
            event.ignore()
