"""First run (create a journal) and the unlock screen. Key derivation runs on the vault worker; these widgets
only collect the passphrase, show a busy indicator, and flag a wrong passphrase."""

from __future__ import annotations

import math
import string

from PySide6.QtCore import QEvent, QObject, QPoint, QPropertyAnimation, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from companion.ui import icons

MIN_LENGTH = 8
NO_RECOVERY = (
    "Important: nobody can recover a forgotten passphrase, not even the people who make Companion. "
    "Without it, your journal cannot be opened. Write it down somewhere safe."
)


def strength(passphrase: str) -> tuple[int, str]:
    """A rough estimate for a hint: (0–4, words)."""
    if not passphrase:
        return 0, ""
    if len(passphrase) < MIN_LENGTH:
        return 0, f"Too short: use at least {MIN_LENGTH} characters."
    words = [w for w in passphrase.replace("-", " ").split() if w]
    if len(words) >= 4:
        bits = len(words) * 11.0
    else:
        pool = 0
        pool += 26 if any(c.islower() for c in passphrase) else 0
        pool += 26 if any(c.isupper() for c in passphrase) else 0
        pool += 10 if any(c.isdigit() for c in passphrase) else 0
        pool += 33 if any(c in string.punctuation or c == " " for c in passphrase) else 0
        pool += 100 if any(ord(c) > 127 for c in passphrase) else 0
        bits = len(set(passphrase)) / max(len(passphrase), 1) * len(passphrase) * math.log2(max(pool, 2))
    if bits < 40:
        return 1, "Weak. Four or more unrelated words make a strong passphrase you can remember."
    if bits < 60:
        return 2, "Fair. A few more words would make it much stronger."
    if bits < 80:
        return 3, "Good."
    return 4, "Strong."


class CapsLockWatcher(QObject):
    """Guesses Caps Lock from typed letters (Qt has no portable Caps Lock query)."""

    changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.on = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress:
            text = event.text()
            if len(text) == 1 and text.isalpha() and text.lower() != text.upper():
                shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
                caps = text.isupper() != shift
                if caps != self.on:
                    self.on = caps
                    self.changed.emit(caps)
        return False


def _password_field(name: str, description: str) -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setAccessibleName(name)
    field.setAccessibleDescription(description)
    field.setMinimumWidth(320)
    return field


def shake(widget: QWidget) -> None:
    animation = QPropertyAnimation(widget, b"pos", widget)
    start = widget.pos()
    animation.setDuration(300)
    for i, dx in enumerate((0, -10, 10, -8, 8, -4, 4, 0)):
        animation.setKeyValueAt(i / 7, start + QPoint(dx, 0))
    animation.start(QPropertyAnimation.DeletionPolicy.DeleteWhenStopped)


class _Screen(QWidget):
    submitted = Signal(str)

    def __init__(self, heading: str, intro: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.card = QFrame()
        self.card.setFixedWidth(460)
        self.layout_ = QVBoxLayout(self.card)
        self.layout_.setSpacing(12)
        self.emblem = QLabel()
        self.emblem.setAccessibleName("Companion")
        self.refresh_emblem()
        brand = QLabel("Companion")
        brand.setObjectName("Muted")
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.emblem)
        top.addWidget(brand)
        top.addStretch(1)
        self.layout_.addLayout(top)
        self.heading = QLabel(heading)
        self.heading.setObjectName("Heading")
        self.heading.setAccessibleName(heading)
        self.intro = QLabel(intro)
        self.intro.setWordWrap(True)
        self.intro.setObjectName("Muted")
        self.intro.setMinimumHeight(self.intro.fontMetrics().height() * 2 + 4)
        self.layout_.addWidget(self.heading)
        self.layout_.addWidget(self.intro)
        self.caps = QLabel("Caps Lock is on.")
        self.caps.setObjectName("Warning")
        self.caps.setAccessibleName("Caps Lock is on")
        self.caps.hide()
        self.error = QLabel("")
        self.error.setObjectName("Warning")
        self.error.setWordWrap(True)
        self.error.setAccessibleName("Error")
        self.error.hide()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(6)
        self.busy.setAccessibleName("Working")
        self.busy.setAccessibleDescription("Deriving the key from your passphrase; this takes a moment")
        self.busy.hide()
        self.caps_watcher = CapsLockWatcher(self)
        self.caps_watcher.changed.connect(self.caps.setVisible)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.card)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    def refresh_emblem(self) -> None:
        self.emblem.setPixmap(icons.icon("lock").pixmap(24, 24))

    def watch_caps(self, *fields: QLineEdit) -> None:
        for field in fields:
            field.installEventFilter(self.caps_watcher)

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        for child in self.card.findChildren(QLineEdit) + self.card.findChildren(QPushButton):
            child.setEnabled(not busy)

    def show_error(self, message: str, field: QLineEdit) -> None:
        self.set_busy(False)
        self.error.setText(message)
        self.error.setAccessibleDescription(message)
        self.error.show()
        field.setProperty("invalid", True)
        field.setAccessibleDescription(message)
        field.setFocus()
        field.selectAll()
        shake(field)


class CreateScreen(_Screen):
    """First run: a passphrase, twice, with a strength hint and the no-recovery warning; or a restore."""

    restore_requested = Signal()

    def __init__(self, data_dir: str, parent: QWidget | None = None) -> None:
        super().__init__(
            "Create your private journal",
            "Your journal is encrypted on this device with a passphrase only you know. "
            "Nothing is sent anywhere.",
            parent,
        )
        self.passphrase = _password_field(
            "New passphrase", f"At least {MIN_LENGTH} characters; several words work well"
        )
        self.passphrase.setPlaceholderText("Passphrase")
        self.repeat = _password_field("Repeat passphrase", "Type the same passphrase again")
        self.repeat.setPlaceholderText("Repeat passphrase")
        self.hint = QLabel("")
        self.hint.setObjectName("Muted")
        self.hint.setWordWrap(True)
        self.hint.setAccessibleName("Passphrase strength")
        self.warning = QLabel(NO_RECOVERY)
        self.warning.setWordWrap(True)
        self.warning.setAccessibleName("Warning")
        self.warning.setAccessibleDescription(NO_RECOVERY)
        self.folder = QLabel(f"Stored in {data_dir}")
        self.folder.setObjectName("Muted")
        self.folder.setWordWrap(True)
        self.create = QPushButton("Create journal")
        self.create.setDefault(True)
        self.create.setAccessibleName("Create journal")
        self.create.setAccessibleDescription("Create the encrypted journal with this passphrase")
        self.create.setEnabled(False)
        self.restore = QPushButton("Restore from a backup…")
        self.restore.setFlat(True)
        self.restore.setAccessibleName("Restore from a backup")
        self.restore.setAccessibleDescription("Bring back a journal from an encrypted backup file instead")
        self.restore.clicked.connect(self.restore_requested)
        for widget in (
            self.passphrase,
            self.repeat,
            self.hint,
            self.caps,
            self.warning,
            self.folder,
            self.error,
            self.busy,
            self.create,
            self.restore,
        ):
            self.layout_.addWidget(widget)
        self.watch_caps(self.passphrase, self.repeat)
        self.passphrase.textChanged.connect(self._update)
        self.repeat.textChanged.connect(self._update)
        self.passphrase.returnPressed.connect(self.repeat.setFocus)
        self.repeat.returnPressed.connect(self._submit)
        self.create.clicked.connect(self._submit)
        self.setTabOrder(self.passphrase, self.repeat)
        self.setTabOrder(self.repeat, self.create)
        self.setTabOrder(self.create, self.restore)

    def _update(self) -> None:
        _score, words = strength(self.passphrase.text())
        self.hint.setText(words)
        self.hint.setAccessibleDescription(words)
        ok = len(self.passphrase.text()) >= MIN_LENGTH and self.passphrase.text() == self.repeat.text()
        if self.repeat.text() and self.passphrase.text() != self.repeat.text():
            self.error.setText("The two passphrases are not the same yet.")
            self.error.show()
        else:
            self.error.hide()
        self.create.setEnabled(ok)

    def _submit(self) -> None:
        if self.create.isEnabled():
            self.set_busy(True)
            self.submitted.emit(self.passphrase.text())

    def clear(self) -> None:
        self.passphrase.clear()
        self.repeat.clear()


class UnlockScreen(_Screen):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Welcome back", "Enter your passphrase to open your journal.", parent)
        self.passphrase = _password_field("Passphrase", "The passphrase that opens your journal")
        self.passphrase.setPlaceholderText("Passphrase")
        self.unlock = QPushButton("Unlock")
        self.unlock.setDefault(True)
        self.unlock.setAccessibleName("Unlock")
        self.unlock.setAccessibleDescription("Open the journal with this passphrase")
        for widget in (self.passphrase, self.caps, self.error, self.busy, self.unlock):
            self.layout_.addWidget(widget)
        self.watch_caps(self.passphrase)
        self.passphrase.returnPressed.connect(self._submit)
        self.unlock.clicked.connect(self._submit)

    def set_locked_message(self, locked: bool) -> None:
        self.refresh_emblem()
        if locked:
            self.heading.setText("Journal locked")
            self.intro.setText("Companion locked your journal. Enter your passphrase to continue.")
        else:
            self.heading.setText("Welcome back")
            self.intro.setText("Enter your passphrase to open your journal.")
        self.heading.setAccessibleName(self.heading.text())

    def _submit(self) -> None:
        if not self.passphrase.text():
            self.passphrase.setFocus()
            return
        self.error.hide()
        self.set_busy(True)
        self.submitted.emit(self.passphrase.text())

    def wrong(self, message: str) -> None:
        self.show_error(message, self.passphrase)

    def clear(self) -> None:
        self.passphrase.clear()
        self.error.hide()
        self.passphrase.setProperty("invalid", False)
        self.passphrase.setAccessibleDescription("The passphrase that opens your journal")
        self.set_busy(False)
