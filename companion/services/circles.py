"""Circle verbs for the UI and the command line: identity, circles, invitations, sharing, sync, inbox.

Every mutating method returns :class:`~companion.services.Changed` with ``Changes.CIRCLES`` and/or
``Changes.INBOX``. Circles and members are named by id (or an unambiguous id prefix or name, see
:meth:`CirclesService.find_circle` / :meth:`find_member`). Nothing here touches the network except
:meth:`CirclesService.sync`, :meth:`~CirclesService.sync_exchange` (the network phase of a split sync, see
``docs/sync-engine.md``) and :meth:`leave` (which tries to deliver the notice at once unless told not to).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from companion.attendance.store import AttendanceBook, CheckIn
from companion.circles import checkins, invites, names
from companion.circles.checkins import AnnouncedMeeting, Announcement, SentCheckIn
from companion.circles.model import (
    CircleInfo,
    IdentityInfo,
    InboxItem,
    InviteInfo,
    JoinRequestInfo,
    MemberInfo,
    RejectionInfo,
    ReplyInfo,
    SafetyNumber,
    ShareInfo,
    SharePreview,
)
from companion.circles.roster import MAX_NAME, Roster, b64e, leave_notice
from companion.circles.session import CircleSession, new_id, payload_bytes
from companion.circles.store import CircleRow, CircleStore, now_ms
from companion.crypto import (
    DEFAULT_SUITE,
    MAX_PAYLOAD,
    MAX_RECIPIENTS,
    SUITE_NAMES,
    Identity,
    PublicIdentity,
    check_safety_number,
    safety_number,
)
from companion.crypto import safety_number_qr as _sn_qr
from companion.crypto.derive import b32
from companion.errors import CompanionError, InvalidInputError, NotFoundError
from companion.journal.entries import Entry, Journal, clean_text
from companion.services import Changed, Changes
from companion.sync.engine import SyncEngine, SyncExchange, SyncPlan, SyncReport, exchange, purge_expired
from companion.sync.transports import Transport, check_settings, describe, make_transport, new_seal_key
from companion.sync.transports.base import Pulled
from companion.sync.transports.sealed import KEYRING_FIELDS, invite_settings

if TYPE_CHECKING:
    from companion.services import Companion

TransportFactory = Callable[[dict[str, Any], str], Transport]

REMOVED_NOTE = (
    "Removed: nothing shared from now on is sent to them, but what they already received stays on their device."
)
CIRCLE_NOTES = {
    "joining": "Waiting to be admitted: the facilitator's app lets you in when it next syncs; then sync again.",
    "removed": "You were removed from this circle. Nothing new reaches you; what you received before stays in your "
    "journal until it expires or you delete it.",
    "left": "You left this circle. Nothing new reaches you; what you received before stays in your journal until it "
    "expires or you delete it.",
}
REPLACED_NOTE = "An earlier key of someone in this circle; nothing new is sent to it."
KEY_CHANGED_NOTE = (
    "Their keys changed (a new device or lost keys), so they are unverified again. Compare safety numbers before "
    "sharing anything sensitive."
)
LEFT_NOTE = "Left the circle: nothing new is sent to them; what they already received stays on their device."


def _default_factory(settings: dict[str, Any], writer_id: str) -> Transport:
    return make_transport(settings, writer_id=writer_id)


@dataclass(frozen=True)
class SyncTarget:
    """A circle a sync visits (:meth:`CirclesService.sync_targets`). ``transport`` may hold a capability."""

    circle_id: str
    name: str
    state: str
    transport: dict[str, Any] = field(repr=False)
    writer_id: str

    @property
    def relay(self) -> bool:
        return self.transport.get("kind") == "relay"


class _NoTransport(Transport):
    """The engine of a vault-only phase (plan, apply) has no transport: using one there is a bug."""

    def push(self, blobs: Sequence[bytes]) -> None:
        raise AssertionError("no network in a vault phase")

    def pull(self, cursor: str | None, limit: int = 1000) -> Pulled:
        raise AssertionError("no network in a vault phase")


_NO_TRANSPORT = _NoTransport()


def _sync_changes(report: SyncReport) -> Changes:
    changes = Changes.NONE
    if "inbox" in report.changed:
        changes |= Changes.INBOX
    if "meetings" in report.changed:
        changes |= Changes.MEETINGS
    if report.changed - {"inbox", "meetings"} or report.joined or report.removed:
        changes |= Changes.CIRCLES
    return changes


def _name(text: str, what: str = "A display name") -> str:
    value = names.normalize(text)  # the same folding as a new name (names.clean_name)
    if len(value) > MAX_NAME:
        raise InvalidInputError(f"{what} can be at most {MAX_NAME} characters long.")
    return value


class CirclesService:
    """Seams for tests and the relay hook-up: ``transport_factory(settings, writer_id)`` and ``clock()``."""

    def __init__(self, app: Companion) -> None:
        self._app = app
        self._vault = app.vault
        self._store = CircleStore(self._vault)
        self._journal = Journal(self._vault)
        self.transport_factory: TransportFactory = _default_factory
        self.clock: Callable[[], float] = time.time
        self._me: Identity | None = None
        self._rosters: dict[str, Roster] = {}  # parsed and verified roster per circle, keyed by its head

    # -- identity ------------------------------------------------------------------------------------------

    def identity(self) -> IdentityInfo:
        """This journal's sharing identity (made on first use: an Ed25519 key and two HPKE keys)."""
        me = self._identity()
        return IdentityInfo(member_id=me.fingerprint, fingerprint=me.fingerprint)

    def _identity(self) -> Identity:
        if self._me is None:
            self._me = self._store.identity()
        return self._me

    # -- lookups -------------------------------------------------------------------------------------------

    def find_circle(self, ref: str) -> str:
        """A circle id from an id, an id prefix (4+ characters) or a circle name; raises if none or ambiguous."""
        rows = self._store.circles()
        for r in rows:
            if r.id == ref:
                return r.id
        hits = [
            r
            for r in rows
            if (len(ref) >= 4 and r.id.startswith(ref)) or (r.name and r.name.casefold() == ref.casefold())
        ]
        if len(hits) == 1:
            return hits[0].id
        if not hits:
            raise NotFoundError(f"There is no circle called “{ref}”. See your circles with: companion circle list")
        raise InvalidInputError(f"More than one circle matches “{ref}”; use its id.")

    def find_member(self, circle: str, ref: str) -> str:
        cid = self.find_circle(circle)
        rows = self._store.member_rows(cid)
        for r in rows:
            if r[0] == ref:
                return str(r[0])
        hits = [
            r for r in rows if (len(ref) >= 4 and r[0].startswith(ref.lower())) or r[2].casefold() == ref.casefold()
        ]
        active = [r for r in hits if r[4] == "active"]
        if len(active) == 1 or len(hits) == 1:
            return str((active or hits)[0][0])
        if not hits:
            raise NotFoundError(f"Nobody called “{ref}” is in this circle. See who is with: companion circle members")
        raise InvalidInputError(f"More than one member matches “{ref}”; use their id.")

    def _session(self, circle: str) -> CircleSession:
        cid = self.find_circle(circle)
        row = self._store.circle(cid)
        roster = self._rosters.get(cid)
        if roster is None or roster.head != row.roster_head:  # the head pins the whole log: same head, same roster
            roster = self._rosters[cid] = self._store.roster(cid)
        s = CircleSession(self._store, self._identity(), row, roster)
        s.clock = self.clock
        return s

    def _active_session(self, circle: str) -> CircleSession:
        s = self._session(circle)
        if s.circle.state == "joining":
            raise InvalidInputError(
                "You have not been admitted to this circle yet. Sync again once the facilitator "
                "has had a chance to let you in."
            )
        if s.circle.state in ("removed", "left"):
            raise InvalidInputError("You are no longer in this circle, so nothing can be sent to it.")
        return s

    # -- circles -------------------------------------------------------------------------------------------

    def create_circle(
        self,
        name: str,
        *,
        folder: str | os.PathLike[str] | None = None,
        relay: dict[str, Any] | None = None,
        display_name: str = "",
        suite: str = DEFAULT_SUITE,
    ) -> Changed[CircleInfo]:
        """Create a circle with me as its first admin. Give a shared ``folder``, or ``relay`` settings
        (``{"url", "mailbox", "capability"}``, e.g. from ``relay.new_mailbox(url).to_dict()``).

        The circle gets a fresh transport seal key (``"seal"`` in its settings, see ``transports/sealed.py``), so
        the folder or relay only ever holds opaque ciphertext; invite codes carry it to joiners."""
        name = _name(name, "A circle name")
        if not name:
            raise InvalidInputError("Give the circle a name (only members ever see it).")
        if suite not in SUITE_NAMES:
            raise InvalidInputError(f"Unknown suite {suite!r}; choose one of {', '.join(SUITE_NAMES)}.")
        if (folder is None) == (relay is None):
            raise InvalidInputError("Choose where the circle meets: a shared folder or a relay.")
        if folder is not None:
            path = os.path.abspath(os.path.expanduser(os.fspath(folder)))
            if not os.path.isdir(path):
                raise InvalidInputError(
                    f"The folder {path} does not exist. Create it (or let your file sync create it) first."
                )
            settings: dict[str, Any] = {"kind": "folder", "path": path}
        else:
            settings = check_settings({"kind": "relay", **(relay or {})})
        settings.setdefault("seal", new_seal_key())
        me = self._identity()
        cid = new_id()
        row = CircleRow(cid, name, _name(display_name), settings, new_id(), suite, "active", 0, b"", None, None,
                        None, None, now_ms(), None)  # fmt: skip
        with self._vault.transaction():
            self._store.insert_circle(row)
            s = CircleSession(self._store, me, row)
            s.append_op("create", me.fingerprint, key=b64e(me.public.to_bytes()), name=row.my_name, circle_name=name,
                        suite=suite)  # fmt: skip
        return Changed(self.get_circle(cid), Changes.CIRCLES)

    def list_circles(self) -> list[CircleInfo]:
        return [self._info(r) for r in self._store.circles()]

    def get_circle(self, circle: str) -> CircleInfo:
        return self._info(self._store.circle(self.find_circle(circle)))

    def _info(self, r: CircleRow) -> CircleInfo:
        me = self._identity()
        rows = self._store.member_rows(r.id)
        role = next((m[3] for m in rows if m[0] == me.fingerprint and m[4] == "active"), "")
        pending = self._store.conn.execute(
            "SELECT count(*) FROM join_requests WHERE circle_id = ? AND state = 'pending'", (r.id,)
        ).fetchone()[0]
        return CircleInfo(
            id=r.id, name=r.name, my_name=r.my_name, state=r.state, role=role, transport=describe(r.transport),
            members=sum(1 for m in rows if m[4] == "active"), pending_requests=int(pending),
            outbox=self._store.outbox_count(r.id), last_sync=r.last_sync, roster_seq=r.roster_seq,
            note=CIRCLE_NOTES.get(r.state, ""), sealed=r.transport.get("seal") is not None,
        )  # fmt: skip

    def set_transport(self, circle: str, settings: dict[str, Any]) -> Changed[CircleInfo]:
        """Point this device at the circle's folder or relay (a synced folder often sits elsewhere per machine).
        The circle's seal keys are circle-wide, not per device: these settings' own are ignored and the circle's
        keyring is kept (it changes only by a rotation, end to end)."""
        cid = self.find_circle(circle)
        settings = {k: v for k, v in check_settings(settings).items() if k not in KEYRING_FIELDS}
        old = self._store.circle(cid).transport
        settings.update({k: old[k] for k in KEYRING_FIELDS if k in old})
        with self._vault.transaction():
            self._store.update_circle(cid, transport=settings)
        return Changed(self.get_circle(cid), Changes.CIRCLES)

    # -- invitations ---------------------------------------------------------------------------------------

    def invite(
        self,
        circle: str,
        *,
        approve: bool = False,
        valid_days: float = invites.DEFAULT_VALID_DAYS,
        replaces: str | None = None,
    ) -> Changed[InviteInfo]:
        """A one-time invite code, valid ``valid_days``. With ``approve``, joiners wait for :meth:`approve`.

        ``replaces`` (a member) makes the invite for that person's new key (a new device, lost keys): on admission
        their old key is retired, and everyone sees them as unverified with a "key changed" warning.
        """
        s = self._active_session(circle)
        if not s.i_am_admin:
            raise InvalidInputError("Only a facilitator (admin) of this circle can invite people.")
        old = self.find_member(s.circle_id, replaces) if replaces else None
        if len(s.roster.active()) >= MAX_RECIPIENTS + 1:
            raise InvalidInputError(f"A circle can have at most {MAX_RECIPIENTS + 1} members.")
        if not 0 < valid_days <= 90:
            raise InvalidInputError("An invite can be valid for up to 90 days.")
        secret = os.urandom(32)
        created = now_ms()
        code = invites.InviteCode(  # with the current seal key only: the welcome brings the rest
            s.circle_id, invite_settings(s.circle.transport), s.me.fingerprint, secret,
            int(created + valid_days * 86_400_000),
        )  # fmt: skip
        with self._vault.transaction() as conn:
            conn.execute(  # the seal the code carries: its welcome goes out under it, even after a rotation
                "INSERT INTO invites(id, circle_id, secret, approve, created_at, expires_at, replaces, seal) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (code.invite_id, s.circle_id, secret, int(approve), created, code.expires_at, old,
                 s.circle.transport.get("seal") or ""),
            )  # fmt: skip
        text = code.encode()
        return Changed(InviteInfo(s.circle_id, code.invite_id, text, text, code.expires_at, approve), Changes.CIRCLES)

    def join(
        self, code: str, *, display_name: str = "", folder: str | os.PathLike[str] | None = None
    ) -> Changed[CircleInfo]:
        """Answer an invite: queue a join request (sent on the next :meth:`sync`). ``folder`` overrides the
        invite's folder path when the shared folder sits elsewhere on this machine."""
        invite = invites.InviteCode.decode(code)
        if invite.expires_at < now_ms():
            raise InvalidInputError("This invite has expired. Ask the facilitator for a new one.")
        settings = check_settings(invite.transport)
        if folder is not None:
            local = {"kind": "folder", "path": os.path.abspath(os.path.expanduser(os.fspath(folder)))}
            settings = {**local, **{k: settings[k] for k in KEYRING_FIELDS if k in settings}}
        me = self._identity()
        existing = {r.id: r for r in self._store.circles()}
        if invite.circle_id in existing:
            raise InvalidInputError("You are already in this circle (or waiting to be admitted).")
        name = _name(display_name)
        row = CircleRow(invite.circle_id, "", name, settings, new_id(), DEFAULT_SUITE, "joining", 0, b"", None,
                        invite.invite_id, invite.secret, invite.inviter, now_ms(), None)  # fmt: skip
        with self._vault.transaction():
            self._store.insert_circle(row)
            CircleSession(self._store, me, row, None).queue_box(invites.make_join_request(me, invite, name))
        return Changed(self.get_circle(invite.circle_id), Changes.CIRCLES)

    def requests(self, circle: str) -> list[JoinRequestInfo]:
        cid = self.find_circle(circle)
        rows = self._store.conn.execute(
            "SELECT member_id, name, state, received_at FROM join_requests WHERE circle_id = ? ORDER BY received_at",
            (cid,),
        ).fetchall()
        return [JoinRequestInfo(cid, r[0], r[1], r[2], r[3]) for r in rows]

    def _request(self, s: CircleSession, ref: str) -> tuple[Any, ...]:
        rows = self._store.conn.execute(
            "SELECT member_id, name, public, invite_id FROM join_requests WHERE circle_id = ? AND state = 'pending'",
            (s.circle_id,),
        ).fetchall()
        hits = [r for r in rows if r[0] == ref or (len(ref) >= 4 and r[0].startswith(ref)) or r[1] == ref]
        if len(hits) != 1:
            raise NotFoundError(f"There is no single waiting request from “{ref}”. See them with: circle requests")
        return tuple(hits[0])

    def approve(self, circle: str, member: str) -> Changed[MemberInfo]:
        """Admit a waiting joiner (made with ``approve=True``); they are welcomed on the next sync."""
        s = self._active_session(circle)
        mid, name, public, iid = self._request(s, member)
        row = self._store.conn.execute("SELECT secret, replaces FROM invites WHERE id = ?", (iid,)).fetchone()
        if row is None:
            raise NotFoundError("The invite this request answered is gone.")
        request = invites.JoinRequest(s.circle_id, iid, PublicIdentity.from_bytes(bytes(public)), name, 0)
        with self._vault.transaction():
            s.admit(request, bytes(row[0]), replaces=row[1])
            self._announce_to_newcomer(s)
        return Changed(self._member(s.circle_id, mid), Changes.CIRCLES)

    def decline(self, circle: str, member: str) -> Changed[None]:
        s = self._active_session(circle)
        mid, _, _, iid = self._request(s, member)
        with self._vault.transaction() as conn:
            conn.execute(
                "UPDATE join_requests SET state = 'declined' WHERE circle_id = ? AND member_id = ?", (s.circle_id, mid)
            )
            conn.execute("UPDATE invites SET used_by = ?, used_at = ? WHERE id = ?", (mid, now_ms(), iid))
        return Changed(None, Changes.CIRCLES)

    # -- members -------------------------------------------------------------------------------------------

    def members(self, circle: str) -> list[MemberInfo]:
        cid = self.find_circle(circle)
        me = self._identity().fingerprint
        return [self._member_from(r, me) for r in self._store.member_rows(cid)]

    def _member(self, cid: str, member_id: str) -> MemberInfo:
        me = self._identity().fingerprint
        for r in self._store.member_rows(cid):
            if r[0] == member_id:
                return self._member_from(r, me)
        raise NotFoundError("There is no such member in this circle.")

    @staticmethod
    def _member_from(r: Sequence[Any], me: str) -> MemberInfo:
        note = {"removed": REMOVED_NOTE, "left": LEFT_NOTE, "replaced": REPLACED_NOTE}.get(r[4], "")
        if r[6]:
            note = KEY_CHANGED_NOTE
        joined_as = r[10] if r[10] != r[2] else ""
        return MemberInfo(member_id=r[0], name=r[2], role=r[3], status=r[4], verified=bool(r[5]),
                          key_changed=bool(r[6]), is_me=r[0] == me, note=note, joined_as=joined_as)  # fmt: skip

    def remove_member(self, circle: str, member: str) -> Changed[MemberInfo]:
        """Remove someone. Later items are never wrapped to them; what they already received stays with them.

        In a sealed circle the transport seal key is rotated at once (:meth:`CircleSession.rotate_seal`): the new
        key goes end to end to the remaining members only, so the removed member, who keeps the old key, cannot
        open what is sent after the removal, headers included (protocol.md §10.2)."""
        s = self._active_session(circle)
        mid = self.find_member(circle, member)
        if mid == s.me.fingerprint:
            raise InvalidInputError("To leave the circle yourself, use leave.")
        m = s.roster.members.get(mid)
        if m is None or m.status != "active":
            raise InvalidInputError("They are not in this circle any more.")
        with self._vault.transaction():
            s.append_op("remove", mid, watermark=self._store.max_counter(s.circle_id, mid),
                        extra_recipients=[m.public])  # fmt: skip
            if s.sealed:
                s.rotate_seal()
        return Changed(self._member(s.circle_id, mid), Changes.CIRCLES)

    def seal_circle(self, circle: str) -> Changed[CircleInfo]:
        """Admins: turn the transport seal on for a circle made before it existed, or, for a sealed circle, rotate
        its key now (e.g. after a device was lost). The new key reaches the other members end to end on the next
        sync; from then on the folder or relay sees only opaque blobs from this device, and from each member once
        their app has the key. Members whose app predates the seal cannot read sealed blobs: seal a circle only
        when everyone runs a version that knows it (protocol.md §10.2)."""
        s = self._active_session(circle)
        if not s.i_am_admin:
            raise InvalidInputError("Only a facilitator (admin) of this circle can seal it.")
        with self._vault.transaction():
            s.rotate_seal()
        return Changed(self.get_circle(s.circle_id), Changes.CIRCLES)

    def promote(self, circle: str, member: str) -> Changed[MemberInfo]:
        s = self._active_session(circle)
        mid = self.find_member(circle, member)
        with self._vault.transaction():
            s.append_op("promote", mid)
        return Changed(self._member(s.circle_id, mid), Changes.CIRCLES)

    def leave(self, circle: str, *, deliver: bool = True) -> Changed[CircleInfo]:
        """Leave: tell the others (an admin records it in the roster), then stop syncing this circle. With
        ``deliver`` the notice is sent at once, in this call; without, it waits in the outbox for the next sync
        (the window's, which does its network I/O off the vault worker)."""
        s = self._active_session(circle)
        admins = [m for m in s.others() if m.role == "admin"]
        if s.i_am_admin and not admins and s.others():
            raise InvalidInputError(
                "You are the circle's only facilitator. Make someone else a facilitator first (circle promote), "
                "so the circle can still admit and remove people."
            )
        with self._vault.transaction():
            if s.i_am_admin:
                s.append_op(
                    "leave", s.me.fingerprint, watermark=self._store.max_counter(s.circle_id, s.me.fingerprint) + 1
                )
            else:
                s.seal_and_queue(kind="leave", item_id=new_id(), revision=1,
                                 payload=leave_notice(s.me, s.circle_id),
                                 recipients=[m.public for m in s.others()])  # fmt: skip
            self._store.update_circle(s.circle_id, state="left")
        if deliver:
            engine = self._engine(self._session(s.circle_id))
            try:
                engine.sync()  # pushes the notice now if the folder or relay is there
            except CompanionError:
                pass  # it stays in the outbox; a later sync sends it
            finally:
                engine.transport.close()
        return Changed(self.get_circle(s.circle_id), Changes.CIRCLES)

    def safety_number(self, circle: str, member: str) -> SafetyNumber:
        """The 60-digit number to compare with this member in person or on a call."""
        s = self._session(circle)
        mid = self.find_member(circle, member)
        pub = s.public_of(mid)
        if pub is None:
            raise NotFoundError("There is no such member in this circle.")
        return SafetyNumber(mid, safety_number(s.me.public, pub), _sn_qr(s.me.public, pub))

    def verify_member(self, circle: str, member: str, number: str) -> Changed[MemberInfo]:
        """Mark a member verified if ``number`` (60 digits, any spacing, or the QR form) matches."""
        s = self._session(circle)
        mid = self.find_member(circle, member)
        pub = s.public_of(mid)
        if pub is None:
            raise NotFoundError("There is no such member in this circle.")
        if not check_safety_number(s.me.public, pub, number):
            raise InvalidInputError(
                "That safety number does not match. Compare it again digit by digit; if it still differs, you may "
                "not have this person's real keys — do not share anything sensitive until you know why."
            )
        with self._vault.transaction():
            self._store.set_verified(pub, True)
        return Changed(self._member(s.circle_id, mid), Changes.CIRCLES)

    # -- my display name in a circle (companion/circles/names.py) -------------------------------------------

    def set_my_name(self, circle: str, name: str) -> Changed[MemberInfo]:
        """Change how I am known in this circle (admins and members alike). Sent on the next sync to the circle's
        other active members as a statement I sign, and carried in later welcomes; the newest one wins on every
        device. The roster keeps the name I joined under, and members' screens show it beside the new one.

        Refused if it is empty, too long, or a name another member of the circle goes by (now, or the one they
        joined under): a new name must not let anyone pass for someone else."""
        s = self._active_session(circle)
        value = names.clean_name(name)
        current = self._store.display_names(s.circle_id)
        if value == current.get(s.me.fingerprint):
            return Changed(self._member(s.circle_id, s.me.fingerprint), Changes.NONE)
        others = s.names_in_use(besides=(s.me.fingerprint,))
        if names.taken_by(value, others) is not None:
            raise InvalidInputError(
                f"Someone else in this circle goes by “{value}” (or joined under it). Choose a name the others "
                "can tell apart from theirs."
            )
        with self._vault.transaction():
            counter = self._store.next_counter(s.circle_id)
            statement = names.make_statement(s.me, s.circle_id, value, counter)
            s.send_name(statement, s.others(), counter=counter)
            self._store.set_name(s.circle_id, s.me.fingerprint, value, counter, statement)
            self._store.update_circle(s.circle_id, my_name=value)
        return Changed(self._member(s.circle_id, s.me.fingerprint), Changes.CIRCLES)

    # -- availability ("available to support" / "taking a break") --------------------------------------------

    def set_availability(self, circle: str, available: bool) -> Changed[None]:
        """Tell the circle whether I am available to support or taking a break (sent on the next sync, sealed
        to the active members; the newest one wins)."""
        s = self._active_session(circle)
        recipients = [m.public for m in s.others()]
        with self._vault.transaction() as conn:
            if recipients:
                s.seal_and_queue(kind="status", item_id=new_id(), revision=1, payload={"available": bool(available)},
                                 recipients=recipients)  # fmt: skip
            conn.execute(  # my own row: my envelopes never come back to me, so its counter does not matter
                "INSERT INTO member_status(circle_id, member_id, available, counter, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(circle_id, member_id) DO UPDATE SET available = excluded.available, "
                "counter = excluded.counter, at = excluded.at",
                (s.circle_id, s.me.fingerprint, int(bool(available)), 0, now_ms()),
            )
        return Changed(None, Changes.CIRCLES)

    def availability(self, circle: str) -> dict[str, bool]:
        """``{member id: available}`` for the members (me included) who said; no entry means not said."""
        cid = self.find_circle(circle)
        rows = self._store.conn.execute(
            "SELECT member_id, available FROM member_status WHERE circle_id = ?", (cid,)
        ).fetchall()
        return {str(r[0]): bool(r[1]) for r in rows}

    # -- sharing -------------------------------------------------------------------------------------------

    def _plan(self, entry_id: int, circle: str, to: Sequence[str], warning: str, replies: bool,
              expires_days: float | None, excerpt: str | None, include_mood_tags: bool
              ) -> tuple[CircleSession, Entry, SharePreview, dict[str, Any], Any]:  # fmt: skip
        s = self._active_session(circle)
        entry = self._journal.get(entry_id)
        if entry.deleted_at is not None:
            raise InvalidInputError("This entry is in the trash; restore it before sharing.")
        if to:
            ids = []
            for ref in to:
                mid = self.find_member(s.circle_id, ref)
                m = s.roster.members.get(mid)
                if m is None or m.status != "active":
                    raise InvalidInputError(f"“{ref}” is no longer in this circle.")
                if mid == s.me.fingerprint:
                    continue
                ids.append(mid)
            audience = sorted(set(ids))
        else:
            audience = sorted(m.member_id for m in s.others())
        if not audience:
            raise InvalidInputError("There is nobody to share with yet: invite someone to the circle first.")
        if expires_days is not None and not 0 < expires_days <= 3650:
            raise InvalidInputError("Expiry is a number of days between 1 and 3650.")
        if excerpt is not None:
            excerpt = clean_text(excerpt).strip()
            if not excerpt:
                raise InvalidInputError("The excerpt is empty.")
        options = {"whole_circle": not to, "warning": clean_text(warning).strip(), "replies": bool(replies),
                   "expires_days": expires_days, "excerpt": excerpt is not None, "excerpt_text": excerpt,
                   "include_mood_tags": bool(include_mood_tags)}  # fmt: skip
        payload: dict[str, Any] = {
            "title": entry.title, "text": excerpt if excerpt is not None else entry.body,
            "excerpt": excerpt is not None, "warning": options["warning"], "replies": bool(replies),
            "expires_in_ms": int(expires_days * 86_400_000) if expires_days is not None else None,
            "mood": entry.mood if include_mood_tags else None,
            "tags": list(entry.tags) if include_mood_tags else [],
            "audience": sorted({*audience, s.me.fingerprint}),
        }  # fmt: skip
        if len(payload_bytes(payload)) > MAX_PAYLOAD:
            raise InvalidInputError("This entry is too long to share (over 4 MB). Share an excerpt instead.")
        existing = self._store.conn.execute(
            "SELECT item_id, revision FROM shares WHERE entry_uid = ? AND circle_id = ? AND state = 'shared'",
            (entry.uid, s.circle_id),
        ).fetchone()
        item_id, revision = (existing[0], existing[1] + 1) if existing else (new_id(), 1)
        shown = self._store.display_names(s.circle_id)
        preview = SharePreview(
            s.circle_id, item_id, revision, [{"member_id": a, "name": shown.get(a, "")} for a in audience], payload
        )
        return s, entry, preview, options, existing

    def preview_share(self, entry_id: int, circle: str, *, to: Sequence[str] = (), warning: str = "",
                      replies: bool = True, expires_days: float | None = None, excerpt: str | None = None,
                      include_mood_tags: bool = False) -> SharePreview:  # fmt: skip
        """Exactly what :meth:`share` with the same arguments would send, and to whom. Sends nothing."""
        return self._plan(entry_id, circle, to, warning, replies, expires_days, excerpt, include_mood_tags)[2]

    def share(self, entry_id: int, circle: str, *, to: Sequence[str] = (), warning: str = "",
              replies: bool = True, expires_days: float | None = None, excerpt: str | None = None,
              include_mood_tags: bool = False) -> Changed[ShareInfo]:  # fmt: skip
        """Share an entry (or an excerpt) with the circle or chosen members; sent on the next sync.

        Sharing an entry already shared to this circle sends its next revision (recipients replace the earlier
        one). Options: content ``warning``, ``replies`` welcome or not, ``expires_days``, ``include_mood_tags``.
        """
        s, entry, preview, options, existing = self._plan(entry_id, circle, to, warning, replies, expires_days,
                                                          excerpt, include_mood_tags)  # fmt: skip
        recipients = s.active_publics(r["member_id"] for r in preview.recipients)
        audience = [r["member_id"] for r in preview.recipients]
        with self._vault.transaction() as conn:
            s.seal_and_queue(kind="item", item_id=preview.item_id, revision=preview.revision,
                             payload=preview.payload, recipients=recipients)  # fmt: skip
            if existing:
                conn.execute(
                    "UPDATE shares SET revision = ?, audience = ?, options = ?, digest = ?, updated_at = ? "
                    "WHERE item_id = ?",
                    (preview.revision, json.dumps(audience), json.dumps(options), _digest(entry), now_ms(),
                     preview.item_id),
                )  # fmt: skip
            else:
                conn.execute(
                    "INSERT INTO shares(item_id, circle_id, entry_uid, revision, audience, options, digest, state, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'shared', ?, ?)",
                    (preview.item_id, s.circle_id, entry.uid, preview.revision, json.dumps(audience),
                     json.dumps(options), _digest(entry), now_ms(), now_ms()),
                )  # fmt: skip
        return Changed(ShareInfo(entry.id, s.circle_id, preview.item_id, preview.revision, "shared", audience,
                                 False, options), Changes.CIRCLES)  # fmt: skip

    def shares_of(self, entry_id: int) -> list[ShareInfo]:
        """Where this entry is shared, and whether it changed since (so the UI can offer to send the edit)."""
        entry = self._journal.get(entry_id)
        rows = self._store.conn.execute(
            "SELECT circle_id, item_id, revision, state, audience, digest, options FROM shares WHERE entry_uid = ? "
            "ORDER BY created_at", (entry.uid,),
        ).fetchall()  # fmt: skip
        return [ShareInfo(entry.id, r[0], r[1], r[2], r[3], json.loads(r[4]), r[5] != _digest(entry),
                          json.loads(r[6])) for r in rows]  # fmt: skip

    def send_update(self, entry_id: int, *, circle: str | None = None) -> Changed[list[ShareInfo]]:
        """Send the edited entry as the next revision wherever it is shared, with the choices made when it was
        first shared (same members — minus anyone no longer in the circle — warning, replies, expiry, excerpt).
        This is what the UI calls after "this entry changed; send the new version?"."""
        cid = self.find_circle(circle) if circle else None
        rows = [r for r in self.shares_of(entry_id) if r.state == "shared" and (cid is None or r.circle_id == cid)]
        if not rows:
            raise NotFoundError("This entry is not shared" + (" with that circle." if cid else "."))
        out = []
        for r in rows:
            o = r.options
            to: list[str] = []
            if not o.get("whole_circle", True):
                session = self._session(r.circle_id)
                to = [m for m in r.audience if m in session.roster.members
                      and session.roster.members[m].status == "active"]  # fmt: skip
                if not to:
                    raise InvalidInputError("Nobody it was shared with is still in the circle.")
            out.append(self.share(
                entry_id, r.circle_id, to=to, warning=o.get("warning", ""), replies=o.get("replies", True),
                expires_days=o.get("expires_days"), excerpt=o.get("excerpt_text"),
                include_mood_tags=o.get("include_mood_tags", False),
            ).value)  # fmt: skip
        return Changed(out, Changes.CIRCLES)

    def unshare(self, entry_id: int, *, circle: str | None = None) -> Changed[list[ShareInfo]]:
        """Send a signed retraction; recipients' apps delete the item (what they may have copied, we cannot)."""
        entry = self._journal.get(entry_id)
        cid = self.find_circle(circle) if circle else None
        rows = [r for r in self.shares_of(entry_id) if r.state == "shared" and (cid is None or r.circle_id == cid)]
        if not rows:
            raise NotFoundError("This entry is not shared" + (" with that circle." if cid else "."))
        out = []
        with self._vault.transaction() as conn:
            for r in rows:
                s = self._active_session(r.circle_id)
                s.seal_and_queue(kind="retract", item_id=r.item_id, revision=r.revision + 1, payload={}, recipients=[])
                conn.execute(
                    "UPDATE shares SET state = 'retracted', revision = ?, updated_at = ? WHERE item_id = ?",
                    (r.revision + 1, now_ms(), r.item_id),
                )
                conn.execute(
                    "INSERT OR REPLACE INTO gone_items(circle_id, item_id, revision, reason, at) "
                    "VALUES (?, ?, ?, 'retracted', ?)",
                    (r.circle_id, r.item_id, r.revision + 1, now_ms()),
                )
                conn.execute("DELETE FROM replies WHERE circle_id = ? AND item_id = ?", (r.circle_id, r.item_id))
                out.append(ShareInfo(entry.id, r.circle_id, r.item_id, r.revision + 1, "retracted", r.audience))
        return Changed(out, Changes.CIRCLES | Changes.INBOX)

    # -- replies -------------------------------------------------------------------------------------------

    def reply(self, item_id: str, text: str, *, kind: str = "reply") -> Changed[ReplyInfo]:
        """Reply (or react, ``kind="reaction"``) to a shared item; it reaches the item's audience only."""
        if kind not in ("reply", "reaction"):
            raise InvalidInputError("A response is a reply or a reaction.")
        text = clean_text(text).strip()
        if not text:
            raise InvalidInputError("The reply is empty.")
        cid, item_id = self._find_item(item_id)
        s = self._active_session(cid)
        audience = s.audience_of(item_id)
        if audience is None:
            raise NotFoundError("That shared item is not here (it may have been withdrawn or expired).")
        author, members = audience
        if author != s.me.fingerprint:
            row = self._store.conn.execute(
                "SELECT payload FROM inbox WHERE circle_id = ? AND item_id = ?", (cid, item_id)
            ).fetchone()
            if row is not None and json.loads(row[0]).get("replies") is False:
                raise InvalidInputError("The person who shared this asked for no replies.")
        recipients = s.active_publics({author, *members})
        if not recipients:
            raise InvalidInputError("Nobody who can see this item is still in the circle.")
        reply_id = new_id()
        created = now_ms()
        with self._vault.transaction() as conn:
            s.seal_and_queue(kind=kind, item_id=reply_id, revision=1, payload={"parent": item_id, "text": text},
                             recipients=recipients)  # fmt: skip
            conn.execute(
                "INSERT INTO replies(reply_id, circle_id, item_id, author, kind, text, created_at, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (reply_id, cid, item_id, s.me.fingerprint, kind, text, created, created),
            )
        me_name = self._store.display_names(cid).get(s.me.fingerprint, "")
        return Changed(
            ReplyInfo(reply_id, item_id, s.me.fingerprint, me_name, kind, text, created, True), Changes.INBOX
        )

    def _find_item(self, item_id: str) -> tuple[str, str]:
        """``(circle id, full item id)`` of a received or shared item, from its id or an id prefix (4+)."""
        conn = self._store.conn
        sql = (
            "SELECT circle_id, item_id FROM inbox WHERE item_id {op} UNION "
            "SELECT circle_id, item_id FROM shares WHERE item_id {op} AND state = 'shared'"
        )
        rows = conn.execute(sql.format(op="= ?"), (item_id, item_id)).fetchall()
        if not rows and len(item_id) >= 4:
            rows = conn.execute(sql.format(op="LIKE ? || '%'"), (item_id, item_id)).fetchall()
        if len(rows) != 1:
            raise NotFoundError("That shared item is not here (it may have been withdrawn or expired).")
        return str(rows[0][0]), str(rows[0][1])

    # -- meetings and check-ins (docs/circles.md "Meetings and check-ins") ------------------------------------

    def announce_meeting(
        self, meeting_id: int, *, include_topic: bool | None = None, circle: str | None = None
    ) -> Changed[Announcement]:
        """Tell the circle's current members about one of my meetings (its uid, start, format and length; the
        topic only with ``include_topic``), so that they can check in. Sent on the next sync.

        The circle is ``circle`` if given, else the meeting's own. Announcing again sends the next revision
        (e.g. to reach members who joined since); ``include_topic=None`` keeps the earlier choice. Editing an
        announced meeting sends the edit by itself, and deleting it withdraws the announcement (AttendanceService
        calls :meth:`meeting_changed` / :meth:`meeting_deleted`)."""
        meeting = AttendanceBook(self._vault).get_meeting(meeting_id)
        ref = circle or meeting.circle_id
        if not ref:
            raise InvalidInputError("This meeting belongs to no circle. Link it to a circle first.")
        s = self._active_session(ref)
        if not s.i_am_admin:
            raise InvalidInputError("Only a facilitator (admin) of this circle can announce meetings to it.")
        recipients = [m.public for m in s.others()]
        if not recipients:
            raise InvalidInputError("Nobody else is in this circle yet, so there is nobody to tell.")
        row = self._announcement_row(meeting.uid, s.circle_id)
        live = row is not None and row[4] == "announced"
        topic = bool(row[3]) if include_topic is None and live and row is not None else bool(include_topic)
        payload = checkins.meeting_payload(
            meeting.uid, meeting.starts_at, meeting.format, meeting.minutes, meeting.topic if topic else None
        )
        # a withdrawn announcement's id stays retracted on members' devices, so announcing again starts afresh
        item_id, revision = (row[1], row[2] + 1) if live and row is not None else (new_id(), 1)
        with self._vault.transaction() as conn:
            s.seal_and_queue(kind=checkins.KIND_MEETING, item_id=item_id, revision=revision, payload=payload,
                             recipients=recipients)  # fmt: skip
            conn.execute(
                "INSERT INTO meeting_announcements(meeting_uid, circle_id, item_id, revision, include_topic, digest, "
                "state, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'announced', ?) ON CONFLICT(meeting_uid, circle_id) "
                "DO UPDATE SET item_id = excluded.item_id, revision = excluded.revision, include_topic = "
                "excluded.include_topic, digest = excluded.digest, state = 'announced', "
                "updated_at = excluded.updated_at",
                (meeting.uid, s.circle_id, item_id, revision, int(topic), checkins.payload_digest(payload), now_ms()),
            )
        return Changed(self._announcements(meeting.uid, s.circle_id)[0], Changes.CIRCLES | Changes.MEETINGS)

    def withdraw_meeting(self, meeting: int | str, *, circle: str | None = None) -> Changed[list[Announcement]]:
        """Withdraw a meeting's announcement (by meeting id or uid): members' apps forget it, and check-ins for
        it are refused from then on. A signed retraction, sent on the next sync."""
        uid = AttendanceBook(self._vault).get_meeting(meeting).uid if isinstance(meeting, int) else meeting
        cid = self.find_circle(circle) if circle else None
        rows = [a for a in self._announcements(uid, cid) if a.state == "announced"]
        if not rows:
            raise NotFoundError("That meeting was not announced" + (" to that circle." if cid else "."))
        out = []
        with self._vault.transaction() as conn:
            for a in rows:
                s = self._session(a.circle_id)
                if s.circle.state == "active" and s.i_am_admin:
                    s.seal_and_queue(kind="retract", item_id=a.item_id, revision=a.revision + 1, payload={},
                                     recipients=[])  # fmt: skip
                conn.execute(
                    "UPDATE meeting_announcements SET state = 'withdrawn', revision = ?, updated_at = ? "
                    "WHERE meeting_uid = ? AND circle_id = ?",
                    (a.revision + 1, now_ms(), uid, a.circle_id),
                )
            out = self._announcements(uid, cid)
        return Changed(out, Changes.CIRCLES | Changes.MEETINGS)

    def announcements(self, meeting_id: int | None = None) -> list[Announcement]:
        """Facilitator side: what I announced (for one meeting, or all), with whether it changed since."""
        uid = AttendanceBook(self._vault).get_meeting(meeting_id).uid if meeting_id is not None else None
        return self._announcements(uid, None)

    def meeting_changed(self, meeting_id: int) -> Changes:
        """Called after a meeting was edited: send the edit where it is announced and what members were told
        changed (a circle I can no longer send to keeps its old announcement, shown ``changed``)."""
        changes = Changes.NONE
        meeting = AttendanceBook(self._vault).get_meeting(meeting_id)
        for a in self.announcements(meeting_id):
            if a.state == "announced" and a.changed:
                if meeting.circle_id and self._circle_or_none(meeting.circle_id) != a.circle_id:
                    continue  # moved to another circle: the old announcement stays until withdrawn
                s = self._session(a.circle_id)
                if s.circle.state == "active" and s.i_am_admin and s.others():
                    changes |= self.announce_meeting(meeting_id, circle=a.circle_id).changes
        return changes

    def _announce_to_newcomer(self, s: CircleSession) -> None:
        """Someone was just admitted to ``s``'s circle (inside that transaction): announce again, to everyone now
        in it, the meetings I announced there that are not over yet, so the newcomer sees them and can check in.
        Members who had them get the same meeting as its next revision (nothing changes for them)."""
        if not s.i_am_admin:
            return
        book = AttendanceBook(self._vault)
        now = datetime.fromtimestamp(self.clock()).astimezone()
        for a in self._announcements(None, s.circle_id):
            if a.state != "announced" or a.meeting_id is None:
                continue
            meeting = book.get_meeting(a.meeting_id)
            if meeting.starts_at + timedelta(minutes=meeting.minutes) > now:
                self.announce_meeting(a.meeting_id, circle=s.circle_id)

    def meeting_deleted(self, meeting_uid: str) -> Changes:
        """Called as a meeting is deleted: withdraw its announcements."""
        if any(a.state == "announced" for a in self._announcements(meeting_uid, None)):
            return self.withdraw_meeting(meeting_uid).changes
        return Changes.NONE

    def _circle_or_none(self, ref: str) -> str | None:
        try:
            return self.find_circle(ref)
        except CompanionError:
            return None

    def _announcement_row(self, uid: str, cid: str) -> tuple[Any, ...] | None:
        row = self._store.conn.execute(
            "SELECT meeting_uid, item_id, revision, include_topic, state, digest FROM meeting_announcements "
            "WHERE meeting_uid = ? AND circle_id = ?", (uid, cid),
        ).fetchone()  # fmt: skip
        return tuple(row) if row is not None else None

    def _announcements(self, uid: str | None, cid: str | None) -> list[Announcement]:
        sql = ("SELECT meeting_uid, circle_id, item_id, revision, include_topic, state, digest "
               "FROM meeting_announcements WHERE 1 = 1")  # fmt: skip
        args: list[Any] = []
        if uid is not None:
            sql += " AND meeting_uid = ?"
            args.append(uid)
        if cid is not None:
            sql += " AND circle_id = ?"
            args.append(cid)
        book = AttendanceBook(self._vault)
        out = []
        for r in self._store.conn.execute(sql + " ORDER BY updated_at", args).fetchall():
            mid = book.find_meeting_uid(r[0])
            changed = False
            if mid is not None and r[5] == "announced":
                m = book.get_meeting(mid)
                now = checkins.meeting_payload(m.uid, m.starts_at, m.format, m.minutes, m.topic if r[4] else None)
                changed = checkins.payload_digest(now) != r[6]
            out.append(Announcement(r[0], mid, r[1], r[2], r[3], bool(r[4]), r[5], changed))
        return out

    def meetings_announced(self, circle: str | None = None) -> list[AnnouncedMeeting]:
        """Member side: meetings announced to my circles, soonest first, with the check-in window and whether
        (and when) I checked in."""
        sql = ("SELECT a.circle_id, c.name, a.meeting_uid, a.starts_at, a.format, a.minutes, a.topic, a.author, "
               "coalesce(n.name, m.name, ''), a.revision, k.checked_in_at FROM announced_meetings a "
               "JOIN circles c ON c.id = a.circle_id "
               "LEFT JOIN members m ON m.circle_id = a.circle_id AND m.member_id = a.author "
               "LEFT JOIN member_names n ON n.circle_id = a.circle_id AND n.member_id = a.author "
               "LEFT JOIN my_check_ins k ON k.circle_id = a.circle_id AND k.meeting_uid = a.meeting_uid")  # fmt: skip
        args: tuple[Any, ...] = ()
        if circle:
            sql += " WHERE a.circle_id = ?"
            args = (self.find_circle(circle),)
        out = []
        for r in self._store.conn.execute(sql, args).fetchall():
            starts = datetime.fromisoformat(r[3])
            opens, closes = checkins.window(starts, int(r[5]))
            out.append(AnnouncedMeeting(
                circle_id=r[0], circle_name=r[1], meeting_uid=r[2], starts_at=starts, format=r[4], minutes=int(r[5]),
                topic=r[6], announced_by=r[7], announced_by_name=r[8], revision=int(r[9]), opens=opens, closes=closes,
                checked_in_at=datetime.fromisoformat(r[10]) if r[10] else None,
            ))  # fmt: skip
        out.sort(key=lambda m: m.starts_at)
        return out

    def check_in(
        self, meeting_uid: str, *, circle: str | None = None, display_name: str | None = None
    ) -> Changed[SentCheckIn]:
        """Tell the facilitators (the circle's admins, nobody else) that I am at an announced meeting; sent on the
        next sync and confirmed by them. ``meeting_uid`` may be a prefix (4+ characters). Allowed from one hour
        before the meeting starts until 24 hours after it ends (this app's clock). Checking in again for the
        same meeting sends nothing and returns the first check-in. ``display_name`` is the name I would like to
        be listed under (default: my name in the circle; ``""`` for none)."""
        hits = [m for m in self.meetings_announced(circle)
                if m.meeting_uid == meeting_uid or (len(meeting_uid) >= 4 and m.meeting_uid.startswith(meeting_uid))]
        exact = [m for m in hits if m.meeting_uid == meeting_uid]
        hits = exact or hits
        if not hits:
            raise NotFoundError(
                "No meeting with that id was announced to you. Sync, then see them with: companion meeting announced"
            )
        if len(hits) > 1:
            raise InvalidInputError("More than one announced meeting matches; give the whole id or the circle.")
        meeting = hits[0]
        s = self._active_session(meeting.circle_id)
        prior = self._store.conn.execute(
            "SELECT message_id, checked_in_at FROM my_check_ins WHERE circle_id = ? AND meeting_uid = ?",
            (meeting.circle_id, meeting.meeting_uid),
        ).fetchone()
        name = s.circle.my_name if display_name is None else _name(display_name)
        if prior is not None:
            return Changed(SentCheckIn(prior[0], meeting.meeting_uid, meeting.circle_id,
                                       datetime.fromisoformat(prior[1]), name, 0), Changes.NONE)  # fmt: skip
        moment = datetime.fromtimestamp(self.clock()).astimezone()
        if not meeting.opens <= moment <= meeting.closes:
            raise InvalidInputError(
                f"Check-in for this meeting is open from {meeting.opens:%Y-%m-%d %H:%M} "
                f"to {meeting.closes:%Y-%m-%d %H:%M}."
            )
        admins = [m.public for m in s.roster.active() if m.role == "admin" and m.member_id != s.me.fingerprint]
        if not admins:
            raise InvalidInputError("You facilitate this circle: mark yourself present on the Meetings page instead.")
        message_id = checkins.new_message_id()
        payload = checkins.check_in_payload(
            message_id, meeting.meeting_uid, s.me.fingerprint, s.circle_id, moment, name
        )
        with self._vault.transaction() as conn:
            s.seal_and_queue(kind=checkins.KIND_CHECK_IN, item_id=message_id, revision=1, payload=payload,
                             recipients=admins)  # fmt: skip
            conn.execute(
                "INSERT INTO my_check_ins(circle_id, meeting_uid, message_id, checked_in_at) VALUES (?, ?, ?, ?)",
                (s.circle_id, meeting.meeting_uid, message_id, moment.isoformat()),
            )
        sent = SentCheckIn(message_id, meeting.meeting_uid, s.circle_id, moment, name, len(admins))
        return Changed(sent, Changes.CIRCLES | Changes.MEETINGS)

    def _record_check_in(self, check_in: CheckIn) -> bool:
        """The sync engine's hook for a verified check-in (runs inside the engine's savepoint)."""
        return self._app.attendance.record_check_in(check_in).changes != Changes.NONE

    # -- sync ----------------------------------------------------------------------------------------------

    def _engine(self, s: CircleSession, transport: Transport | None = None) -> SyncEngine:
        if transport is None:
            transport = self.transport_factory(s.circle.transport, s.circle.writer_id)
        engine = SyncEngine(s, transport, clock=self.clock)
        engine.on_check_in = self._record_check_in
        engine.on_admitted = self._announce_to_newcomer
        return engine

    def sync(self, circle: str | None = None) -> Changed[list[SyncReport]]:
        """Send what waits in the outbox and apply what arrived, for one circle or all. Never raises for a
        transport problem: the report says ``transport_failed`` with a message, and nothing is lost.

        This does the network I/O and the vault writes in the calling thread (the command line, tests). The
        window splits the same run into :meth:`sync_plan` (vault), :meth:`sync_exchange` (network, any other
        thread) and :meth:`sync_apply` (vault), so that a slow relay never holds up the journal."""
        ids = [self.find_circle(circle)] if circle else [r.id for r in self._store.circles()]
        reports, changes = [], Changes.NONE
        for cid in ids:
            s = self._session(cid)
            engine = self._engine(s)
            try:
                report = engine.sync()
            finally:
                engine.transport.close()
            reports.append(report)
            changes |= _sync_changes(report)
        return Changed(reports, changes)

    def sync_targets(self) -> list[SyncTarget]:
        """The circles a sync should visit, with what reaching each needs: active and joining circles, and
        left or removed ones while something (a leave notice) still waits to be sent. For the window's sync
        rounds and its push-channel listeners (a relay circle's settings hold its capability: memory only)."""
        out = []
        for r in self._store.circles():
            if r.state in ("active", "joining") or self._store.outbox_count(r.id):
                out.append(SyncTarget(r.id, r.name, r.state, dict(r.transport), r.writer_id))
        return out

    def sync_plan(self, circle: str) -> SyncPlan:
        """Phase 1 of a split sync (a vault read): what :meth:`sync_exchange` needs for one pass."""
        return self._engine(self._session(circle), _NO_TRANSPORT).plan()

    @staticmethod
    def sync_exchange(plan: SyncPlan, transport: Transport, **limits: Any) -> SyncExchange:
        """Phase 2 of a split sync: network only, no vault (a static method: call it on any thread but the
        vault's, with a transport made from ``plan.transport``). Pushes the plan's blobs and pulls what is new
        into memory, bounded (``max_blobs``, ``max_bytes``); transport failures are recorded, not raised."""
        return exchange(plan, transport, **limits)

    def sync_apply(self, ex: SyncExchange) -> Changed[SyncReport]:
        """Phase 3 of a split sync (vault): mark sent what the transport acknowledged and apply what it
        delivered, exactly as :meth:`sync` does (same verification, order and idempotency; each page's cursor
        stored in the transaction that applies it). ``report.again`` asks for another pass: plan, exchange,
        apply again (e.g. to send the welcome an admission just produced). Dropping an exchange instead (a
        lock, a crash) loses nothing: unsent blobs stay in the outbox and the cursor stays where it was."""
        report = self._engine(self._session(ex.plan.circle_id), _NO_TRANSPORT).apply(ex)
        return Changed(report, _sync_changes(report))

    def purge_expired(self) -> Changed[int]:
        """Delete received items whose time is up (call on app open; sync does it too)."""
        with self._vault.transaction() as conn:
            n = purge_expired(conn, now_ms=int(self.clock() * 1000))
        return Changed(n, Changes.INBOX if n else Changes.NONE)

    def rejections(self, circle: str | None = None, limit: int = 100) -> list[RejectionInfo]:
        """What sync refused and why (no content): for the UI to report."""
        sql = "SELECT circle_id, blob_id, author, reason, at FROM rejections"
        args: tuple[Any, ...] = ()
        if circle:
            sql += " WHERE circle_id = ?"
            args = (self.find_circle(circle),)
        rows = self._store.conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [RejectionInfo(*r) for r in rows]

    # -- inbox ---------------------------------------------------------------------------------------------

    def inbox(self, circle: str | None = None, *, limit: int = 200) -> list[InboxItem]:
        """Received items, newest first (expired ones are purged first)."""
        self.purge_expired()
        sql = ("SELECT i.circle_id, c.name, i.item_id, i.author, coalesce(n.name, m.name, ''), i.revision, "
               "i.payload, i.shared_at, i.received_at, i.expires_at, i.read FROM inbox i "
               "JOIN circles c ON c.id = i.circle_id "
               "LEFT JOIN members m ON m.circle_id = i.circle_id AND m.member_id = i.author "
               "LEFT JOIN member_names n ON n.circle_id = i.circle_id AND n.member_id = i.author")  # fmt: skip
        args: tuple[Any, ...] = ()
        if circle:
            sql += " WHERE i.circle_id = ?"
            args = (self.find_circle(circle),)
        rows = self._store.conn.execute(sql + " ORDER BY i.received_at DESC LIMIT ?", (*args, limit)).fetchall()
        return [self._item_from(r) for r in rows]

    def get_item(self, item_id: str) -> InboxItem:
        cid, item_id = self._find_item(item_id)
        for it in self.inbox(cid, limit=100_000):
            if it.item_id == item_id:
                return it
        raise NotFoundError("That shared item is not here (it may have been withdrawn or expired).")

    def replies_to(self, item_id: str) -> list[ReplyInfo]:
        """Replies and reactions to an item (received or my own shared one), oldest first."""
        me = self._identity().fingerprint
        rows = self._store.conn.execute(
            "SELECT r.reply_id, r.item_id, r.author, coalesce(n.name, m.name, ''), r.kind, r.text, r.created_at "
            "FROM replies r LEFT JOIN members m ON m.circle_id = r.circle_id AND m.member_id = r.author "
            "LEFT JOIN member_names n ON n.circle_id = r.circle_id AND n.member_id = r.author WHERE r.item_id = ? "
            "ORDER BY r.rowid", (item_id,),
        ).fetchall()  # fmt: skip
        return [
            ReplyInfo(reply_id=r[0], item_id=r[1], author=r[2], author_name=r[3], kind=r[4], text=r[5],
                      created_at=r[6], mine=r[2] == me)
            for r in rows
        ]

    def mark_read(self, item_id: str) -> Changed[None]:
        with self._vault.transaction() as conn:
            conn.execute("UPDATE inbox SET read = 1 WHERE item_id = ?", (item_id,))
        return Changed(None, Changes.INBOX)

    def _item_from(self, r: Sequence[Any]) -> InboxItem:
        p = json.loads(r[6])
        return InboxItem(
            circle_id=r[0], circle_name=r[1], item_id=r[2], author=r[3], author_name=r[4], revision=r[5],
            title=p.get("title", ""), text=p.get("text", ""), excerpt=bool(p.get("excerpt")),
            warning=p.get("warning", ""), replies_welcome=bool(p.get("replies", True)), mood=p.get("mood"),
            tags=list(p.get("tags") or []), shared_at=r[7], received_at=r[8], expires_at=r[9], read=bool(r[10]),
            replies=self.replies_to(r[2]),
        )  # fmt: skip


def _digest(entry: Entry) -> str:
    data = json.dumps([entry.title, entry.body, list(entry.tags), entry.mood], ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


__all__ = ["CirclesService", "b32"]
