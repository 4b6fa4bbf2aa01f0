"""Companion JSON export → import into a new vault: identical entries, tags, moods, dates and attachments."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.services import Companion
from companion.vault.header import FLOOR
from tests.transfer.conftest import FIXTURES, JPEG, PASSPHRASE, entry_state, tiny_png


def _fill(app):
    a = app.journal.add_entry(
        "First body\nline two",
        title="One",
        tags=["calm", "step 4"],
        mood=3,
        created_at="2023-01-02T03:04:05+05:30",
    ).value
    b = app.journal.add_entry("Second", created_at="2024-06-07T08:09:10-07:00", mood=None).value
    app.journal.update_entry(b.id, starred=True)
    c = app.journal.add_entry("Trashed", created_at="2024-01-01").value
    app.journal.trash_entry(c.id)
    app.transfer.add_attachment(a.id, JPEG, name="a.jpg")
    app.transfer.add_attachment(a.id, tiny_png(3), name="b.png")
    app.transfer.import_file("dayone", FIXTURES / "dayone")  # metadata, source keys, a photo


def test_json_export_import_is_identical(app, new_app, tmp_path):
    _fill(app)
    out = tmp_path / "journal.json"
    assert app.transfer.export("json", out) == 5
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert (doc["format"], doc["version"]) == ("companion-journal", 2)

    report = new_app.transfer.import_file("companion", out).value
    assert (report.entries, report.attachments) == (5, 3)
    assert entry_state(new_app) == entry_state(app)
    assert sorted(new_app.journal.tags()) == sorted(app.journal.tags())
    # importing it again adds nothing, and the Day One source keys came along too
    assert new_app.transfer.import_file("companion", out).value.entries == 0
    assert new_app.transfer.import_file("dayone", FIXTURES / "dayone").value.entries == 0


def test_version_1_exports_still_import(new_app, tmp_path):
    old = {
        "format": "companion-journal",
        "version": 1,
        "exported_at": "2025-01-01T00:00:00+00:00",
        "entries": [
            {
                "uid": "u-1",
                "title": "Old",
                "body": "from v1",
                "tags": ["t"],
                "mood": 5,
                "created_at": "2025-01-01T10:00:00+00:00",
                "updated_at": "2025-01-01T10:00:00+00:00",
                "starred": False,
                "metadata": {},
            }
        ],
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    assert new_app.transfer.import_file("companion", path).value.entries == 1
    (entry,) = new_app.journal.recent()
    assert (entry.title, entry.mood, entry.tags) == ("Old", 5, ("t",))


def test_date_range_export(app, tmp_path):
    _fill(app)
    out = tmp_path / "range.json"
    from datetime import date

    assert app.transfer.export("json", out, date_from=date(2023, 5, 1), date_to=date(2023, 12, 31)) == 2
    days = sorted(e["created_at"][:10] for e in json.loads(out.read_text())["entries"])
    assert days == ["2023-05-14", "2023-11-02"]


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
_entry = st.fixed_dictionaries(
    {
        "title": st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
        "body": _text,
        "tags": st.lists(st.from_regex(r"[A-Za-zé0-9_-]{1,12}", fullmatch=True), max_size=4),
        "mood": st.none() | st.integers(1, 5),
        "minutes": st.integers(0, 60 * 24 * 3650),
        "offset": st.integers(-12 * 4, 14 * 4),
        "starred": st.booleans(),
        "png": st.none() | st.integers(0, 255),
    }
)


@settings(
    max_examples=int(os.environ.get("COMPANION_TRIALS", "4")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(entries=st.lists(_entry, min_size=1, max_size=6))
def test_round_trip_property(tmp_path_factory, entries):
    root = tmp_path_factory.mktemp("prop")
    source, target = Companion(root / "a"), Companion(root / "b")
    source.create(PASSPHRASE, params=FLOOR)
    target.create(PASSPHRASE, params=FLOOR)
    try:
        for item in entries:
            moment = datetime(2015, 1, 1, tzinfo=UTC) + timedelta(minutes=item["minutes"])
            moment = moment.astimezone(
                datetime.now(UTC).astimezone().tzinfo
                if item["offset"] == 0
                else __import__("datetime").timezone(timedelta(minutes=15 * item["offset"]))
            )
            entry = source.journal.add_entry(
                item["body"], title=item["title"], tags=item["tags"], mood=item["mood"], created_at=moment
            ).value
            if item["starred"]:
                source.journal.update_entry(entry.id, starred=True)
            if item["png"] is not None:
                source.transfer.add_attachment(entry.id, tiny_png(item["png"]), name=f"{item['png']}.png")
        out = root / "export.json"
        source.transfer.export("json", out)
        target.transfer.import_file("companion", out)
        assert entry_state(target) == entry_state(source)
    finally:
        source.lock()
        target.lock()
