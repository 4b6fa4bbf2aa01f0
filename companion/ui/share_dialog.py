"""Sharing an entry: the Share dialog (with a preview of exactly what recipients will see) and the editor's
"Shared with …" bar (with Unshare and "send the edit").

The preview is built from what ``preview_share`` returns — the payload exactly as it will be sealed, and the
recipients — never from the form, so what the person reads is what is sent. Shown as plain text only.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from companion.circles.model import CircleInfo, MemberInfo, ReplyInfo, ShareInfo, SharePreview
from companion.services import Changes
from companion.ui.circle_dialogs import confirm, guarded, name_widget, plain_label
from companion.ui.ops import OpRunner

EXPIRY_CHOICES: list[tuple[str, int]] = [  # days; 0 = never
    ("Keep until I unshare it", 0),
    ("1 day after they receive it", 1),
    ("7 days after they receive it", 7),
    ("30 days after they receive it", 30),
]


def preview_text(preview: SharePreview) -> str:
    """What recipients will see, as plain text, from ``preview_share``'s payload and recipients."""
    p: dict[str, Any] = preview.payload
    names = sorted((r.get("name") or "(no name)" for r in preview.recipients), key=str.casefold)
    lines = [f"To: {', '.join(names) if names else 'nobody'}"]
    lines.append(f"Content warning: {p['warning']}" if p.get("warning") else "Content warning: none")
    lines.append("Replies: welcome" if p.get("replies") else "Replies: not asked for")
    ms = p.get("expires_in_ms")
    if ms:
        days = ms / 86_400_000
        lines.append(f"Disappears: {days:g} day{'s' if days != 1 else ''} after they receive it")
    else:
        lines.append("Disappears: no, it stays until you unshare it")
    if p.get("mood") is not None or p.get("tags"):
        lines.append(f"Mood: {p['mood'] if p.get('mood') is not None else 'not set'}")
        lines.append(f"Tags: {', '.join(p.get('tags') or []) or 'none'}")
    else:
        lines.append("Mood and tags: not included")
    lines.append("")
    lines.append(f"Title: {p.get('title') or '(untitled)'}")
    lines.append("An excerpt:" if p.get("excerpt") else "The whole entry:")
    lines.append("")
    lines.append(p.get("text") or "")
    return "\n".join(lines)


def trust_note(preview: SharePreview, members: list[MemberInfo]) -> str:
    """A line about recipients whose keys changed or who are not verified yet (empty if all are verified)."""
    to = {r["member_id"] for r in preview.recipients}
    changed = [m.name or "(no name)" for m in members if m.member_id in to and m.key_changed]
    unverified = [m.name or "(no name)" for m in members if m.member_id in to and not m.verified and not m.key_changed]
    parts = []
    if changed:
        parts.append(f"⚠ Keys changed: {', '.join(changed)}.")
    if unverified:
        parts.append(f"Not verified yet: {', '.join(unverified)}.")
    if parts:
        parts.append("Compare safety numbers on the Circles page before sharing anything sensitive.")
    return " ".join(parts)


class ShareDialog(QDialog):
    """Share one entry with a circle: whole entry or excerpt, whole circle or chosen members, content warning,
    replies, expiry, mood/tags; a live preview of exactly what is sent."""

    shared = Signal(object)  # ShareInfo

    def __init__(self, ops: OpRunner, entry_id: int, *, selection: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.ops = ops
        self.entry_id = entry_id
        self.setWindowTitle("Share entry")
        self.setAccessibleName("Share entry")
        self.setAccessibleDescription("Choose who sees this entry and how; the preview shows exactly what they get")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.circles: list[CircleInfo] = []
        self.members: list[MemberInfo] = []
        self.preview: SharePreview | None = None

        self.circle = name_widget(QComboBox(), "Circle", "The circle to share with")
        self.whole = name_widget(QRadioButton("The whole entry"), "Share the whole entry")
        self.part = name_widget(QRadioButton("Only an excerpt"), "Share only an excerpt",
                                "Share just the words in the excerpt box")  # fmt: skip
        what = QButtonGroup(self)
        what.addButton(self.whole)
        what.addButton(self.part)
        self.excerpt = name_widget(QPlainTextEdit(), "Excerpt", "The words to share (you can edit them)")
        self.excerpt.setTabChangesFocus(True)
        self.excerpt.setPlainText(selection)
        self.excerpt.setFixedHeight(70)
        (self.part if selection.strip() else self.whole).setChecked(True)
        self.everyone = name_widget(QRadioButton("Everyone in the circle"), "Share with everyone in the circle")
        self.chosen = name_widget(QRadioButton("Only the people I tick"), "Share with chosen members")
        who = QButtonGroup(self)
        who.addButton(self.everyone)
        who.addButton(self.chosen)
        self.everyone.setChecked(True)
        self.member_list = name_widget(QListWidget(), "Members to share with", "Tick the people who should see it")
        self.member_list.setFixedHeight(90)
        self.warning = name_widget(QLineEdit(), "Content warning",
                                   "Optional: recipients see only this until they choose to open it")  # fmt: skip
        self.warning.setPlaceholderText("Optional, e.g. “mentions self-harm”")
        self.warning.setMaxLength(200)
        self.replies = name_widget(QCheckBox("Replies are welcome"), "Replies welcome")
        self.replies.setChecked(True)
        self.expiry = name_widget(QComboBox(), "Expiry", "How long recipients keep it")
        for text, days in EXPIRY_CHOICES:
            self.expiry.addItem(text, days)
        self.mood_tags = name_widget(QCheckBox("Include mood and tags"), "Include mood and tags")
        self.preview_view = name_widget(QPlainTextEdit(), "Preview",
                                        "Exactly what the recipients will see")  # fmt: skip
        self.preview_view.setReadOnly(True)
        self.preview_view.setObjectName("Preview")
        self.error = plain_label(name="Problem")
        self.error.setObjectName("Warning")
        self.error.hide()
        self.trust = plain_label(name="Verification of recipients", muted=True)
        self.trust.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.share_button = self.buttons.addButton("Share", QDialogButtonBox.ButtonRole.AcceptRole)
        name_widget(self.share_button, "Share", "Send it on the next sync (soon)")
        name_widget(self.buttons.button(QDialogButtonBox.StandardButton.Cancel), "Cancel")
        self.share_button.setEnabled(False)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Circle", self.circle)
        form.addRow("Share", self.whole)
        form.addRow("", self.part)
        form.addRow("", self.excerpt)
        form.addRow("With", self.everyone)
        form.addRow("", self.chosen)
        form.addRow("", self.member_list)
        form.addRow("Content warning", self.warning)
        form.addRow("", self.replies)
        form.addRow("Keep for", self.expiry)
        form.addRow("", self.mood_tags)
        right = QVBoxLayout()
        right.addWidget(QLabel("What they will see"))
        right.addWidget(self.preview_view, 1)
        right.addWidget(self.trust)
        body = QHBoxLayout()
        body.addLayout(form, 1)
        body.addLayout(right, 1)
        note = plain_label(
            "Once received, it is on their device: you can unshare (their app deletes it), but what someone copied "
            "stays with them.",
            muted=True,
        )
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(note)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(900, 560)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self.refresh_preview)
        self._token = 0
        for signal in (self.whole.toggled, self.everyone.toggled, self.replies.toggled, self.mood_tags.toggled):
            signal.connect(self._changed)
        self.excerpt.textChanged.connect(self._changed)
        self.warning.textChanged.connect(self._changed)
        self.expiry.currentIndexChanged.connect(self._changed)
        self.member_list.itemChanged.connect(self._changed)
        self.circle.currentIndexChanged.connect(self._circle_changed)
        self.ops.query_op(
            lambda app: [c for c in app.circles.list_circles() if c.state == "active"]
        ).success(guarded(self, self._show_circles)).run()

    # -- form ----------------------------------------------------------------------------------------------

    def _show_circles(self, circles: list[CircleInfo]) -> None:
        self.circles = circles
        self.circle.blockSignals(True)
        self.circle.clear()
        for c in circles:
            self.circle.addItem(c.name, c.id)
        self.circle.blockSignals(False)
        if not circles:
            self.preview_view.setPlainText("You are not in any circle yet. Create or join one on the Circles page.")
            return
        self._circle_changed()

    def _circle_changed(self, *_a) -> None:
        cid = self.circle.currentData()
        if cid is None:
            return
        self.ops.query_op(lambda app: app.circles.members(cid)).success(guarded(self, self._show_members)).run()

    def _show_members(self, members: list[MemberInfo]) -> None:
        self.members = [m for m in members if m.status == "active" and not m.is_me]
        self.member_list.blockSignals(True)
        self.member_list.clear()
        for m in self.members:
            badge = "⚠ keys changed" if m.key_changed else ("verified" if m.verified else "not verified")
            item = QListWidgetItem(f"{m.name or '(no name)'} ({badge})")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            item.setData(Qt.ItemDataRole.UserRole, m.member_id)
            self.member_list.addItem(item)
        self.member_list.blockSignals(False)
        self._changed()

    def choose_members(self, names: list[str]) -> None:
        """Tick these members (by display name) and switch to "only the people I tick"."""
        self.chosen.setChecked(True)
        for i in range(self.member_list.count()):
            item = self.member_list.item(i)
            on = self.members[i].name in names
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def options(self) -> dict[str, Any]:
        to = []
        if self.chosen.isChecked():
            to = [
                self.member_list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.member_list.count())
                if self.member_list.item(i).checkState() == Qt.CheckState.Checked
            ]
        return {
            "to": to,
            "warning": self.warning.text(),
            "replies": self.replies.isChecked(),
            "expires_days": self.expiry.currentData() or None,
            "excerpt": self.excerpt.toPlainText() if self.part.isChecked() else None,
            "include_mood_tags": self.mood_tags.isChecked(),
        }

    def _changed(self, *_a) -> None:
        self.excerpt.setEnabled(self.part.isChecked())
        self.member_list.setEnabled(self.chosen.isChecked())
        self.share_button.setEnabled(False)  # only a preview of the current choices can be sent
        self._debounce.start()

    def refresh_preview(self) -> None:
        cid = self.circle.currentData()
        if cid is None:
            return
        opts = self.options()
        if self.chosen.isChecked() and not opts["to"]:
            self.preview = None
            self.preview_view.setPlainText("Tick at least one person to share with.")
            return
        self._token += 1
        token, entry_id = self._token, self.entry_id
        self.ops.query_op(lambda app: app.circles.preview_share(entry_id, cid, **opts)).success(
            guarded(self, lambda p: self._show_preview(token, p))
        ).failure(guarded(self, lambda exc: self._preview_failed(token, exc))).run()

    def _show_preview(self, token: int, preview: SharePreview) -> None:
        if token != self._token:
            return
        self.preview = preview
        self.error.hide()
        self.preview_view.setPlainText(preview_text(preview))
        self.share_button.setEnabled(True)
        self.trust.setText(trust_note(preview, self.members))
        self.trust.setVisible(bool(self.trust.text()))

    def _preview_failed(self, token: int, exc: BaseException) -> None:
        if token != self._token:
            return
        self.preview = None
        self.preview_view.clear()
        self.error.setText(str(exc))
        self.error.show()

    def submit(self) -> None:
        cid = self.circle.currentData()
        if cid is None or self.preview is None:
            return
        opts, entry_id = self.options(), self.entry_id
        self.share_button.setEnabled(False)
        op = self.ops.collection_op(lambda app: app.circles.share(entry_id, cid, **opts))
        op.success(guarded(self, self._done)).failure(guarded(self, self._preview_failed_now)).run()

    def _preview_failed_now(self, exc: BaseException) -> None:
        self.error.setText(str(exc))
        self.error.show()
        self.share_button.setEnabled(True)

    def _done(self, info: ShareInfo) -> None:
        self.shared.emit(info)
        sync = getattr(self.ops, "circle_sync", None)
        if sync is not None:
            sync.sync_now()  # send it now rather than at the next periodic sync
        self.accept()


class ShareBar(QWidget):
    """Under the editor: "Share…", and for each circle the open entry is shared with, "Shared with …" and
    Unshare (and "Send the edit" when the entry changed since)."""

    def __init__(self, editor, ops: OpRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.ops = ops
        self.entry_id: int | None = None
        self.shares: list[ShareInfo] = []
        self.names: dict[str, str] = {}
        self.setAccessibleName("Sharing")
        self.share_button = name_widget(
            QPushButton("Share…"), "Share entry", "Share this entry or a selected excerpt with a circle (Ctrl+Shift+S)"
        )
        self.share_button.clicked.connect(self.open_share)
        self.rows = QVBoxLayout()
        self.rows.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addLayout(self.rows, 1)
        top.addWidget(self.share_button, 0, Qt.AlignmentFlag.AlignTop)
        self.setLayout(top)
        self.row_widgets: list[QWidget] = []
        self.dialog: ShareDialog | None = None
        editor.state_changed.connect(self._editor_state)  # another entry shown, a new one saved, or a lock
        ops.changed.connect(self._on_changes)
        self.set_entry(None)

    def _editor_state(self, _text: str) -> None:
        if self.editor.entry_id != self.entry_id:
            self.set_entry(self.editor.entry_id)

    def set_entry(self, entry_id: int | None) -> None:
        self.entry_id = entry_id
        self.share_button.setEnabled(entry_id is not None)
        self._show([], {})
        if entry_id is not None:
            self.reload()

    def _on_changes(self, changes: Changes) -> None:
        if self.entry_id is not None and changes & (Changes.CIRCLES | Changes.INBOX | Changes.ENTRIES):
            self.reload()

    def reload(self) -> None:
        entry_id = self.entry_id
        if entry_id is None:
            return

        def op(app):
            shares = [s for s in app.circles.shares_of(entry_id) if s.state == "shared"]
            names = {c.id: c.name for c in app.circles.list_circles()} if shares else {}
            replies = {s.item_id: app.circles.replies_to(s.item_id) for s in shares}
            return shares, names, replies

        self.ops.query_op(op).success(lambda r, e=entry_id: self._loaded(e, *r)).failure(lambda _exc: None).run()

    def _loaded(self, entry_id: int, shares: list[ShareInfo], names: dict[str, str], replies=None) -> None:
        if entry_id == self.entry_id:
            self._show(shares, names, replies or {})

    def _show(self, shares: list[ShareInfo], names: dict[str, str], replies=None) -> None:
        self.shares, self.names = shares, names
        self.replies: dict[str, list[ReplyInfo]] = replies or {}
        for w in self.row_widgets:
            w.setParent(None)
            w.deleteLater()
        self.row_widgets = []
        for s in shares:
            row = QWidget()
            h = QHBoxLayout(row)
            h.setContentsMargins(0, 0, 0, 0)
            circle = names.get(s.circle_id) or "a circle"
            whom = "everyone" if s.options.get("whole_circle", True) else f"{len(s.audience)} chosen"
            answers = self.replies.get(s.item_id, [])
            count = f" · {len(answers)} repl{'y' if len(answers) == 1 else 'ies'}" if answers else ""
            label = plain_label(f"Shared with {circle} ({whom}){count}", name=f"Shared with {circle}", muted=True)
            label.setObjectName("SharedWith")
            h.addWidget(label, 1)
            if answers:
                read = name_widget(QPushButton("Replies…"), f"Replies from {circle}",
                                   "Read the replies and reactions to this entry")  # fmt: skip
                read.clicked.connect(lambda _c=False, iid=s.item_id: self.open_replies(iid))
                h.addWidget(read)
            if s.changed_since:
                send = name_widget(QPushButton("Send the edit"), f"Send the edit to {circle}",
                                   "The entry changed since you shared it; send the new version")  # fmt: skip
                send.clicked.connect(lambda _c=False, cid=s.circle_id: self.send_update(cid))
                h.addWidget(send)
            unshare = name_widget(QPushButton("Unshare"), f"Unshare from {circle}",
                                  "Withdraw it: recipients' apps delete it")  # fmt: skip
            unshare.clicked.connect(lambda _c=False, cid=s.circle_id, n=circle: self.ask_unshare(cid, n))
            h.addWidget(unshare)
            self.rows.addWidget(row)
            self.row_widgets.append(row)

    def open_replies(self, item_id: str) -> QDialog:
        dialog = RepliesDialog(self.ops, item_id, self.replies.get(item_id, []), self.window())
        dialog.open()
        return dialog

    def open_share(self) -> ShareDialog | None:
        if self.entry_id is None:
            return None
        self.editor.flush()  # the preview reads the saved entry: save what was typed first
        selection = self.editor.body.textCursor().selectedText().replace("\u2029", "\n")
        self.dialog = ShareDialog(self.ops, self.entry_id, selection=selection, parent=self.window())
        self.dialog.open()
        return self.dialog

    def ask_unshare(self, circle_id: str, circle_name: str):
        entry_id = self.entry_id
        if entry_id is None:
            return None
        text = (
            f"Withdraw this entry from {circle_name}? Their apps delete it (and its replies) when they next sync. "
            "Anything someone already copied stays with them."
        )

        def go() -> None:
            self.ops.collection_op(lambda app: app.circles.unshare(entry_id, circle=circle_id)).success(
                lambda _v: self._sync_soon()
            ).run()

        return confirm(self.window(), "Unshare entry?", text, "Unshare", go)

    def send_update(self, circle_id: str) -> None:
        entry_id = self.entry_id
        if entry_id is None:
            return
        self.editor.flush()
        self.ops.collection_op(lambda app: app.circles.send_update(entry_id, circle=circle_id)).success(
            lambda _v: self._sync_soon()
        ).run()

    def _sync_soon(self) -> None:
        sync = getattr(self.ops, "circle_sync", None)
        if sync is not None:
            sync.sync_now()

    def clear(self) -> None:
        self.set_entry(None)


class RepliesDialog(QDialog):
    """The replies and reactions to one of my shared entries (plain text), and a reply of my own."""

    def __init__(self, ops: OpRunner, item_id: str, replies: list[ReplyInfo], parent: QWidget | None = None):
        super().__init__(parent)
        self.ops, self.item_id = ops, item_id
        self.setWindowTitle("Replies")
        self.setAccessibleName("Replies")
        self.setAccessibleDescription("Replies and reactions to an entry you shared")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.list = name_widget(QListWidget(), "Replies", "Oldest first")
        self.list.setWordWrap(True)
        from companion.ui.shared_page import reply_text

        for r in replies:
            self.list.addItem(reply_text(r))
        self.edit = name_widget(QLineEdit(), "Your reply", "Reaches everyone who can see the entry")
        self.edit.setMaxLength(2000)
        self.send = name_widget(QPushButton("Reply"), "Send reply")
        self.send.clicked.connect(self.submit)
        self.edit.returnPressed.connect(self.submit)
        close = name_widget(QPushButton("Close"), "Close")
        close.clicked.connect(self.accept)
        row = QHBoxLayout()
        row.addWidget(self.edit, 1)
        row.addWidget(self.send)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        self.resize(520, 360)

    def submit(self) -> None:
        text, iid = self.edit.text().strip(), self.item_id
        if not text:
            return
        self.ops.collection_op(lambda app: app.circles.reply(iid, text)).success(guarded(self, self._sent)).run()

    def _sent(self, reply: ReplyInfo) -> None:
        from companion.ui.shared_page import reply_text

        self.list.addItem(reply_text(reply))
        self.edit.clear()
        sync = getattr(self.ops, "circle_sync", None)
        if sync is not None:
            sync.sync_now()
