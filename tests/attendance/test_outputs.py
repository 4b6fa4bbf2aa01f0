"""What leaves the vault: CSV, JSON and PDF carry aggregates only, with fixed columns and keys."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import zlib
from datetime import date

import pytest

from companion.attendance.output import CSV_COLUMNS, META_KEYS, ROW_KEYS

TODAY = date(2026, 11, 27)
CANARY_NAMES = ["Zebedee Quartermaine", "Ottoline Fairweather-Smythe", "Xanthippe"]
CANARY_EMAILS = ["zebedee.q@example.org", "otto+fair@mail.example"]
CANARY_PHONES = ["+44 7700 900123", "07700900456"]
CANARIES = [*CANARY_NAMES, *CANARY_EMAILS, *CANARY_PHONES, "Canary topic of grief", "circle-canary-77"]
HEX16 = re.compile(r"[0-9a-fA-F]{16,}")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
CLOCK = re.compile(r"\b\d{1,2}:\d{2}\b")
DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
META_ALLOWED = set(META_KEYS)


@pytest.fixture
def seeded(app):
    """Three months of meetings in every format; attendees named by canaries and plenty of ordinary people."""
    svc = app.attendance
    people = [*CANARY_NAMES, *CANARY_EMAILS, *CANARY_PHONES, *(f"Person {i}" for i in range(40))]
    for month in (1, 2, 3):
        for week, fmt in enumerate(("in_person", "online", "in_person", "one_to_one")):
            meeting = svc.add_meeting(
                f"2026-{month:02d}-{3 + 7 * week:02d}T18:45",
                fmt,
                95,
                circle_id="circle-canary-77",
                topic="Canary topic of grief",
                notes="Zebedee Quartermaine said something private",
            ).value
            names = people[:1] if fmt == "one_to_one" else people[: 10 + 9 * week + month]
            svc.attend(meeting.id, names)
    return app


def assert_clean(text: str, *, allow_days=False):
    for canary in CANARIES:
        assert canary.lower() not in text.lower(), canary
    assert not HEX16.search(text), HEX16.search(text)
    assert not UUID.search(text)
    assert not EMAIL.search(text)
    assert not CLOCK.search(text), "a time of day leaked"
    if not allow_days:
        assert not DAY.search(text), "an exact date leaked"


def test_csv_has_exactly_the_allowed_columns_and_no_identifiers(seeded, tmp_path):
    out = tmp_path / "r.csv"
    seeded.attendance.export("month", date(2026, 1, 1), date(2026, 3, 31), "csv", out, today=TODAY)
    text = out.read_text()
    assert_clean(text)
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + 3 * 4
    assert {r[0] for r in rows[1:]} == {"2026-01", "2026-02", "2026-03"}
    assert {r[1] for r in rows[1:]} == {"in_person", "online", "one_to_one", "all"}
    assert {r[2] for r in rows[1:]} == {"strict"}


def test_json_keys_match_the_allow_list(seeded, tmp_path):
    out = tmp_path / "r.json"
    seeded.attendance.export(
        "quarter", date(2026, 1, 1), date(2026, 3, 31), "json", out, profile="nhs", today=TODAY
    )
    text = out.read_text()
    data = json.loads(text)
    assert set(data) == {"meta", "rows"}
    assert set(data["meta"]) == META_ALLOWED
    assert set(data["meta"]["period"]) == {"kind", "first", "last", "count"}
    assert set(data["meta"]["profile"]) == {"name", "parameters"}
    assert data["meta"]["profile"]["name"] == "nhs" and data["meta"]["epsilon"] is None
    assert data["meta"]["schema_version"] == 1
    for row in data["rows"]:
        assert tuple(row) == ROW_KEYS
    # the generated day is the only date, and it is a day, not a time
    assert_clean(text.replace(f'"generated": "{TODAY.isoformat()}"', ""))


def pdf_text_pypdf(data: bytes) -> str:
    pypdf = pytest.importorskip("pypdf", reason="pypdf (in the test extra) extracts the PDF's text")
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1, "the summary is one page"
    return re.sub(r"\s+", " ", reader.pages[0].extract_text())


def inflated_streams(data: bytes) -> bytes:
    """Every stream of the file, decompressed where it is Flate-encoded: what any tool could read."""
    out = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        body = match.group(1)
        try:
            out.append(zlib.decompress(body))
        except zlib.error:
            out.append(body)
    return b"\n".join(out)


def test_pdf_is_one_page_with_no_names_and_no_metadata(seeded, tmp_path):
    out = tmp_path / "r.pdf"
    seeded.attendance.export("month", date(2026, 1, 1), date(2026, 3, 31), "pdf", out, today=TODAY)
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    text = pdf_text_pypdf(data)
    assert "Attendance summary" in text and "2026-02" in text and "<11" in text
    assert_clean(text.replace(f"Generated {TODAY.isoformat()}", ""))
    for blob in (data, inflated_streams(data)):
        lowered = blob.lower()
        for canary in CANARIES:
            assert canary.lower().encode() not in lowered
    info = dict(re.findall(rb"/(Producer|Creator|Author|Title|CreationDate|ModDate)\s*\(([^)]*)\)", data))
    assert all(not value.strip() for value in info.values()), info
    assert b"Qt " not in data and b"CreateDate" not in data and b"uuid:" not in data
    if shutil.which("pdftotext"):  # poppler, when installed, must agree
        plain = subprocess.run(
            ["pdftotext", str(out), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert_clean(plain.replace(f"Generated {TODAY.isoformat()}", ""))


def test_preview_marks_hidden_cells(seeded):
    report = seeded.attendance.preview("month", date(2026, 1, 1), date(2026, 1, 31), today=TODAY)
    hidden = report.hidden()
    assert ("2026-01", "one_to_one", "attendances") in hidden
    for period, fmt, measure in hidden:
        row = next(r for r in report.rows if r["period"] == period and r["format"] == fmt)
        assert row[measure] in {"<11", "x"}


def test_long_pdf_reports_stay_on_one_page_or_are_refused(app, tmp_path):
    from companion.errors import InvalidInputError

    svc = app.attendance
    for month in range(1, 13):
        meeting = svc.add_meeting(date(2025, month, 9), "in_person", 60).value
        svc.attend(meeting.id, [f"Person {i}" for i in range(12 + month)])
    out = tmp_path / "long.pdf"
    svc.export("month", date(2024, 10, 1), date(2025, 12, 31), "pdf", out, today=TODAY)
    text = pdf_text_pypdf(out.read_bytes())  # asserts one page
    assert "More than 12 periods" in text and "2024-10" in text and "2025-12" in text
    with pytest.raises(InvalidInputError, match="at most 40 periods"):
        svc.export("month", date(2020, 1, 1), date(2023, 12, 31), "pdf", tmp_path / "x.pdf", today=TODAY)
    assert not (tmp_path / "x.pdf").exists()
    assert all(r.period_label >= "2024-10" for r in svc.releases())
