"""Light and dark palettes (Fusion style), the app font size, and a WCAG contrast check used by the tests."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from companion.ui import resources


@dataclass(frozen=True)
class Theme:
    name: str
    window: str
    window_text: str
    base: str
    alternate_base: str
    text: str
    muted: str  # secondary text (dates, previews)
    button: str
    button_text: str
    highlight: str
    highlighted_text: str
    link: str
    placeholder: str
    mark: str  # search-match background
    mark_text: str
    accent: str
    sidebar: str
    danger: str


LIGHT = Theme(
    name="light",
    window="#f6f4f0",
    window_text="#1f2328",
    base="#ffffff",
    alternate_base="#f1eee8",
    text="#1f2328",
    muted="#5b6169",
    button="#ece8e1",
    button_text="#1f2328",
    highlight="#2f5f8a",
    highlighted_text="#ffffff",
    link="#1f5a96",
    placeholder="#6a6f76",
    mark="#ffe08a",
    mark_text="#1f2328",
    accent="#2f5f8a",
    sidebar="#ebe7df",
    danger="#a3262a",
)

DARK = Theme(
    name="dark",
    window="#1c1f24",
    window_text="#e7e5e1",
    base="#23272d",
    alternate_base="#2a2f36",
    text="#e7e5e1",
    muted="#a9adb3",
    button="#2e333a",
    button_text="#e7e5e1",
    highlight="#8fb8de",
    highlighted_text="#111417",
    link="#9cc7f0",
    placeholder="#9a9fa6",
    mark="#7a5b00",
    mark_text="#fff6dc",
    accent="#8fb8de",
    sidebar="#171a1e",
    danger="#ff9b96",
)

THEMES = {"light": LIGHT, "dark": DARK}


def resolve(name: str) -> Theme:
    """``system`` follows the platform's light/dark preference where Qt knows it, else light."""
    if name in THEMES:
        return THEMES[name]
    hints = QGuiApplication.styleHints()
    if hints is not None and hints.colorScheme() == Qt.ColorScheme.Dark:
        return DARK
    return LIGHT


def palette(theme: Theme) -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: theme.window,
        QPalette.ColorRole.WindowText: theme.window_text,
        QPalette.ColorRole.Base: theme.base,
        QPalette.ColorRole.AlternateBase: theme.alternate_base,
        QPalette.ColorRole.Text: theme.text,
        QPalette.ColorRole.Button: theme.button,
        QPalette.ColorRole.ButtonText: theme.button_text,
        QPalette.ColorRole.Highlight: theme.highlight,
        QPalette.ColorRole.HighlightedText: theme.highlighted_text,
        QPalette.ColorRole.Link: theme.link,
        QPalette.ColorRole.LinkVisited: theme.link,
        QPalette.ColorRole.PlaceholderText: theme.placeholder,
        QPalette.ColorRole.ToolTipBase: theme.base,
        QPalette.ColorRole.ToolTipText: theme.text,
        QPalette.ColorRole.BrightText: theme.danger,
        QPalette.ColorRole.Light: theme.alternate_base,
        QPalette.ColorRole.Midlight: theme.button,
        QPalette.ColorRole.Mid: theme.muted,
        QPalette.ColorRole.Dark: theme.muted,
        QPalette.ColorRole.Shadow: theme.window_text,
    }
    for role, colour in roles.items():
        p.setColor(QPalette.ColorGroup.All, role, QColor(colour))
    # Disabled text stays readable (4.5:1 is checked for it too).
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(theme.muted))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor(theme.muted))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(theme.muted))
    return p


# Pairs of (foreground, background) that carry text: each must reach 4.5:1.
TEXT_PAIRS = (
    ("window_text", "window"),
    ("text", "base"),
    ("text", "alternate_base"),
    ("muted", "base"),
    ("muted", "window"),
    ("muted", "alternate_base"),
    ("button_text", "button"),
    ("highlighted_text", "highlight"),
    ("link", "base"),
    ("placeholder", "base"),
    ("mark_text", "mark"),
    ("window_text", "sidebar"),
    ("danger", "window"),
    ("danger", "base"),
)


def _linear(channel: float) -> float:
    return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    c = QColor(colour)
    return 0.2126 * _linear(c.redF()) + 0.7152 * _linear(c.greenF()) + 0.0722 * _linear(c.blueF())


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio, 1.0 … 21.0."""
    a, b = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


_current: Theme = LIGHT


def current() -> Theme:
    return _current


def apply(app: QApplication, theme_name: str, font_size: int) -> Theme:
    """Set the palette, stylesheet and app font. Text sizes everywhere derive from the app font."""
    global _current
    theme = resolve(theme_name)
    _current = theme
    app.setStyle("Fusion")
    app.setPalette(palette(theme))
    font = QFont(app.font())
    font.setPointSize(font_size)
    app.setFont(font)
    app.setStyleSheet(stylesheet(theme, font_size))
    return theme


def stylesheet(theme: Theme, font_size: int) -> str:
    template = resources.text("style.qss", default="")
    values = {f"@{key}": value for key, value in theme.__dict__.items()}
    values["@font_size"] = f"{font_size}pt"
    values["@title_size"] = f"{round(font_size * 1.5)}pt"
    values["@big_size"] = f"{round(font_size * 2)}pt"
    for key in sorted(values, key=len, reverse=True):
        template = template.replace(key, values[key])
    return template
