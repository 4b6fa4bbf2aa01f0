"""Export the journal to files the person chose: JSON (complete, re-importable) or a folder of Markdown files.

This is the one place where entry text leaves the encryption, and only to the path given. Files are created
owner-only (0600, folders 0700) and written under a temporary name beside the destination, then renamed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from companion.errors import CancelledError, InvalidInputError
from companion.journal.attachments import Attachments
from companion.journal.dates import now
from companion.journal.entries import Entry, Journal
from companion.vault.header import atomic_write

FORMATS = ("json", "markdown")
EXPORT_FORMAT = "companion-journal"
EXPORT_VERSION = 2  # v2 adds per-entry "attachments" (base64) and "source_key"; v1 files still import
_SLUG = re.compile(r"[^\w-]+", re.UNICODE)


def entry_to_json(entry: Entry) -> dict[str, Any]:
    return {
        "uid": entry.uid,
        "title": entry.title,
        "body": entry.body,
        "tags": list(entry.tags),
        "mood": entry.mood,
        "created_at": entry.created_at.isoformat(timespec="seconds"),
        "updated_at": entry.updated_at.isoformat(timespec="seconds"),
        "starred": entry.starred,
        "metadata": entry.metadata,
    }


def export(
    journal: Journal,
    fmt: str,
    output: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> int:
    """Write every live entry (or those whose day is in ``date_from``…``date_to``) with its attachments."""
    if fmt not in FORMATS:
        raise InvalidInputError(f"Unknown export format “{fmt}”. Choose one of: {', '.join(FORMATS)}.")
    if date_from and date_to and date_from > date_to:
        raise InvalidInputError("The start of the date range is after its end; no day is in that range.")
    if date_from or date_to:
        total = sum(journal.days_with_entries(date_from or date.min, date_to or date.max).values())
    else:
        total = journal.count()
    done = 0
    store = Attachments(journal.vault)
    with_attachments = store.counts()
    source_keys = journal.source_keys()

    def selected() -> Iterator[Entry]:
        for entry in journal.iter_entries():
            if (date_from and entry.day < date_from) or (date_to and entry.day > date_to):
                continue
            yield entry

    def step() -> None:
        nonlocal done
        done += 1
        if cancelled is not None and cancelled():
            raise CancelledError("Export cancelled; nothing was written.")
        if progress is not None and (done % 100 == 0 or done == total):
            progress(done, total)

    if fmt == "json":
        entries = []
        for entry in selected():
            item = entry_to_json(entry)
            if entry.id in source_keys:
                item["source_key"] = source_keys[entry.id]
            if entry.id in with_attachments:
                item["attachments"] = [
                    {
                        "uid": a.uid,
                        "name": a.name,
                        "media_type": a.media_type,
                        "sha256": a.sha256,
                        "created_at": a.created_at.isoformat(timespec="seconds"),
                        "data": base64.b64encode(store.data(a.id)).decode("ascii"),
                    }
                    for a in store.list(entry.id)
                ]
            entries.append(item)
            step()
        doc = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "exported_at": now().isoformat(timespec="seconds"),
            "entries": entries,
        }
        write_private(output, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        return done

    # Markdown: one file per entry in a new (or empty) folder, written into a hidden staging folder first.
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise InvalidInputError(f"{output} already exists and is not an empty folder; choose a new folder.")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.parent / f".{output.name}.partial-{secrets.token_hex(4)}"
    staging.mkdir(mode=0o700)
    try:
        used: set[str] = set()
        for entry in selected():
            name = _file_name(entry, used)
            files: list[str] = []
            if entry.id in with_attachments:
                (staging / "attachments").mkdir(mode=0o700, exist_ok=True)
                for n, a in enumerate(store.list(entry.id), start=1):
                    files.append(f"attachments/{name[:-3]}-{n}.{a.extension}")
                    _write_new(staging / files[-1], store.data(a.id))
            _write_new(staging / name, entry_to_markdown(entry, files).encode("utf-8"))
            step()
        if output.exists():
            output.rmdir()
        staging.rename(output)
    except BaseException:
        for child in sorted(staging.rglob("*"), reverse=True):
            child.rmdir() if child.is_dir() else child.unlink()
        staging.rmdir()
        raise
    return done


def entry_to_markdown(entry: Entry, attachments: Sequence[str] = ()) -> str:
    front = {
        "title": entry.title,
        "date": entry.created_at.isoformat(timespec="seconds"),
        "tags": list(entry.tags),
        "mood": entry.mood,
        "starred": entry.starred or None,
        "uid": entry.uid,
        "attachments": list(attachments),
    }
    lines = ["---"]
    for key, value in front.items():
        if value is None or value == []:
            continue
        lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")  # JSON scalars/lists are valid YAML
    lines.append("---")
    lines.append("")
    if entry.title:
        lines.append(f"# {entry.title}")
        lines.append("")
    lines.append(entry.body.rstrip("\n"))
    return "\n".join(lines) + "\n"


def _file_name(entry: Entry, used: set[str]) -> str:
    slug = _SLUG.sub("-", entry.title.casefold()).strip("-")[:48] or "entry"
    base = f"{entry.created_at.strftime('%Y-%m-%d')}-{slug}"
    name, n = f"{base}.md", 2
    while name in used:
        name, n = f"{base}-{n}.md", n + 1
    used.add(name)
    return name


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def write_private(path: Path, data: bytes) -> None:
    """Owner-only, written whole or not at all (a temporary name beside it, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data, mode=0o600)
