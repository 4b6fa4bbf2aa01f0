"""Full-text search over the journal: FTS5 inside the encrypted database.

What people type is never handed to FTS5 as query syntax. :func:`compile_query` turns it into a query built only
of quoted strings, so quotes, ``*``, ``NEAR(``, ``AND``/``OR``/``NOT``, column filters and unbalanced quotes are
all just text. The small syntax Companion offers on top:

- words are all required (AND); ``"a phrase"`` matches the words in order;
- ``-word`` leaves out entries containing it;
- ``word*`` matches any word starting with it, and so does the last word typed (search as you type).

Snippets mark matches with ``\\x02`` … ``\\x03`` (control characters stripped from all stored text), so the UI
can highlight them without ever interpreting entry text as markup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from companion.journal.entries import (
    SUMMARY_COLUMNS,
    EntrySummary,
    check_mood,
    clean_text,
    normalize_tags,
    summary_from_row,
)
from companion.vault.store import Vault

HIGHLIGHT_START = "\x02"
HIGHLIGHT_END = "\x03"
ELLIPSIS = "…"
SNIPPET_TOKENS = 16
# Above this many matches, newest-first search walks the date index instead of sorting the matches
# (see benchmarks/README.md for the measurements behind the number).
WIDE_MATCH = 400
# Title weighs most, then tags, then body (bm25 column weights, in the table's column order).
RANK = "bm25(entries_fts, 4.0, 1.0, 2.0)"
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORDISH = re.compile(r"\w", re.UNICODE)

Order = Literal["newest", "relevance"]


@dataclass(frozen=True)
class Filters:
    tags: tuple[str, ...] = ()  # every one of them
    moods: tuple[int, ...] = ()  # any of them
    date_from: date | None = None  # inclusive, by the entry's own day
    date_to: date | None = None

    @property
    def active(self) -> bool:
        return bool(self.tags or self.moods or self.date_from or self.date_to)


def _fts_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def compile_query(text: str) -> str | None:
    """User text → a safe FTS5 query, or ``None`` when nothing searchable is left."""
    text = clean_text(text)  # NUL and other control characters would end an FTS5 string early
    positives: list[str] = []
    negatives: list[str] = []
    tokens = list(_TOKEN.finditer(text))
    for index, match in enumerate(tokens):
        negate, phrase, bare = match.group(1), match.group(2), match.group(3)
        if phrase is not None:
            if not _WORDISH.search(phrase):
                continue
            term = _fts_string(phrase)
            (negatives if negate else positives).append(term)
            continue
        negate_bare = bare.startswith("-") and len(bare) > 1
        word = bare[1:] if negate_bare else bare
        prefix = word.endswith("*")
        word = word.rstrip("*")
        if not _WORDISH.search(word):
            continue
        last = index == len(tokens) - 1 and not text[-1:].isspace()
        term = _fts_string(word) + ("*" if (prefix or (last and not negate_bare)) else "")
        (negatives if negate_bare else positives).append(term)
    if not positives:
        return None
    query = " AND ".join(positives)
    for term in negatives:
        query += f" NOT {term}"
    return query


def _filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for tag in normalize_tags(filters.tags):
        clauses.append(
            "e.id IN (SELECT et.entry_id FROM entry_tags et JOIN tags t ON t.id = et.tag_id WHERE t.name = ?)"
        )
        params.append(tag)
    if filters.moods:
        moods = [check_mood(m) for m in filters.moods]
        clauses.append(f"e.mood IN ({', '.join('?' * len(moods))})")
        params.extend(moods)
    if filters.date_from:
        clauses.append("e.day >= ?")
        params.append(filters.date_from.isoformat())
    if filters.date_to:
        clauses.append("e.day <= ?")
        params.append(filters.date_to.isoformat())
    return "".join(f" AND {clause}" for clause in clauses), params


def search(
    vault: Vault,
    text: str,
    filters: Filters = Filters(),
    *,
    order: Order = "newest",
    limit: int = 50,
    offset: int = 0,
) -> list[EntrySummary]:
    """Matching live entries with a highlighted snippet. Empty text with filters lists the filtered entries."""
    conn = vault.conn
    where, params = _filter_sql(filters)
    query = compile_query(text)
    if query is None:
        if text.strip():  # only punctuation or exclusions: nothing to look for
            return []
        rows = conn.execute(
            f"SELECT {SUMMARY_COLUMNS} FROM entries e WHERE e.deleted_at IS NULL{where} "
            "ORDER BY e.created_ts DESC, e.id DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ).fetchall()
        return [summary_from_row(row) for row in rows]

    # Step 1: which entries, in order: ids only, answered from the FTS index and the narrow ``entries_lookup``
    # index (see journal/schema.py, v4), never from the rows themselves. Step 2: the page's rows and snippets.
    match_join = (
        "FROM entries_fts JOIN entries e INDEXED BY entries_lookup ON e.id = entries_fts.rowid "
        f"WHERE entries_fts MATCH ? AND e.deleted_at IS NULL{where}"
    )
    if order == "relevance":
        sql = f"SELECT e.id {match_join} ORDER BY {RANK}, e.created_ts DESC LIMIT ? OFFSET ?"
    elif _matches_at_least(conn, query, WIDE_MATCH):
        # Many matches (a common word, a short prefix): walk the entries newest first and keep those in the
        # match set, stopping at the page's end, instead of sorting every match.
        sql = (
            "SELECT e.id FROM entries e INDEXED BY entries_live "
            "WHERE e.deleted_at IS NULL AND e.id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?)"
            f"{where} ORDER BY e.created_ts DESC, e.id DESC LIMIT ? OFFSET ?"
        )
    else:
        # Few matches: look each one up in the narrow index and sort them.
        sql = f"SELECT e.id {match_join} ORDER BY e.created_ts DESC, e.id DESC LIMIT ? OFFSET ?"
    ids = [row[0] for row in conn.execute(sql, (query, *params, limit, offset))]
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    found = conn.execute(f"SELECT {SUMMARY_COLUMNS} FROM entries e WHERE e.id IN ({marks})", ids)
    rows = {row[0]: row for row in found}
    snippets = _snippets(conn, query, ids)
    return [summary_from_row(rows[i], snippets.get(i)) for i in ids if i in rows]


def _matches_at_least(conn: Any, query: str, n: int) -> bool:
    found = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM entries_fts WHERE entries_fts MATCH ? LIMIT ?)", (query, n)
    ).fetchone()[0]
    return int(found) >= n


def _snippets(conn: Any, query: str, ids: Sequence[int]) -> dict[int, str]:
    marks = ", ".join("?" * len(ids))
    found = conn.execute(
        f"SELECT rowid, snippet(entries_fts, 1, char(2), char(3), ?, ?), "
        f"highlight(entries_fts, 0, char(2), char(3)) "
        f"FROM entries_fts WHERE entries_fts MATCH ? AND rowid IN ({marks})",
        (ELLIPSIS, SNIPPET_TOKENS, query, *ids),
    ).fetchall()
    result: dict[int, str] = {}
    for rowid, body_snippet, title_marked in found:
        if HIGHLIGHT_START in body_snippet or HIGHLIGHT_START not in title_marked:
            result[rowid] = body_snippet
        else:
            result[rowid] = title_marked
    return result


def count(vault: Vault, text: str, filters: Filters = Filters()) -> int:
    """How many live entries match (for "N results"); costs a pass over the matches, so call it off the GUI thread."""
    where, params = _filter_sql(filters)
    query = compile_query(text)
    if query is None:
        if text.strip():
            return 0
        return int(
            vault.conn.execute(
                f"SELECT count(*) FROM entries e WHERE e.deleted_at IS NULL{where}", params
            ).fetchone()[0]
        )
    return int(
        vault.conn.execute(
            "SELECT count(*) FROM entries_fts JOIN entries e INDEXED BY entries_lookup ON e.id = entries_fts.rowid "
            f"WHERE entries_fts MATCH ? AND e.deleted_at IS NULL{where}",
            (query, *params),
        ).fetchone()[0]
    )
