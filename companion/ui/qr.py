"""QR codes drawn from segno's module matrix straight into a QImage (no files, no image plugins)."""

from __future__ import annotations

import segno
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

QUIET_ZONE = 4  # modules of white border the QR standard asks for


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR code's modules (True = dark), without the quiet zone. Error correction M; the smallest version."""
    code = segno.make_qr(text, error="m", boost_error=False)
    return [[bool(v) for v in row] for row in code.matrix]


def qr_image(text: str, scale: int = 4) -> QImage:
    """A black-on-white image of ``text`` as a QR code, ``scale`` pixels per module, with the quiet zone."""
    matrix = qr_matrix(text)
    n = len(matrix) + 2 * QUIET_ZONE
    image = QImage(n * scale, n * scale, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("black"))
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.drawRect((x + QUIET_ZONE) * scale, (y + QUIET_ZONE) * scale, scale, scale)
    painter.end()
    return image


class QrView(QLabel):
    """Shows a QR code (always black on white, whatever the theme: scanners need the contrast)."""

    def __init__(self, name: str, description: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(name)
        self.setAccessibleDescription(description)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.text_value = ""

    def set_text(self, text: str, *, pixels: int = 220) -> None:
        """Draw ``text`` as a QR code about ``pixels`` wide ("" clears it)."""
        self.text_value = text
        if not text:
            self.clear()
            return
        modules = len(qr_matrix(text)) + 2 * QUIET_ZONE
        self.setPixmap(QPixmap.fromImage(qr_image(text, max(2, pixels // modules))))
        self.setFixedSize(self.pixmap().size())

    def clear(self) -> None:  # type: ignore[override]
        self.text_value = ""
        super().clear()
