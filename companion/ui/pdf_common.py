"""PDF output that says nothing about who made it, when, or with what: shared by every PDF Companion writes.

Qt's ``QPdfWriter`` records its version as the producer, the creation time, a random document id and an XMP
packet with the same. :func:`render` sets everything it can to blank or null and then blanks, in place, the
information strings Qt writes regardless, so a file's bytes carry no author, tool, time or identifier.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QUuid
from PySide6.QtGui import QGuiApplication, QPageLayout, QPageSize, QPdfWriter

MINIMAL_XMP = (
    b"<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>"
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
    b"</x:xmpmeta><?xpacket end='w'?>"
)
RESOLUTION = 300

_app: QGuiApplication | None = None


def ensure_app() -> None:
    """A QGuiApplication for fonts and images; offscreen when there is none (the command line)."""
    global _app
    if QGuiApplication.instance() is None:
        _app = QGuiApplication(["companion", "-platform", "offscreen"])


def render(margin_mm: float, draw: Callable[[QPdfWriter], None]) -> bytes:
    """An A4 portrait PDF at :data:`RESOLUTION` dpi drawn by ``draw(writer)``, returned as anonymous bytes."""
    ensure_app()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setCreator("")
    writer.setAuthor("")
    writer.setTitle("")
    writer.setDocumentId(QUuid())  # the null id: the same for every file, so it identifies nothing
    writer.setDocumentXmpMetadata(QByteArray(MINIMAL_XMP))  # Qt's own carries its version and the time
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(margin_mm, margin_mm, margin_mm, margin_mm),
            QPageLayout.Unit.Millimeter,
        )
    )
    writer.setResolution(RESOLUTION)
    draw(writer)
    del writer  # finishes the PDF into the buffer
    buffer.close()
    return scrub_info(bytes(buffer.data().data()))


def scrub_info(pdf: bytes) -> bytes:
    """Blank the document-information strings Qt writes (producer, dates …) without moving any byte."""

    def blank(match: re.Match[bytes]) -> bytes:
        key, value = match.group(1), match.group(2)
        return key + b"(" + b" " * (len(value) - 2) + b")"

    return re.sub(
        rb"(/(?:Producer|Creator|Author|Title|CreationDate|ModDate)\s*)(\((?:[^()\\]|\\.)*\))", blank, pdf
    )
