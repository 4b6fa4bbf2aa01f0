"""Journal verbs for the UI and the command line."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from companion.journal import search as searching
from companion.journal.entries import Entry, EntrySummary, Journal
from companion.journal.search import Filters, Order
from companion.services import Changed, Changes

if TYPE_CHECKING:
    from companion.services import Companion


class JournalService:
    def __init__(self, app: Companion) -> None:
        self._vault = app.vault
        self._journal = Journal(self._vault)

    # -- changes ---------------------------------------------------------------------------------------------------

    def add_entry(
        self,
        body: str,
        *,
        title: str = "",
        tags: Iterable[str] = (),
        mood: int | None = None,
        created_at: datetime | str | None = None,
    ) -> Changed[Entry]:
        entry = self._journal.add(body, title=title, tags=tags, mood=mood, created_at=created_at)
        return Changed(entry, Changes.ENTRIES | (Changes.TAGS if entry.tags else Changes.NONE))

    def update_entry(self, entry_id: int, **fields: Any) -> Changed[Entry]:
        """Fields: ``body``, ``title``, ``tags``, ``mood`` (None clears it), ``created_at``, ``starred``."""
        before = self._journal.get(entry_id)
        entry = self._journal.update(entry_id, **fields)
        changes = Changes.NONE if entry == before else Changes.ENTRIES
        if entry.tags != before.tags:
            changes |= Changes.TAGS
        return Changed(entry, changes)

    def trash_entry(self, entry_id: int) -> Changed[Entry]:
        return Changed(self._journal.trash(entry_id), Changes.ENTRIES | Changes.TRASH | Changes.TAGS)

    def restore_entry(self, entry_id: int) -> Changed[Entry]:
        return Changed(self._journal.restore(entry_id), Changes.ENTRIES | Changes.TRASH | Changes.TAGS)

    def purge_entry(self, entry_id: int) -> Changed[None]:
        self._journal.purge(entry_id)
        return Changed(None, Changes.ENTRIES | Changes.TRASH | Changes.TAGS)

    def empty_trash(self) -> Changed[int]:
        return Changed(self._journal.empty_trash(), Changes.TRASH | Changes.TAGS)

    def set_setting(self, key: str, value: str) -> Changed[None]:
        self._journal.set_setting(key, value)
        return Changed(None, Changes.SETTINGS)

    # -- reads -----------------------------------------------------------------------------------------------------

    def get_entry(self, entry_id: int) -> Entry:
        return self._journal.get(entry_id)

    def recent(self, limit: int = 50, *, after_id: int | None = None) -> list[EntrySummary]:
        """Newest first; pass the last id of the previous page as ``after_id`` for the next page."""
        before = self._journal.page_key(after_id) if after_id is not None else None
        return self._journal.recent(limit, before=before)

    def trash(self, limit: int = 500) -> list[EntrySummary]:
        return self._journal.recent(limit, trash=True)

    def count(self, *, trash: bool = False) -> int:
        return self._journal.count(trash=trash)

    def search(
        self,
        text: str,
        filters: Filters | None = None,
        *,
        order: Order = "newest",
        limit: int = 50,
        offset: int = 0,
    ) -> list[EntrySummary]:
        return searching.search(
            self._vault, text, filters or Filters(), order=order, limit=limit, offset=offset
        )

    def search_count(self, text: str, filters: Filters | None = None) -> int:
        return searching.count(self._vault, text, filters or Filters())

    def tags(self) -> list[tuple[str, int]]:
        return self._journal.tags()

    def days_with_entries(self, first: date, last: date) -> dict[date, int]:
        return self._journal.days_with_entries(first, last)

    def on_this_day(self, today: date) -> list[EntrySummary]:
        return self._journal.on_this_day(today)

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        return self._journal.get_setting(key, default)
