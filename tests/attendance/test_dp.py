"""Differential privacy: OpenDP integer noise, the e^epsilon bound measured, and the budget ledger."""

from __future__ import annotations

import math
import os
import sys
from collections import Counter
from datetime import date

import pytest

from companion.attendance import dp
from companion.attendance.ledger import BudgetSpentError, ReleaseRefusedError
from companion.attendance.periods import period_of
from companion.attendance.report import MEASURES, Dataset, MeetingFact

pytest.importorskip("opendp", reason="OpenDP is the optional companion[dp] extra (make test installs it)")

TODAY = date(2026, 11, 27)
DRAWS = int(os.environ.get("COMPANION_DP_DRAWS", "200000"))


def seed(app, n=30):
    svc = app.attendance
    for day in ("2026-01-06", "2026-01-13", "2026-02-03"):
        m = svc.add_meeting(day, "in_person", 90).value
        svc.attend(m.id, [f"P{i}" for i in range(n)])


def test_dp_outputs_are_integers_and_meta_records_the_method(app, tmp_path):
    seed(app)
    report = app.attendance.export(
        "month", date(2026, 1, 1), date(2026, 2, 28), "json", tmp_path / "r.json", epsilon=1.0, today=TODAY
    ).value
    for row in report.rows:
        for m in MEASURES:
            assert type(row[m]) is int and row[m] >= 0
    for label in report.labels:
        rows = {r["format"]: r for r in report.rows if r["period"] == label}
        for m in ("sessions", "attendances"):  # the additive measures add up, noise and all
            assert rows["all"][m] == sum(rows[f][m] for f in ("in_person", "online", "one_to_one"))
        assert rows["in_person"]["sessions"] == (2 if label == "2026-01" else 1)  # not about anyone: exact
    assert report.meta["epsilon"] == 1.0
    params = report.meta["profile"]["parameters"]
    assert report.meta["profile"]["name"] == "dp" and "discrete Laplace" in params["mechanism"]
    assert params["epsilon_per_measure"] == pytest.approx(1.0 / len(MEASURES))


def test_noise_comes_from_opendp_at_the_planned_scale():
    plan = dp.plan(1.0, 8)
    for m in MEASURES:
        # OpenDP's own accounting for the measure's sensitivity at the planned scale spends its share exactly
        assert dp.privacy_loss(plan.sensitivity[m], plan.scale[m]) == pytest.approx(1.0 / len(MEASURES))
    samples = dp.noisy([50] * 4000, 3.0)
    assert all(type(v) is int for v in samples)
    spread = sum(abs(v - 50) for v in samples) / len(samples)
    assert 2.0 < spread < 4.0  # discrete Laplace with scale 3 has mean absolute deviation close to 2.9


def empirical_ratio_bound(a, b, min_count):
    """The largest |log(P_a(v) / P_b(v))| over outputs v seen at least ``min_count`` times in both samples."""
    ca, cb = Counter(a), Counter(b)
    worst = 0.0
    for v in set(ca) & set(cb):
        if ca[v] >= min_count and cb[v] >= min_count:
            worst = max(worst, abs(math.log((ca[v] / len(a)) / (cb[v] / len(b)))))
    return worst


def test_neighbouring_datasets_stay_within_e_to_the_epsilon():
    """One more attendee at one meeting: the released count's output distribution moves by at most e^eps.

    The noised attendance cells (the three formats) have L1 sensitivity ``plan.sensitivity``; the newcomer
    changes the in-person cell by one, so its own bound is exp(1 / scale). We draw from the mechanism the
    report uses, at the scale the report uses, for the real counts of both datasets."""
    epsilon = 3.0
    plan = dp.plan(epsilon, 1)  # cap 1 keeps the scale small so the bound is tight enough to measure
    period = period_of("month", date(2026, 1, 1))
    meetings = [
        MeetingFact(0, date(2026, 1, 6), "in_person", 60),
        MeetingFact(1, date(2026, 1, 8), "online", 60),
    ]
    base = Dataset(meetings, [(0, p) for p in range(12)] + [(1, p) for p in range(5)])
    plus = Dataset(meetings, [*base.marks, (0, 99)])
    c0 = dp.bounded_counts(base, period, plan.cap)
    c1 = dp.bounded_counts(plus, period, plan.cap)
    cell = ("in_person", "attendances")
    assert c1[cell] - c0[cell] == 1
    scale = plan.scale["attendances"]
    a = dp.noisy([c0[cell]] * DRAWS, scale)
    b = dp.noisy([c1[cell]] * DRAWS, scale)
    per_cell = 1 / scale
    assert per_cell <= epsilon / len(MEASURES) + 1e-12
    worst = empirical_ratio_bound(a, b, min_count=max(50, DRAWS // 40))
    assert worst <= epsilon
    assert worst <= per_cell * 1.25 + 0.05, (worst, per_cell)
    # the bound is nearly reached: the noise is not wildly larger than planned (the test can fail both ways)
    assert worst >= per_cell * 0.6, (worst, per_cell)


def test_budget_ledger_refuses_once_spent(app, tmp_path):
    seed(app)
    svc = app.attendance
    jan = (date(2026, 1, 1), date(2026, 1, 31))
    first = svc.export("month", *jan, "csv", tmp_path / "a.csv", epsilon=1.5, today=TODAY).value
    assert svc.privacy_budget("2026-01") == (2.0, 1.5)
    # the same request is answered from the ledger: same numbers, nothing spent
    again = svc.export("month", *jan, "csv", tmp_path / "b.csv", epsilon=1.5, today=TODAY).value
    assert again.rows == first.rows and svc.privacy_budget("2026-01") == (2.0, 1.5)
    svc.export("month", *jan, "csv", tmp_path / "c.csv", epsilon=0.5, today=TODAY)
    assert svc.privacy_budget("2026-01") == (2.0, 2.0)
    with pytest.raises(BudgetSpentError, match="budget for 2026-01 is spent"):
        svc.export("month", *jan, "csv", tmp_path / "d.csv", epsilon=0.1, today=TODAY)
    assert not (tmp_path / "d.csv").exists()
    assert svc.preview("month", *jan, epsilon=0.1, today=TODAY).blocked
    # February still has its own budget; a suppressed release of January is refused (another method)
    svc.export(
        "month", date(2026, 2, 1), date(2026, 2, 28), "csv", tmp_path / "e.csv", epsilon=2.0, today=TODAY
    )
    with pytest.raises(ReleaseRefusedError):
        svc.export("month", *jan, "csv", tmp_path / "f.csv", today=TODAY)


def test_dp_preview_draws_nothing(app):
    seed(app)
    report = app.attendance.preview("month", date(2026, 1, 1), date(2026, 1, 31), epsilon=1.0, today=TODAY)
    assert report.pending == ("2026-01",)
    assert all(row[m] is None for row in report.rows for m in MEASURES)
    assert app.attendance.privacy_budget("2026-01") == (2.0, 0.0)


@pytest.mark.parametrize("epsilon", [0, -1, 11, float("nan")])
def test_out_of_range_epsilon_is_refused(epsilon):
    from companion.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        dp.check_epsilon(epsilon)


def test_without_opendp_the_option_explains_how_to_enable_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "opendp", None)  # as if the extra were not installed
    monkeypatch.setitem(sys.modules, "opendp.prelude", None)
    with pytest.raises(dp.DependencyMissingError, match=r"companion\[dp\]"):
        dp.require_opendp()
