"""The disclosure audit's solver gives exact ranges: checked against brute-force enumeration."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from companion.attendance.solver import Linear, ProductBound, check_assignment, feasible, feasible_range

from .conftest import TRIALS

VARS = ("a", "b", "c", "d")


@st.composite
def systems(draw):
    box = {}
    for v in VARS:
        lo = draw(st.integers(0, 4))
        box[v] = (lo, lo + draw(st.integers(0, 5)))
    constraints = []
    for _ in range(draw(st.integers(1, 4))):
        terms = tuple((v, c) for v in VARS if (c := draw(st.sampled_from((-2, -1, 0, 0, 1, 1, 2)))) != 0)
        if not terms:
            continue
        lo = draw(st.integers(-8, 8))
        constraints.append(Linear(terms, lo, lo + draw(st.integers(0, 6))))
    if draw(st.booleans()):
        a, u, s = draw(st.permutations(VARS))[:3]
        constraints.append(ProductBound(a, u, s))
    return box, constraints


def brute_range(box, constraints, var):
    values = []
    for combo in itertools.product(*(range(lo, hi + 1) for lo, hi in box.values())):
        assignment = dict(zip(box, combo, strict=True))
        if check_assignment(assignment, constraints):
            values.append(assignment[var])
    return (min(values), max(values)) if values else None


@settings(max_examples=150 * TRIALS, deadline=None)
@given(systems(), st.sampled_from(VARS))
def test_ranges_match_brute_force(system, var):
    box, constraints = system
    expected = brute_range(box, constraints, var)
    assert feasible_range(box, constraints, var) == expected
    assert feasible(box, constraints) == (expected is not None)


def test_propagation_alone_would_overestimate_but_search_is_exact():
    # x + y = 5 and x - y = 0 over integers has no solution (x = y = 2.5); bounds alone do not see it.
    box = {"x": (0, 5), "y": (0, 5)}
    constraints = [Linear((("x", 1), ("y", 1)), 5, 5), Linear((("x", 1), ("y", -1)), 0, 0)]
    assert feasible_range(box, constraints, "x") is None
