"""The release ledger and the privacy-budget ledger, both inside the vault.

Release ledger: whatever was released for a period is stored exactly as published. Asking for the same period
again (same kind, same method) returns those numbers, so nobody learns anything by asking twice and
subtracting. A period that overlaps a released one without being it — a quarter after one of its months went
out, or a month after its quarter did — is refused: two overlapping aggregates would give their difference
away. A period released under one profile is not released again under another (two roundings of the same count
narrow it).

Budget ledger (differential privacy): each period has a budget of epsilon; every new differentially private
release of it spends its epsilon, and a release that would go over the budget is refused. Returning a recorded
release spends nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from companion.attendance.periods import Period
from companion.errors import CompanionError
from companion.vault.store import Connection, Vault

DEFAULT_BUDGET = 2.0


class ReleaseRefusedError(CompanionError):
    """An export was refused to protect people: it would let someone work out a hidden number."""

    exit_code = 7


class BudgetSpentError(ReleaseRefusedError):
    """A differentially private export would spend more of a period's privacy budget than is left."""


@dataclass(frozen=True)
class Release:
    period_kind: str
    period_label: str
    first_day: date
    last_day: date
    method: str
    epsilon: float | None
    rows: list[dict[str, Any]]
    released_on: date


def epsilon_key(epsilon: float | None) -> str:
    return "" if epsilon is None else repr(float(epsilon))


def _release(row: Any) -> Release:
    return Release(
        row[0],
        row[1],
        date.fromisoformat(row[2]),
        date.fromisoformat(row[3]),
        row[4],
        float(row[5]) if row[5] else None,
        json.loads(row[6]),
        date.fromisoformat(row[7]),
    )


_COLUMNS = "period_kind, period_label, first_day, last_day, method, epsilon, rows_json, released_on"


class Ledger:
    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def releases(self) -> list[Release]:
        rows = self._vault.conn.execute(
            f"SELECT {_COLUMNS} FROM att_releases ORDER BY first_day, period_label, id"
        )
        return [_release(r) for r in rows]

    def find(self, period: Period, method: str, epsilon: float | None) -> Release | None:
        row = self._vault.conn.execute(
            f"SELECT {_COLUMNS} FROM att_releases WHERE period_label = ? AND method = ? AND epsilon = ?",
            (period.label, method, epsilon_key(epsilon)),
        ).fetchone()
        return None if row is None else _release(row)

    def check(self, period: Period, method: str, epsilon: float | None) -> Release | None:
        """The recorded release to return for this request, None if a new one may be made; raises
        :class:`ReleaseRefusedError` when a new one would undo the protection of earlier ones."""
        found = self.find(period, method, epsilon)
        if found is not None:
            return found
        conn = self._vault.conn
        for label, kind, method_before in conn.execute(
            "SELECT DISTINCT period_label, period_kind, method FROM att_releases "
            "WHERE first_day <= ? AND last_day >= ?",
            (period.last.isoformat(), period.first.isoformat()),
        ):
            if label != period.label:
                raise ReleaseRefusedError(
                    f"{period.label} overlaps {label}, a {kind} that was already released. Releasing both "
                    "would let their difference reveal small numbers, so nothing was written. Report whole "
                    f"{kind}s instead, as before."
                )
            if method_before != method:
                raise ReleaseRefusedError(
                    f"{period.label} was already released with the {method_before} method. "
                    f"Releasing it again with {method} would let the two be compared, so nothing was "
                    "written. Ask with "
                    f"{_method_hint(method_before)} to get the same numbers as before."
                )
        return None

    def record(
        self,
        conn: Connection,
        period: Period,
        method: str,
        epsilon: float | None,
        rows: list[dict[str, Any]],
        today: date,
    ) -> None:
        conn.execute(
            f"INSERT INTO att_releases ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                period.kind,
                period.label,
                period.first.isoformat(),
                period.last.isoformat(),
                method,
                epsilon_key(epsilon),
                json.dumps(rows, separators=(",", ":")),
                today.isoformat(),
            ),
        )

    # -- differential privacy budget -------------------------------------------------------------------------

    def budget(self, period: Period, default: float = DEFAULT_BUDGET) -> tuple[float, float]:
        """(budget, spent) for the period."""
        row = self._vault.conn.execute(
            "SELECT budget, spent FROM att_dp_budget WHERE period_label = ?", (period.label,)
        ).fetchone()
        return (default, 0.0) if row is None else (float(row[0]), float(row[1]))

    def check_budget(self, period: Period, epsilon: float, default: float = DEFAULT_BUDGET) -> None:
        budget, spent = self.budget(period, default)
        if spent + epsilon > budget + 1e-9:
            raise BudgetSpentError(
                f"The privacy budget for {period.label} is spent: {spent:g} of {budget:g} used, and "
                f"this export needs {epsilon:g} more. Nothing was written. Earlier releases of "
                f"{period.label} can still be asked for again with the same --epsilon."
            )

    def spend(
        self, conn: Connection, period: Period, epsilon: float, default: float = DEFAULT_BUDGET
    ) -> None:
        budget, spent = self.budget(period, default)
        conn.execute(
            "INSERT INTO att_dp_budget (period_label, budget, spent) VALUES (?, ?, ?) "
            "ON CONFLICT (period_label) DO UPDATE SET spent = excluded.spent",
            (period.label, repr(budget), repr(spent + epsilon)),
        )


def _method_hint(method: str) -> str:
    return "the same --epsilon" if method == "dp" else f"--profile {method}"
