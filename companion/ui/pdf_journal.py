"""A printable journal as PDF, with Qt's PDF writer. Called by ``companion.transfer.pdf`` (lazily: only this
module imports Qt, and only when a PDF is asked for).

The document is built with :class:`QTextCursor` and ``insertText`` only: entry text is never parsed as HTML or
Markdown, so nothing a person wrote can turn into markup, links or remote resources. Images are given to the
document as in-memory resources. The PDF carries no author or creator metadata (and no title: a file name is
enough), and the bytes are returned to the caller, which decides where they go.

Works off the GUI thread (QPdfWriter and QTextDocument need no widgets); needs a QGuiApplication, and creates
an offscreen one when the process has none (the command line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QByteArray, QSizeF, QUrl
from PySide6.QtGui import (
    QFont,
    QImage,
    QPdfWriter,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextImageFormat,
)

from companion.ui.pdf_common import ensure_app, render


@dataclass(frozen=True)
class PdfEntry:
    """What one entry shows in print. ``images`` are the attachments' bytes (JPEG, PNG …), in order."""

    created_at: datetime
    title: str
    body: str
    tags: Sequence[str] = ()
    mood: int | None = None
    starred: bool = False
    images: Sequence[bytes] = ()


def render_pdf(
    entries: Iterable[PdfEntry],
    *,
    heading: str,
    step: Callable[[], None] | None = None,
) -> bytes:
    """Lay out the entries (oldest first, as given) on A4 pages and return the PDF's bytes.

    ``step`` is called after each entry is laid out (for progress and cancel: it may raise to stop).
    """
    ensure_app()
    doc = QTextDocument()
    doc.setDefaultFont(QFont("DejaVu Serif", 11))
    cursor = QTextCursor(doc)

    title_format = QTextCharFormat()
    title_format.setFontPointSize(20)
    title_format.setFontWeight(QFont.Weight.Bold)
    head_format = QTextCharFormat()
    head_format.setFontPointSize(13)
    head_format.setFontWeight(QFont.Weight.Bold)
    meta_format = QTextCharFormat()
    meta_format.setFontPointSize(9)
    meta_format.setFontItalic(True)
    body_format = QTextCharFormat()
    body_format.setFontPointSize(11)

    cursor.insertText(heading, title_format)
    first = True
    for number, entry in enumerate(entries):
        block = QTextBlockFormat()
        block.setTopMargin(18)
        if not first:
            block.setPageBreakPolicy(QTextFormat.PageBreakFlag.PageBreak_Auto)
        first = False
        cursor.insertBlock(block)
        when = entry.created_at.strftime("%A %d %B %Y, %H:%M")
        cursor.insertText(f"{'★ ' if entry.starred else ''}{entry.title or when}", head_format)
        meta = [when] if entry.title else []
        if entry.mood:
            meta.append(f"mood {entry.mood}/5")
        if entry.tags:
            meta.append(" ".join(f"#{tag}" for tag in entry.tags))
        if meta:
            cursor.insertBlock(QTextBlockFormat())
            cursor.insertText(" · ".join(meta), meta_format)
        plain = QTextBlockFormat()
        plain.setTopMargin(6)
        for paragraph in entry.body.split("\n"):
            cursor.insertBlock(plain)
            cursor.insertText(paragraph, body_format)
        for index, data in enumerate(entry.images):
            image = QImage.fromData(QByteArray(bytes(data)))
            if image.isNull():
                continue
            name = f"companion-image://{number}/{index}"
            doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
            fmt = QTextImageFormat()
            fmt.setName(name)
            width = min(float(image.width()), 420.0)
            fmt.setWidth(width)
            fmt.setHeight(image.height() * width / max(1, image.width()))
            cursor.insertBlock(plain)
            cursor.insertImage(fmt)
        if step is not None:
            step()

    def draw(writer: QPdfWriter) -> None:
        doc.setPageSize(QSizeF(writer.width(), writer.height()))
        doc.print_(writer)

    return render(18, draw)
