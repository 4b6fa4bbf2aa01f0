"""One circle as seen from this vault: who I am in it, its roster, and how things are sealed and queued.

Used by the services (sharing, inviting, removing) and by the sync engine (admitting a join request on sync).
Every method runs inside the caller's vault transaction: the envelope, the counter it consumed and the state it
records are committed together or not at all.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from companion.circles import invites, names
from companion.circles.roster import Member, Roster, SignedOp, b64e, canonical, make_op
from companion.circles.store import CircleRow, CircleStore, blob_id, now_ms
from companion.crypto import Identity, PublicIdentity, seal
from companion.crypto.derive import b32
from companion.errors import InvalidInputError
from companion.sync.transports import sealed

#: An admin's envelope carrying a transport seal key to the members it names (protocol.md §10.2).
SEAL_KIND = "seal.key"
#: A seal epoch's high bits are the length of the roster it was made with (see :meth:`CircleSession.rotate_seal`).
EPOCH_ROSTER_SHIFT = 32


def new_id() -> str:
    """A random 128-bit id (lowercase base32, 26 characters)."""
    return b32(os.urandom(16))


def payload_bytes(data: dict[str, Any]) -> bytes:
    return canonical(data)


def parse_seal_payload(data: dict[str, Any]) -> tuple[str, int, set[str]]:
    """``(key, epoch, holders)`` of a ``seal.key`` payload ``{"v": 1, "key", "epoch", "for"}``; ``ValueError``."""
    key, epoch, holders = data.get("key"), data.get("epoch"), data.get("for")
    sealed.parse_seal_key(key)
    if data.get("v") != 1 or not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        raise ValueError("malformed seal key")
    if not isinstance(holders, list) or not all(isinstance(h, str) for h in holders):
        raise ValueError("malformed seal key")
    return str(key), epoch, set(holders)


class CircleSession:
    def __init__(self, store: CircleStore, me: Identity, circle: CircleRow, roster: Roster | None = None) -> None:
        self.store = store
        self.me = me
        self.circle = circle
        self.roster = roster if roster is not None else store.roster(circle.id)
        self.clock: Callable[[], float] = time.time  # seconds; the envelopes' created_at (a seam for skew tests)

    @property
    def circle_id(self) -> str:
        return self.circle.id

    def refresh(self) -> None:
        self.circle = self.store.circle(self.circle.id)

    # -- who ------------------------------------------------------------------------------------------------

    @property
    def i_am_admin(self) -> bool:
        return self.roster.is_admin(self.me.fingerprint)

    @property
    def i_am_member(self) -> bool:
        m = self.roster.members.get(self.me.fingerprint)
        return m is not None and m.status == "active"

    def others(self) -> list[Member]:
        return [m for m in self.roster.active() if m.member_id != self.me.fingerprint]

    def names_in_use(self, *, besides: Iterable[str | None]) -> list[tuple[str, tuple[str, str]]]:
        """``(member id, (name shown now, name joined under))`` of every active member but ``besides``: what a new
        name must differ from (``names.taken_by`` / ``names.distinct_name``)."""
        current = self.store.display_names(self.circle_id)
        skip = set(besides)
        return [(m.member_id, (current.get(m.member_id, ""), m.name)) for m in self.roster.active()
                if m.member_id not in skip]  # fmt: skip

    def public_of(self, member_id: str) -> PublicIdentity | None:
        m = self.roster.members.get(member_id)
        return m.public if m is not None else None

    def active_publics(self, member_ids: Iterable[str]) -> list[PublicIdentity]:
        """Public keys of the given members that are still active (never a removed or departed member)."""
        out = []
        for mid in member_ids:
            m = self.roster.members.get(mid)
            if m is not None and m.status == "active" and mid != self.me.fingerprint:
                out.append(m.public)
        return out

    # -- sending --------------------------------------------------------------------------------------------

    def seal_and_queue(
        self,
        *,
        kind: str,
        item_id: str,
        revision: int,
        payload: dict[str, Any],
        recipients: Sequence[PublicIdentity],
        roster_head: bytes | None = None,
        pin: str | None = None,
        counter: int | None = None,
    ) -> bytes:
        """Seal an envelope and queue it. ``pin`` fixes the transport seal it goes out under (see
        :meth:`CircleStore.enqueue`); by default, the circle's current key when the sync plans it. ``counter``:
        one already taken from :meth:`CircleStore.next_counter` (a name statement names its own), else the next."""
        if counter is None:
            counter = self.store.next_counter(self.circle_id)
        content_key = None if recipients else os.urandom(32)
        blob = seal(
            self.me, list(recipients), kind=kind, circle_id=self.circle_id, item_id=item_id, revision=revision,
            counter=counter, roster_head=self.roster.head if roster_head is None else roster_head,
            payload=payload_bytes(payload), suite=self.circle.suite, content_key=content_key, clock=self.clock,
        )  # fmt: skip
        self.store.enqueue(self.circle_id, blob_id(blob), blob, author=self.me.fingerprint, counter=counter, seal=pin)
        return blob

    def queue_box(self, blob: bytes, *, pin: str | None = None) -> None:
        self.store.enqueue(self.circle_id, blob_id(blob), blob, author=None, counter=None, seal=pin)

    # -- the transport seal (protocol.md §10.2) -------------------------------------------------------------

    @property
    def sealed(self) -> bool:
        return self.circle.transport.get("seal") is not None

    def rotate_seal(self) -> str:
        """A fresh transport seal key for the circle (admins): turns the seal on for a circle without one, or
        replaces the current key — after a removal, so that the removed member cannot open what comes next.

        The epoch is ``max(current + 1, roster length << 32)``: greater than every epoch this device knew, and greater
        than any epoch an admin could make without knowing this roster state — so a rotation made for a removal
        outranks one made at the same time by an admin who had not seen the removal yet (receivers refuse an epoch
        whose roster part is beyond the roster head its envelope names).

        The key goes end to end (HPKE, in a signed ``seal.key`` envelope) to the active members other than me,
        and nobody else; that envelope, and everything already waiting in the outbox, goes out under the old key
        (or unsealed), which the recipients hold. Its epoch is one more than the current key's, so it wins over
        every key this device knew. What is queued from now on is sealed under the new key. Returns the key."""
        if not self.i_am_admin:
            raise InvalidInputError("Only a facilitator (admin) of this circle can change its seal.")
        before = self.circle.transport
        old = before.get("seal") or ""
        epoch = max(int(before.get("seal_epoch", 0)) + 1, self.roster.seq << EPOCH_ROSTER_SHIFT)
        key = sealed.new_seal_key()
        self.store.pin_unsent(self.circle_id, old)
        self.send_seal_key(key, epoch, self.others(), holders={self.me.fingerprint}, pin=old)
        self.store.update_circle(self.circle_id, transport=sealed.install_key(before, key, epoch))
        self.refresh()
        return key

    def send_seal_key(
        self, key: str, epoch: int, to: Sequence[Member], *, holders: Iterable[str], pin: str
    ) -> None:
        """Queue a ``seal.key`` envelope carrying ``key`` to the members ``to`` (end to end), naming everyone known
        to hold it (``holders`` and ``to``), under the transport seal ``pin``."""
        if not to:
            return
        names = sorted({*holders, *(m.member_id for m in to)})
        self.seal_and_queue(
            kind=SEAL_KIND, item_id=new_id(), revision=epoch, payload={"v": 1, "key": key, "epoch": epoch,
            "for": names}, recipients=[m.public for m in to], pin=pin,
        )  # fmt: skip

    def keyring(self) -> dict[str, Any] | None:
        """The circle's keyring as a welcome carries it (``None`` if unsealed)."""
        t = self.circle.transport
        if t.get("seal") is None:
            return None
        return {"key": t["seal"], "epoch": int(t.get("seal_epoch", 0)), "previous": list(t.get("seal_previous", []))}

    # -- roster changes (admins) ----------------------------------------------------------------------------

    def append_op(
        self, op_type: str, subject: str, *, extra_recipients: Sequence[PublicIdentity] = (), **fields: Any
    ) -> SignedOp:
        """Sign, apply, persist and send one roster operation (wrapped to every active member after it)."""
        if not self.i_am_admin and op_type != "create":
            raise InvalidInputError("Only a facilitator (admin) of this circle can change who is in it.")
        prev_head = self.roster.head
        signed = make_op(
            self.me, circle=self.circle_id, seq=self.roster.seq + 1, prev=prev_head.hex(), type=op_type,
            subject=subject, at=now_ms(), **fields,
        )  # fmt: skip
        self.roster.apply(signed)
        self.store.save_roster_op(self.roster, signed)
        recipients = [m.public for m in self.roster.active() if m.member_id != self.me.fingerprint]
        recipients += [p for p in extra_recipients if p not in recipients]
        if recipients:
            self.seal_and_queue(
                kind="roster", item_id="roster", revision=self.roster.seq, payload=signed.to_json(),
                recipients=recipients, roster_head=prev_head,
            )  # fmt: skip
        return signed

    def admit(self, request: invites.JoinRequest, secret: bytes, *, replaces: str | None = None) -> None:
        """Add the joiner to the roster, and send them a welcome with the circle name and the whole roster.

        With ``replaces`` (an invite made for a member's new key), the old key is retired in the same operation.
        """
        extra: dict[str, Any] = {}
        old = self.roster.members.get(replaces or "")
        if old is not None:
            extra = {"replaces": old.member_id, "watermark": self.store.max_counter(self.circle_id, old.member_id)}
        # A name another member goes by (now, or joined under) gets a number: nobody joins as someone else.
        others = self.names_in_use(besides=(request.member_id, replaces))
        name = names.distinct_name(request.name, others) if request.name else request.name
        # The welcome's counter is named in the signed ``add``: only the joiner ever opens the welcome, and a
        # counter the others never saw used would stay open to this admin's signature after a removal.
        welcome_counter = self.store.next_counter(self.circle_id)
        self.append_op(
            "add", request.member_id, key=b64e(request.public.to_bytes()), role="member", name=name,
            welcome=welcome_counter, **extra,
        )  # fmt: skip
        welcome = seal(
            self.me, [request.public], kind="welcome", circle_id=self.circle_id, item_id=request.invite_id,
            revision=self.roster.seq, counter=welcome_counter, roster_head=self.roster.head,
            payload=payload_bytes({"circle_name": self.roster.circle_name, "suite": self.circle.suite,
                                   "roster": [op.to_json() for op in self.roster.ops], "seal": self.keyring(),
                                   "names": self.name_statements()}),
            suite=self.circle.suite,
        )  # fmt: skip
        # The welcome goes out under the seal the invite code carried (the only key the joiner holds), which may
        # have been rotated since; the join request came in under it, so nothing new is shown to its holders.
        row = self.store.conn.execute("SELECT seal FROM invites WHERE id = ?", (request.invite_id,)).fetchone()
        self.queue_box(invites.make_welcome(secret, self.me, welcome), pin=row[0] if row is not None else None)
        self.store.conn.execute(
            "UPDATE invites SET used_by = ?, used_at = ? WHERE id = ?", (request.member_id, now_ms(), request.invite_id)
        )
        self.store.conn.execute(
            "UPDATE join_requests SET state = 'admitted' WHERE circle_id = ? AND member_id = ?",
            (self.circle_id, request.member_id),
        )

    # -- display names (companion/circles/names.py) ---------------------------------------------------------

    def name_statements(self) -> list[dict[str, str]]:
        """The signed name statements of the active members, as a welcome carries them (the newcomer checks each
        against the member's key from the roster, so the admin relays them but cannot change them)."""
        active = {m.member_id for m in self.roster.active()}
        return list(self.store.name_statements(self.circle_id, active).values())

    def send_name(self, statement: dict[str, str], to: Sequence[Member], *, counter: int | None = None) -> None:
        """Queue my signed name ``statement`` (kind ``name``) to the members ``to``."""
        if to:
            self.seal_and_queue(kind=names.KIND_NAME, item_id=new_id(), revision=1, payload=statement,
                                recipients=[m.public for m in to], counter=counter)  # fmt: skip

    # -- items ----------------------------------------------------------------------------------------------

    def audience_of(self, item_id: str) -> tuple[str, list[str]] | None:
        """``(author, audience member ids)`` of an item I shared or received; ``None`` if unknown."""
        row = self.store.conn.execute(
            "SELECT audience FROM shares WHERE item_id = ? AND circle_id = ? AND state = 'shared'",
            (item_id, self.circle_id),
        ).fetchone()
        if row is not None:
            aud = json.loads(row[0])
            return self.me.fingerprint, list(aud) if aud is not None else [m.member_id for m in self.others()]
        row = self.store.conn.execute(
            "SELECT author, payload FROM inbox WHERE item_id = ? AND circle_id = ?", (item_id, self.circle_id)
        ).fetchone()
        if row is None:
            return None
        payload = json.loads(row[1])
        audience = payload.get("audience")
        if not isinstance(audience, list):
            audience = [m.member_id for m in self.roster.active()]
        return row[0], [str(a) for a in audience]
