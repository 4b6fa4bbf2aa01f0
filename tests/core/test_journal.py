"""Entries, tags, moods, dates, trash and the calendar, through the services API."""

from __future__ import annotations

from datetime import date

import pytest

from companion.errors import InvalidInputError, NotFoundError
from companion.services import Changes, Companion


def test_add_edit_and_read_back(app: Companion) -> None:
    changed = app.journal.add_entry(
        "Went to the *group* tonight.", title="Tuesday", tags=["group", "#Evening", "group"], mood=4,
        created_at="2026-03-10T19:30",
    )
    entry = changed.value
    assert changed.changes & Changes.ENTRIES and changed.changes & Changes.TAGS
    assert entry.tags == ("group", "Evening")
    assert (entry.mood, entry.day, entry.created_at.hour) == (4, date(2026, 3, 10), 19)

    edited = app.journal.update_entry(entry.id, body="Went to the group. It helped.", tags=["group"], mood=None)
    assert edited.changes & Changes.TAGS
    again = app.journal.get_entry(entry.id)
    assert (again.body, again.tags, again.mood) == ("Went to the group. It helped.", ("group",), None)
    assert again.updated_at >= entry.updated_at
    assert [name for name, _ in app.journal.tags()] == ["group"]  # the unused tag is gone

    unchanged = app.journal.update_entry(entry.id, body="Went to the group. It helped.")
    assert unchanged.changes == Changes.NONE


def test_control_characters_are_stripped_but_text_is_kept(app: Companion) -> None:
    entry = app.journal.add_entry("line one\n\tindented\x02\x03\x00 end", title="t\x07itle").value
    assert entry.body == "line one\n\tindented end"
    assert entry.title == "title"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mood", 0, "Mood"),
        ("mood", 6, "Mood"),
        ("created_at", "27/11/2026", "not a date"),
        ("created_at", "2026-02-30", "not a date"),
        ("tags", ["x" * 65], "at most 64"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_saved(app: Companion, field: str, value: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        app.journal.add_entry("text", **{field: value})
    assert app.journal.count() == 0


def test_unknown_id(app: Companion) -> None:
    with pytest.raises(NotFoundError, match="no entry 42"):
        app.journal.get_entry(42)
    with pytest.raises(NotFoundError):
        app.journal.trash_entry(42)


def test_trash_restore_and_purge(app: Companion) -> None:
    keep = app.journal.add_entry("keep me").value
    gone = app.journal.add_entry("throw me away", tags=["temp"]).value
    app.journal.trash_entry(gone.id)
    assert [s.id for s in app.journal.recent()] == [keep.id]
    assert [s.id for s in app.journal.trash()] == [gone.id]
    assert app.journal.search("throw") == []
    assert app.journal.tags() == []  # tags of trashed entries are not offered
    app.journal.restore_entry(gone.id)
    assert {s.id for s in app.journal.recent()} == {keep.id, gone.id}
    with pytest.raises(InvalidInputError, match="not in the trash"):
        app.journal.restore_entry(gone.id)
    app.journal.trash_entry(gone.id)
    assert app.journal.empty_trash().value == 1
    with pytest.raises(NotFoundError):
        app.journal.get_entry(gone.id)
    assert app.journal.count() == 1 and app.journal.count(trash=True) == 0


def test_recent_pages_without_gaps_or_repeats(app: Companion) -> None:
    with app.vault.transaction():
        for i in range(130):
            app.journal.add_entry(f"entry {i}", created_at=f"2025-01-01T00:{i % 60:02d}:00")
    seen: list[int] = []
    page = app.journal.recent(50)
    while page:
        seen.extend(s.id for s in page)
        page = app.journal.recent(50, after_id=page[-1].id)
    assert len(seen) == len(set(seen)) == 130
    stamps = [app.journal.get_entry(i).created_at for i in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_calendar_and_on_this_day(app: Companion) -> None:
    app.journal.add_entry("a year ago", created_at="2025-11-27")
    app.journal.add_entry("two years ago", created_at="2024-11-27T08:00")
    app.journal.add_entry("today", created_at="2026-11-27")
    app.journal.add_entry("another day", created_at="2025-11-28")
    days = app.journal.days_with_entries(date(2025, 11, 1), date(2025, 11, 30))
    assert days == {date(2025, 11, 27): 1, date(2025, 11, 28): 1}
    assert [s.preview for s in app.journal.on_this_day(date(2026, 11, 27))] == ["a year ago", "two years ago"]
