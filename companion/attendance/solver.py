"""An exact integer solver for what a reader of a published table can work out.

The disclosure check asks: given everything published (each cell as an interval of values it may stand for)
and the relations every reader knows hold between cells, which values can a hidden cell still take? This
module answers exactly, by interval propagation (bounds consistency) plus a complete branch-and-split search,
so a "range" here is the true smallest and largest feasible value, not an over-estimate.

Constraints are small: linear ``lo <= sum(coef * x) <= hi`` and the product bound ``a <= u * s`` (with every
variable non-negative). The solver is generic and knows nothing about reports.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

Var = Hashable
Box = dict[Var, tuple[int, int]]
INFINITY = 10**9


@dataclass(frozen=True)
class Linear:
    """``lo <= sum(coef * var for var, coef in terms) <= hi``."""

    terms: tuple[tuple[Var, int], ...]
    lo: int
    hi: int


@dataclass(frozen=True)
class ProductBound:
    """``a <= u * s`` for non-negative ``a``, ``u``, ``s``."""

    a: Var
    u: Var
    s: Var


Constraint = Linear | ProductBound


class Infeasible(Exception):  # noqa: N818  (control flow inside the solver, never leaves this module)
    pass


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _tighten(box: Box, var: Var, lo: int, hi: int, changed: list[Var]) -> None:
    old_lo, old_hi = box[var]
    new_lo = lo if lo > old_lo else old_lo
    new_hi = hi if hi < old_hi else old_hi
    if new_lo > new_hi:
        raise Infeasible
    if new_lo != old_lo or new_hi != old_hi:
        box[var] = (new_lo, new_hi)
        changed.append(var)


def _propagate_linear(box: Box, c: Linear, changed: list[Var]) -> None:
    mins = []
    maxs = []
    for var, coef in c.terms:
        lo, hi = box[var]
        if coef >= 0:
            mins.append(coef * lo)
            maxs.append(coef * hi)
        else:
            mins.append(coef * hi)
            maxs.append(coef * lo)
    total_min, total_max = sum(mins), sum(maxs)
    if total_min > c.hi or total_max < c.lo:
        raise Infeasible
    for i, (var, coef) in enumerate(c.terms):
        # coef * var lies in [c.lo - (the rest at its largest), c.hi - (the rest at its smallest)]
        t_lo = c.lo - (total_max - maxs[i])
        t_hi = c.hi - (total_min - mins[i])
        if coef > 0:
            lo, hi = _ceil_div(t_lo, coef), t_hi // coef
        else:
            lo, hi = _ceil_div(t_hi, coef), t_lo // coef
        _tighten(box, var, lo, hi, changed)


def _propagate_product(box: Box, c: ProductBound, changed: list[Var]) -> None:
    a_lo, a_hi = box[c.a]
    u_hi = box[c.u][1]
    s_hi = box[c.s][1]
    _tighten(box, c.a, a_lo, min(a_hi, u_hi * s_hi), changed)
    a_lo = box[c.a][0]
    if a_lo > 0:
        _tighten(box, c.u, _ceil_div(a_lo, s_hi) if s_hi > 0 else INFINITY, u_hi, changed)
        u_hi = box[c.u][1]
        _tighten(box, c.s, _ceil_div(a_lo, u_hi) if u_hi > 0 else INFINITY, s_hi, changed)


MAX_STEPS = 20_000  # constraint revisions per propagation; beyond it the search splits instead (still exact)


def _index(constraints: Sequence[Constraint]) -> dict[Var, list[int]]:
    watch: dict[Var, list[int]] = {}
    for i, c in enumerate(constraints):
        names = [v for v, _ in c.terms] if isinstance(c, Linear) else [c.a, c.u, c.s]
        for v in names:
            watch.setdefault(v, []).append(i)
    return watch


def propagate(box: Box, constraints: Sequence[Constraint], watch: dict[Var, list[int]] | None = None) -> Box:
    """Narrow the intervals (revisiting only constraints whose variables changed) until nothing changes, or
    for at most :data:`MAX_STEPS` revisions; raises :class:`Infeasible` when no solution is left. Stopping
    early only leaves intervals wider than they could be, never wrong."""
    box = dict(box)
    watch = watch if watch is not None else _index(constraints)
    queue = list(range(len(constraints)))
    queued = set(queue)
    steps = 0
    changed: list[Var] = []
    while queue and steps < MAX_STEPS:
        i = queue.pop()
        queued.discard(i)
        steps += 1
        c = constraints[i]
        if isinstance(c, Linear):
            _propagate_linear(box, c, changed)
        else:
            _propagate_product(box, c, changed)
        if changed:
            for v in changed:
                for j in watch[v]:
                    if j not in queued:
                        queued.add(j)
                        queue.append(j)
            changed.clear()
    return box


def feasible(box: Box, constraints: Sequence[Constraint]) -> bool:
    """Whether some integer assignment inside ``box`` satisfies every constraint (complete search)."""
    return solve(box, constraints) is not None


def solve(box: Box, constraints: Sequence[Constraint]) -> dict[Var, int] | None:
    """One integer assignment inside ``box`` that satisfies every constraint, or None if there is none."""
    watch = _index(constraints)
    try:
        return _search(propagate(box, constraints, watch), constraints, watch)
    except Infeasible:
        return None


def _search(
    box: Box, constraints: Sequence[Constraint], watch: dict[Var, list[int]]
) -> dict[Var, int] | None:
    open_vars = [(hi - lo, repr(v), v) for v, (lo, hi) in box.items() if hi > lo]
    if not open_vars:  # every variable fixed: evaluate each constraint exactly
        assignment = {v: lo for v, (lo, _) in box.items()}
        return assignment if check_assignment(assignment, constraints) else None
    _, _, var = min(open_vars)
    lo, hi = box[var]
    # Try the low end first (small counts satisfy most relations), then split the rest in halves.
    mid = (lo + hi) // 2
    for part in ((lo, lo), (lo + 1, mid), (mid + 1, hi)) if hi - lo > 1 else ((lo, lo), (hi, hi)):
        if part[0] > part[1]:
            continue
        trial = dict(box)
        trial[var] = part
        try:
            found = _search(propagate(trial, constraints, watch), constraints, watch)
        except Infeasible:
            continue
        if found is not None:
            return found
    return None


def feasible_range(box: Box, constraints: Sequence[Constraint], var: Var) -> tuple[int, int] | None:
    """The exact smallest and largest value ``var`` can take, or None when the system has no solution."""
    try:
        narrowed = propagate(box, constraints)
    except Infeasible:
        return None
    lo, hi = narrowed[var]
    low = _first_feasible(narrowed, constraints, var, lo, hi, step=1)
    if low is None:
        return None
    high = _first_feasible(narrowed, constraints, var, hi, low, step=-1)
    assert high is not None
    return low, high


def _first_feasible(
    box: Box, constraints: Sequence[Constraint], var: Var, start: int, stop: int, step: int
) -> int | None:
    """Binary search for the first value (going up or down from ``start``) that admits a solution."""
    lo, hi = (start, stop) if step > 0 else (stop, start)
    if not _has(box, constraints, var, lo, hi):
        return None
    while lo < hi:
        if step > 0:
            mid = (lo + hi) // 2
            if _has(box, constraints, var, lo, mid):
                hi = mid
            else:
                lo = mid + 1
        else:
            mid = (lo + hi + 1) // 2
            if _has(box, constraints, var, mid, hi):
                lo = mid
            else:
                hi = mid - 1
    return lo


def _has(box: Box, constraints: Sequence[Constraint], var: Var, lo: int, hi: int) -> bool:
    return solve_within(box, constraints, var, lo, hi) is not None


def solve_within(
    box: Box, constraints: Sequence[Constraint], var: Var, lo: int, hi: int
) -> dict[Var, int] | None:
    """A solution with ``lo <= var <= hi``, or None."""
    trial = dict(box)
    trial[var] = (max(lo, box[var][0]), min(hi, box[var][1]))
    if trial[var][0] > trial[var][1]:
        return None
    return solve(trial, constraints)


def spans_at_least(
    box: Box, constraints: Sequence[Constraint], var: Var, width: int, known: int | None = None
) -> bool:
    """Whether ``var`` has two feasible values at least ``width`` apart (cheaper than a full range).

    ``known`` may give one value already known to be feasible (the true one): then a single search for a
    value ``width`` away from it usually settles the question; the answer is exact either way."""
    if known is not None and (
        _has(box, constraints, var, known + width, INFINITY)
        or _has(box, constraints, var, -INFINITY, known - width)
    ):
        return True
    return _spans_exact(box, constraints, var, width)


def _spans_exact(box: Box, constraints: Sequence[Constraint], var: Var, width: int) -> bool:
    try:
        narrowed = propagate(box, constraints)
    except Infeasible:
        return False
    lo, hi = narrowed[var]
    if hi - lo < width:
        return False
    low = (
        lo
        if _has(narrowed, constraints, var, lo, lo)
        else _first_feasible(narrowed, constraints, var, lo + 1, hi, step=1)
    )
    return low is not None and _has(narrowed, constraints, var, low + width, hi)


def check_assignment(values: Mapping[Var, int], constraints: Sequence[Constraint]) -> bool:
    """Plain evaluation, for tests: do these values satisfy every constraint?"""
    for c in constraints:
        if isinstance(c, Linear):
            total = sum(coef * values[v] for v, coef in c.terms)
            if not c.lo <= total <= c.hi:
                return False
        elif values[c.a] > values[c.u] * values[c.s]:
            return False
    return True
