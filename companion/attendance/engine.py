"""Putting a report together: periods, the ledgers, disclosure control or differential privacy, and ``meta``.

:func:`build` is shared by the preview (which writes nothing) and the export (which records what it releases,
in the same transaction as it writes the file: see ``AttendanceService.export``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from companion.attendance import disclosure
from companion.attendance.ledger import DEFAULT_BUDGET, Ledger, ReleaseRefusedError
from companion.attendance.output import DEFINITIONS, SCHEMA_VERSION, Report
from companion.attendance.periods import Period, PeriodKind, periods_between
from companion.attendance.report import MEASURES, ROWS, Dataset, first_days, meeting_lengths, true_counts


@dataclass(frozen=True)
class NewRelease:
    period: Period
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Request:
    kind: PeriodKind
    first: date
    last: date
    profile: str = "strict"
    epsilon: float | None = None
    cap: int | None = None  # DP: attendances kept per person per period (default by period kind)
    budget: float = DEFAULT_BUDGET  # DP: epsilon each period may spend in all

    @property
    def method(self) -> str:
        return "dp" if self.epsilon is not None else self.profile


def build(
    dataset: Dataset, ledger: Ledger, request: Request, *, today: date, export: bool
) -> tuple[Report, list[NewRelease]]:
    """The report for ``request``. With ``export`` set, raises :class:`ReleaseRefusedError` (or
    ``BudgetSpentError``) instead of returning a report that may not go out; otherwise the reason is in
    ``Report.blocked`` and nothing is drawn at random."""
    periods = periods_between(request.kind, request.first, request.last)
    profile = disclosure.get_profile(request.profile)
    plan = None
    if request.epsilon is not None:
        from companion.attendance import dp

        epsilon = dp.check_epsilon(request.epsilon)
        dp.require_opendp()
        plan = dp.plan(epsilon, request.cap or dp.DEFAULT_CAP[request.kind])
    first = first_days(dataset)
    rows: list[dict[str, Any]] = []
    new: list[NewRelease] = []
    before: list[str] = []
    pending: list[str] = []
    blocked: str | None = None
    for period in periods:
        try:
            if period.last >= today:
                raise ReleaseRefusedError(
                    f"{period.label} is not over yet. A period is released once it has ended, because its "
                    "numbers are final from then on; preview it instead."
                )
            found = ledger.check(period, request.method, request.epsilon)
            if found is None and plan is not None:
                ledger.check_budget(period, plan.epsilon, request.budget)
        except ReleaseRefusedError as exc:
            if export:
                raise
            blocked = blocked or str(exc)
            found = None
        if found is not None:
            rows.extend(found.rows)
            before.append(period.label)
            continue
        if plan is not None:
            if not export:  # a preview draws no noise: the numbers are drawn once, at export, and recorded
                pending.append(period.label)
                period_rows = [_row(period.label, fmt, dict.fromkeys(MEASURES)) for fmt in ROWS]
            else:
                from companion.attendance import dp

                table = dp.release(dataset, period, plan)
                period_rows = [_row(period.label, fmt, {m: table[fmt, m] for m in MEASURES}) for fmt in ROWS]
        else:
            published = disclosure.protect(
                true_counts(dataset, period, first=first), profile, meeting_lengths(dataset, period)
            )
            period_rows = [_row(period.label, fmt, {m: published[fmt, m] for m in MEASURES}) for fmt in ROWS]
        rows.extend(period_rows)
        new.append(NewRelease(period, period_rows))
    meta = {
        "schema_version": SCHEMA_VERSION,
        "report": "attendance",
        "period": {
            "kind": request.kind,
            "first": periods[0].label,
            "last": periods[-1].label,
            "count": len(periods),
        },
        "profile": (
            {"name": "dp", "parameters": plan.parameters()}
            if plan is not None
            else {"name": profile.name, "parameters": profile.parameters()}
        ),
        "epsilon": plan.epsilon if plan is not None else None,
        "generated": today.isoformat(),
        "definitions": DEFINITIONS,
        "released_before": before,
    }
    report = Report(
        request.kind,
        tuple(p.label for p in periods),
        request.method,
        tuple(rows),
        meta,
        tuple(before),
        blocked,
        tuple(pending),
    )
    return report, new


def _row(label: str, fmt: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"period": label, "format": fmt, **values}
