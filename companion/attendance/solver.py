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


def _tighten(box: Box, var: Var, lo: int, hi: int) -> bool:
    old_lo, old_hi = box[var]
    new_lo, new_hi = max(old_lo, lo), min(old_hi, hi)
    if new_lo > new_hi:
        raise Infeasible
    if (new_lo, new_hi) != (old_lo, old_hi):
        box[var] = (new_lo, new_hi)
        return True
    return False


def _propagate_linear(box: Box, c: Linear) -> bool:
    mins = []
    maxs = []
    for var, coef in c.terms:
        lo, hi = box[var]
        mins.append(coef * lo if coef >= 0 else coef * hi)
        maxs.append(coef * hi if coef >= 0 else coef * lo)
    total_min, total_max = sum(mins), sum(maxs)
    if total_min > c.hi or total_max < c.lo:
        raise Infeasible
    changed = False
    for i, (var, coef) in enumerate(c.terms):
        rest_min, rest_max = total_min - mins[i], total_max - maxs[i]
        # coef * var in [c.lo - rest_max, c.hi - rest_min]
        t_lo, t_hi = c.lo - rest_max, c.hi - rest_min
        if coef > 0:
            lo, hi = _ceil_div(t_lo, coef), t_hi // coef
        else:
            lo, hi = _ceil_div(t_hi, coef), t_lo // coef
        changed |= _tighten(box, var, lo, hi)
    return changed


def _propagate_product(box: Box, c: ProductBound) -> bool:
    a_lo, a_hi = box[c.a]
    u_hi = box[c.u][1]
    s_hi = box[c.s][1]
    changed = _tighten(box, c.a, a_lo, min(a_hi, u_hi * s_hi))
    a_lo = box[c.a][0]
    if a_lo > 0:
        changed |= _tighten(box, c.u, _ceil_div(a_lo, s_hi) if s_hi > 0 else INFINITY, u_hi)
        changed |= _tighten(box, c.s, _ceil_div(a_lo, box[c.u][1]) if box[c.u][1] > 0 else INFINITY, s_hi)
    return changed


def propagate(box: Box, constraints: Sequence[Constraint]) -> Box:
    """Narrow every interval until nothing changes; raises :class:`Infeasible` when no solution is left."""
    box = dict(box)
    changed = True
    while changed:
        changed = False
        for c in constraints:
            if isinstance(c, Linear):
                changed |= _propagate_linear(box, c)
            else:
                changed |= _propagate_product(box, c)
    return box


def feasible(box: Box, constraints: Sequence[Constraint]) -> bool:
    """Whether some integer assignment inside ``box`` satisfies every constraint (complete search)."""
    try:
        return _search(propagate(box, constraints), constraints)
    except Infeasible:
        return False


def _search(box: Box, constraints: Sequence[Constraint]) -> bool:
    open_vars = [(hi - lo, repr(v), v) for v, (lo, hi) in box.items() if hi > lo]
    if not open_vars:
        return True  # propagation of every constraint over fixed values is an exact check
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
            if _search(propagate(trial, constraints), constraints):
                return True
        except Infeasible:
            continue
    return False


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
    trial = dict(box)
    trial[var] = (max(lo, box[var][0]), min(hi, box[var][1]))
    if trial[var][0] > trial[var][1]:
        return False
    return feasible(trial, constraints)


def spans_at_least(box: Box, constraints: Sequence[Constraint], var: Var, width: int) -> bool:
    """Whether ``var`` has two feasible values at least ``width`` apart (cheaper than a full range)."""
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
