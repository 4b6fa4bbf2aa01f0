"""Fixtures: several real vaults (cheapest KDF settings) in temporary folders sharing one folder."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from companion.schema import MIGRATIONS
from companion.services import Companion
from companion.vault import store
from companion.vault.header import FLOOR, Header
from companion.vault.store import HEADER_NAME

_TEMPLATE: dict[str, Any] = {}


def _open_copy(folder: Path) -> Companion:
    """A fresh, empty journal in ``folder``: a copy of one made once per test session, opened with its key.

    Every test needs several journals and each key derivation costs ~0.4 s, so the derivation runs once; the
    copy is a real SQLCipher vault opened with its real key (only the repeated Argon2id run is skipped).
    """
    if not _TEMPLATE:
        base = Path(tempfile.mkdtemp(prefix="companion-template-"))
        atexit.register(shutil.rmtree, base, True)
        Companion(base / "vault").create("pw", params=FLOOR).value  # noqa: B018
        Companion(base / "vault").lock()
        header = Header.read(base / "vault" / HEADER_NAME)
        _TEMPLATE.update(path=base / "vault", key=bytes(header.slot.derive("pw")))
    shutil.copytree(_TEMPLATE["path"], folder)
    header = Header.read(folder / HEADER_NAME)
    conn = store._connect(folder / store.DB_NAME, bytearray(_TEMPLATE["key"]), header.hmac)
    store._configure(conn)
    vault = store.Vault(folder, conn, header)
    vault._migrate(MIGRATIONS)
    app = Companion(folder)
    app._attach(vault)
    return app


class Person:
    """One person's journal, and short-hands for the calls the tests make most."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.app = _open_copy(root / name)

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

    def unseal(self, cid: str, data: bytes) -> bytes:
        """What the engine sees of a file in the shared folder: the blob inside the circle's transport seal (a
        member holds the seal key; the folder's host does not)."""
        from companion.sync.transports.sealed import TransportSeal, parse_seal_key

        settings = self.app.circles._store.circle(cid).transport
        return TransportSeal(parse_seal_key(settings["seal"])).receive(data) if "seal" in settings else data


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
