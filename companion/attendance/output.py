"""Attendance reports as data, and their CSV and JSON forms. (The PDF summary is drawn in ``companion.ui``.)

Only aggregates reach these writers: a :class:`Report` holds period labels, format names, published cells and
a ``meta`` block that describes the method. Column names and keys are fixed (:data:`CSV_COLUMNS`,
:data:`ROW_KEYS`, :data:`META_KEYS`) and tests hold them to an allow-list.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from companion.attendance.report import MEASURES
from companion.errors import CompanionError, InvalidInputError

SCHEMA_VERSION = 1
OUTPUT_FORMATS = ("csv", "json", "pdf")
ROW_KEYS: tuple[str, ...] = ("period", "format", *MEASURES)
CSV_COLUMNS: tuple[str, ...] = ("period", "format", "profile", *MEASURES)
META_KEYS: tuple[str, ...] = (
    "schema_version",
    "report",
    "period",
    "profile",
    "epsilon",
    "generated",
    "definitions",
    "released_before",
)
DEFINITIONS: dict[str, str] = {
    "sessions": "meetings held in the period",
    "hours": "total length of those meetings, in hours",
    "attendances": "attendance marks: one person at one meeting counts once",
    "unique_attendees": "different people who attended at least once in the period",
    "new_attendees": "of those, people whose first attendance ever was in the period",
    "returning_attendees": "of those, people who had also attended before the period",
    "all": "every format together; people who came to several formats are counted once in person counts",
}

Shown = int | str


@dataclass(frozen=True)
class Report:
    """A published attendance report. ``rows`` hold only period labels, format names and published cells."""

    kind: str
    labels: tuple[str, ...]
    method: str
    rows: tuple[dict[str, Shown], ...]
    meta: dict[str, Any]
    released_before: tuple[str, ...] = ()
    blocked: str | None = None  # set by a preview when an export of it would be refused, and why
    pending: tuple[str, ...] = field(default=())  # labels whose numbers a DP export would draw afresh

    def hidden(self) -> list[tuple[str, str, str]]:
        """(period, format, measure) of every hidden cell, for a preview to mark."""
        return [(str(r["period"]), str(r["format"]), m) for r in self.rows for m in MEASURES if isinstance(r[m], str)]

    def as_json(self) -> dict[str, Any]:
        return {"meta": self.meta, "rows": [dict(r) for r in self.rows]}


def csv_text(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    profile = report.meta["profile"]["name"]
    if report.meta["epsilon"] is not None:
        profile = f"dp(epsilon={report.meta['epsilon']:g})"
    for row in report.rows:
        writer.writerow([row["period"], row["format"], profile, *(row[m] for m in MEASURES)])
    return buffer.getvalue()


def json_text(report: Report) -> str:
    return json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n"


def render_bytes(report: Report, fmt: str) -> bytes:
    if fmt == "csv":
        return csv_text(report).encode("utf-8")
    if fmt == "json":
        return json_text(report).encode("utf-8")
    if fmt == "pdf":
        try:
            from companion.ui.pdf_report import render_pdf
        except ImportError as exc:
            raise CompanionError(
                f"PDF reports need the desktop app's Qt libraries ({exc.name} is missing). "
                "Use --format csv or json."
            ) from None
        return render_pdf(report)
    raise InvalidInputError(f"“{fmt[:10]}” is not a report format. Use csv, json or pdf.")


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it over, so a reader never sees half a report."""
    path = Path(path)
    if path.is_dir():
        raise InvalidInputError(f"{path} is a folder; give a file name for the report.")
    if not path.parent.exists():
        raise InvalidInputError(f"The folder {path.parent} does not exist.")
    fd, tmp = tempfile.mkstemp(prefix=".report-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def iter_cells(report: Report) -> Iterator[tuple[str, str, str, Shown]]:
    for row in report.rows:
        for m in MEASURES:
            yield str(row["period"]), str(row["format"]), m, row[m]
