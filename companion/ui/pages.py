"""The sidebar's pages, and the small registry that later features use to add theirs.

A page is a :class:`Page` subclass with a ``key``, ``title``, ``icon``, accessible name and description, an
optional ``shortcut``, and hooks the window calls:

- ``on_unlock()``: the journal was just opened; load what the page shows (through ``self.ops``).
- ``on_lock()``: the journal is locking; clear EVERY widget that shows content (text, lists, models).
- ``on_changes(changes)``: something changed (a :class:`~companion.services.Changes` flag set); refresh what
  depends on those flags only.
- ``on_shown()``: the person switched to this page.

Register with ``@register(order=…)``; a page registered with the ``key`` of an existing one replaces it (that
is how the Circles and Meetings pages replace their placeholders). Modules listed in :data:`PAGE_MODULES` are
imported by the main window; add one line there for a new feature."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from companion.services import Changes

if TYPE_CHECKING:
    from companion.ui.ops import OpRunner
    from companion.ui.settings import UiSettings

PAGE_MODULES = [
    "companion.ui.journal_page",
    "companion.ui.pages",
    "companion.ui.meetings_page",
    "companion.ui.shared_page",  # issue 7: replaces the Shared placeholder
    "companion.ui.circles_page",  # issue 7: replaces the Circles placeholder
]


@dataclass
class UiContext:
    """What every page gets: the op runner (all vault access), the UI settings, and the window's helpers."""

    ops: OpRunner
    settings: UiSettings
    status: Callable[[str], None]  # a short message in the status bar (never entry text)


class Page(QWidget):
    key: ClassVar[str] = ""
    title: ClassVar[str] = ""
    icon: ClassVar[str] = ""  # a name from companion.ui.icons, a resources/icons/<name>.svg, or a theme icon
    accessible_description: ClassVar[str] = ""
    shortcut: ClassVar[str | None] = None
    order: ClassVar[int] = 100

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.ops = ctx.ops
        self.setObjectName(f"Page_{self.key}")
        self.setAccessibleName(self.title)
        self.setAccessibleDescription(self.accessible_description)

    def on_unlock(self) -> None:
        """The journal is open: load."""

    def on_lock(self) -> None:
        """The journal is locking: clear every content-bearing widget."""

    def on_changes(self, changes: Changes) -> None:
        """Refresh what depends on these flags."""

    def on_shown(self) -> None:
        """The page became the visible one."""

    def actions_for_menu(self) -> list:
        """QActions this page adds to the View menu (with shortcuts), if any."""
        return []


_REGISTRY: dict[str, type[Page]] = {}


def register(cls: type[Page]) -> type[Page]:
    """Class decorator: add (or replace, by ``key``) a sidebar page."""
    if not cls.key:
        raise ValueError("a page needs a key")
    _REGISTRY[cls.key] = cls
    return cls


def registered() -> list[type[Page]]:
    for name in PAGE_MODULES:
        importlib.import_module(name)
    return sorted(_REGISTRY.values(), key=lambda cls: (cls.order, cls.key))


class PlaceholderPage(Page):
    """A page a later feature fills: says plainly what will be here."""

    blurb: ClassVar[str] = ""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 40, 40, 40)
        heading = QLabel(self.title)
        heading.setObjectName("Heading")
        body = QLabel(self.blurb)
        body.setWordWrap(True)
        body.setObjectName("Muted")
        body.setTextFormat(Qt.TextFormat.PlainText)
        for label in (heading, body):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard)
            label.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            label.setAccessibleName(label.text())
        layout.addWidget(heading)
        layout.addWidget(body)
        layout.addStretch(1)


@register
class SharedPage(PlaceholderPage):
    key = "shared"
    title = "Shared"
    icon = "shared"
    order = 20
    accessible_description = "Reflections you chose to share with a circle, and what others shared with you."
    blurb = (
        "Reflections you choose to share with your circle will appear here, end-to-end encrypted. "
        "Nothing is ever shared unless you pick it."
    )


@register
class CirclesPage(PlaceholderPage):
    key = "circles"
    title = "Circles"
    icon = "circles"
    order = 30
    accessible_description = "Your peer circles and their members."
    blurb = "Small peer circles you belong to, their members and safety numbers will appear here."


@register
class MeetingsPage(PlaceholderPage):
    key = "meetings"
    title = "Meetings"
    icon = "meetings"
    order = 40
    accessible_description = "Meetings and attendance for facilitators."
    blurb = "Meetings you facilitate or attend, and privacy-safe attendance reports, will appear here."
