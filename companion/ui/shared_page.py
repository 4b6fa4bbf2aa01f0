"""The Shared page: what others in my circles shared with me, newest first.

A content warning is all a reader sees of an item (not even its title) until they choose "Show it". Replies and
a few gentle reactions go to the item's audience only. Withdrawn and expired items disappear (the service
purges them; the page reloads on every inbox change). Peer text is plain text only: QLabel in PlainText
format and a read-only QPlainTextEdit.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from companion.circles.model import InboxItem, ReplyInfo
from companion.services import Changes
from companion.ui.circle_dialogs import name_widget, plain_label
from companion.ui.pages import Page, register
from companion.ui.sync_status import controller_for

REACTIONS = ["Thinking of you", "Me too", "Thank you", "Sending strength"]


def stamp(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%-d %b %Y, %H:%M") if ms else ""


def short_stamp(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000)
    return moment.strftime("%-d %b, %H:%M" if moment.year == datetime.now().year else "%-d %b %Y")


def item_row_text(item: InboxItem) -> str:
    """A list row: with a content warning, only the warning (never the title); otherwise the title."""
    who = item.author_name or "someone"
    head = f"Content warning: {item.warning}" if item.warning else (item.title or "(untitled)")
    unread = "● " if not item.read else ""
    return f"{unread}{head}\nfrom {who} in {item.circle_name} · {short_stamp(item.received_at)}"


def reply_text(r: ReplyInfo) -> str:
    who = "You" if r.mine else (r.author_name or "someone")
    if r.kind == "reaction":
        return f"{who} reacted: {r.text}"
    return f"{who}: {r.text}"


@register
class SharedPage(Page):
    key = "shared"
    title = "Shared"
    icon = "shared"
    order = 20
    accessible_description = "What people in your circles shared with you, newest first."

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
        self.items: list[InboxItem] = []
        self.shown: InboxItem | None = None
        self.opened: set[str] = set()  # items whose content warning the reader chose to open (this session)
        self.sync = controller_for(self.ops)

        self.list = name_widget(QListWidget(), "Shared with you",
                                "Items from your circles, newest first; content warnings first")  # fmt: skip
        self.list.currentRowChanged.connect(self._chosen)
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSpacing(3)
        self.empty = plain_label(
            "Nothing shared with you yet. When someone in your circles shares a reflection with you, it appears "
            "here after a sync.",
            muted=True,
        )
        self.sync_button = name_widget(QPushButton("Sync now"), "Sync now", "Fetch what was shared (F5)")
        self.sync_button.clicked.connect(self.sync.sync_now)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(12, 12, 6, 12)
        heading = QLabel("Shared with you")
        heading.setObjectName("Heading")
        lv.addWidget(heading)
        lv.addWidget(self.list, 1)
        lv.addWidget(self.empty)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.sync_button)
        lv.addLayout(bottom)

        self.item_title = plain_label(name="Title")
        self.item_title.setObjectName("Heading")
        self.meta = plain_label(name="From", muted=True)
        self.warning_box = QFrame()
        self.warning_box.setObjectName("Banner")
        self.warning_label = plain_label(name="Content warning")
        self.show_button = name_widget(QPushButton("Show it"), "Show it",
                                       "Open the item behind the content warning")  # fmt: skip
        self.show_button.clicked.connect(self.open_warning)
        wb = QHBoxLayout(self.warning_box)
        wb.addWidget(self.warning_label, 1)
        wb.addWidget(self.show_button)
        self.text = name_widget(QPlainTextEdit(), "Shared text", "What they shared, as plain text")
        self.text.setReadOnly(True)
        self.text.setObjectName("Reading")
        self.mood_tags = plain_label(name="Mood and tags", muted=True)
        self.replies = name_widget(QListWidget(), "Replies", "Replies and reactions, oldest first")
        self.replies.setMaximumHeight(140)
        self.reply_edit = name_widget(QLineEdit(), "Your reply", "Reaches the person who shared and its audience")
        self.reply_edit.setPlaceholderText("Write a reply…")
        self.reply_edit.setMaxLength(2000)
        self.reply_edit.returnPressed.connect(self.send_reply)
        self.reply_button = name_widget(QPushButton("Reply"), "Send reply")
        self.reply_button.clicked.connect(self.send_reply)
        self.reaction_buttons: list[QPushButton] = []
        reactions = QHBoxLayout()
        for word in REACTIONS:
            b = name_widget(QPushButton(word), f"React: {word}", "A gentle reaction")
            b.clicked.connect(lambda _c=False, w=word: self.react(w))
            reactions.addWidget(b)
            self.reaction_buttons.append(b)
        reactions.addStretch(1)
        self.no_replies = plain_label("They asked for no replies to this one.", muted=True)
        self.no_replies.hide()
        reply_row = QHBoxLayout()
        reply_row.addWidget(self.reply_edit, 1)
        reply_row.addWidget(self.reply_button)
        self.content = QWidget()
        cv = QVBoxLayout(self.content)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(self.text, 1)
        cv.addWidget(self.mood_tags)
        cv.addWidget(QLabel("Replies"))
        cv.addWidget(self.replies)
        cv.addWidget(self.no_replies)
        cv.addLayout(reactions)
        cv.addLayout(reply_row)
        self.detail = QWidget()
        dv = QVBoxLayout(self.detail)
        dv.setContentsMargins(6, 12, 12, 12)
        dv.addWidget(self.item_title)
        dv.addWidget(self.meta)
        dv.addWidget(self.warning_box)
        dv.addWidget(self.content, 1)
        dv.addStretch(0)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(self.detail)
        split.setStretchFactor(1, 2)
        split.setSizes([300, 620])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self._share_action = QAction("Share the open entry…", self)
        self._share_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self._share_action.triggered.connect(lambda _c=False: self.share_open_entry())
        self._show(None)

    # -- hooks ---------------------------------------------------------------------------------------------

    def on_unlock(self) -> None:
        self.load()

    def on_lock(self) -> None:
        self.items = []
        self.opened = set()
        self.list.clear()
        self._show(None)

    def on_changes(self, changes: Changes) -> None:
        if changes & (Changes.INBOX | Changes.CIRCLES):
            self.load()

    def on_shown(self) -> None:
        self.load()

    def actions_for_menu(self) -> list[QAction]:
        return [self._share_action]

    def share_open_entry(self):
        from companion.ui.share_dialog import ShareBar

        bar = self.window().findChild(ShareBar)
        return bar.open_share() if bar is not None else None

    # -- list ----------------------------------------------------------------------------------------------

    def load(self) -> None:
        self.ops.query_op(lambda app: app.circles.inbox()).success(self._loaded).run()

    def _loaded(self, items: list[InboxItem]) -> None:
        previous = self.shown.item_id if self.shown else None
        self.items = items
        self.list.blockSignals(True)
        self.list.clear()
        for it in items:
            text = item_row_text(it)
            row = QListWidgetItem(text)
            row.setData(Qt.ItemDataRole.AccessibleTextRole, text)
            self.list.addItem(row)
        ids = [it.item_id for it in items]
        row_index = ids.index(previous) if previous in ids else -1
        self.list.setCurrentRow(row_index)
        self.list.blockSignals(False)
        self.empty.setVisible(not items)
        self._show(items[row_index] if row_index >= 0 else None)

    def _chosen(self, row: int) -> None:
        item = self.items[row] if 0 <= row < len(self.items) else None
        if item is not None and (self.shown is None or self.shown.item_id != item.item_id):
            self.opened.discard(item.item_id)  # choosing an item again collapses its warning again
        self._show(item)
        if item is not None and not item.read and not item.warning:
            self._mark_read(item)

    def _mark_read(self, item: InboxItem) -> None:
        iid = item.item_id
        self.ops.collection_op(lambda app: app.circles.mark_read(iid)).run()

    # -- detail --------------------------------------------------------------------------------------------

    @property
    def collapsed(self) -> bool:
        return self.shown is not None and bool(self.shown.warning) and self.shown.item_id not in self.opened

    def _show(self, item: InboxItem | None) -> None:
        self.shown = item
        self.detail.setVisible(item is not None)
        if item is None:
            for w in (self.item_title, self.meta, self.warning_label, self.mood_tags):
                w.clear()
            self.text.clear()
            self.replies.clear()
            self.reply_edit.clear()
            self.warning_box.hide()
            self.content.hide()
            return
        collapsed = self.collapsed
        self.warning_box.setVisible(bool(item.warning))
        self.warning_label.setText(f"Content warning: {item.warning}" if item.warning else "")
        self.show_button.setVisible(collapsed)
        who = item.author_name or "someone"
        parts = [f"From {who} in {item.circle_name}", f"received {stamp(item.received_at)}"]
        if item.excerpt:
            parts.append("an excerpt")
        if item.expires_at:
            parts.append(f"disappears {stamp(item.expires_at)}")
        self.meta.setText(" · ".join(parts))
        if collapsed:
            self.item_title.setText("Content warning")
            self.text.clear()
            self.replies.clear()
            self.mood_tags.clear()
            self.content.hide()
            return
        self.item_title.setText(item.title or "(untitled)")
        self.content.show()
        if self.text.toPlainText() != item.text:
            self.text.setPlainText(item.text)
        extra = []
        if item.mood is not None:
            extra.append(f"Mood {item.mood}")
        if item.tags:
            extra.append("Tags: " + ", ".join(item.tags))
        self.mood_tags.setText(" · ".join(extra))
        self.mood_tags.setVisible(bool(extra))
        self.replies.clear()
        for r in item.replies:
            self.replies.addItem(reply_text(r))
        if not item.replies:
            self.replies.addItem("No replies yet.")
        welcome = item.replies_welcome
        self.no_replies.setVisible(not welcome)
        for w in (self.reply_edit, self.reply_button, *self.reaction_buttons):
            w.setEnabled(welcome)

    def open_warning(self) -> None:
        if self.shown is None:
            return
        self.opened.add(self.shown.item_id)
        self._show(self.shown)
        if not self.shown.read:
            self._mark_read(self.shown)
        self.text.setFocus()

    def send_reply(self) -> None:
        text = self.reply_edit.text().strip()
        if self.shown is None or not text or self.collapsed:
            return
        iid = self.shown.item_id
        self.reply_button.setEnabled(False)
        self.ops.collection_op(lambda app: app.circles.reply(iid, text)).success(self._replied).failure(
            self._reply_failed
        ).run()

    def react(self, word: str) -> None:
        if self.shown is None or self.collapsed:
            return
        iid = self.shown.item_id
        self.ops.collection_op(lambda app: app.circles.reply(iid, word, kind="reaction")).success(
            lambda _r: self.sync.sync_now()
        ).run()

    def _replied(self, _reply: ReplyInfo) -> None:
        self.reply_edit.clear()
        self.reply_button.setEnabled(True)
        self.sync.sync_now()

    def _reply_failed(self, exc: BaseException) -> None:
        self.reply_button.setEnabled(True)
        self.ops.presenter.present(exc)
