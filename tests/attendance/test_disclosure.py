"""Disclosure control: what a published table may show, and that no hidden cell can be worked out.

"Worked out" is checked with the exact solver (itself checked against brute force in test_solver.py) over
every relation a reader knows: sums across formats for sessions, hours and attendances; max/sum bounds for the
non-additive person counts; unique = new + returning; unique <= attendances <= unique * sessions; rounding
intervals and the markers' ranges.
"""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.attendance.disclosure import (
    COUNT_MEASURES,
    NHS,
    STRICT,
    hidden_cells,
    primary_hidden,
    protect,
    public_model,
    render,
    weakest_hidden,
)
from companion.attendance.periods import period_of
from companion.attendance.report import (
    FORMATS,
    MEASURES,
    PERSON_MEASURES,
    ROWS,
    Dataset,
    MeetingFact,
    meeting_lengths,
    true_counts,
)
from companion.attendance.solver import check_assignment, feasible

from .conftest import TRIALS

FEB = period_of("month", date(2026, 2, 1))


@st.composite
def datasets(draw):
    """Random attendance over January–March 2026 (January gives February its returning attendees)."""
    # mostly near the thresholds, where suppression patterns matter; sometimes larger
    people = draw(st.one_of(st.integers(1, 24), st.integers(1, 60)))
    n = draw(st.integers(1, 16))
    meetings = [
        MeetingFact(
            i,
            date(2026, draw(st.integers(1, 3)), draw(st.integers(1, 28))),
            draw(st.sampled_from(FORMATS)),
            draw(st.sampled_from((20, 45, 60, 90, 120, 180))),
        )
        for i in range(n)
    ]
    density = draw(st.floats(0.05, 0.9))
    seed = draw(st.integers(0, 2**32))
    rng = random.Random(seed)
    marks = [(m, p) for m in range(n) for p in range(people) if rng.random() < density]
    return Dataset(meetings, marks)


def published_ok(value, measure, profile):
    if isinstance(value, str):
        return value in {profile.small_marker, profile.large_marker}
    if value == 0:
        return True
    if measure == "hours":
        return value % profile.hours_rounding == 0 and value >= profile.hours_rounding
    return value % profile.rounding == 0 and value >= profile.threshold


def capped_range(box, constraints, cell, truth, cap=25):
    """The exact smallest feasible value of ``cell`` and the largest, looking no further than ``cap`` above
    the smallest (enough to tell "pinned" or "narrow" from "protected"). Plain bisection over ``feasible``."""

    def has(lo, hi):
        trial = dict(box)
        trial[cell] = (max(lo, box[cell][0]), min(hi, box[cell][1]))
        return trial[cell][0] <= trial[cell][1] and feasible(trial, constraints)

    lo, hi = box[cell][0], truth  # the truth is feasible, so the minimum is at most the truth
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if has(lo, mid) else (mid + 1, hi)
    low = lo
    lo, hi = truth, min(box[cell][1], max(truth, low + cap))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if has(mid, hi) else (lo, mid - 1)
    return low, lo


def audit(counts, published, profile, lengths=None):
    """Range of every hidden count, after checking the truth is consistent with the public model."""
    box, constraints = public_model(published, profile, lengths)
    truth = {cell: counts[cell] for cell in box}
    for cell, (lo, hi) in box.items():
        assert lo <= truth[cell] <= hi, f"{cell}: true {truth[cell]} outside what is published ({lo}, {hi})"
    assert check_assignment(truth, constraints), "the relations a reader assumes do not hold for the truth"
    ranges = {}
    for cell in hidden_cells(published):
        if cell[1] != "hours":
            ranges[cell] = capped_range(box, constraints, cell, truth[cell])
    return ranges


@pytest.mark.parametrize("profile", [STRICT, NHS], ids=lambda p: p.name)
@settings(max_examples=30 * TRIALS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets())
def test_published_counts_and_hidden_cells_are_safe(profile, data):
    counts = true_counts(data, FEB)
    lengths = meeting_lengths(data, FEB)  # the reader is assumed to know how long meetings last
    published = protect(counts, profile, lengths)
    for (row, measure), value in published.items():
        assert published_ok(value, measure, profile), (row, measure, value)
    # every count below the threshold is hidden
    for cell in primary_hidden(counts, profile):
        assert isinstance(published[cell], str)
    for low, high in audit(counts, published, profile, lengths).values():
        # never pinned to one value between 1 and 10 (nor to any single value): at least protection + 1 values
        assert high - low >= profile.protection
        assert not (low == high and 1 <= low <= 10)


@settings(max_examples=30 * TRIALS, deadline=None)
@given(data=datasets(), meeting=st.integers(0, 23))
def test_one_more_attendee_moves_published_numbers_by_at_most_the_rounding_band(data, meeting):
    meeting = meeting % len(data.meetings)
    newcomer = 10_000
    bigger = Dataset(data.meetings, [*data.marks, (meeting, newcomer)])
    period = period_of("month", data.meetings[meeting].day)
    for profile in (STRICT, NHS):
        lengths = meeting_lengths(data, period)
        before = protect(true_counts(data, period), profile, lengths)
        after = protect(true_counts(bigger, period), profile, lengths)
        for cell in before:
            if isinstance(before[cell], int) and isinstance(after[cell], int):
                assert abs(before[cell] - after[cell]) <= profile.rounding, (cell, before[cell], after[cell])


def test_subtraction_from_a_rounded_total_is_caught():
    """1 online, 11 in person, 12 in all: rounding alone would show <11, 15, 15 — and with "15" meaning 11–17
    the hidden cell is not pinned; but a reader also knows unique <= attendances etc. The audit, not a rule of
    thumb, decides; the result must leave the hidden cells at least three values wide."""
    counts = dict.fromkeys(((r, m) for r in ROWS for m in MEASURES), 0)
    for row, people in (("in_person", 11), ("online", 1), ("all", 12)):
        for m in ("sessions", "attendances", "unique_attendees", "new_attendees"):
            counts[row, m] = people if m != "sessions" else 4
        counts[row, "hours"] = 240
    counts["all", "sessions"] = 8
    counts["all", "hours"] = 480
    published = protect(counts, STRICT)
    ranges = audit(counts, published, STRICT)
    assert ("online", "attendances") in ranges
    assert all(high - low >= 2 for low, high in ranges.values())


def test_a_lone_hidden_cell_beside_an_exact_total_gets_a_partner():
    """in person 20, online 3, one-to-one 0, all 23 (attendances from 23 different people): without
    complementary suppression, all − in person = online to within the rounding bands."""
    counts = dict.fromkeys(((r, m) for r in ROWS for m in MEASURES), 0)
    for row, people, sessions in (("in_person", 20, 12), ("online", 3, 12), ("all", 23, 24)):
        counts[row, "sessions"] = sessions
        counts[row, "hours"] = sessions * 60
        for m in ("attendances", "unique_attendees", "new_attendees"):
            counts[row, m] = people
    primary_only = render(counts, primary_hidden(counts, STRICT), STRICT)
    weak = audit(counts, primary_only, STRICT)
    assert any(high - low < 2 for low, high in weak.values()), "the example should need a second cell"
    published = protect(counts, STRICT)
    assert len(hidden_cells(published)) > len(hidden_cells(primary_only))
    assert all(high - low >= 2 for low, high in audit(counts, published, STRICT).values())


def test_four_person_circle_over_a_month_hides_every_person_count():
    # four people: weekly in-person meetings, one online session, and a one-to-one with one of them
    meetings = [MeetingFact(i, date(2026, 2, 2 + 7 * i), "in_person", 90) for i in range(4)]
    meetings += [
        MeetingFact(4, date(2026, 2, 12), "online", 60),
        MeetingFact(5, date(2026, 2, 20), "one_to_one", 50),
    ]
    marks = [(m, p) for m in range(4) for p in range(4)] + [(4, 0), (4, 1), (4, 2), (5, 3)]
    counts = true_counts(Dataset(meetings, marks), FEB)
    assert counts["all", "attendances"] == 20  # a large number, still about four people
    for profile in (STRICT, NHS):
        published = protect(counts, profile)
        for row in ROWS:
            for m in PERSON_MEASURES:
                assert isinstance(published[row, m], str), (profile.name, row, m, published[row, m])
        assert not any(
            isinstance(published[row, "sessions"], int) and published[row, "sessions"] for row in ROWS
        )


def test_zero_is_shown_and_large_counts_are_rounded():
    counts = dict.fromkeys(((r, m) for r in ROWS for m in MEASURES), 0)
    for row in ("in_person", "all"):
        counts[row, "sessions"] = 31
        counts[row, "hours"] = 31 * 90
        counts[row, "attendances"] = 413
        counts[row, "unique_attendees"] = 57
        counts[row, "new_attendees"] = 13
        counts[row, "returning_attendees"] = 44
    published = protect(counts, STRICT)
    assert published["online", "attendances"] == 0
    assert published["in_person", "sessions"] == 30
    assert published["in_person", "hours"] == 45  # 46.5 hours
    assert published["in_person", "attendances"] == 415
    assert published["in_person", "new_attendees"] == 15  # 13 rounds to 15
    for m in COUNT_MEASURES:
        assert published["in_person", m] == published["all", m]


def test_eleven_and_twelve_are_never_shown_below_the_threshold():
    assert STRICT.round_count(11) == STRICT.round_count(12) == 15
    assert STRICT.count_interval(15) == (11, 17)
    assert NHS.round_count(8) == 10 and NHS.count_interval(10) == (8, 12)
    assert STRICT.round_hours(1) == 5 and STRICT.hours_interval(5) == (1, 449)


def test_hours_do_not_give_hidden_sessions_back_to_a_reader_who_knows_session_lengths():
    """Every meeting lasts exactly two hours and the reader knows it: hours are then a second, rounded view
    of sessions (here 29 sessions: "30" says 28-32, "60 hours" says 29-31, and three hidden formats of at
    most 10 each pin the total). The audit assumes that knowledge, so the published table stays safe."""
    meetings, marks = [], []
    for fmt, sessions in (("in_person", 9), ("online", 10), ("one_to_one", 10)):
        for _ in range(sessions):
            i = len(meetings)
            meetings.append(MeetingFact(i, date(2026, 2, 1 + i % 28), fmt, 120))
            people = [1000 + i] if fmt == "one_to_one" else [(7 * i + k) % 30 for k in range(15)]
            marks += [(i, p) for p in people]
    data = Dataset(meetings, marks)
    counts, lengths = true_counts(data, FEB), meeting_lengths(data, FEB)
    assert lengths["all"] == (120, 120) and counts["all", "sessions"] == 29
    naive = protect(counts, STRICT)  # as if the reader knew nothing about lengths
    assert weakest_hidden(naive, STRICT, counts, lengths) is not None
    published = protect(counts, STRICT, lengths)
    for low, high in audit(counts, published, STRICT, lengths).values():
        assert high - low >= STRICT.protection
