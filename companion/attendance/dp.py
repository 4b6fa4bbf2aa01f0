"""Differentially private attendance tables, with integer (discrete Laplace, "geometric") noise from OpenDP.

OpenDP is an optional extra (``pip install 'companion[dp]'``, about 265 MB); it is imported only here, and
only when a differentially private report is asked for. Noise is always drawn by OpenDP's integer mechanism
(``make_laplace`` over an integer domain samples the discrete Laplace distribution exactly); no floating-point
Laplace sampler is ever used, since their rounding artefacts are known to leak.

Privacy unit: one person — all of their attendance marks, and the one-to-one meetings they attended. Before
counting, each person's marks are capped at ``cap`` per period (their earliest meetings are kept), one-to-one
meetings are counted only when someone's kept mark is on them, and each meeting's length is clamped to
``MAX_MINUTES``. Which cells get noise, and the L1 sensitivity of the noised cells of each measure when one
person is added or removed:

* sessions and hours: only ``one_to_one`` (``cap`` meetings; ``cap * MAX_MINUTES`` minutes). In-person and
  online meetings are the facilitator's and do not change with any one person, so they are exact;
* attendances: the three formats (``cap`` in all);
* unique, new and returning attendees: the three formats and ``all`` (``min(cap, 3) + 1`` each);
* ``all`` for sessions, hours and attendances is the sum of the released format cells (post-processing), so
  the table adds up.

The report's epsilon is split equally between the six measures; the noised cells of each measure get discrete
Laplace noise of scale ``sensitivity / (epsilon / 6)``, so by basic composition the whole table is
epsilon-differentially private for the period. Results are clamped at 0 and hours are rounded to whole hours:
post-processing, which costs no privacy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from companion.attendance.periods import Period
from companion.attendance.report import (
    FORMATS,
    MEASURES,
    ROWS,
    Counts,
    Dataset,
    MeetingFact,
    cap_contributions,
)
from companion.attendance.report import true_counts as exact_counts
from companion.errors import CompanionError, InvalidInputError

MAX_MINUTES = 240
DEFAULT_CAP = {"month": 8, "quarter": 24}
MIN_EPSILON, MAX_EPSILON = 0.01, 10.0


class DependencyMissingError(CompanionError):
    exit_code = 8


def require_opendp() -> Any:
    """OpenDP's prelude with the contrib features enabled, or an error saying how to install it."""
    try:
        import opendp.prelude as dp
    except ImportError:
        raise DependencyMissingError(
            "Differentially private reports need OpenDP, an optional part of Companion (about 265 MB). "
            "Install it with: pip install 'companion[dp]' — or leave out --epsilon for a suppressed report."
        ) from None
    dp.enable_features("contrib")
    return dp


def available() -> bool:
    try:
        require_opendp()
    except DependencyMissingError:
        return False
    return True


def check_epsilon(epsilon: float) -> float:
    try:
        value = float(epsilon)
    except (TypeError, ValueError):
        raise InvalidInputError("--epsilon is a number, for example 1 or 0.5.") from None
    if not MIN_EPSILON <= value <= MAX_EPSILON:
        raise InvalidInputError(
            f"--epsilon must be between {MIN_EPSILON} and {MAX_EPSILON:g}; smaller means more "
            "privacy and more noise."
        )
    return value


@dataclass(frozen=True)
class Plan:
    """How noise is added for one report: recorded in the report's ``meta``."""

    epsilon: float
    cap: int
    sensitivity: dict[str, int]
    scale: dict[str, float]

    def parameters(self) -> dict[str, Any]:
        return {
            "mechanism": "discrete Laplace (OpenDP make_laplace over integers)",
            "epsilon_per_period": self.epsilon,
            "epsilon_per_measure": self.epsilon / len(MEASURES),
            "max_attendances_per_person": self.cap,
            "max_minutes_per_meeting": MAX_MINUTES,
            "noise_scale": {m: round(s, 4) for m, s in self.scale.items()},
            "noised_rows": {m: list(rows) for m, rows in NOISED_ROWS.items()},
            "hours_noise_scale_unit": "minutes",
        }


NOISED_ROWS: dict[str, tuple[str, ...]] = {
    "sessions": ("one_to_one",),
    "hours": ("one_to_one",),
    "attendances": FORMATS,
    "unique_attendees": ROWS,
    "new_attendees": ROWS,
    "returning_attendees": ROWS,
}
SUMMED = ("sessions", "hours", "attendances")  # their "all" is the sum of the released formats


def plan(epsilon: float, cap: int) -> Plan:
    if cap < 1:
        raise InvalidInputError("The cap on attendances per person must be at least 1.")
    share = epsilon / len(MEASURES)
    people = min(cap, len(FORMATS)) + 1
    sensitivity = {
        "sessions": cap,
        "hours": cap * MAX_MINUTES,
        "attendances": cap,
        "unique_attendees": people,
        "new_attendees": people,
        "returning_attendees": people,
    }
    return Plan(epsilon, cap, sensitivity, {m: sensitivity[m] / share for m in MEASURES})


def bounded_counts(dataset: Dataset, period: Period, cap: int) -> Counts:
    """The counts the noise is added to: contributions capped, one-to-ones counted only where someone came."""
    capped = cap_contributions(dataset, [period], cap)
    attended = {meeting_id for meeting_id, _ in capped.marks}
    meetings = [
        MeetingFact(m.id, m.day, m.format, min(m.minutes, MAX_MINUTES))
        for m in capped.meetings
        if m.format != "one_to_one" or m.id in attended
    ]
    return exact_counts(Dataset(meetings, capped.marks), period)


def noisy(values: Sequence[int], scale: float) -> list[int]:
    """Each value plus independent discrete Laplace noise of the given scale, drawn by OpenDP."""
    dp = require_opendp()
    measurement = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"), scale=float(scale)
    )
    return [int(v) for v in measurement([int(v) for v in values])]


def privacy_loss(sensitivity: int, scale: float) -> float:
    """OpenDP's own accounting: the epsilon its mechanism uses for inputs ``sensitivity`` apart (L1)."""
    dp = require_opendp()
    measurement = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"), scale=float(scale)
    )
    return float(measurement.map(int(sensitivity)))


def release(dataset: Dataset, period: Period, the_plan: Plan) -> dict[tuple[str, str], int]:
    """One period's differentially private table: integers, clamped at 0, hours in whole hours."""
    require_opendp()
    counts = bounded_counts(dataset, period, the_plan.cap)
    out: dict[tuple[str, str], int] = {}
    for m in MEASURES:
        rows = NOISED_ROWS[m]
        values = dict(zip(rows, noisy([counts[row, m] for row in rows], the_plan.scale[m]), strict=True))
        for row in ROWS:
            if row in values:
                out[row, m] = max(0, values[row])
            elif row != "all":
                out[row, m] = counts[row, m]  # in-person and online sessions and hours: no person in them
        if m in SUMMED:
            out["all", m] = sum(out[f, m] for f in FORMATS)
        if m == "hours":
            for row in ROWS:
                out[row, m] = (out[row, m] + 30) // 60
    return out
