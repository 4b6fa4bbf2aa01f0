"""The true counts behind an attendance report: pure functions, no database, no disclosure control yet.

A report has one table per period: four rows (``in_person``, ``online``, ``one_to_one`` and ``all``) by six
measures. For a period *P* and a row *f* (``all`` meaning every format):

``sessions``
    meetings of format *f* whose day falls in *P*;
``hours``
    their total length (held here in minutes; published in hours, see :mod:`companion.attendance.disclosure`);
``attendances``
    attendance marks at those meetings (one person at one meeting counts once);
``unique_attendees``
    distinct people with at least one of those marks;
``new_attendees``
    those of them whose first attendance ever (at any meeting of any format, across all the history the vault
    holds) falls in *P*;
``returning_attendees``
    those of them who also attended some meeting before *P* began.

So in every row ``unique = new + returning`` exactly. ``sessions``, ``hours`` and ``attendances`` add up
across formats (``all = in_person + online + one_to_one``); the three person counts do not (someone who came
in person and online counts once in ``all``), but ``all`` lies between the largest format and the sum of the
formats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from companion.attendance.periods import Period

FORMATS: tuple[str, ...] = ("in_person", "online", "one_to_one")
ROWS: tuple[str, ...] = (*FORMATS, "all")
MEASURES: tuple[str, ...] = (
    "sessions",
    "hours",
    "attendances",
    "unique_attendees",
    "new_attendees",
    "returning_attendees",
)
ADDITIVE: tuple[str, ...] = ("sessions", "hours", "attendances")
PERSON_MEASURES: tuple[str, ...] = ("attendances", "unique_attendees", "new_attendees", "returning_attendees")
FORMAT_LABELS: Mapping[str, str] = {
    "in_person": "In person",
    "online": "Online",
    "one_to_one": "One-to-one",
    "all": "All formats",
}
MEASURE_LABELS: Mapping[str, str] = {
    "sessions": "Sessions held",
    "hours": "Total hours",
    "attendances": "Attendances",
    "unique_attendees": "Unique attendees",
    "new_attendees": "New attendees",
    "returning_attendees": "Returning attendees",
}

Cell = tuple[str, str]  # (row, measure)
Counts = dict[Cell, int]  # hours as minutes


@dataclass(frozen=True)
class MeetingFact:
    """What the report needs to know about a meeting: nothing that names it."""

    id: int
    day: date
    format: str
    minutes: int


@dataclass(frozen=True)
class Dataset:
    """All meetings and attendance marks ``(meeting_id, person_key)`` the report may draw on.

    ``person_key`` is any stable value for a person within this computation (the vault's row id); it never
    reaches the output.
    """

    meetings: Sequence[MeetingFact]
    marks: Sequence[tuple[int, int]]


def first_days(dataset: Dataset) -> dict[int, date]:
    """Each person's first day of attendance across the whole dataset."""
    days = {m.id: m.day for m in dataset.meetings}
    first: dict[int, date] = {}
    for meeting_id, person in dataset.marks:
        day = days.get(meeting_id)
        if day is not None and (person not in first or day < first[person]):
            first[person] = day
    return first


def true_counts(dataset: Dataset, period: Period, *, first: Mapping[int, date] | None = None) -> Counts:
    """The exact table for one period (hours in minutes)."""
    if first is None:
        first = first_days(dataset)
    meetings = {m.id: m for m in dataset.meetings if period.contains(m.day)}
    counts: Counts = {(row, measure): 0 for row in ROWS for measure in MEASURES}
    for m in meetings.values():
        for row in (m.format, "all"):
            counts[row, "sessions"] += 1
            counts[row, "hours"] += m.minutes
    people: dict[str, set[int]] = {row: set() for row in ROWS}
    for meeting_id, person in set(dataset.marks):
        fact = meetings.get(meeting_id)
        if fact is None:
            continue
        for row in (fact.format, "all"):
            counts[row, "attendances"] += 1
            people[row].add(person)
    for row, group in people.items():
        new = sum(1 for person in group if first[person] >= period.first)
        counts[row, "unique_attendees"] = len(group)
        counts[row, "new_attendees"] = new
        counts[row, "returning_attendees"] = len(group) - new
    return counts


def meeting_lengths(dataset: Dataset, period: Period) -> dict[str, tuple[int, int]]:
    """Each row's shortest and longest meeting in the period, in minutes (rows without meetings left out)."""
    found: dict[str, list[int]] = {}
    for m in dataset.meetings:
        if period.contains(m.day):
            for row in (m.format, "all"):
                found.setdefault(row, []).append(m.minutes)
    return {row: (min(v), max(v)) for row, v in found.items()}


def cap_contributions(dataset: Dataset, periods: Iterable[Period], limit: int) -> Dataset:
    """Keep at most ``limit`` attendance marks per person per period (the earliest meetings; ties by id).

    Differential privacy needs a bound on what one person can add to a count. The cap drops a person's marks
    beyond the limit without looking at anyone else's, so adding or removing one person still changes nothing
    about the others' kept marks.
    """
    spans = list(periods)
    by_id = {m.id: m for m in dataset.meetings}
    kept: list[tuple[int, int]] = []
    seen: dict[tuple[int, int], int] = {}
    for meeting_id, person in sorted(
        set(dataset.marks),
        key=lambda mk: (by_id[mk[0]].day, mk[0], mk[1]) if mk[0] in by_id else (date.max, mk[0], mk[1]),
    ):
        m = by_id.get(meeting_id)
        if m is None:
            continue
        index = next((i for i, p in enumerate(spans) if p.contains(m.day)), -1)
        key = (person, index)
        if index >= 0 and seen.get(key, 0) >= limit:
            continue
        seen[key] = seen.get(key, 0) + 1
        kept.append((meeting_id, person))
    return Dataset(dataset.meetings, kept)
