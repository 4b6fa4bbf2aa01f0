"""Message boxes that always treat their text as plain text (Qt's default "auto" format would render HTML)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

Button = QMessageBox.StandardButton


def message(
    parent: QWidget | None,
    title: str,
    text: str,
    *,
    icon: QMessageBox.Icon = QMessageBox.Icon.Information,
    buttons: Button = Button.Ok,
    default: Button = Button.Ok,
) -> Button:
    box = QMessageBox(icon, title, text, buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setDefaultButton(default)
    box.setAccessibleName(title)
    box.setAccessibleDescription(text)
    return Button(box.exec())


def ask(parent: QWidget | None, title: str, text: str, yes: Button = Button.Yes) -> bool:
    return (
        message(
            parent,
            title,
            text,
            icon=QMessageBox.Icon.Question,
            buttons=yes | Button.Cancel,
            default=Button.Cancel,
        )
        == yes
    )


def plain_tip(text: str) -> str:
    """A tooltip that shows ``text`` literally.

    Qt renders tooltips that look like HTML as HTML, and names, notes and messages come from imports and peers
    (untrusted), so they are escaped inside an explicit rich-text paragraph."""
    return "<p>" + html.escape(text) + "</p>"
