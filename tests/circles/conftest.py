"""Fixtures: several real vaults (cheapest KDF settings) in temporary folders sharing one folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.services import Companion
from companion.vault.header import FLOOR


class Person:
    """One person's journal, and short-hands for the calls the tests make most."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.app = Companion(root / name)
        self.app.create("pw-" + name, params=FLOOR)

    @property
    def circles(self):
        return self.app.circles

    @property
    def id(self) -> str:
        return self.app.circles.identity().member_id

    def entry(self, text: str, **kw) -> int:
        return self.app.journal.add_entry(text, **kw).value.id

    def sync(self, circle: str | None = None):
        return self.app.circles.sync(circle).value

    def inbox(self) -> list:
        return self.app.circles.inbox()


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    folder = tmp_path / "shared"
    folder.mkdir()
    return folder


class People(dict):
    """Journals made on first use (each costs one key derivation)."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __missing__(self, name: str) -> Person:
        person = self[name] = Person(self.root, name)
        return person


@pytest.fixture
def people(tmp_path: Path) -> Iterator[dict[str, Person]]:
    made = People(tmp_path / "vaults")
    yield made
    for p in made.values():
        p.app.lock()


@pytest.fixture
def circle(people: dict[str, Person], shared: Path) -> tuple[str, dict[str, Person]]:
    """Ana's circle with Ben and Cat admitted and everyone synced."""
    ana, ben, cat = people["ana"], people["ben"], people["cat"]
    cid = ana.circles.create_circle("Tuesday group", folder=shared, display_name="Ana").value.id
    for p, name in ((ben, "Ben"), (cat, "Cat")):
        code = ana.circles.invite(cid).value.code
        p.circles.join(code, display_name=name)
        p.sync()
        ana.sync()
        p.sync()
    ben.sync()
    return cid, people
