"""Fixtures for the crypto tests: a pool of identities and an ``author_key`` directory over it."""

from __future__ import annotations

import pytest

from companion.crypto import Identity

from .crypto_support import FixedRng


@pytest.fixture(scope="session")
def pool() -> list[Identity]:
    """32 identities, derived from fixed seeds (fast and reproducible)."""
    return [Identity.generate(FixedRng(b"pool-%d" % i)) for i in range(32)]


@pytest.fixture(scope="session")
def directory(pool: list[Identity]):
    """``author_key`` callback over the pool."""
    table = {i.fingerprint: i.public for i in pool}
    return table.get
