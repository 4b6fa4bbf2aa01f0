"""Small line icons drawn with QPainter in the theme's colours (no image files to load, crisp at any scale).

``icon(name)`` knows ``journal``, ``shared``, ``circles``, ``meetings``, ``lock``; any other name is looked
up as ``resources/icons/<name>.svg``, then as a freedesktop theme icon.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

from companion.ui import resources, theme

SIZE = 48  # drawn at 48 px, scaled down by Qt


def _journal(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(10, 6, 28, 36), 3, 3)
    p.drawLine(QPointF(16, 6), QPointF(16, 42))
    p.drawLine(QPointF(21, 16), QPointF(32, 16))
    p.drawLine(QPointF(21, 23), QPointF(32, 23))


def _shared(p: QPainter) -> None:
    path = QPainterPath()
    path.moveTo(6, 22)
    path.lineTo(42, 7)
    path.lineTo(30, 41)
    path.lineTo(23, 27)
    path.closeSubpath()
    p.drawPath(path)
    p.drawLine(QPointF(23, 27), QPointF(42, 7))


def _circles(p: QPainter) -> None:
    for x, y in ((24, 14), (14, 31), (34, 31)):
        p.drawEllipse(QPointF(x, y), 8, 8)


def _meetings(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(7, 10, 34, 30), 3, 3)
    p.drawLine(QPointF(7, 18), QPointF(41, 18))
    p.drawLine(QPointF(16, 6), QPointF(16, 13))
    p.drawLine(QPointF(32, 6), QPointF(32, 13))
    for x in (15, 24, 33):
        for y in (25, 33):
            p.drawPoint(QPointF(x, y))


def _lock(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(10, 21, 28, 21), 3, 3)
    p.drawArc(QRectF(15, 6, 18, 26), 0, 180 * 16)
    p.drawLine(QPointF(15, 19), QPointF(15, 21))
    p.drawLine(QPointF(33, 19), QPointF(33, 21))


DRAWN: dict[str, Callable[[QPainter], None]] = {
    "journal": _journal,
    "shared": _shared,
    "circles": _circles,
    "meetings": _meetings,
    "lock": _lock,
}


def _pixmap(draw: Callable[[QPainter], None], colour: str) -> QPixmap:
    pix = QPixmap(SIZE, SIZE)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(QColor(colour), 3.2)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    draw(p)
    p.end()
    return pix


def icon(name: str) -> QIcon:
    draw = DRAWN.get(name)
    if draw is not None:
        t = theme.current()
        result = QIcon()
        result.addPixmap(_pixmap(draw, t.window_text), QIcon.Mode.Normal)
        result.addPixmap(_pixmap(draw, t.highlighted_text), QIcon.Mode.Selected)
        return result
    found = resources.path(f"icons/{name}.svg")
    if found is not None:
        return QIcon(str(found))
    return QIcon.fromTheme(name)
