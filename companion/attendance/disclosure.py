"""Disclosure control for attendance tables: profiles, primary and complementary suppression, and the audit.

A table (see :mod:`companion.attendance.report`) is published cell by cell under a :class:`Profile`:

* a count of 0 is shown as 0;
* a count from 1 to ``threshold - 1`` is hidden (``<11`` under ``strict``, ``*`` under ``nhs``);
* a row that is about fewer than ``threshold`` people (``1 <= unique_attendees < threshold``) hides all four
  of its person counts, zeros and large attendance totals included: "all four people came every week" or "none
  of them was new" is a disclosure about each of them even when no single number is small;
* every other count is rounded to the nearest multiple of 5, and never shown below ``min_shown`` (so under
  ``strict`` 11 and 12 are shown as 15, and no published number sits below the threshold);
* total hours are rounded to the nearest 5 hours (at least 5 when there were any) and hidden wherever the same
  row's sessions are hidden, since hours over a typical session length would give the sessions back;
* complementary suppression then hides more cells until, for every hidden count, the values a reader could
still
  deduce from everything published — using every relation they know holds between cells — span at least
  ``protection + 1`` values. The check is exact (:mod:`companion.attendance.solver`), not a rule of thumb.

Hidden cells carry a marker: under ``strict``, ``<11`` for a hidden value below 11 (0 included, in a small
row) and ``x`` for a hidden value of 11 or more; under ``nhs``, ``*`` for every hidden value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from companion.attendance.report import ADDITIVE, FORMATS, MEASURES, PERSON_MEASURES, ROWS, Cell, Counts
from companion.attendance.solver import (
    INFINITY,
    Box,
    Constraint,
    Linear,
    ProductBound,
    solve_within,
    spans_at_least,
)
from companion.errors import CompanionError, InvalidInputError


class UnprotectableError(CompanionError):
    """No suppression pattern protects the table (not seen in tests or stress runs; refused, not risked)."""

    exit_code = 7


Shown = int | str  # a published cell: a number, or a marker for a hidden value
Published = dict[Cell, Shown]
Lengths = Mapping[str, tuple[int, int]]  # row → (shortest, longest) meeting in minutes
COUNT_MEASURES: tuple[str, ...] = tuple(m for m in MEASURES if m != "hours")
MAX_MEETING_MINUTES = 1440


@dataclass(frozen=True)
class Profile:
    """A named set of disclosure rules; its parameters are recorded in every report's ``meta``."""

    name: str
    threshold: int  # the smallest count that may be shown
    small_marker: str  # a hidden count below 11 (strict) / any hidden count (nhs)
    large_marker: str  # a hidden count of 11 or more
    rounding: int = 5
    hours_rounding: int = 5
    protection: int = 2
    description: str = field(default="", compare=False)

    @property
    def min_shown(self) -> int:
        """The smallest non-zero number ever published: the threshold rounded up to the rounding base."""
        return -(-self.threshold // self.rounding) * self.rounding

    def round_count(self, value: int) -> int:
        base = self.rounding
        return max(self.min_shown, base * ((value + base // 2) // base))

    def count_interval(self, shown: int) -> tuple[int, int]:
        """The true values a published non-zero count can stand for."""
        half = self.rounding // 2
        low = self.threshold if shown == self.min_shown else shown - half
        return low, shown + half

    def round_hours(self, minutes: int) -> int:
        if minutes <= 0:
            return 0
        band = self.hours_rounding * 60
        return max(self.hours_rounding, self.hours_rounding * ((minutes + band // 2) // band))

    def hours_interval(self, shown: int) -> tuple[int, int]:
        """The minutes a published number of hours can stand for."""
        band = self.hours_rounding * 60
        if shown == self.hours_rounding:
            return 1, shown * 60 + band // 2 - 1
        return shown * 60 - band // 2, shown * 60 + band // 2 - 1

    def marker(self, value: int) -> str:
        return self.small_marker if value < 11 else self.large_marker

    def parameters(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "rounding": self.rounding,
            "smallest_number_shown": self.min_shown,
            "hours_rounding": self.hours_rounding,
            "hidden_markers": sorted({self.small_marker, self.large_marker}),
            "protection": self.protection,
            "description": self.description,
        }


STRICT = Profile(
    "strict",
    threshold=11,
    small_marker="<11",
    large_marker="x",
    description="0 shown; 1-10 hidden as <11; rows about fewer than 11 people hide their person counts; "
    "other counts rounded to the nearest 5 (11 and 12 shown as 15); hours rounded to 5 and hidden (x) where "
    "sessions are; complementary suppression (x marks a hidden count of 11 or more) so that no hidden cell "
    "can be worked out.",
)
NHS = Profile(
    "nhs",
    threshold=8,
    small_marker="*",
    large_marker="*",
    description="0 shown; 1-7 hidden as *; rows about fewer than 8 people hide their person counts; other "
    "counts rounded to the nearest 5; hours rounded to 5 and hidden where sessions are; complementary "
    "suppression, also marked *.",
)
PROFILES: Mapping[str, Profile] = {p.name: p for p in (STRICT, NHS)}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise InvalidInputError(f"“{name[:20]}” is not a disclosure profile. Use strict or nhs.") from None


# -- publishing ----------------------------------------------------------------------------------------------


def primary_hidden(counts: Counts, profile: Profile) -> set[Cell]:
    hidden = {(row, m) for row in ROWS for m in COUNT_MEASURES if 1 <= counts[row, m] < profile.threshold}
    for row in ROWS:
        if 1 <= counts[row, "unique_attendees"] < profile.threshold:
            hidden.update((row, m) for m in PERSON_MEASURES)
    return hidden


def render(counts: Counts, hidden: set[Cell], profile: Profile) -> Published:
    out: Published = {}
    for row in ROWS:
        for m in MEASURES:
            value = counts[row, m]
            if m == "hours":
                if (row, "sessions") in hidden and value:
                    out[row, m] = profile.large_marker if profile.small_marker != "*" else "*"
                else:
                    out[row, m] = profile.round_hours(value)
            elif (row, m) in hidden:
                out[row, m] = profile.marker(value)
            else:
                out[row, m] = 0 if value == 0 else profile.round_count(value)
    return out


def protect(counts: Counts, profile: Profile, lengths: Lengths | None = None) -> Published:
    """Publish one period's table under ``profile``, with complementary suppression until every hidden
    count is protected. Deterministic: the same counts always give the same table.

    ``lengths`` (each row's shortest and longest meeting, in minutes) is what a reader may know about
    session lengths; the audit assumes they know it, so hours cannot be turned back into sessions."""
    hidden = primary_hidden(counts, profile)
    while True:
        published = render(counts, hidden, profile)
        weak = weakest_hidden(published, profile, counts, lengths)
        if weak is None:
            return published
        candidate = _next_to_hide(counts, hidden, weak, profile, lengths)
        if candidate is None:  # everything is hidden and a cell is still exposed: publish nothing at all
            raise UnprotectableError(
                "This period's numbers cannot be published safely even with every cell hidden. Nothing was "
                "written; try a longer period (a quarter instead of a month)."
            )
        hidden.add(candidate)


def _next_to_hide(
    counts: Counts, hidden: set[Cell], weak: Cell, profile: Profile, lengths: Lengths | None
) -> Cell | None:
    """The cell to hide next to protect ``weak``: among the shown cells in its row or column (then
    anywhere), the first, smallest non-zero first, whose hiding alone protects ``weak``; failing that, the
    smallest."""
    shown = [c for c in ((r, m) for r in ROWS for m in COUNT_MEASURES) if c not in hidden]
    near = [c for c in shown if c[0] == weak[0] or c[1] == weak[1]]
    pool = sorted(near or shown, key=lambda c: (counts[c] == 0, counts[c], shown.index(c)))
    if not pool:
        return None
    for candidate in pool:
        box, constraints = public_model(render(counts, hidden | {candidate}, profile), profile, lengths)
        if spans_at_least(box, constraints, weak, profile.protection, counts[weak]):
            return candidate
    return pool[0]


def weakest_hidden(
    published: Published, profile: Profile, counts: Counts | None = None, lengths: Lengths | None = None
) -> Cell | None:
    """The first hidden count a reader could narrow to fewer than ``protection + 1`` values, or None.
    ``counts`` (the truth, when known) only speeds the search up."""
    box, constraints = public_model(published, profile, lengths)
    width = profile.protection
    witnesses: list[dict] = []  # solutions found on the way: each may already show other cells are protected
    for cell in hidden_cells(published):
        if cell[1] == "hours":
            continue
        if counts is None:
            if not spans_at_least(box, constraints, cell, width):
                return cell
            continue
        truth = counts[cell]
        if any(abs(w[cell] - truth) >= width for w in witnesses):
            continue
        found = solve_within(box, constraints, cell, truth + width, INFINITY) or solve_within(
            box, constraints, cell, -INFINITY, truth - width
        )
        if found is not None:
            witnesses.append(found)
        elif not spans_at_least(box, constraints, cell, width):
            return cell
    return None


def hidden_cells(published: Published) -> list[Cell]:
    return [(r, m) for r in ROWS for m in MEASURES if isinstance(published[r, m], str)]


# -- what a reader knows -------------------------------------------------------------------------------------


def public_model(
    published: Published, profile: Profile, lengths: Lengths | None = None
) -> tuple[Box, list[Constraint]]:
    """Every cell as the interval a reader knows it lies in, and the relations they know hold between cells.

    Hours are in minutes. Relations: ``all`` is the sum of the formats for sessions, minutes and attendances;
    for each person count, ``all`` lies between the largest format and the sum of the formats; in every row
    ``unique = new + returning``, ``unique <= attendances <= unique * sessions`` and ``shortest * sessions <=
    minutes <= longest * sessions``, where a reader is assumed to know each row's shortest and longest meeting
    (``lengths``; without it, 1 and 1440 minutes).
    """
    box: Box = {}
    for row in ROWS:
        for m in MEASURES:
            box[row, m] = _interval(published[row, m], m, profile)
    constraints: list[Constraint] = []
    for m in MEASURES:
        parts = [((f, m), 1) for f in FORMATS]
        if m in ADDITIVE:
            constraints.append(Linear(((("all", m), 1), *((c, -1) for c, _ in parts)), 0, 0))
        else:
            for f in FORMATS:
                constraints.append(Linear(((("all", m), 1), ((f, m), -1)), 0, INFINITY))
            constraints.append(Linear(((("all", m), -1), *parts), 0, INFINITY))
    for row in ROWS:
        constraints.append(
            Linear(
                (
                    ((row, "unique_attendees"), 1),
                    ((row, "new_attendees"), -1),
                    ((row, "returning_attendees"), -1),
                ),
                0,
                0,
            )
        )
        constraints.append(Linear((((row, "attendances"), 1), ((row, "unique_attendees"), -1)), 0, INFINITY))
        constraints.append(ProductBound((row, "attendances"), (row, "unique_attendees"), (row, "sessions")))
        shortest, longest = (lengths or {}).get(row, (1, MAX_MEETING_MINUTES))
        constraints.append(Linear((((row, "hours"), 1), ((row, "sessions"), -shortest)), 0, INFINITY))
        constraints.append(Linear((((row, "hours"), -1), ((row, "sessions"), longest)), 0, INFINITY))
    return box, constraints


def _interval(shown: Shown, measure: str, profile: Profile) -> tuple[int, int]:
    if isinstance(shown, str):
        if measure == "hours":
            return 0, INFINITY
        # A zero can be hidden too (in a small row, or to protect another cell), so a marker may stand for 0.
        if shown == profile.small_marker and profile.small_marker != profile.large_marker:
            return 0, 10
        if shown == profile.large_marker and profile.small_marker != profile.large_marker:
            return 11, INFINITY
        return 0, INFINITY
    if shown == 0:
        return 0, 0
    if measure == "hours":
        return profile.hours_interval(shown)
    return profile.count_interval(shown)
