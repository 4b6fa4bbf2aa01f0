"""Companion's own JSON export (``companion-journal``, versions 1 and 2), so that an export comes back whole.

Entries keep their ``uid``: one that is already in the journal is skipped, so importing the same export twice
adds nothing. Version 2 adds each entry's attachments (base64) and its import ``source_key``.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from pathlib import Path
from typing import Any

from companion.errors import ImportFormatError
from companion.journal.export import EXPORT_FORMAT
from companion.transfer.importers import load_json, read_text
from companion.transfer.model import ImportedAttachment, ImportedEntry, ParsedSource

READABLE_VERSIONS = (1, 2)


def parse(path: Path) -> ParsedSource:
    name = str(path)
    doc = load_json(read_text(path), name)
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise ImportFormatError(name, "", "this is not a Companion JSON export")
    if doc.get("version") not in READABLE_VERSIONS:
        raise ImportFormatError(
            name,
            "",
            f"this export is version {doc.get('version')!r}; this Companion reads versions 1 and 2. "
            "Update the app to import it",
        )
    entries = doc.get("entries")
    if not isinstance(entries, list):
        raise ImportFormatError(name, "", "the export has no “entries” list")
    parsed = ParsedSource("companion", name)
    for number, item in enumerate(entries, start=1):
        parsed.entries.append(_entry(item, name, f"entry {number}"))
    return parsed


def _entry(item: Any, name: str, where: str) -> ImportedEntry:
    if not isinstance(item, dict):
        raise ImportFormatError(name, where, "an entry is not a JSON object")

    def text(key: str, default: str | None = None) -> str:
        value = item.get(key, default)
        if not isinstance(value, str):
            raise ImportFormatError(name, where, f"“{key}” must be text")
        return value

    uid = text("uid")
    where = f"{where} ({uid[:36]})"
    created = _moment(text("created_at"), name, where, "created_at")
    updated = _moment(item["updated_at"], name, where, "updated_at") if item.get("updated_at") else None
    tags = item.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ImportFormatError(name, where, "“tags” must be a list of text")
    mood = item.get("mood")
    if mood is not None and (isinstance(mood, bool) or not isinstance(mood, int) or not 1 <= mood <= 5):
        raise ImportFormatError(name, where, "“mood” must be a whole number from 1 to 5, or null")
    metadata = item.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ImportFormatError(name, where, "“metadata” must be an object")
    source_key = item.get("source_key")
    if source_key is not None and not isinstance(source_key, str):
        raise ImportFormatError(name, where, "“source_key” must be text")
    attachments = []
    raw_attachments = item.get("attachments", [])
    if not isinstance(raw_attachments, list):
        raise ImportFormatError(name, where, "“attachments” must be a list")
    for index, raw in enumerate(raw_attachments, start=1):
        place = f"{where}, attachment {index}"
        if not isinstance(raw, dict) or not isinstance(raw.get("data"), str):
            raise ImportFormatError(name, place, "an attachment needs its “data” (base64)")
        try:
            data = base64.b64decode(raw["data"], validate=True)
        except (binascii.Error, ValueError):
            raise ImportFormatError(name, place, "the attachment's data is not valid base64") from None
        made = raw.get("created_at")
        attachments.append(
            ImportedAttachment(
                name=str(raw.get("name", "")),
                data=data,
                uid=raw["uid"] if isinstance(raw.get("uid"), str) else None,
                created_at=_moment(made, name, place, "created_at") if isinstance(made, str) else None,
            )
        )
    return ImportedEntry(
        body=text("body"),
        title=text("title", ""),
        created_at=created,
        updated_at=updated,
        tags=tuple(tags),
        mood=mood,
        starred=bool(item.get("starred", False)),
        metadata=metadata,
        uid=uid,
        source_key=source_key,
        where=where,
        attachments=tuple(attachments),
    )


def _moment(value: Any, name: str, where: str, key: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ImportFormatError(name, where, f"“{key}” is not an ISO 8601 date and time") from None
    return moment if moment.tzinfo else moment.astimezone()
