"""Fixtures for attendance tests: a real unlocked vault (cheapest key derivation) and dataset builders."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import date

import pytest

from companion.attendance.report import FORMATS, Dataset, MeetingFact
from companion.services import Companion
from companion.vault.header import FLOOR

PASSPHRASE = "correct horse battery staple"
# Bounded in CI; raise for a longer run, e.g. COMPANION_TRIALS=10 multiplies example counts by 10.
TRIALS = max(1, int(os.environ.get("COMPANION_TRIALS", "1")))


@pytest.fixture
def app(tmp_path) -> Iterator[Companion]:
    companion = Companion(tmp_path / "data")
    companion.create(PASSPHRASE, params=FLOOR)
    yield companion
    companion.lock()


def random_dataset(
    rng: random.Random,
    *,
    people: int,
    meetings: int,
    months: tuple[int, ...] = (1, 2, 3),
    visits: int | None = None,
) -> Dataset:
    facts = [
        MeetingFact(
            i,
            date(2026, rng.choice(months), rng.randint(1, 28)),
            rng.choice(FORMATS),
            rng.choice((30, 60, 90, 120)),
        )
        for i in range(meetings)
    ]
    marks = {(rng.randrange(meetings), rng.randrange(people)) for _ in range(visits or people * 3)}
    return Dataset(facts, sorted(marks))
