"""The rendered reading view. Entry text is untrusted: it is parsed as Markdown with raw HTML turned off, no
resource (image, stylesheet, file) is ever loaded, and links open only after the person sees the address and
agrees.
"""

from __future__ import annotations

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices, QTextDocument
from PySide6.QtWidgets import QPlainTextDocumentLayout, QTextBrowser, QWidget

from companion.ui.dialogs import Button, ask, message

_F = QTextDocument.MarkdownFeature
# GitHub dialect (lists, tables, strikethrough, task lists) minus every kind of raw HTML.
MARKDOWN_FEATURES = QTextDocument.MarkdownFeature(_F.MarkdownDialectGitHub.value | _F.MarkdownNoHTML.value)
MARKDOWN_LIMIT = 200_000  # longer entries are shown as plain text (Markdown layout of megabytes freezes)
LONG_LINE = 10_000  # a line longer than this is shown wrapped at this width, and the entry opens read-only
OPENABLE_SCHEMES = {"http", "https", "mailto"}


def has_long_line(text: str, limit: int = LONG_LINE) -> bool:
    if len(text) <= limit:
        return False
    start = 0
    while True:
        end = text.find("\n", start)
        if end == -1:
            return len(text) - start > limit
        if end - start > limit:
            return True
        start = end + 1


def display_lines(text: str, limit: int = LONG_LINE) -> str:
    """Break over-long lines for display only (Qt lays out a multi-megabyte line for seconds a keystroke)."""
    if not has_long_line(text, limit):
        return text
    out = []
    for line in text.split("\n"):
        out.extend(line[i : i + limit] for i in range(0, max(len(line), 1), limit))
    return "\n".join(out)


class SafeDocument(QTextDocument):
    """A document that never loads anything: every image or resource request gets nothing."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.resource_requests = 0

    def loadResource(self, kind: int, name: QUrl):
        self.resource_requests += 1
        return None


class ReadingView(QTextBrowser):
    """Read-only rendering of an entry. ``link_requested`` fires when a link is clicked (before asking)."""

    link_requested = Signal(QUrl)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Reading")
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setAccessibleName("Reading view")
        self.setAccessibleDescription("The entry rendered from Markdown, read-only. Press Ctrl+E to edit.")
        self.anchorClicked.connect(self._on_link)
        self.confirm_links = True  # tests switch the dialog off and listen to link_requested
        self._doc = SafeDocument(self)
        self.setDocument(self._doc)

    @property
    def safe_document(self) -> SafeDocument:
        return self._doc

    def loadResource(self, kind: int, name: QUrl):
        return None

    def show_markdown(self, text: str) -> None:
        doc = SafeDocument(self)
        if len(text) > MARKDOWN_LIMIT or has_long_line(text):
            doc.setDocumentLayout(QPlainTextDocumentLayout(doc))
            doc.setPlainText(display_lines(text))
        else:
            doc.setMarkdown(text, MARKDOWN_FEATURES)
        old, self._doc = self._doc, doc
        self.setDocument(doc)
        old.deleteLater()

    def clear_content(self) -> None:
        self.show_markdown("")

    def _on_link(self, url: QUrl) -> None:
        self.link_requested.emit(url)
        if not self.confirm_links:
            return
        address = url.toDisplayString()
        if url.scheme().lower() not in OPENABLE_SCHEMES:
            message(self, "Link", f"This link cannot be opened from Companion:\n\n{address}")
            return
        if ask(self, "Open link?", f"Open this address in your browser?\n\n{address}", Button.Open):
            QDesktopServices.openUrl(url)
