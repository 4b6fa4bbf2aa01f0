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

from companion.circles import invites
from companion.circles.roster import Member, Roster, SignedOp, b64e, canonical, make_op
from companion.circles.store import CircleRow, CircleStore, blob_id, now_ms
from companion.crypto import Identity, PublicIdentity, seal
from companion.crypto.derive import b32
from companion.errors import InvalidInputError


def new_id() -> str:
    """A random 128-bit id (lowercase base32, 26 characters)."""
    return b32(os.urandom(16))


def payload_bytes(data: dict[str, Any]) -> bytes:
    return canonical(data)


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
    ) -> bytes:
        counter = self.store.next_counter(self.circle_id)
        content_key = None if recipients else os.urandom(32)
        blob = seal(
            self.me, list(recipients), kind=kind, circle_id=self.circle_id, item_id=item_id, revision=revision,
            counter=counter, roster_head=self.roster.head if roster_head is None else roster_head,
            payload=payload_bytes(payload), suite=self.circle.suite, content_key=content_key, clock=self.clock,
        )  # fmt: skip
        self.store.enqueue(self.circle_id, blob_id(blob), blob, author=self.me.fingerprint, counter=counter)
        return blob

    def queue_box(self, blob: bytes) -> None:
        self.store.enqueue(self.circle_id, blob_id(blob), blob, author=None, counter=None)

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
        self.append_op(
            "add", request.member_id, key=b64e(request.public.to_bytes()), role="member", name=request.name, **extra
        )
        welcome = seal(
            self.me, [request.public], kind="welcome", circle_id=self.circle_id, item_id=request.invite_id,
            revision=self.roster.seq, counter=self.store.next_counter(self.circle_id), roster_head=self.roster.head,
            payload=payload_bytes({"circle_name": self.roster.circle_name, "suite": self.circle.suite,
                                   "roster": [op.to_json() for op in self.roster.ops]}),
            suite=self.circle.suite,
        )  # fmt: skip
        self.queue_box(invites.make_welcome(secret, self.me, welcome))
        self.store.conn.execute(
            "UPDATE invites SET used_by = ?, used_at = ? WHERE id = ?", (request.member_id, now_ms(), request.invite_id)
        )
        self.store.conn.execute(
            "UPDATE join_requests SET state = 'admitted' WHERE circle_id = ? AND member_id = ?",
            (self.circle_id, request.member_id),
        )

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
