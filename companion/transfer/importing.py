"""Apply a parsed source to the journal: all of it in one transaction, or nothing.

Entries already in the journal (same ``source_key``, or same ``uid`` for Companion's own exports) are skipped
and listed in the report, so importing the same source twice adds nothing. Inserts go in batches through
:meth:`Journal.insert_many` inside one outer transaction; between batches ``cancelled()`` is asked (a
:class:`CancelledError` rolls everything back) and ``progress(done, total)`` is told.
"""

from __future__ import annotations

from collections.abc import Callable

from companion.errors import CancelledError, ImportFormatError, InvalidInputError
from companion.journal.attachments import Attachments, check_image
from companion.journal.entries import Journal, NewEntry, check_mood, normalize_tags
from companion.transfer.model import (
    ALREADY_IMPORTED,
    TWICE_IN_SOURCE,
    ImportedEntry,
    ImportReport,
    ParsedSource,
    Skip,
)
from companion.vault.store import Vault

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]
BATCH = 2000


def apply(
    vault: Vault,
    parsed: ParsedSource,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> ImportReport:
    journal, attachments = Journal(vault), Attachments(vault)
    report = ImportReport(parsed.format, parsed.source, skipped=list(parsed.skipped))

    def check_cancel() -> None:
        if cancelled is not None and cancelled():
            raise CancelledError("Import cancelled; nothing was imported.")

    check_cancel()
    with vault.transaction() as conn:
        # Checked under the write lock, so a concurrent import of the same source cannot slip in between.
        known_keys, known_uids = journal.known_keys(
            [e.source_key for e in parsed.entries if e.source_key], [e.uid for e in parsed.entries if e.uid]
        )
        seen_keys: set[str] = set()
        seen_uids: set[str] = set()
        fresh: list[ImportedEntry] = []
        for entry in parsed.entries:
            if (entry.source_key and entry.source_key in known_keys) or (
                entry.uid and entry.uid in known_uids
            ):
                report.skipped.append(Skip(entry.where, ALREADY_IMPORTED))
                continue
            if (entry.source_key and entry.source_key in seen_keys) or (entry.uid and entry.uid in seen_uids):
                report.skipped.append(Skip(entry.where, TWICE_IN_SOURCE))
                continue
            if entry.source_key:
                seen_keys.add(entry.source_key)
            if entry.uid:
                seen_uids.add(entry.uid)
            fresh.append(entry)
        total = len(fresh)
        tags_before = conn.execute("SELECT count(*) FROM tags").fetchone()[0]
        for start in range(0, total, BATCH):
            batch = fresh[start : start + BATCH]
            ids = journal.insert_many([_new_entry(e, parsed.source) for e in batch])
            for entry_id, entry in zip(ids, batch, strict=True):
                report.skipped.extend(entry.skipped)
                for number, attachment in enumerate(entry.attachments, start=1):
                    try:
                        data = attachment.read()
                    except OSError as exc:
                        raise ImportFormatError(
                            parsed.source, entry.where, f"“{attachment.name}” could not be read ({exc})"
                        ) from None
                    try:
                        check_image(data, attachment.name)
                    except InvalidInputError as exc:
                        report.skipped.append(Skip(f"{entry.where}, attachment {number}", str(exc)))
                        continue
                    uid = (
                        attachment.uid
                        if attachment.uid and not attachments.known_uids([attachment.uid])
                        else None
                    )
                    attachments.add(
                        entry_id,
                        data,
                        name=attachment.name,
                        uid=uid,
                        created_at=attachment.created_at,
                    )
                    report.attachments += 1
            report.entry_ids.extend(ids)
            check_cancel()
            if progress is not None:
                progress(start + len(batch), total)
        report.tags = conn.execute("SELECT count(*) FROM tags").fetchone()[0] - tags_before
    report.entries = len(report.entry_ids)
    if progress is not None and total == 0:
        progress(0, 0)
    return report


def _new_entry(entry: ImportedEntry, source: str) -> NewEntry:
    try:  # checked here so that the message can name the place in the source
        normalize_tags(entry.tags)
        check_mood(entry.mood)
    except InvalidInputError as exc:
        raise ImportFormatError(source, entry.where, str(exc).rstrip(".")) from None
    return NewEntry(
        body=entry.body,
        created_at=entry.created_at,
        title=entry.title,
        tags=entry.tags,
        mood=entry.mood,
        starred=entry.starred,
        metadata=entry.metadata,
        uid=entry.uid,
        updated_at=entry.updated_at,
        source_key=entry.source_key,
    )
