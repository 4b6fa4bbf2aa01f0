"""Circle dialogs: create, invite (code + QR), join, change my name, verify (safety number + QR), and a plain
confirmation.

Every dialog opens with ``open()`` (window-modal, not a nested event loop) and runs its vault work through the
op runner it is given. Names and codes are shown as plain text only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QTextOption
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from companion.circles.model import CircleInfo, InviteInfo, MemberInfo, SafetyNumber
from companion.circles.roster import MAX_NAME
from companion.ui.ops import OpRunner
from companion.ui.qr import QrView


def guarded(widget: QWidget, fn: Callable[..., object]) -> Callable[..., None]:
    """``fn`` for an op's callback, skipped if ``widget`` (a dialog closed meanwhile) is gone."""

    def call(*args: object) -> None:
        if shiboken6.isValid(widget):
            fn(*args)

    return call


def plain_label(text: str = "", *, name: str = "", muted: bool = False, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    if muted:
        label.setObjectName("Muted")
    if name:
        label.setAccessibleName(name)
    return label


def name_widget(widget: QWidget, name: str, description: str = "") -> QWidget:
    widget.setAccessibleName(name)
    if description:
        widget.setAccessibleDescription(description)
    return widget


def confirm(parent: QWidget, title: str, text: str, yes_text: str, on_yes: Callable[[], None]) -> QMessageBox:
    """A plain-text question, opened without blocking; ``on_yes`` runs if the person chooses ``yes_text``.
    Cancel is the default button."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    yes = box.addButton(yes_text, QMessageBox.ButtonRole.AcceptRole)
    yes.setAccessibleName(yes_text)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setAccessibleName(title)
    box.setAccessibleDescription(text)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName("Confirm")
    box.yes_button = yes  # type: ignore[attr-defined]

    def finished(_result: int) -> None:
        if box.clickedButton() is yes:
            on_yes()

    box.finished.connect(finished)
    box.open()
    return box


def removal_text(name: str) -> str:
    who = name or "They"
    return (
        f"{who} will not receive anything you share from now on. What they already received stays with them; "
        "Companion cannot take it back."
    )


class _Dialog(QDialog):
    def __init__(self, title: str, description: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.setAccessibleDescription(description)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.error = plain_label(name="Problem")
        self.error.setObjectName("Warning")
        self.error.hide()

    def show_error(self, exc: BaseException) -> None:
        self.error.setText(str(exc))
        self.error.show()
        self._fit()

    def _fit(self) -> None:
        """Tall enough for the wrapped hint and message at this width (a top-level dialog does not ask its
        layout for height-for-width by itself)."""
        layout = self.layout()
        if layout is not None:
            self.resize(self.width(), max(self.height(), layout.totalHeightForWidth(self.width())))


class FolderField(QWidget):
    """A path field with a "Choose…" button."""

    def __init__(self, name: str, description: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("A folder your file sync shares with the others")
        name_widget(self.edit, name, description)
        self.browse = QPushButton("Choose…")
        name_widget(self.browse, f"Choose {name.lower()}", "Pick the folder with a file dialog")
        self.browse.clicked.connect(self._browse)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose the shared folder", self.edit.text())
        if path:
            self.edit.setText(path)

    def text(self) -> str:
        return self.edit.text().strip()


class CreateCircleDialog(_Dialog):
    """Name, my name in it, and where it meets: a shared folder or a relay."""

    created = Signal(object)  # CircleInfo

    def __init__(self, ops: OpRunner, parent: QWidget | None = None) -> None:
        super().__init__("New circle", "Create a circle and choose where its members meet", parent)
        self.ops = ops
        self.name = name_widget(QLineEdit(), "Circle name", "Only members ever see this name")
        self.my_name = name_widget(QLineEdit(), "Your name in the circle", "What the others see you as")
        self.name.setMaxLength(100)
        self.my_name.setMaxLength(100)
        self.use_folder = name_widget(QRadioButton("A shared folder"), "Meet in a shared folder",
                                      "A folder that Syncthing, Nextcloud or similar keeps in step")  # fmt: skip
        self.use_relay = name_widget(QRadioButton("A relay"), "Meet through a relay",
                                     "A companion-relay server; it only ever sees encrypted files")  # fmt: skip
        self.use_folder.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.use_folder)
        group.addButton(self.use_relay)
        self.folder = FolderField("Shared folder", "Where the circle's encrypted files go")
        self.relay = name_widget(QLineEdit(), "Relay address", "For example https://relay.example.org")
        self.relay.setPlaceholderText("https://relay.example.org")
        self.relay.setEnabled(False)
        self.use_relay.toggled.connect(lambda on: (self.relay.setEnabled(on), self.folder.setEnabled(not on)))
        form = QFormLayout()
        form.addRow("Circle name", self.name)
        form.addRow("Your name in it", self.my_name)
        form.addRow("Meet in", self.use_folder)
        form.addRow("", self.folder)
        form.addRow("", self.use_relay)
        form.addRow("", self.relay)
        hint = plain_label(
            "Everything placed there is end-to-end encrypted: the folder or relay sees random ids and sizes, never "
            "names or words.",
            muted=True,
        )
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.addButton("Create circle", QDialogButtonBox.ButtonRole.AcceptRole)
        name_widget(self.create_button, "Create circle")
        name_widget(self.buttons.button(QDialogButtonBox.StandardButton.Cancel), "Cancel")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(520, 0)

    def submit(self) -> None:
        name, my_name = self.name.text(), self.my_name.text()
        if self.use_relay.isChecked():
            url = self.relay.text().strip()

            def op(app):
                from companion.sync.transports.relay import new_mailbox

                return app.circles.create_circle(name, relay=new_mailbox(url).to_dict(), display_name=my_name)
        else:
            folder = self.folder.text()

            def op(app):
                return app.circles.create_circle(name, folder=folder or None, display_name=my_name)

        self.create_button.setEnabled(False)
        self.ops.collection_op(op).success(guarded(self, self._done)).failure(guarded(self, self._failed)).run()

    def _done(self, info: CircleInfo) -> None:
        self.created.emit(info)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.create_button.setEnabled(True)
        self.show_error(exc)


class InviteDialog(_Dialog):
    """Make a one-time invite code; show it as text (with Copy) and as a QR code."""

    def __init__(self, ops: OpRunner, circle: CircleInfo, parent: QWidget | None = None) -> None:
        super().__init__("Invite someone", f"Make an invite code for {circle.name}", parent)
        self.ops = ops
        self.circle = circle
        self.approve = name_widget(QCheckBox("Let me approve whoever uses it"), "Approve joiners myself",
                                   "The person waits until you approve them on the Circles page")  # fmt: skip
        self.days = name_widget(QSpinBox(), "Valid for days", "How many days the code can be used (1 to 90)")
        self.days.setRange(1, 90)
        self.days.setValue(7)
        self.days.setSuffix(" days")
        self.make = name_widget(QPushButton("Make invite code"), "Make invite code", "Create a one-time code")
        self.make.setDefault(True)
        self.make.clicked.connect(self.make_code)
        self.code = name_widget(QPlainTextEdit(), "Invite code", "The code to pass on; it works once")
        self.code.setReadOnly(True)
        self.code.setFixedHeight(90)
        self.code.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        self.copy = name_widget(QPushButton("Copy code"), "Copy invite code", "Copy the code to the clipboard")
        self.copy.setEnabled(False)
        self.copy.clicked.connect(self.copy_code)
        self.qr = QrView("Invite QR code", "The same invite code as a QR code, to scan with the other device")
        self.expiry = plain_label(muted=True, name="Invite expiry")
        advice = plain_label(
            "Pass it on privately (in person, or a message only they can read). Whoever holds the code can ask to "
            "join, so use the approve option if it might travel further.",
            muted=True,
        )
        close = name_widget(QPushButton("Close"), "Close")
        close.clicked.connect(self.accept)
        options = QHBoxLayout()
        options.addWidget(self.approve)
        options.addWidget(self.days)
        options.addStretch(1)
        options.addWidget(self.make)
        copy_row = QHBoxLayout()
        copy_row.addWidget(self.expiry, 1)
        copy_row.addWidget(self.copy)
        layout = QVBoxLayout(self)
        layout.addLayout(options)
        layout.addWidget(advice)
        layout.addWidget(self.code)
        layout.addLayout(copy_row)
        layout.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.error)
        layout.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout.addLayout(bottom)
        self.info: InviteInfo | None = None
        self.resize(560, 0)

    def make_code(self) -> None:
        cid, approve, days = self.circle.id, self.approve.isChecked(), self.days.value()
        self.make.setEnabled(False)
        self.ops.collection_op(lambda app: app.circles.invite(cid, approve=approve, valid_days=days)).success(
            guarded(self, self.show_invite)
        ).failure(guarded(self, self._failed)).run()

    def _failed(self, exc: BaseException) -> None:
        self.make.setEnabled(True)
        self.show_error(exc)

    def show_invite(self, info: InviteInfo) -> None:
        self.info = info
        self.make.setEnabled(True)
        self.make.setText("Make another code")
        self.code.setPlainText(info.code)
        self.copy.setEnabled(True)
        self.qr.set_text(info.qr, pixels=240)
        until = datetime.fromtimestamp(info.expires_at / 1000).strftime("%-d %b %Y, %H:%M")
        how = "you approve whoever uses it" if info.approve else "whoever uses it first joins"
        self.expiry.setText(f"Works once, until {until}; {how}.")

    def copy_code(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None and self.info is not None:
            clipboard.setText(self.info.code)
            self.copy.setText("Copied")


class JoinDialog(_Dialog):
    """Paste an invite code, choose my name in the circle, optionally where the shared folder is here."""

    joined = Signal(object)  # CircleInfo

    def __init__(self, ops: OpRunner, parent: QWidget | None = None) -> None:
        super().__init__("Join a circle", "Join a circle with an invite code", parent)
        self.ops = ops
        self.code = name_widget(QPlainTextEdit(), "Invite code", "Paste the code you were given")
        self.code.setPlaceholderText("companion-invite:1:…")
        self.code.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        self.code.setTabChangesFocus(True)
        self.code.setFixedHeight(90)
        self.my_name = name_widget(QLineEdit(), "Your name in the circle", "What the others see you as")
        self.my_name.setMaxLength(100)
        self.folder = FolderField(
            "Shared folder on this device", "Only if the circle's shared folder is elsewhere on this machine"
        )
        self.folder.edit.setPlaceholderText("Optional: where the shared folder is on this device")
        form = QFormLayout()
        form.addRow("Invite code", self.code)
        form.addRow("Your name in it", self.my_name)
        form.addRow("Shared folder", self.folder)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.join_button = self.buttons.addButton("Ask to join", QDialogButtonBox.ButtonRole.AcceptRole)
        name_widget(self.join_button, "Ask to join")
        name_widget(self.buttons.button(QDialogButtonBox.StandardButton.Cancel), "Cancel")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        hint = plain_label(
            "Your request is sent when Companion next syncs; the facilitator's app lets you in when it syncs.",
            muted=True,
        )
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(560, 0)

    def submit(self) -> None:
        code, name, folder = self.code.toPlainText().strip(), self.my_name.text(), self.folder.text() or None
        self.join_button.setEnabled(False)
        self.ops.collection_op(lambda app: app.circles.join(code, display_name=name, folder=folder)).success(
            guarded(self, self._done)
        ).failure(guarded(self, self._failed)).run()

    def _done(self, info: CircleInfo) -> None:
        self.joined.emit(info)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.join_button.setEnabled(True)
        self.show_error(exc)


class ChangeNameDialog(_Dialog):
    """Change how I am known in one circle. The service checks the name (empty, too long, or one another member
    goes by) and its message is shown here; the others see the new name after the next sync."""

    changed = Signal(object)  # MemberInfo

    def __init__(self, ops: OpRunner, circle: CircleInfo, parent: QWidget | None = None) -> None:
        super().__init__("Change my name", f"Change how you are known in {circle.name}", parent)
        self.ops, self.circle = ops, circle
        self.name = name_widget(QLineEdit(circle.my_name), "Your name in this circle",
                                "What the others in this circle see you as")  # fmt: skip
        self.name.setMaxLength(MAX_NAME)
        self.name.selectAll()
        form = QFormLayout()
        form.addRow("Your name in it", self.name)
        hint = plain_label(
            "Only this circle's members see it, end to end encrypted, from their next sync. They also keep seeing "
            "the name you joined under, so nobody can pass for someone else by changing names.",
            muted=True,
        )
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.addButton("Change name", QDialogButtonBox.ButtonRole.AcceptRole)
        name_widget(self.save_button, "Change name", "Send the new name to the circle")
        self.save_button.setDefault(True)
        name_widget(self.buttons.button(QDialogButtonBox.StandardButton.Cancel), "Cancel")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.name.returnPressed.connect(self.submit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(480, 0)
        self._fit()

    def submit(self) -> None:
        if not self.save_button.isEnabled():
            return
        cid, name = self.circle.id, self.name.text()
        self.save_button.setEnabled(False)
        self.ops.collection_op(lambda app: app.circles.set_my_name(cid, name)).success(
            guarded(self, self._done)
        ).failure(guarded(self, self._failed)).run()

    def _done(self, member: MemberInfo) -> None:
        self.changed.emit(member)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.show_error(exc)
        self.name.setFocus()


def group_digits(digits: str) -> list[str]:
    compact = "".join(ch for ch in digits if ch.isdigit())
    return [compact[i : i + 5] for i in range(0, len(compact), 5)]


class VerifyDialog(_Dialog):
    """Compare the safety number with a member (read aloud or scan the QR), then mark them verified."""

    verified = Signal(object)  # MemberInfo

    def __init__(self, ops: OpRunner, circle: CircleInfo, member: MemberInfo, parent: QWidget | None = None):
        who = member.name or "this member"
        super().__init__(f"Verify {who}", f"Compare safety numbers with {who}", parent)
        self.ops, self.circle, self.member = ops, circle, member
        self.warning = plain_label(name="Key change warning")
        self.warning.setObjectName("Banner")
        if member.key_changed:
            self.warning.setText(
                f"⚠ {who}'s keys changed (a new device or lost keys). Until you compare the new number, you cannot "
                "be sure it is really them."
            )
        else:
            self.warning.hide()
        self.joined_as = plain_label(name="Name they joined under", muted=True)
        if member.joined_as:
            self.joined_as.setText(
                f"{who} joined this circle as “{member.joined_as}” and has changed their name since. Names can be "
                "changed; the safety number cannot: it belongs to their keys."
            )
        else:
            self.joined_as.hide()
        intro = plain_label(
            f"Meet {who} in person or on a call. Each of you opens this screen: your half and {who}'s half must "
            "match what their screen shows for each of you. Read the groups aloud, or scan the QR code.",
        )
        self.mine = plain_label(name="Your half of the safety number", wrap=False)
        self.theirs = plain_label(name=f"{who}'s half of the safety number", wrap=False)
        for label in (self.mine, self.theirs):
            label.setObjectName("SafetyNumber")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard
                                          | Qt.TextInteractionFlag.TextSelectableByMouse)  # fmt: skip
            label.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.qr = QrView("Safety number QR code", f"Scan this with {who}'s device to compare")
        self.entered = name_widget(
            QLineEdit(), "Number or QR text from their screen",
            "Optional: paste or type the number they read out; it is checked digit by digit",
        )  # fmt: skip
        self.entered.setPlaceholderText("Optional: type or paste the number they read out")
        self.mark = name_widget(QPushButton("The numbers match: mark as verified"), "Mark as verified",
                                "Only if every group matches what they see")  # fmt: skip
        self.mark.clicked.connect(self.mark_verified)
        self.status = plain_label(name="Verification state")
        close = name_widget(QPushButton("Close"), "Close")
        close.clicked.connect(self.reject)
        numbers = QFormLayout()
        numbers.addRow("You:", self.mine)
        numbers.addRow(f"{who}:", self.theirs)
        top = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(intro)
        left.addLayout(numbers)
        left.addStretch(1)
        top.addLayout(left, 1)
        top.addWidget(self.qr)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.mark)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.warning)
        layout.addWidget(self.joined_as)
        layout.addLayout(top)
        layout.addWidget(self.entered)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.number: SafetyNumber | None = None
        self.mark.setEnabled(False)
        if member.verified and not member.key_changed:
            self.status.setText(f"✓ {who} is verified.")
        cid, mid = circle.id, member.member_id

        def numbers(app):
            # the safety number of me with myself is my own half twice: that tells which half is mine
            mine = app.circles.safety_number(cid, app.circles.identity().member_id).digits
            return app.circles.safety_number(cid, mid), mine

        ops.query_op(numbers).success(guarded(self, lambda pair: self.show_number(*pair))).failure(
            guarded(self, self.show_error)
        ).run()
        self.resize(680, 0)
        self._fit()

    def show_number(self, number: SafetyNumber, mine: str = "") -> None:
        self.number = number
        groups = group_digits(number.digits)
        half = len(groups) // 2
        first, second = groups[:half], groups[half:]
        if group_digits(mine)[:half] == second:
            first, second = second, first
        self.mine.setText("  ".join(first))
        self.theirs.setText("  ".join(second))
        self.qr.set_text(number.qr, pixels=200)
        self.mark.setEnabled(True)
        self.mark.setFocus()
        self._fit()  # the numbers and the QR code are in: room for them and the wrapped text

    def mark_verified(self) -> None:
        if self.number is None:
            return
        typed = self.entered.text().strip()
        number = typed or self.number.digits
        cid, mid = self.circle.id, self.member.member_id
        self.mark.setEnabled(False)
        self.ops.collection_op(lambda app: app.circles.verify_member(cid, mid, number)).success(
            guarded(self, self._done)
        ).failure(guarded(self, self._failed)).run()

    def _failed(self, exc: BaseException) -> None:
        self.mark.setEnabled(True)
        self.show_error(exc)

    def _done(self, member: MemberInfo) -> None:
        self.status.setText(f"✓ {member.name or 'They'} verified.")
        self.warning.hide()
        self.verified.emit(member)
        self.accept()
