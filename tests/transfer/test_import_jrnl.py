"""jrnl: the plain-text journal and the JSON export written by the real jrnl 4.6 (tests/fixtures/jrnl)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from companion.errors import CancelledError, ImportFormatError
from companion.services import Changes
from tests.transfer.conftest import FIXTURES

JRNL = FIXTURES / "jrnl"


def _by_title(app):
    return {e.title: app.journal.get_entry(e.id) for e in app.journal.recent(1000)}


def test_plain_text_entries_dates_tags_and_stars(app):
    changed = app.transfer.import_file("jrnl", JRNL / "journal.txt")
    report = changed.value
    assert (report.entries, report.tags, report.attachments, report.skipped) == (5, 5, 0, [])
    assert changed.changes == Changes.ENTRIES | Changes.TAGS
    entries = _by_title(app)
    assert set(entries) == {
        "First day at the group.",
        "Walked by the river.",
        "Hard morning",
        "Meeting night.",
        "Quiet Christmas Eve",
    }
    first = entries["First day at the group."]
    assert first.body == "Nervous, but @support felt real. Tea helped."
    assert first.tags == ("support",)
    assert first.created_at.replace(tzinfo=None) == datetime(2021, 3, 4, 8, 15)  # jrnl writes local time
    assert first.metadata == {"source": "jrnl"}
    # "%F %r" is 12-hour: 07:30:00 PM is 19:30
    night = entries["Meeting night."]
    assert night.created_at.replace(tzinfo=None) == datetime(2022, 6, 18, 19, 30)
    assert night.starred and entries["Hard morning"].starred and not first.starred
    assert set(night.tags) == {"meeting", "gratitude"}
    assert night.body.startswith("Shared for the first time — hands shaking.")
    assert "Café au lait" in night.body
    eve = entries["Quiet Christmas Eve"]
    assert "fake date [2020-01-01 10:00] inside.\n  indented line" in eve.body  # not a new entry
    assert set(eve.tags) == {"family", "home"}
    assert entries["Hard morning"].body == ""


def test_json_export_gives_the_same_entries_and_is_recognised_as_a_duplicate(app, new_app):
    app.transfer.import_file("jrnl", JRNL / "journal.txt")
    new_app.transfer.import_file("jrnl", JRNL / "export.json")

    def state(a):
        return sorted(
            (e.title, e.body, e.created_at, frozenset(e.tags), e.starred) for e in _by_title(a).values()
        )

    assert state(app) == state(new_app)
    # the same journal in the other form: every entry is already there
    report = app.transfer.import_file("jrnl", JRNL / "export.json").value
    assert report.entries == 0 and report.duplicates == 5
    assert app.journal.count() == 5


def test_twenty_four_hour_time_format(app):
    report = app.transfer.import_file("jrnl", JRNL / "journal-24h.txt").value
    assert report.entries == 2
    entries = _by_title(app)
    assert entries["Leap day."].created_at.replace(tzinfo=None) == datetime(2020, 2, 29, 6, 0)
    assert entries["Leap day."].tags == ("early",)
    assert entries["Bedtime"].starred


def test_reimport_creates_no_duplicates(app):
    app.transfer.import_file("jrnl", JRNL / "journal.txt")
    changed = app.transfer.import_file("jrnl", JRNL / "journal.txt")
    assert changed.value.entries == 0 and changed.value.duplicates == 5
    assert changed.changes == Changes.NONE
    assert app.journal.count() == 5


def test_same_minute_and_title_twice_are_two_entries_and_still_deduplicated(app, tmp_path):
    source = tmp_path / "twice.txt"
    source.write_text(
        "[2024-01-01 09:00] Same.\nfirst\n\n[2024-01-01 09:00] Same.\nsecond\n", encoding="utf-8"
    )
    assert app.transfer.import_file("jrnl", source).value.entries == 2
    assert app.transfer.import_file("jrnl", source).value.entries == 0
    assert sorted(e.preview for e in app.journal.recent()) == ["first", "second"]


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("Dear diary, no date here\n[2024-01-01 09:00] Later.\n", "line 1"),
        ("[2024-01-01 09:00] Fine.\n\xff\n", "line 2"),
        (
            '{"entries": [{"title": "a", "body": "", "date": "2024-01-01", "time": "09:00", "tags": [], '
            '"starred": false}, {"title": "b", "body": "", "date": "2024-13-45", "time": "09:00"}]}',
            "entry 2",
        ),
        ('{"entries": [{"title": "a", "body": "",\n "date": "2024-01-01", }', "line 2, column"),
    ],
)
def test_malformed_file_names_file_and_place_and_imports_nothing(app, tmp_path, content, where):
    app.journal.add_entry("already here")
    source = tmp_path / "broken.txt"
    source.write_bytes(content.encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    with pytest.raises(ImportFormatError) as caught:
        app.transfer.import_file("jrnl", source)
    message = str(caught.value)
    assert str(source) in message and where in message and "Nothing was imported" in message
    assert app.journal.count() == 1


def _big_jrnl(path: Path, n: int) -> Path:
    lines = [
        f"[2020-01-01 {i // 60 % 24:02d}:{i % 60:02d}] Entry {i}.\nBody {i} @t{i % 7}\n" for i in range(n)
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_progress_reaches_the_total(app, tmp_path):
    seen: list[tuple[int, int]] = []
    source = _big_jrnl(tmp_path / "big.txt", 4500)
    report = app.transfer.import_file("jrnl", source, progress=lambda d, t: seen.append((d, t))).value
    assert report.entries == 4500
    assert seen[-1] == (4500, 4500) and len(seen) >= 3
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_cancel_midway_imports_nothing(app, tmp_path):
    calls = 0

    def cancelled() -> bool:
        nonlocal calls
        calls += 1
        return calls > 2  # after the first batch has been written inside the transaction

    with pytest.raises(CancelledError):
        app.transfer.import_file("jrnl", _big_jrnl(tmp_path / "big.txt", 4500), cancelled=cancelled)
    assert app.journal.count() == 0 and app.journal.tags() == []
    assert (
        app.transfer.import_file("jrnl", tmp_path / "big.txt").value.entries == 4500
    )  # and it can be redone


def test_windows_line_endings_and_encrypted_journals(app, tmp_path):
    source = tmp_path / "crlf.txt"
    source.write_bytes(b"[2024-01-01 09:00] Title.\r\nBody line @tag\r\n\r\n[2024-01-02 10:00] Next.\r\n")
    assert app.transfer.import_file("jrnl", source).value.entries == 2
    assert all("\r" not in app.journal.get_entry(e.id).body for e in app.journal.recent())
    encrypted = tmp_path / "secret.txt"
    encrypted.write_text("gAAAAABlZ2V0aGVyIHdpdGggYSBmZXJuZXQgdG9rZW4=\n", encoding="ascii")
    with pytest.raises(ImportFormatError, match="encrypted"):
        app.transfer.import_file("jrnl", encrypted)
