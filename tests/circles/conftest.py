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


def age_pending(person: Person, days: int = 15) -> None:
    """Make what ``person``'s vault keeps waiting (deferred blobs) ``days`` older, past the engine's give-up time."""
    with person.app.vault.transaction() as conn:
        conn.execute("UPDATE pending_blobs SET first_seen = first_seen - ?", (days * 86_400_000,))


def forget_seal(person: Person, cid: str) -> None:
    """Make ``person``'s settings for the circle what a version before the transport seal stored (no seal key):
    a circle created before the seal, or a member whose older app dropped the key it did not know."""
    settings = person.app.circles._store.circle(cid).transport
    settings.pop("seal", None)
    with person.app.vault.transaction():
        person.app.circles._store.update_circle(cid, transport=settings)


#: Kinds whose strings appear in clear in an unsealed envelope's header (and the two blob magics).
HEADER_KINDS = ("item", "reply", "roster", "attendance.meeting", "attendance.check_in")


def three_member_flow(people: dict[str, Person], names: tuple[str, str, str], *, sealed: bool = True,
                      **where: Any) -> list[str]:  # fmt: skip
    """A circle (``where``: ``folder=`` or ``relay=``) with an admin and two joiners: a share, a reply, a meeting
    announcement and a check-in, each delivered. Returns every header field a carrier could learn: the circle,
    item, reply, announcement and check-in ids, the members' ids and the invites' ids."""
    from datetime import datetime

    admin, ben, cat = (people[n] for n in names)
    cid = admin.circles.create_circle("Group", display_name=admin.name, **where).value.id
    if not sealed:
        forget_seal(admin, cid)  # as if made before the seal: its invites then carry no key either
    invite_ids = []
    for p in (ben, cat):
        invite = admin.circles.invite(cid).value
        invite_ids.append(invite.invite_id)
        p.circles.join(invite.code, display_name=p.name)
        p.sync()
        admin.sync()
        p.sync()
    ben.sync()
    item = admin.circles.share(admin.entry("hello, circle", title="Hi"), cid).value
    admin.sync()
    ben.sync()
    reply = ben.circles.reply(item.item_id, "thank you").value
    now = datetime.now().astimezone().replace(microsecond=0)
    meeting = admin.app.attendance.add_meeting(now, "in_person", 90, circle_id=cid).value
    announcement = admin.circles.announce_meeting(meeting.id).value
    ben.sync()
    admin.sync()
    cat.sync()
    check_in = cat.circles.check_in(meeting.uid).value
    cat.sync()
    admin.sync()
    assert [i.text for i in cat.inbox()] == ["hello, circle"]
    assert [r.text for r in admin.circles.replies_to(item.item_id)] == ["thank you"]
    assert [c.check_in.member_id for c in admin.app.attendance.pending_check_ins()] == [cat.id]
    assert all(p.circles.get_circle(cid).state == "active" for p in (admin, ben, cat))
    return [cid, item.item_id, reply.reply_id, announcement.item_id, check_in.message_id,
            admin.id, ben.id, cat.id, *invite_ids]  # fmt: skip


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
