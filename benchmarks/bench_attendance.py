"""Attendance reports: the cost and the effect of exact complementary suppression, and export latency.

    PYTHONPATH=. python benchmarks/bench_attendance.py [--tables 300] [--seed 11]

1. For random one-month tables (groups of 1–60 people, 1–20 meetings, with history), times ``protect``
   (primary suppression + rounding + complementary suppression audited by the exact solver) against primary
   suppression and rounding alone, and counts hidden cells.
2. Checks what a rule-of-thumb complementary step would have published — "where a row or column has exactly
   one hidden cell, also hide its smallest shown neighbour" — with the same exact audit: how many of those
   tables still let a reader pin a hidden cell to fewer than three values.
3. Times a full export (ledger + CSV) of 24 months and of 4 quarters from a vault with three years of weekly
   meetings, asking again (answered from the ledger), and one differentially private quarter.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from companion.attendance.disclosure import (
    COUNT_MEASURES,
    NHS,
    STRICT,
    hidden_cells,
    primary_hidden,
    protect,
    render,
    weakest_hidden,
)
from companion.attendance.periods import period_of
from companion.attendance.report import FORMATS, ROWS, Dataset, MeetingFact, meeting_lengths, true_counts
from companion.services import Companion
from companion.vault.header import FLOOR


def random_table(rng: random.Random):
    people = rng.choice((rng.randint(1, 20), rng.randint(1, 60)))
    n = rng.randint(1, 20)
    meetings = [
        MeetingFact(
            i,
            date(2026, rng.choice((1, 2, 2)), rng.randint(1, 28)),
            rng.choice(FORMATS),
            rng.choice((45, 60, 90, 120)),
        )
        for i in range(n)
    ]
    density = rng.uniform(0.05, 0.8)
    marks = [(m, p) for m in range(n) for p in range(people) if rng.random() < density]
    data, period = Dataset(meetings, marks), period_of("month", date(2026, 2, 1))
    return true_counts(data, period), meeting_lengths(data, period)


def rule_of_thumb(counts, profile):
    hidden = primary_hidden(counts, profile)
    cells = [(r, m) for r in ROWS for m in COUNT_MEASURES]
    columns = [[(r, m) for r in ROWS] for m in COUNT_MEASURES]
    lines = columns + [[(r, m) for m in COUNT_MEASURES] for r in ROWS]
    for line in lines:
        inside = [c for c in line if c in hidden]
        shown = [c for c in line if c not in hidden and counts[c] > 0 and c in cells]
        if len(inside) == 1 and shown:
            hidden.add(min(shown, key=lambda c: counts[c]))
    return render(counts, hidden, profile)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def bench_tables(n: int, seed: int) -> None:
    rng = random.Random(seed)
    tables = [random_table(rng) for _ in range(n)]
    for profile in (STRICT, NHS):
        t_primary, t_full, hidden_p, hidden_f, unsafe_thumb, unsafe_primary = [], [], 0, 0, 0, 0
        for counts, lengths in tables:
            t = time.perf_counter()
            primary = render(counts, primary_hidden(counts, profile), profile)
            t_primary.append(time.perf_counter() - t)
            t = time.perf_counter()
            full = protect(counts, profile, lengths)
            t_full.append(time.perf_counter() - t)
            hidden_p += sum(1 for c in hidden_cells(primary) if c[1] != "hours")
            hidden_f += sum(1 for c in hidden_cells(full) if c[1] != "hours")
            unsafe_primary += weakest_hidden(primary, profile, counts, lengths) is not None
            thumb = rule_of_thumb(counts, profile)
            unsafe_thumb += weakest_hidden(thumb, profile, counts, lengths) is not None
            assert weakest_hidden(full, profile, counts, lengths) is None
        cells = len(tables) * len(ROWS) * len(COUNT_MEASURES)
        print(f"[{profile.name}] {len(tables)} one-month tables")
        print(
            f"  protect():            median {statistics.median(t_full) * 1e3:6.1f} ms   p95 "
            f"{pct(t_full, 0.95) * 1e3:6.1f} ms   max {max(t_full) * 1e3:6.1f} ms"
        )
        print(
            f"  primary + rounding:   median {statistics.median(t_primary) * 1e3:6.3f} ms   "
            f"(exact audit costs x{statistics.median(t_full) / statistics.median(t_primary):.0f})"
        )
        print(
            f"  count cells hidden:   primary {hidden_p / cells:5.1%}   after complementary "
            f"{hidden_f / cells:5.1%}   (x{hidden_f / max(1, hidden_p):.2f})"
        )
        print(
            f"  tables with a hidden cell a reader can pin to < 3 values: primary only "
            f"{unsafe_primary / len(tables):5.1%}, rule of thumb {unsafe_thumb / len(tables):5.1%}, "
            f"protect() 0.0%"
        )


def bench_export() -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = Companion(Path(folder) / "data")
        app.create("bench", params=FLOOR)
        svc = app.attendance
        rng = random.Random(3)
        people = [f"Person {i}" for i in range(60)]
        day = date(2023, 1, 2)
        t = time.perf_counter()
        meetings = 0
        while day < date(2026, 1, 1):
            for fmt, weekday in (("in_person", 0), ("online", 3)):
                m = svc.add_meeting(day + timedelta(days=weekday), fmt, 90).value
                svc.attend(m.id, rng.sample(people, rng.randint(4, 25)))
                meetings += 1
            if rng.random() < 0.5:
                m = svc.add_meeting(day + timedelta(days=2), "one_to_one", 50).value
                svc.attend(m.id, [rng.choice(people)])
                meetings += 1
            day += timedelta(days=7)
        built = time.perf_counter() - t
        print(f"vault: {meetings} meetings over 3 years, 60 people (built in {built:.1f} s)")
        today = date(2026, 11, 27)
        for kind, label, first, last in (
            ("month", "24 months", date(2023, 1, 1), date(2024, 12, 31)),
            ("quarter", "4 quarters", date(2025, 1, 1), date(2025, 12, 31)),
        ):
            out = Path(folder) / f"{kind}.csv"
            t = time.perf_counter()
            svc.export(kind, first, last, "csv", out, today=today)
            fresh = time.perf_counter() - t
            t = time.perf_counter()
            svc.export(kind, first, last, "csv", out, today=today)
            again = time.perf_counter() - t
            print(f"export {label:<11} first {fresh * 1e3:6.0f} ms   again (ledger) {again * 1e3:4.0f} ms")
        try:
            import opendp  # noqa: F401
        except ImportError:
            print("DP: OpenDP not installed (pip install 'companion[dp]')")
        else:
            t = time.perf_counter()
            m = svc.add_meeting(date(2026, 2, 3), "online", 60).value
            svc.attend(m.id, people[:20])
            svc.export(
                "quarter",
                date(2026, 1, 1),
                date(2026, 3, 31),
                "csv",
                Path(folder) / "dp.csv",
                epsilon=1.0,
                today=today,
            )
            print(f"DP export of one quarter (6 OpenDP draws): {(time.perf_counter() - t) * 1e3:.0f} ms")
        app.lock()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    bench_tables(args.tables, args.seed)
    bench_export()


if __name__ == "__main__":
    main()
