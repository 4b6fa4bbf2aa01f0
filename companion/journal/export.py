"""Export the journal to files the person chose: JSON (complete, re-importable) or a folder of Markdown files.

This is the one place where entry text leaves the encryption, and only to the path given. Files are created
owner-only (0600, folders 0700) and written under a temporary name beside the destination, then renamed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from companion.errors import CancelledError, InvalidInputError
from companion.journal.dates import now
from companion.journal.entries import Entry, Journal

FORMATS = ("json", "markdown")
EXPORT_FORMAT = "companion-journal"
EXPORT_VERSION = 1
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
) -> int:
    if fmt not in FORMATS:
        raise InvalidInputError(f"Unknown export format “{fmt}”. Choose one of: {', '.join(FORMATS)}.")
    total = journal.count()
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if cancelled is not None and cancelled():
            raise CancelledError("Export cancelled; nothing was written.")
        if progress is not None and (done % 100 == 0 or done == total):
            progress(done, total)

    if fmt == "json":
        entries = []
        for entry in journal.iter_entries():
            entries.append(entry_to_json(entry))
            step()
        doc = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "exported_at": now().isoformat(timespec="seconds"),
            "entries": entries,
        }
        _write_private(output, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        return done

    # Markdown: one file per entry in a new (or empty) folder, written into a hidden staging folder first.
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise InvalidInputError(f"{output} already exists and is not an empty folder; choose a new folder.")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.parent / f".{output.name}.partial-{secrets.token_hex(4)}"
    staging.mkdir(mode=0o700)
    try:
        used: set[str] = set()
        for entry in journal.iter_entries():
            name = _file_name(entry, used)
            (staging / name).touch(mode=0o600)
            (staging / name).write_text(entry_to_markdown(entry), encoding="utf-8")
            step()
        if output.exists():
            output.rmdir()
        staging.rename(output)
    except BaseException:
        for child in staging.iterdir():
            child.unlink()
        staging.rmdir()
        raise
    return done


def entry_to_markdown(entry: Entry) -> str:
    front = {
        "title": entry.title,
        "date": entry.created_at.isoformat(timespec="seconds"),
        "tags": list(entry.tags),
        "mood": entry.mood,
        "uid": entry.uid,
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


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
