"""The entry editor: title, date, tags (with completion), mood, Markdown body with formatting shortcuts, a
rendered reading view, autosave with a visible saved state, and a word count.

The body is a ``QPlainTextEdit``: entry text is only ever plain text here. Saving goes through the op runner;
one save is in flight at a time, and edits made meanwhile are saved right after it.
"""

from __future__ import annotations

import itertools
import random
from datetime import datetime

from PySide6.QtCore import QDateTime, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDateTimeEdit,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextDocumentLayout,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from companion.journal.entries import Entry
from companion.ui import resources
from companion.ui.attachments import AttachmentStrip
from companion.ui.entry_model import MOODS
from companion.ui.reading import ReadingView, display_lines, has_long_line

AUTOSAVE_MS = 800
DEFAULT_PROMPTS = [
    "What helped today, even a little?",
    "A boundary I kept (or wanted to keep) today:",
    "What I'd like my circle to know this week:",
]

# (sequence, description) for Help → Keyboard shortcuts; the editor installs these itself.
EDITOR_SHORTCUTS = [
    ("Ctrl+B", "Bold (wraps the selection in **)"),
    ("Ctrl+I", "Italic (wraps the selection in _)"),
    ("Ctrl+Shift+H", "Heading on the current line"),
    ("Ctrl+Shift+8", "Bulleted list on the selected lines"),
    ("Ctrl+K", "Link around the selection"),
    ("Ctrl+E", "Switch between writing and reading view"),
    ("Ctrl+S", "Save now (saving is automatic)"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo in the editor"),
]


def load_prompts() -> list[str]:
    lines = resources.text("prompts.txt").splitlines()
    prompts = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return prompts or list(DEFAULT_PROMPTS)


def parse_tags(text: str) -> list[str]:
    return [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]


class TagEdit(QLineEdit):
    """Comma-separated tags; completion applies to the tag being typed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tag_model = QStringListModel(self)
        self.completer_ = QCompleter(self.tag_model, self)
        self.completer_.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer_.setWidget(self)
        self.completer_.activated.connect(self._insert)
        self.completer_.popup().setAccessibleName("Tag suggestions")
        self.textEdited.connect(self._complete)

    def set_known(self, tags: list[str]) -> None:
        self.tag_model.setStringList(tags)

    def _current_prefix(self) -> str:
        return self.text()[: self.cursorPosition()].split(",")[-1].strip()

    def _complete(self) -> None:
        prefix = self._current_prefix()
        if not prefix:
            self.completer_.popup().hide()
            return
        self.completer_.setCompletionPrefix(prefix)
        if self.completer_.completionCount():
            self.completer_.complete()
        else:
            self.completer_.popup().hide()

    def _insert(self, tag: str) -> None:
        head = self.text()[: self.cursorPosition()]
        tail = self.text()[self.cursorPosition() :]
        parts = head.split(",")
        parts[-1] = (" " if len(parts) > 1 else "") + tag
        new_head = ",".join(parts) + ", "
        self.setText(new_head + tail.lstrip(", "))
        self.setCursorPosition(len(new_head))
        self.textEdited.emit(self.text())

    def keyPressEvent(self, event) -> None:
        popup = self.completer_.popup()
        if popup.isVisible() and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab):
            index = popup.currentIndex()
            if index.isValid():
                self._insert(index.data())
                popup.hide()
                event.accept()
                return
        super().keyPressEvent(event)


class BodyEdit(QPlainTextEdit):
    """Markdown source: formatting shortcuts edit the text through the cursor, so they are undoable."""

    def wrap(self, marker: str) -> None:
        cursor = self.textCursor()
        text = cursor.selectedText()
        cursor.beginEditBlock()
        cursor.insertText(f"{marker}{text}{marker}")
        if not text:
            cursor.movePosition(QTextCursor.MoveOperation.Left, n=len(marker))
        cursor.endEditBlock()
        self.setTextCursor(cursor)

    def prefix_lines(self, prefix: str) -> None:
        cursor = self.textCursor()
        doc = self.document()
        first = doc.findBlock(cursor.selectionStart()).blockNumber()
        last = doc.findBlock(cursor.selectionEnd()).blockNumber()
        cursor.beginEditBlock()
        for number in range(first, last + 1):
            block = doc.findBlockByNumber(number)
            c = QTextCursor(block)
            if block.text().startswith(prefix):
                c.movePosition(QTextCursor.MoveOperation.Right, QTextCursor.MoveMode.KeepAnchor, len(prefix))
                c.removeSelectedText()
            else:
                c.insertText(prefix)
        cursor.endEditBlock()

    def link(self) -> None:
        cursor = self.textCursor()
        text = cursor.selectedText() or "link text"
        cursor.insertText(f"[{text}](https://)")
        cursor.movePosition(QTextCursor.MoveOperation.Left)
        self.setTextCursor(cursor)


class EntryEditor(QWidget):
    saved = Signal(object)  # Entry, after every successful save
    created = Signal(int)  # a new entry got its id
    state_changed = Signal(str)

    def __init__(self, ops, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops = ops
        self.entry_id: int | None = None
        self.read_only = False
        self._dirty = False
        self._date_touched = False
        self._loading = False
        self._token = 0  # bumped when another entry is shown: late save results must not rebind the editor
        self._ref: dict = {"id": None}  # shared with this entry's queued saves (see save_now)
        self._pending = 0  # saves of the shown entry still in flight
        self.prompts = load_prompts()
        self.setAccessibleName("Entry editor")

        self.prompt_card = QFrame()
        self.prompt_card.setObjectName("PromptCard")
        self.prompt_card.setAccessibleName("Reflection prompt")
        card = QVBoxLayout(self.prompt_card)
        card.setContentsMargins(12, 8, 8, 8)
        card_title = QLabel("A reflection prompt, if it helps:")
        card_title.setObjectName("Muted")
        self.prompt_label = QLabel()
        self.prompt_label.setObjectName("PromptText")
        self.prompt_label.setTextFormat(Qt.TextFormat.PlainText)
        self.prompt_label.setWordWrap(True)
        self.use_prompt = QPushButton("Use prompt")
        self.next_prompt = QPushButton("Another")
        self.hide_prompt = QPushButton("Not now")
        for button, desc in (
            (self.use_prompt, "Use this reflection prompt as the entry's title"),
            (self.next_prompt, "Show a different reflection prompt"),
            (self.hide_prompt, "Hide the reflection prompt and write freely"),
        ):
            button.setAccessibleName(button.text())
            button.setAccessibleDescription(desc)
        card.addWidget(card_title)
        card.addWidget(self.prompt_label)
        card_buttons = QHBoxLayout()
        card_buttons.addStretch(1)
        for button in (self.use_prompt, self.next_prompt, self.hide_prompt):
            card_buttons.addWidget(button)
        card.addLayout(card_buttons)
        self.use_prompt.clicked.connect(self._use_prompt)
        self.next_prompt.clicked.connect(self._another_prompt)
        self.hide_prompt.clicked.connect(lambda: (self.prompt_card.hide(), self.body.setFocus()))

        self.banner = QLabel()
        self.banner.setObjectName("Banner")
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.PlainText)
        self.banner.hide()

        self.title = QLineEdit()
        self.title.setObjectName("TitleEdit")
        self.title.setPlaceholderText("Title (optional)")
        self.title.setAccessibleName("Title")
        self.title.setAccessibleDescription(
            "The entry's title. Press Enter or Tab to go on to the date and tags."
        )
        self.title.setMaxLength(1000)
        self.title.returnPressed.connect(lambda: self.body.setFocus())

        self.date = QDateTimeEdit()
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("ddd d MMM yyyy  HH:mm")
        self.date.setAccessibleName("Date")
        self.date.setAccessibleDescription("When this entry was written. Use the arrow keys to change it.")
        self.tags = TagEdit()
        self.tags.setPlaceholderText("Tags, separated by commas")
        self.tags.setAccessibleName("Tags")
        self.tags.setAccessibleDescription(
            "Tags for this entry, separated by commas. Suggestions appear as you type."
        )
        self.mood = QComboBox()
        self.mood.addItem("Mood: not set", None)
        for value, word in MOODS.items():
            self.mood.addItem(f"Mood {value}: {word}", value)
        self.mood.setAccessibleName("Mood")
        self.mood.setAccessibleDescription("How you feel, from 1 (very low) to 5 (very good), or not set.")
        meta = QHBoxLayout()
        meta.addWidget(self.date)
        meta.addWidget(self.mood)
        meta.addStretch(1)

        self.body = BodyEdit()
        self.body.setObjectName("Body")
        self.body.setPlaceholderText("Write anything. It stays on this device, encrypted.")
        self.body.setAccessibleName("Entry text")
        self.body.setAccessibleDescription(
            "The entry, in Markdown. Ctrl+B bold, Ctrl+I italic, Ctrl+E reading view. Saved automatically."
        )
        self.body.setTabChangesFocus(True)
        self._doc: QTextDocument | None = None
        self._replace_document("")
        self.reading = ReadingView()
        self.views = QStackedWidget()
        self.views.addWidget(self.body)
        self.views.addWidget(self.reading)

        self.word_count = QLabel("0 words")
        self.word_count.setObjectName("WordCount")
        self.word_count.setAccessibleName("Word count")
        self.save_state = QLabel("")
        self.save_state.setObjectName("SaveState")
        self.save_state.setAccessibleName("Save state")
        self.toggle_view = QPushButton("Reading view")
        self.toggle_view.setCheckable(True)
        self.toggle_view.setAccessibleName("Reading view")
        self.toggle_view.setAccessibleDescription("Show the entry rendered from Markdown (Ctrl+E)")
        self.toggle_view.toggled.connect(self.set_reading)
        self.attachments = AttachmentStrip(ops)  # the entry's images (issue 9); hidden until it has an id
        footer = QHBoxLayout()
        footer.addWidget(self.word_count)
        footer.addStretch(1)
        footer.addWidget(self.save_state)
        footer.addWidget(self.toggle_view)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 10)
        layout.setSpacing(8)
        layout.addWidget(self.prompt_card)
        layout.addWidget(self.banner)
        layout.addWidget(self.title)
        layout.addLayout(meta)
        layout.addWidget(self.tags)
        layout.addWidget(self.views, 1)
        layout.addWidget(self.attachments)
        layout.addLayout(footer)
        self.fix_tab_order()

        self._autosave = QTimer(self)
        self._autosave.setSingleShot(True)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._autosave.timeout.connect(self.save_now)
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(150)
        self._count_timer.timeout.connect(self._update_count)

        self.title.textEdited.connect(self._edited)
        self.tags.textEdited.connect(self._edited)
        self.mood.activated.connect(self._edited)
        self.date.dateTimeChanged.connect(self._date_edited)

        for keys, handler in (
            ("Ctrl+B", lambda: self.body.wrap("**")),
            ("Ctrl+I", lambda: self.body.wrap("_")),
            ("Ctrl+Shift+H", lambda: self.body.prefix_lines("# ")),
            ("Ctrl+Shift+8", lambda: self.body.prefix_lines("- ")),
            ("Ctrl+Shift+*", lambda: self.body.prefix_lines("- ")),
            ("Ctrl+K", self.body.link),
        ):
            shortcut = QShortcut(QKeySequence(keys), self.body)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(handler)
        self.new_entry()

    def fix_tab_order(self) -> None:
        chain = [
            self.title,
            self.date,
            self.tags,
            self.mood,
            self.body,
            self.toggle_view,
            self.use_prompt,
            self.next_prompt,
            self.hide_prompt,
            self.attachments.list,
            self.attachments.add_button,
            self.attachments.view_button,
            self.attachments.remove_button,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    # -- public ----------------------------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        return self._dirty

    def new_entry(self, *, with_prompt: bool = True) -> None:
        self.flush()
        self._show(None)
        self._set_state("New entry")
        if with_prompt and self.prompts:
            self.prompt_label.setText(random.choice(self.prompts))
            self.prompt_card.show()
        self.set_reading(False)

    def load_entry(self, entry_id: int) -> None:
        if entry_id == self.entry_id:
            return
        self.flush()
        self.ops.query_op(lambda app: app.journal.get_entry(entry_id)).success(self._show).run()

    def save_now(self) -> None:
        """Queue a save of the current fields if there are unsaved edits.

        Saves of one entry share a reference (``{"id": …}``) filled in on the worker by the first save of a
        new entry, so a later save queued before that result arrives updates it instead of adding another;
        the worker runs them in order. This is also what makes the save queued just before a lock safe.
        """
        self._autosave.stop()
        if not self._dirty or self.read_only:
            return
        snapshot = {
            "body": self.body.toPlainText(),
            "title": self.title.text(),
            "tags": parse_tags(self.tags.text()),
            "mood": self.mood.currentData(),
        }
        if self._date_touched:
            snapshot["created_at"] = self.date.dateTime().toPython()
        self._dirty = False
        ref = self._ref
        empty = not snapshot["body"].strip() and not snapshot["title"].strip()
        if ref["id"] is None and not self._pending and empty:
            return
        token = self._token
        self._pending += 1
        self._set_state("Saving…")

        def op(app):
            if ref["id"] is None:
                fields = dict(snapshot)
                changed = app.journal.add_entry(fields.pop("body"), **fields)
                ref["id"] = changed.value.id
                return changed
            return app.journal.update_entry(ref["id"], **snapshot)

        self.ops.collection_op(op).success(lambda entry: self._saved(token, entry)).failure(
            lambda exc: self._save_failed(token, exc)
        ).run()

    def flush(self) -> None:
        if self._dirty:
            self.save_now()

    def set_reading(self, reading: bool) -> None:
        if reading:
            self.reading.show_markdown(self.body.toPlainText())
            self.views.setCurrentWidget(self.reading)
        else:
            self.reading.clear_content()
            self.views.setCurrentWidget(self.body)
        if self.toggle_view.isChecked() != reading:
            self.toggle_view.blockSignals(True)
            self.toggle_view.setChecked(reading)
            self.toggle_view.blockSignals(False)
        self.toggle_view.setText("Edit" if reading else "Reading view")

    def toggle_reading(self) -> None:
        self.set_reading(self.views.currentWidget() is not self.reading)
        (self.reading if self.views.currentWidget() is self.reading else self.body).setFocus()

    def set_known_tags(self, tags: list[str]) -> None:
        self.tags.set_known(tags)

    def clear_for_lock(self) -> None:
        """Forget everything shown: text, undo history, fields, suggestions."""
        self._autosave.stop()
        self._count_timer.stop()
        self._token += 1
        self._ref = {"id": None}
        self._pending = 0
        self.entry_id = None
        self._dirty = False
        self._loading = True
        self._replace_document("")  # the old document, and its undo stack, go away
        self.title.clear()
        self.title.setModified(False)
        self.tags.clear()
        self.tags.set_known([])
        self.mood.setCurrentIndex(0)
        self.prompt_label.clear()
        self.prompt_card.hide()
        self.banner.clear()
        self.banner.hide()
        self.attachments.clear_for_lock()
        self.set_reading(False)
        self.reading.clear_content()
        self.word_count.setText("0 words")
        self._set_state("")
        self._loading = False

    # -- internals -------------------------------------------------------------------------------------------

    def _replace_document(self, text: str) -> None:
        """Give the body a fresh document (its own, empty undo stack) and destroy the old one."""
        doc = QTextDocument()
        doc.setDocumentLayout(QPlainTextDocumentLayout(doc))
        doc.setPlainText(text)
        doc.setModified(False)
        old = self._doc
        self.body.setDocument(doc)
        self._doc = doc
        if old is not None:
            old.contentsChanged.disconnect(self._body_changed)
            old.clear()
            old.clearUndoRedoStacks()
        doc.contentsChanged.connect(self._body_changed)

    def _show(self, entry: Entry | None) -> None:
        self.flush()  # edits typed while this entry was loading belong to the previous one: save them
        self._loading = True
        self._autosave.stop()
        self._token += 1
        self.entry_id = entry.id if entry else None
        self._ref = {"id": self.entry_id}
        self._pending = 0
        self._dirty = False
        self._date_touched = False
        body = entry.body if entry else ""
        self.read_only = entry is not None and (has_long_line(body) or len(entry.title) > 1000)
        self.body.setReadOnly(self.read_only)
        for field in (self.title, self.tags):
            field.setReadOnly(self.read_only)
        self.mood.setEnabled(not self.read_only)
        self.date.setReadOnly(self.read_only)
        if self.read_only:
            self.banner.setText(
                "This entry has a line longer than 10,000 characters, so it opens read-only to keep "
                "Companion "
                "responsive. Long lines are shown wrapped. Export it to edit it elsewhere."
            )
            self.banner.show()
        else:
            self.banner.hide()
        # A new document per entry: undo history never crosses from one entry to another.
        self._replace_document(display_lines(body) if self.read_only else body)
        self.title.setText(entry.title[:1000] if entry else "")
        self.tags.setText(", ".join(entry.tags) if entry else "")
        self.mood.setCurrentIndex(self.mood.findData(entry.mood) if entry and entry.mood else 0)
        moment = entry.created_at if entry else datetime.now().astimezone()
        self.date.setDateTime(QDateTime(moment.date(), moment.time().replace(tzinfo=None)))
        self.prompt_card.hide()
        self.attachments.set_entry(self.entry_id)
        self._update_count()
        if entry is not None:
            self._set_state("Saved" if not self.read_only else "Read-only")
        if self.views.currentWidget() is self.reading:
            self.reading.show_markdown(body)
        self._loading = False

    def _edited(self, *_args) -> None:
        if self._loading or self.read_only:
            return
        self._dirty = True
        self._set_state("Edited")
        self._autosave.start()

    def _date_edited(self) -> None:
        if not self._loading:
            self._date_touched = True
            self._edited()

    def _body_changed(self) -> None:
        self._count_timer.start()
        self._edited()

    def _update_count(self) -> None:
        n = len(self.body.toPlainText().split())
        self.word_count.setText(f"{n:,} word" + ("" if n == 1 else "s"))

    def _saved(self, token: int, entry: Entry) -> None:
        self.saved.emit(entry)
        if token != self._token:  # the editor has moved on to another entry
            return
        self._pending -= 1
        if self.entry_id is None:  # a new entry got its id
            self.entry_id = entry.id
            self.prompt_card.hide()
            self.attachments.set_entry(entry.id)
            self.created.emit(entry.id)
        if not self._pending and not self._dirty:
            self._set_state("Saved")

    def _save_failed(self, token: int, exc: BaseException) -> None:
        if token == self._token:
            self._pending -= 1
            self._dirty = True
            self._set_state("Not saved")
        self.ops.presenter.present(exc)

    def _set_state(self, text: str) -> None:
        self.save_state.setText(text)
        self.save_state.setAccessibleDescription(text)
        self.state_changed.emit(text)

    def _use_prompt(self) -> None:
        if not self.title.text().strip():
            self.title.setText(self.prompt_label.text())
            self._edited()
        self.prompt_card.hide()
        self.body.setFocus()

    def _another_prompt(self) -> None:
        others = [p for p in self.prompts if p != self.prompt_label.text()] or self.prompts
        self.prompt_label.setText(random.choice(others))
