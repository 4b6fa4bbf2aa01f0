"""What an importer produces, and what an import reports back."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ImportedAttachment:
    """An image to store with an entry: its bytes, or ``load`` to read them only when the entry is written.

    Loading late keeps a large export (thousands of photos) from being held in memory all at once; the bytes
    go from the source straight into the vault, never to a temporary file.
    """

    name: str
    data: bytes | None = None
    uid: str | None = None
    created_at: datetime | None = None
    load: Callable[[], bytes] | None = field(default=None, compare=False, repr=False)

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.load is None:
            return b""
        return self.load()


@dataclass(frozen=True)
class ImportedEntry:
    """One entry read from a source, before it is checked against the journal.

    ``source_key`` is stable for the same source entry on every import (``jrnl:…``, ``dayone:<uuid>`` …), so a
    second import of the same file adds nothing. ``where`` names the place in the source for messages.
    """

    body: str
    created_at: datetime
    source_key: str | None
    where: str
    title: str = ""
    tags: tuple[str, ...] = ()
    mood: int | None = None
    starred: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    uid: str | None = None
    updated_at: datetime | None = None
    attachments: tuple[ImportedAttachment, ...] = ()
    skipped: tuple[
        Skip, ...
    ] = ()  # parts of this entry left out (a video …): reported only if it is imported


@dataclass(frozen=True)
class Skip:
    """Something in the source that was not imported, where it was, and why (in words for the person)."""

    where: str
    reason: str


@dataclass
class ParsedSource:
    """An importer's result: the entries found, and what it passed over while reading."""

    format: str
    source: str
    entries: list[ImportedEntry] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)


@dataclass
class ImportReport:
    """How many entries, tags and attachments came in, and what was skipped and why."""

    format: str
    source: str
    entries: int = 0
    tags: int = 0  # tags that are new to the journal
    attachments: int = 0
    skipped: list[Skip] = field(default_factory=list)
    entry_ids: list[int] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return sum(1 for skip in self.skipped if skip.reason == ALREADY_IMPORTED)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "source": self.source,
            "entries": self.entries,
            "tags": self.tags,
            "attachments": self.attachments,
            "skipped": [{"where": s.where, "reason": s.reason} for s in self.skipped],
        }

    def summary(self) -> str:
        lines = [
            f"Imported {self.entries} {_plural(self.entries, 'entry', 'entries')}, {self.tags} new "
            f"{_plural(self.tags, 'tag', 'tags')} and {self.attachments} "
            f"{_plural(self.attachments, 'attachment', 'attachments')} from {self.source}."
        ]
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped)}:")
            shown = self.skipped[:50]
            lines += [f"  {s.where}: {s.reason}" for s in shown]
            if len(self.skipped) > len(shown):
                lines.append(f"  … and {len(self.skipped) - len(shown)} more")
        return "\n".join(lines)


ALREADY_IMPORTED = "already in the journal (imported before)"
TWICE_IN_SOURCE = "the same entry appears earlier in this source"


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def stable_key(prefix: str, *parts: str) -> str:
    """``prefix:`` + a hash of the parts: a compact, stable name for a source entry."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{prefix}:{digest}"
