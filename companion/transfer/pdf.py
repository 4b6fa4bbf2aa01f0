"""The PDF journal export: select entries (optionally within a date range) and hand them to the Qt renderer.

Qt is imported here only inside :func:`export_pdf`, so the command line pays for it only for ``--format pdf``.
The PDF is made in memory and written owner-only, through a temporary name beside the destination.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from companion.errors import CancelledError, InvalidInputError
from companion.journal.attachments import Attachments
from companion.journal.entries import Journal
from companion.journal.export import write_private

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]


def export_pdf(
    journal: Journal,
    output: Path,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> int:
    """Write the entries whose day is in the range (all without one) as a printable PDF; returns the count."""
    if date_from and date_to and date_from > date_to:
        raise InvalidInputError("The start of the date range is after its end; no day is in that range.")
    from companion.ui.pdf_journal import PdfEntry, render_pdf

    store = Attachments(journal.vault)
    with_images = store.counts()
    total = sum(journal.days_with_entries(date_from or date.min, date_to or date.max).values())
    done = 0

    def entries() -> Iterator[Any]:
        for entry in journal.iter_entries():
            if (date_from and entry.day < date_from) or (date_to and entry.day > date_to):
                continue
            images = [store.data(a.id) for a in store.list(entry.id)] if entry.id in with_images else []
            yield PdfEntry(
                entry.created_at, entry.title, entry.body, entry.tags, entry.mood, entry.starred, images
            )

    def step() -> None:
        nonlocal done
        done += 1
        if cancelled is not None and cancelled():
            raise CancelledError("Export cancelled; nothing was written.")
        if progress is not None and (done % 50 == 0 or done == total):
            progress(done, total)

    if date_from or date_to:
        span = f"{(date_from or '…')} – {(date_to or '…')}"
        heading = f"Journal, {span}"
    else:
        heading = "Journal"
    data = render_pdf(entries(), heading=heading, step=step)
    write_private(Path(output), data)
    return done
