"""Fixed report periods: calendar months and quarters. A report never shows a date finer than its period."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from companion.errors import InvalidInputError

PeriodKind = Literal["month", "quarter"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("month", "quarter")


@dataclass(frozen=True, order=True)
class Period:
    """One whole calendar month (``2026-03``) or quarter (``2026-Q1``), first and last day included."""

    first: date
    last: date
    kind: PeriodKind
    label: str

    def overlaps(self, first: date, last: date) -> bool:
        return self.first <= last and first <= self.last

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last


def _month_end(year: int, month: int) -> date:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return following - timedelta(days=1)


def period_of(kind: PeriodKind, day: date) -> Period:
    """The month or quarter that holds ``day``."""
    if kind == "month":
        return Period(
            date(day.year, day.month, 1),
            _month_end(day.year, day.month),
            kind,
            f"{day.year:04d}-{day.month:02d}",
        )
    if kind == "quarter":
        q = (day.month - 1) // 3
        return Period(
            date(day.year, 3 * q + 1, 1), _month_end(day.year, 3 * q + 3), kind, f"{day.year:04d}-Q{q + 1}"
        )
    raise InvalidInputError(f"“{kind}” is not a report period. Use month or quarter.")


def periods_between(kind: PeriodKind, first: date, last: date) -> list[Period]:
    """Every whole period that touches ``first`` … ``last`` (periods are never cut short)."""
    if first > last:
        raise InvalidInputError("The start of the report is after its end; no period can be in that range.")
    found: list[Period] = []
    for period in _walk(kind, first):
        if period.first > last:
            break
        found.append(period)
        if len(found) > 1200:
            raise InvalidInputError("That range holds too many periods for one report; choose a shorter one.")
    return found


def _walk(kind: PeriodKind, start: date) -> Iterator[Period]:
    period = period_of(kind, start)
    while True:
        yield period
        period = period_of(kind, period.last + timedelta(days=1))


def parse_period_label(label: str) -> Period:
    """``2026-03`` → that month; ``2026-Q1`` → that quarter."""
    text = label.strip().upper()
    try:
        if "-Q" in text:
            year, q = text.split("-Q")
            if not 1 <= int(q) <= 4:
                raise ValueError
            return period_of("quarter", date(int(year), 3 * int(q) - 2, 1))
        year, month = text.split("-")
        return period_of("month", date(int(year), int(month), 1))
    except ValueError:
        raise InvalidInputError(f"“{label[:20]}” is not a period. Use YYYY-MM or YYYY-Qn.") from None
