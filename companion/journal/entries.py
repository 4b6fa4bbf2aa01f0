"""Journal entries: create, edit, trash and restore, list, tags, calendar. SQL lives here, never in the UI."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from companion.errors import InvalidInputError, NotFoundError
from companion.journal.dates import now, parse_datetime
from companion.vault.store import Vault

MAX_TAG_LENGTH = 64
PREVIEW_CHARS = 240
# Control characters have no place in a journal, and two of them mark search highlights: remove them all
# (tab, newline and carriage return stay).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TAG_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Entry:
    id: int
    uid: str
    title: str
    body: str
    tags: tuple[str, ...]
    mood: int | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    starred: bool = False
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def day(self) -> date:
        return self.created_at.date()

    @property
    def word_count(self) -> int:
        return len(self.body.split())


@dataclass(frozen=True)
class EntrySummary:
    """What a list row needs: no full body."""

    id: int
    title: str
    preview: str
    tags: tuple[str, ...]
    mood: int | None
    created_at: datetime
    starred: bool = False
    snippet: str | None = None  # with \x02 … \x03 around matched words, when it came from a search

    @property
    def day(self) -> date:
        return self.created_at.date()


@dataclass(frozen=True)
class NewEntry:
    """An entry for :meth:`Journal.insert_many` (bulk insert); ``source_key`` names where it came from."""

    body: str
    created_at: datetime | str
    title: str = ""
    tags: tuple[str, ...] = ()
    mood: int | None = None
    starred: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    uid: str | None = None
    updated_at: datetime | str | None = None
    source_key: str | None = None


def clean_text(text: str) -> str:
    return _CONTROL.sub("", text)


def normalize_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Trim, drop a leading ``#``, fold inner spaces to ``-``, drop empties and case-insensitive duplicates."""
    seen: dict[str, str] = {}
    for raw in tags:
        tag = _TAG_SPACE.sub("-", clean_text(raw).strip().lstrip("#"))
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidInputError(f"A tag can be at most {MAX_TAG_LENGTH} characters long.")
        seen.setdefault(tag.casefold(), tag)
    return tuple(seen.values())


def check_mood(mood: int | None) -> int | None:
    if mood is None:
        return None
    if isinstance(mood, bool) or not isinstance(mood, int) or not 1 <= mood <= 5:
        raise InvalidInputError("Mood is a number from 1 (low) to 5 (good), or left out.")
    return mood


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


_UNSET: Any = object()

SUMMARY_COLUMNS = (
    f"e.id, e.title, substr(e.body, 1, {PREVIEW_CHARS}), e.tag_text, e.mood, e.created_at, e.starred"
)


def summary_from_row(row: Sequence[Any], snippet: str | None = None) -> EntrySummary:
    entry_id, title, preview, tag_text, mood, created_at, starred = row[:7]
    return EntrySummary(
        id=entry_id,
        title=title,
        preview=preview,
        tags=tuple(tag_text.split()) if tag_text else (),
        mood=mood,
        created_at=datetime.fromisoformat(created_at),
        starred=bool(starred),
        snippet=snippet,
    )


_ENTRY_COLUMNS = (
    "id, uid, title, body, tag_text, mood, created_at, updated_at, deleted_at, starred, metadata, created_ts"
)


def _entry_from_row(row: Sequence[Any]) -> Entry:
    return Entry(
        id=row[0],
        uid=row[1],
        title=row[2],
        body=row[3],
        tags=tuple(row[4].split()) if row[4] else (),
        mood=row[5],
        created_at=datetime.fromisoformat(row[6]),
        updated_at=datetime.fromisoformat(row[7]),
        deleted_at=_dt(row[8]),
        starred=bool(row[9]),
        metadata=json.loads(row[10] or "{}"),
    )


class Journal:
    """The private journal inside an open vault."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    # -- writing ---------------------------------------------------------------------------------------------------

    def add(
        self,
        body: str,
        *,
        title: str = "",
        tags: Iterable[str] = (),
        mood: int | None = None,
        created_at: datetime | str | None = None,
        starred: bool = False,
        metadata: dict[str, Any] | None = None,
        uid: str | None = None,
    ) -> Entry:
        moment = self._moment(created_at)
        stamp = _iso(now())
        tag_tuple = normalize_tags(tags)
        with self.vault.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO entries (uid, title, body, tag_text, mood, created_at, created_ts, day, updated_at, "
                "starred, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    uid or str(uuid.uuid4()),
                    clean_text(title).strip(),
                    clean_text(body),
                    " ".join(tag_tuple),
                    check_mood(mood),
                    _iso(moment),
                    int(moment.timestamp()),
                    moment.date().isoformat(),
                    stamp,
                    int(starred),
                    json.dumps(metadata or {}, sort_keys=True),
                ),
            )
            entry_id = cursor.lastrowid
            self._set_tags(conn, entry_id, tag_tuple)
        return self.get(entry_id)

    def update(
        self,
        entry_id: int,
        *,
        body: str | None = None,
        title: str | None = None,
        tags: Iterable[str] | None = None,
        mood: int | None = _UNSET,
        created_at: datetime | str | None = None,
        starred: bool | None = None,
    ) -> Entry:
        """Change the given fields; leave the others. ``mood=None`` clears the mood."""
        current = self.get(entry_id)
        assignments: dict[str, Any] = {}
        if body is not None and clean_text(body) != current.body:
            assignments["body"] = clean_text(body)
        if title is not None and clean_text(title).strip() != current.title:
            assignments["title"] = clean_text(title).strip()
        new_tags = normalize_tags(tags) if tags is not None else current.tags
        if new_tags != current.tags:
            assignments["tag_text"] = " ".join(new_tags)
        if mood is not _UNSET and mood != current.mood:
            assignments["mood"] = check_mood(mood)
        if created_at is not None:
            moment = self._moment(created_at)
            if moment != current.created_at:
                assignments.update(
                    created_at=_iso(moment), created_ts=int(moment.timestamp()), day=moment.date().isoformat()
                )
        if starred is not None and starred != current.starred:
            assignments["starred"] = int(starred)
        if not assignments:
            return current
        assignments["updated_at"] = _iso(now())
        columns = ", ".join(f"{name} = ?" for name in assignments)
        with self.vault.transaction() as conn:
            conn.execute(f"UPDATE entries SET {columns} WHERE id = ?", (*assignments.values(), entry_id))
            if "tag_text" in assignments:
                self._set_tags(conn, entry_id, new_tags)
        return self.get(entry_id)

    def trash(self, entry_id: int) -> Entry:
        self.get(entry_id)
        with self.vault.transaction() as conn:
            conn.execute(
                "UPDATE entries SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL", (_iso(now()), entry_id)
            )
        return self.get(entry_id)

    def restore(self, entry_id: int) -> Entry:
        entry = self.get(entry_id)
        if entry.deleted_at is None:
            raise InvalidInputError(f"Entry {entry_id} is not in the trash.")
        with self.vault.transaction() as conn:
            conn.execute("UPDATE entries SET deleted_at = NULL WHERE id = ?", (entry_id,))
        return self.get(entry_id)

    def purge(self, entry_id: int) -> None:
        """Delete for good (``secure_delete`` overwrites the freed pages)."""
        self.get(entry_id)
        with self.vault.transaction() as conn:
            conn.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
            self._drop_unused_tags(conn)

    def empty_trash(self) -> int:
        with self.vault.transaction() as conn:
            count = conn.execute("DELETE FROM entries WHERE deleted_at IS NOT NULL").rowcount
            self._drop_unused_tags(conn)
        return count

    # -- reading ---------------------------------------------------------------------------------------------------

    def get(self, entry_id: int) -> Entry:
        row = self.vault.conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"There is no entry {entry_id}.")
        return _entry_from_row(row)

    def iter_entries(self, page: int = 500) -> Iterator[Entry]:
        """Every live entry, oldest first, read a page at a time."""
        last = (-(2**62), 0)
        while True:
            rows = self.vault.conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE deleted_at IS NULL AND (created_ts, id) > (?, ?) "
                "ORDER BY created_ts, id LIMIT ?",
                (*last, page),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _entry_from_row(row)
            last = (rows[-1][-1], rows[-1][0])

    def find_uid(self, uid: str) -> int | None:
        row = self.vault.conn.execute("SELECT id FROM entries WHERE uid = ?", (uid,)).fetchone()
        return row[0] if row else None


    def recent(
        self, limit: int = 50, *, before: tuple[int, int] | None = None, trash: bool = False
    ) -> list[EntrySummary]:
        """Newest first. Page with ``before=(created_ts, id)`` of the last row seen (keyset paging: every page
        costs the same, however deep)."""
        if trash:
            rows = self.vault.conn.execute(
                f"SELECT {SUMMARY_COLUMNS} FROM entries e WHERE e.deleted_at IS NOT NULL "
                "ORDER BY e.deleted_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
            return [summary_from_row(row) for row in rows]
        if before is None:
            rows = self.vault.conn.execute(
                f"SELECT {SUMMARY_COLUMNS} FROM entries e WHERE e.deleted_at IS NULL "
                "ORDER BY e.created_ts DESC, e.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        else:
            rows = self.vault.conn.execute(
                f"SELECT {SUMMARY_COLUMNS} FROM entries e WHERE e.deleted_at IS NULL "
                "AND (e.created_ts, e.id) < (?, ?) ORDER BY e.created_ts DESC, e.id DESC LIMIT ?",
                (*before, limit),
            ).fetchall()
        return [summary_from_row(row) for row in rows]

    def page_key(self, entry_id: int) -> tuple[int, int]:
        row = self.vault.conn.execute("SELECT created_ts, id FROM entries WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"There is no entry {entry_id}.")
        return (row[0], row[1])

    def count(self, *, trash: bool = False) -> int:
        """Counted on the small partial indexes, not the entries themselves."""
        if trash:
            sql = "SELECT count(*) FROM entries INDEXED BY entries_trash WHERE deleted_at IS NOT NULL"
        else:
            sql = "SELECT count(*) FROM entries INDEXED BY entries_live WHERE deleted_at IS NULL"
        return int(self.vault.conn.execute(sql).fetchone()[0])

    def tags(self) -> list[tuple[str, int]]:
        """Every tag in use by live entries, with how many entries carry it, most used first."""
        rows = self.vault.conn.execute(
            "SELECT t.name, count(*) FROM tags t JOIN entry_tags et ON et.tag_id = t.id "
            "JOIN entries e ON e.id = et.entry_id WHERE e.deleted_at IS NULL "
            "GROUP BY t.id ORDER BY count(*) DESC, t.name COLLATE NOCASE"
        ).fetchall()
        return [(name, count) for name, count in rows]

    def days_with_entries(self, first: date, last: date) -> dict[date, int]:
        rows = self.vault.conn.execute(
            "SELECT day, count(*) FROM entries WHERE deleted_at IS NULL AND day BETWEEN ? AND ? GROUP BY day",
            (first.isoformat(), last.isoformat()),
        ).fetchall()
        return {date.fromisoformat(day): count for day, count in rows}

    def on_this_day(self, today: date, limit: int = 20) -> list[EntrySummary]:
        """Entries from the same month and day in earlier years, newest first."""
        rows = self.vault.conn.execute(
            f"SELECT {SUMMARY_COLUMNS} FROM entries e WHERE e.deleted_at IS NULL "
            "AND substr(e.day, 6) = ? AND e.day < ? ORDER BY e.day DESC LIMIT ?",
            (today.strftime("%m-%d"), f"{today.year:04d}", limit),
        ).fetchall()
        return [summary_from_row(row) for row in rows]

    # -- bulk insert (import) --------------------------------------------------------------------------

    def insert_many(self, entries: Sequence[NewEntry]) -> list[int]:
        """Insert many entries at once (import, restore from an export); returns their ids, in order.

        Runs in the caller's transaction when there is one (so an import can be all-or-nothing across several
        calls), else in its own. Ids are assigned here under the write lock, so the whole batch needs three
        ``executemany`` calls instead of a round trip per entry. Values are cleaned as in :meth:`add`.
        """
        if not entries:
            return []
        stamp = _iso(now())
        with self.vault.transaction() as conn:
            first = int(conn.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()[0]) + 1
            rows: list[tuple[Any, ...]] = []
            links: list[tuple[int, str]] = []
            for offset, new in enumerate(entries):
                entry_id = first + offset
                moment = self._moment(new.created_at)
                tag_tuple = normalize_tags(new.tags)
                updated = _iso(self._moment(new.updated_at)) if new.updated_at is not None else stamp
                rows.append((
                    entry_id,
                    new.uid or str(uuid.uuid4()),
                    clean_text(new.title).strip(),
                    clean_text(new.body),
                    " ".join(tag_tuple),
                    check_mood(new.mood),
                    _iso(moment),
                    int(moment.timestamp()),
                    moment.date().isoformat(),
                    updated,
                    int(new.starred),
                    json.dumps(new.metadata or {}, sort_keys=True),
                    new.source_key,
                ))
                links.extend((entry_id, tag) for tag in tag_tuple)
            conn.executemany(
                "INSERT INTO entries (id, uid, title, body, tag_text, mood, created_at, created_ts, day, "
                "updated_at, starred, metadata, source_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany(
                "INSERT INTO tags(name) VALUES (?) ON CONFLICT(name) DO NOTHING", [(tag,) for _, tag in links]
            )
            conn.executemany(
                "INSERT OR IGNORE INTO entry_tags(entry_id, tag_id) SELECT ?, id FROM tags WHERE name = ?",
                links,
            )
        return [first + offset for offset in range(len(entries))]

    def known_keys(self, source_keys: Iterable[str], uids: Iterable[str]) -> tuple[set[str], set[str]]:
        """Which of these import source keys and entry uids are already in the journal (trash included)."""
        conn = self.vault.conn

        def present(column: str, wanted: set[str]) -> set[str]:
            if len(wanted) > 1000:  # many: one pass over the column beats a lookup each
                rows = conn.execute(f"SELECT {column} FROM entries WHERE {column} > ''")
                return wanted & {v for (v,) in rows}
            sql = f"SELECT 1 FROM entries WHERE {column} = ?"
            return {v for v in wanted if conn.execute(sql, (v,)).fetchone()}

        keys, found = present("source_key", set(source_keys)), present("uid", set(uids))
        return keys, found

    def source_keys(self) -> dict[int, str]:
        """``{entry id: source key}`` for every entry that came in by import."""
        rows = self.vault.conn.execute("SELECT id, source_key FROM entries WHERE source_key IS NOT NULL")
        return {entry_id: key for entry_id, key in rows}

    # -- settings (inside the encryption) --------------------------------------------------------------------------

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = self.vault.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self.vault.transaction() as conn:
            conn.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- internals -------------------------------------------------------------------------------------------------

    @staticmethod
    def _moment(created_at: datetime | str | None) -> datetime:
        if created_at is None:
            return now()
        if isinstance(created_at, str):
            return parse_datetime(created_at)
        if created_at.tzinfo is None:
            return created_at.astimezone()
        return created_at

    @staticmethod
    def _set_tags(conn: Any, entry_id: int, tags: Sequence[str]) -> None:
        old = [row[0] for row in conn.execute("SELECT tag_id FROM entry_tags WHERE entry_id = ?", (entry_id,))]
        conn.execute("DELETE FROM entry_tags WHERE entry_id = ?", (entry_id,))
        for tag in tags:
            conn.execute("INSERT INTO tags(name) VALUES (?) ON CONFLICT(name) DO NOTHING", (tag,))
            conn.execute(
                "INSERT INTO entry_tags(entry_id, tag_id) SELECT ?, id FROM tags WHERE name = ?", (entry_id, tag)
            )
        for tag_id in old:  # only the tags this entry let go of can have become unused
            conn.execute(
                "DELETE FROM tags WHERE id = ? AND NOT EXISTS (SELECT 1 FROM entry_tags WHERE tag_id = ?)",
                (tag_id, tag_id),
            )

    @staticmethod
    def _drop_unused_tags(conn: Any) -> None:
        conn.execute("DELETE FROM tags WHERE id NOT IN (SELECT tag_id FROM entry_tags)")
