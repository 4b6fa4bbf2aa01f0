"""jrnl (https://jrnl.sh): its plain-text journal file, and its ``jrnl --format json`` export.

Both arrive as ``--format jrnl`` and are told apart by content (a JSON export starts with ``{``).

The plain-text format, as jrnl 4 reads and writes it: an entry starts on a line ``[<date>] <title>``, where
``<date>`` is written with the journal's ``timeformat`` (jrnl's default ``%F %r`` gives ``2024-01-31 09:15:00
AM``; ``%Y-%m-%d %H:%M`` is also common); a trailing `` *`` on that line stars the entry; the title is the
first line, or the first sentence when the entry is one line; the body is the rest. Tags are words starting
with ``@`` or ``#`` anywhere in the text. jrnl stores local times without an offset, so they are read as local
time.

The source key of an entry is a hash of its minute, its title and how many entries with the same minute and
title came before it, so the plain file and the JSON export of the same journal name the same entries.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from pathlib import Path

from companion.errors import ImportFormatError
from companion.transfer.importers import load_json, read_text
from companion.transfer.model import ImportedEntry, ParsedSource, stable_key

_HEADER = re.compile(r"\[([^\]\n]+)\] ?(.*)")
_TIME_FORMATS = (
    "%Y-%m-%d %I:%M:%S %p",  # jrnl's default "%F %r"
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %I:%M %p",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
)
_TAG = re.compile(r"(?<!\S)[@#]([-+*#/\w]+)")
# jrnl's sentence splitter: a sentence terminal, an optional closing quote or bracket, then whitespace.
_SENTENCE = re.compile(
    r"([.!?\u2026\u203C\u203D\u2047\u2048\u2049\u22EF\uFE52\uFE57]['\u2019\"\u201D]?[\])]*\s+)"
    r"|[\uFF01\uFF0E\uFF1F\uFF61\u3002]"
)


def parse(path: Path) -> ParsedSource:
    text = read_text(path)
    if text.lstrip().startswith("{"):
        return parse_json(text, str(path))
    return parse_text(text, str(path))


_FAST_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)[ T](\d\d?):(\d\d)(?::(\d\d))?(?: ?([AaPp])[Mm])?")


def parse_date(raw: str) -> datetime | None:
    """A jrnl date in the common formats (fast path without strptime), as local time."""
    match = _FAST_DATE.fullmatch(raw.strip())
    if match:
        year, month, day, hour, minute, second, half = match.groups()
        h = int(hour)
        if half is not None:
            if not 1 <= h <= 12:
                return None
            h = h % 12 + (12 if half in "Pp" else 0)
        try:
            return datetime(int(year), int(month), int(day), h, int(minute), int(second or 0)).astimezone()
        except ValueError:
            return None
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(raw.strip(), fmt).astimezone()
        except ValueError:
            continue
    return None


def split_title(text: str) -> tuple[str, str]:
    """jrnl's rule: the first line if there are several, else the first sentence."""
    stripped = text.lstrip()
    if "\n" in stripped:
        title, body = stripped.split("\n", 1)
        return title.strip(), body.strip()
    match = _SENTENCE.search(stripped)
    if not match:
        return stripped.strip(), ""
    return stripped[: match.end()].strip(), stripped[match.end() :].strip()


def tags_in(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(tag.lower() for tag in _TAG.findall(text)))


class _Keys:
    """Source keys: minute + title + occurrence, identical for the plain file and the JSON export."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()

    def __call__(self, moment: datetime, title: str) -> str:
        minute = moment.strftime("%Y-%m-%dT%H:%M")
        n = self.seen[(minute, title)]
        self.seen[(minute, title)] += 1
        return stable_key("jrnl", minute, title, str(n))


def parse_text(text: str, name: str) -> ParsedSource:
    parsed = ParsedSource("jrnl", name)
    keys = _Keys()
    current: tuple[int, datetime, list[str]] | None = None

    def finish() -> None:
        if current is None:
            return
        line_no, moment, lines = current
        first = lines[0].rstrip()
        starred = first.endswith("*")
        if starred:
            first = first.rstrip("* ").rstrip()
        raw = "\n".join([first, *lines[1:]])
        title, body = split_title(raw)
        parsed.entries.append(
            ImportedEntry(
                body=body,
                title=title,
                created_at=moment,
                tags=tags_in(raw),
                starred=starred,
                source_key=keys(moment, title),
                where=f"line {line_no}",
                metadata={"source": "jrnl"},
            )
        )

    for line_no, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        moment = parse_date(header.group(1)) if header else None
        if header and moment is not None:
            finish()
            current = (line_no, moment, [header.group(2)])
        elif current is not None:
            current[2].append(line.rstrip())
        elif line.strip().startswith("gAAAAA"):  # a Fernet token: jrnl's encrypted journal file
            raise ImportFormatError(
                name,
                f"line {line_no}",
                "this jrnl journal is encrypted; let jrnl decrypt it first "
                "(jrnl --format json > export.json) and import that file",
            )
        elif line.strip():
            raise ImportFormatError(
                name,
                f"line {line_no}",
                "this is not a jrnl journal: entries start with a date in brackets, like "
                "“[2024-01-31 09:15] Title”, and this text comes before any such line",
            )
    finish()
    return parsed


def parse_json(text: str, name: str) -> ParsedSource:
    doc = load_json(text, name)
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise ImportFormatError(name, "", "this JSON is not a jrnl export (it has no “entries” list)")
    parsed = ParsedSource("jrnl", name)
    keys = _Keys()
    for number, item in enumerate(doc["entries"], start=1):
        where = f"entry {number}"
        if not isinstance(item, dict):
            raise ImportFormatError(name, where, "an entry is not a JSON object")
        title, body = item.get("title", ""), item.get("body", "")
        day, time = item.get("date"), item.get("time", "00:00")
        if not isinstance(title, str) or not isinstance(body, str):
            raise ImportFormatError(name, where, "“title” and “body” must be text")
        moment = parse_date(f"{day} {time}") if isinstance(day, str) and isinstance(time, str) else None
        if moment is None:
            raise ImportFormatError(name, where, f"the date “{day} {time}” is not a date jrnl writes")
        raw_tags = item.get("tags", [])
        if not isinstance(raw_tags, list) or not all(isinstance(t, str) for t in raw_tags):
            raise ImportFormatError(name, where, "“tags” must be a list of text")
        parsed.entries.append(
            ImportedEntry(
                body=body.strip(),
                title=title.strip(),
                created_at=moment,
                tags=tuple(dict.fromkeys(t.lstrip("@#").lower() for t in raw_tags if t.lstrip("@#"))),
                starred=bool(item.get("starred", False)),
                source_key=keys(moment, title.strip()),
                where=where,
                metadata={"source": "jrnl"},
            )
        )
    return parsed
