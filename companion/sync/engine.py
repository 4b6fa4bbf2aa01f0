"""The sync engine: outbox → transport → inbox, for one circle at a time. States in ``docs/sync-engine.md``.

One sync run::

    PUSH (outbox → transport) → PULL (a batch after the stored cursor) → APPLY (the batch, one transaction,
    cursor stored with it) → … more batches … → RETRY (blobs deferred earlier) → PUSH (what applying queued:
    admissions, roster changes) → PURGE (expired items) → DONE

Every blob ends in exactly one outcome: ``applied``, ``duplicate``, ``not_for_me``, ``deferred`` (kept and
retried on later syncs: its author or roster state is not known yet), ``ignored`` or ``rejected`` (terminal,
recorded without content). Each blob is applied inside its own savepoint: a blob that fails at any step leaves
nothing behind and never stops the rest of the batch. A failed transport step ends the run in
``TRANSPORT_FAILED`` with nothing lost: the outbox keeps what was not sent and the cursor what was not applied.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from companion.circles import checkins, invites
from companion.circles.roster import Roster, RosterError, SignedOp
from companion.circles.session import CircleSession
from companion.circles.store import blob_id as content_address
from companion.circles.store import now_ms
from companion.crypto import Header, PublicIdentity, open_envelope, peek_header, verify_envelope
from companion.errors import CompanionError, InvalidEnvelope
from companion.sync.transports.base import Transport

log = logging.getLogger(__name__)

BATCH: Final = 500
#: A blob whose author or roster state stays unknown this long is given up on (and reported as rejected).
PENDING_DAYS: Final = 14
ENVELOPE_MAGIC: Final = b"CPNE"
MAX_TEXT: Final = 200_000


@dataclass
class Rejection:
    blob_id: str
    author: str | None
    reason: str


@dataclass
class SyncReport:
    """What one sync of one circle did. ``rejected`` lists every refused blob (never any content)."""

    circle_id: str
    state: str = "done"  # done | transport_failed | not_syncing
    pushed: int = 0
    received: int = 0
    applied: int = 0
    duplicates: int = 0
    not_for_me: int = 0
    ignored: int = 0
    deferred: int = 0
    expired: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    admitted: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    joined: bool = False
    removed: bool = False
    error: str | None = None
    changed: set[str] = field(default_factory=set)  # "inbox", "circles", "meetings"

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["rejected"] = [r.__dict__ for r in self.rejected]
        d["changed"] = sorted(self.changed)
        return d


class Reject(Exception):  # noqa: N818  (control flow inside the engine: this blob is refused)
    def __init__(self, reason: str, author: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.author = author


class Defer(Exception):  # noqa: N818
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SyncEngine:
    """Sync one circle over one transport. ``clock`` (seconds) is a seam for expiry tests."""

    def __init__(self, session: CircleSession, transport: Transport, *, clock: Callable[[], float] = time.time) -> None:
        self.s = session
        self.transport = transport
        self.clock = clock
        self.vault = session.store.vault

    # -- the run ---------------------------------------------------------------------------------------------

    def sync(self) -> SyncReport:
        report = SyncReport(self.s.circle_id)
        self._changed, self._admitted, self._joined = report.changed, report.admitted, False
        self._deferred: set[str] = set()
        state = self.s.circle.state
        try:
            try:
                self._push(report)
            except CompanionError as exc:  # e.g. a read-only folder: still receive what can be received
                report.state, report.error = "transport_failed", str(exc)
            if state in ("left", "removed"):
                report.state = report.state if report.error else "not_syncing"
            else:
                if state == "joining":
                    self._await_welcome(report)
                if self.s.circle.state != "joining":
                    self._pull_and_apply(report)
                with self.vault.transaction():
                    self.s.store.update_circle(self.s.circle_id, last_sync=now_ms())
                if report.state != "transport_failed":
                    self._push(report)
        except CompanionError as exc:  # TransportError and kin: nothing lost, try again later
            report.state = "transport_failed"
            report.error = str(exc)
        with self.vault.transaction():
            report.expired = purge_expired(self.s.store.conn, now_ms=int(self.clock() * 1000))
        if report.expired:
            report.changed.add("inbox")
        report.requests = [
            r[0] for r in self.s.store.conn.execute(
                "SELECT member_id FROM join_requests WHERE circle_id = ? AND state = 'pending'", (self.s.circle_id,)
            ).fetchall()
        ]  # fmt: skip
        self.s.refresh()
        report.joined = self._joined
        report.removed = self.s.circle.state == "removed"
        return report

    def _pull_and_apply(self, report: SyncReport) -> None:
        cursor = self.s.circle.cursor
        while True:
            pulled = self.transport.pull(cursor, BATCH)
            report.received += len(pulled.blobs)
            with self.vault.transaction() as conn:
                self._apply_batch([(content_address(b), b, None) for b in pulled.blobs], report)
                conn.execute("UPDATE circles SET cursor = ? WHERE id = ?", (pulled.cursor, self.s.circle_id))
            cursor = pulled.cursor
            if not pulled.more:
                break
        with self.vault.transaction():
            pending = self.s.store.pending(self.s.circle_id)
            if pending:
                self._apply_batch([(bid, blob, first) for bid, blob, first in pending], report, retry=True)

    def _await_welcome(self, report: SyncReport) -> None:
        """JOINING: look only for the welcome to my invite. Nothing else is stored and the cursor does not move,
        so once admitted the normal pull starts from the beginning and sees the circle's whole history."""
        cursor = None
        while self.s.circle.state == "joining":
            pulled = self.transport.pull(cursor, BATCH)
            mine = [b for b in pulled.blobs if b[:4] == invites.BOX_MAGIC]
            if mine:
                with self.vault.transaction():
                    self._apply_batch([(content_address(b), b, None) for b in mine], report)
            cursor = pulled.cursor
            if not pulled.more:
                break

    def _push(self, report: SyncReport) -> None:
        while True:
            batch = self.s.store.unsent(self.s.circle_id)
            if not batch:
                return
            self.transport.push([b for _, b in batch])
            with self.vault.transaction():
                self.s.store.mark_sent(i for i, _ in batch)
            report.pushed += len(batch)

    # -- a batch ---------------------------------------------------------------------------------------------

    def _apply_batch(
        self, blobs: list[tuple[str, bytes, int | None]], report: SyncReport, *, retry: bool = False
    ) -> None:
        """Apply blobs in passes until no more progress: a blob may depend on another later in the batch."""
        store, conn = self.s.store, self.s.store.conn
        # Roster changes first: a removal must be known before the removed member's later items in the same batch
        # are judged, whatever order the transport delivered them in. (The peeked kind only orders the work;
        # every blob is verified in full when it is applied.)
        todo = sorted(blobs, key=_roster_first)
        deferred: dict[str, tuple[bytes, str, int | None]] = {}
        progress = True
        while todo and progress:
            progress = False
            next_round: list[tuple[str, bytes, int | None]] = []
            for blob_id, blob, first in todo:
                conn.execute("SAVEPOINT blob")
                try:
                    outcome, author, counter = self._one(blob_id, blob)
                except Defer as d:
                    conn.execute("ROLLBACK TO blob")
                    self._restore()
                    conn.execute("RELEASE blob")
                    deferred[blob_id] = (blob, d.reason, first)
                    next_round.append((blob_id, blob, first))
                    continue
                except Reject as r:
                    conn.execute("ROLLBACK TO blob")
                    self._restore()
                    store.reject(blob_id, self.s.circle_id, r.author, r.reason)
                    conn.execute("RELEASE blob")
                    report.rejected.append(Rejection(blob_id, r.author, r.reason))
                    outcome = "rejected"
                except Exception as exc:  # a bug must not stop the batch; the blob is refused and recorded
                    log.warning("could not apply a blob: %s", type(exc).__name__)
                    conn.execute("ROLLBACK TO blob")
                    self._restore()
                    store.reject(blob_id, self.s.circle_id, None, "could_not_apply")
                    conn.execute("RELEASE blob")
                    report.rejected.append(Rejection(blob_id, None, "could_not_apply"))
                    outcome = "rejected"
                else:
                    if outcome != "duplicate":
                        store.mark_seen(blob_id, self.s.circle_id, outcome, author=author, counter=counter)
                    conn.execute("RELEASE blob")
                progress = True
                deferred.pop(blob_id, None)
                self._deferred.discard(blob_id)
                if first is not None or retry:
                    store.drop_pending(blob_id)
                if outcome == "applied":
                    report.applied += 1
                elif outcome == "duplicate":
                    report.duplicates += 1
                elif outcome == "not_for_me":
                    report.not_for_me += 1
                elif outcome == "ignored":
                    report.ignored += 1
            todo = next_round
        limit = now_ms() - PENDING_DAYS * 86_400_000
        for blob_id, (blob, reason, first) in deferred.items():
            if first is not None and first < limit:
                store.drop_pending(blob_id)
                self._deferred.discard(blob_id)
                store.reject(blob_id, self.s.circle_id, None, reason)
                report.rejected.append(Rejection(blob_id, None, reason))
            else:
                store.set_pending(self.s.circle_id, blob_id, blob, reason)
                self._deferred.add(blob_id)
        report.deferred = len(self._deferred)

    def _restore(self) -> None:
        """After a savepoint rolled back: drop in-memory roster or circle changes that were not kept."""
        row = self.s.store.circle(self.s.circle_id)
        if row.roster_head != self.s.roster.head:
            self.s.roster = self.s.store.roster(self.s.circle_id)
        self.s.circle = row

    # -- one blob --------------------------------------------------------------------------------------------

    def _one(self, blob_id: str, blob: bytes) -> tuple[str, str | None, int | None]:
        """Decide on one blob. Returns ``(outcome, author, counter)`` or raises Reject/Defer."""
        store = self.s.store
        prior = store.seen(blob_id)
        if prior is not None:
            return "duplicate", None, None
        if blob[:4] == invites.BOX_MAGIC:
            return self._box(blob)
        if blob[:4] != ENVELOPE_MAGIC:
            raise Reject("unreadable")
        roster = self.s.roster
        if not roster.ops:
            raise Defer("not_yet_member")
        asked: list[str] = []

        def author_key(member_id: str) -> PublicIdentity | None:
            asked.append(member_id)
            return self.s.public_of(member_id)

        # Open first: for a recipient (the common case) that is one signature check and the trial decryption.
        # Only when it fails do we check the signature alone, to tell "not for me" from "forged or damaged".
        # Either way the signature is verified before anything is read or applied.
        self._opened = None
        try:
            opened = open_envelope(blob, me=self.s.me, author_key=author_key)
            header, self._opened = opened.header, (blob, opened.payload)
        except InvalidEnvelope:
            asked.clear()
            try:
                header = verify_envelope(blob, author_key)
            except InvalidEnvelope:
                if not asked:
                    raise Reject("unreadable") from None
                if self.s.public_of(asked[0]) is None:
                    raise Defer("unknown_author") from None
                raise Reject("invalid_signature", asked[0]) from None
        author = header.author
        if header.circle_id != self.s.circle_id:
            raise Reject("wrong_circle", author)
        if store.counter_used(self.s.circle_id, author, header.counter):
            raise Reject("replayed_counter", author)
        member = roster.members[author]
        if member.status != "active" and (member.watermark is None or header.counter > member.watermark):
            raise Reject("removed_author", author)
        if author == self.s.me.fingerprint:
            return "ignored", author, header.counter  # my own, e.g. from a restored backup
        handler = {
            "roster": self._roster, "item": self._item, "reply": self._reply, "reaction": self._reply,
            "retract": self._retract, "leave": self._leave, "status": self._status,
            checkins.KIND_MEETING: self._meeting_announcement, checkins.KIND_CHECK_IN: self._check_in,
        }.get(header.kind)  # fmt: skip
        if handler is None:
            return "ignored", author, header.counter
        if header.kind != "roster" and not roster.knows_head(header.roster_head):
            raise Defer("unknown_roster_head")
        outcome = handler(blob, header)
        return outcome, author, header.counter

    def _open(self, blob: bytes) -> Any | None:
        """The payload of the envelope being decided (opened in :meth:`_one`); ``None`` if it is not for me."""
        if self._opened is None or self._opened[0] is not blob:
            return None
        try:
            data = json.loads(self._opened[1].decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Reject("malformed") from None
        if not isinstance(data, dict):
            raise Reject("malformed")
        return data

    # roster ---------------------------------------------------------------------------------------------------

    def _roster(self, blob: bytes, header: Header) -> str:
        roster = self.s.roster
        if header.item_id != "roster" or header.revision < 1:
            raise Reject("malformed", header.author)
        if header.revision <= roster.seq:
            # An operation we already have, or a competing one. We can only compare if we can open it.
            data = self._open(blob)
            if data is None:
                return "not_for_me"
            try:
                signed = SignedOp.from_json(data)
            except RosterError:
                raise Reject("malformed", header.author) from None
            if roster.ops[header.revision - 1].hash == signed.hash:
                return "ignored"
            raise Reject("forked_roster", header.author)
        if header.revision > roster.seq + 1:
            raise Defer("roster_gap")
        data = self._open(blob)
        if data is None:
            return "not_for_me"
        try:
            signed = SignedOp.from_json(data)
        except RosterError:
            raise Reject("malformed", header.author) from None
        fields = signed.fields
        if fields.get("actor") != header.author or fields.get("seq") != header.revision:
            raise Reject("malformed", header.author)
        try:
            roster.apply(signed)
        except RosterError as exc:
            reason = {"fork": "forked_roster", "gap": "roster_gap", "not_admin": "not_admin"}.get(
                exc.reason, exc.reason
            )
            if reason == "roster_gap":
                raise Defer(reason) from None
            # roster.apply changes nothing when it raises
            raise Reject(reason, header.author) from None
        try:
            self.s.store.save_roster_op(roster, signed)
        except BaseException:
            self.s.roster = self.s.store.roster(self.s.circle_id)  # the savepoint rolls back; so must we
            raise
        if fields["subject"] == self.s.me.fingerprint and fields["type"] == "remove":
            self.s.store.update_circle(self.s.circle_id, state="removed")
        self._changed.add("circles")
        return "applied"

    # boxes ----------------------------------------------------------------------------------------------------

    def _box(self, blob: bytes) -> tuple[str, str | None, int | None]:
        try:
            kind, iid = invites.box_header(blob)
        except invites.BoxError:
            raise Reject("unreadable") from None
        circle = self.s.circle
        if kind == invites.BOX_WELCOME:
            if circle.state != "joining" or circle.invite_id != iid or circle.invite_secret is None:
                return "not_for_me", None, None
            return self._welcome(blob, circle.invite_secret), None, None
        row = self.s.store.conn.execute(
            "SELECT secret, approve, expires_at, used_by, replaces FROM invites WHERE id = ? AND circle_id = ?",
            (iid, circle.id),
        ).fetchone()
        if row is None or not self.s.i_am_admin:
            return "not_for_me", None, None
        secret, approve, expires_at, used_by, replaces = bytes(row[0]), bool(row[1]), int(row[2]), row[3], row[4]
        try:
            request = invites.open_join_request(secret, circle.id, blob)
        except invites.BoxError:
            raise Reject("invalid_join_request") from None
        existing = self.s.store.conn.execute(
            "SELECT state FROM join_requests WHERE circle_id = ? AND member_id = ?", (circle.id, request.member_id)
        ).fetchone()
        if used_by is not None:
            raise Reject("invite_already_used", request.member_id)
        if existing is not None and existing[0] == "pending":
            raise Reject("invite_already_used", request.member_id)
        if now_ms() > expires_at:
            raise Reject("invite_expired", request.member_id)
        m = self.s.roster.members.get(request.member_id)
        if m is not None and m.status == "active":
            return "duplicate", None, None
        pending = self.s.store.conn.execute(
            "SELECT 1 FROM join_requests WHERE circle_id = ? AND invite_id = ? AND state = 'pending'", (circle.id, iid)
        ).fetchone()
        if pending is not None:
            raise Reject("invite_already_used", request.member_id)
        self.s.store.conn.execute(
            "INSERT INTO join_requests(circle_id, invite_id, member_id, public, name, state, received_at) "
            "VALUES (?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT(circle_id, member_id) DO UPDATE SET "
            "invite_id = excluded.invite_id, public = excluded.public, name = excluded.name, state = 'pending', "
            "received_at = excluded.received_at",
            (circle.id, iid, request.member_id, request.public.to_bytes(), request.name, now_ms()),
        )
        if not approve:
            self.s.admit(request, secret, replaces=replaces)
            self._admitted.append(request.member_id)
        self._changed.add("circles")
        return "applied", None, None

    def _welcome(self, blob: bytes, secret: bytes) -> str:
        circle = self.s.circle
        try:
            admin_key, envelope = invites.open_welcome(secret, blob)
        except invites.BoxError:
            raise Reject("invalid_welcome") from None
        if admin_key.fingerprint != circle.inviter:
            raise Reject("welcome_not_from_inviter", admin_key.fingerprint)
        try:
            opened = open_envelope(
                envelope, me=self.s.me, author_key=lambda fp: admin_key if fp == circle.inviter else None
            )
            data = json.loads(opened.payload)
            roster = Roster.from_log(circle.id, [SignedOp.from_json(op) for op in data["roster"]])
        except (InvalidEnvelope, RosterError, ValueError, KeyError, TypeError):
            raise Reject("invalid_welcome", admin_key.fingerprint) from None
        if opened.header.circle_id != circle.id or opened.header.kind != "welcome":
            raise Reject("invalid_welcome", admin_key.fingerprint)
        mine = roster.members.get(self.s.me.fingerprint)
        if mine is None or mine.status != "active" or not roster.is_admin(circle.inviter or ""):
            raise Reject("invalid_welcome", admin_key.fingerprint)
        store = self.s.store
        partial = Roster(circle.id)
        for op in roster.ops:
            partial.apply(op)
            store.save_roster_op(partial, op)
        suite = str(data.get("suite") or circle.suite)
        store.update_circle(circle.id, state="active", suite=suite, invite_secret=None)
        self.s.roster = partial
        self.s.refresh()
        self._joined = True
        self._changed.add("circles")
        return "applied"

    # items ----------------------------------------------------------------------------------------------------

    def _item(self, blob: bytes, header: Header) -> str:
        conn = self.s.store.conn
        gone = conn.execute(
            "SELECT revision, reason FROM gone_items WHERE circle_id = ? AND item_id = ?",
            (header.circle_id, header.item_id),
        ).fetchone()
        if gone is not None and (gone[1] == "retracted" or header.revision <= gone[0]):
            raise Reject("retracted" if gone[1] == "retracted" else "expired", header.author)
        have = conn.execute(
            "SELECT author, revision FROM inbox WHERE circle_id = ? AND item_id = ?", (header.circle_id, header.item_id)
        ).fetchone()
        self._note_item(header)
        if have is not None:
            if have[0] != header.author:
                raise Reject("forged_author", header.author)
            if header.revision <= have[1]:
                raise Reject("older_revision", header.author)
        else:
            other = conn.execute(
                "SELECT author FROM item_authors WHERE circle_id = ? AND item_id = ? AND author != ?",
                (header.circle_id, header.item_id, header.author),
            ).fetchone()
            if other is not None:
                raise Reject("forged_author", header.author)
        data = self._open(blob)
        if data is None:
            return "not_for_me"
        payload = _clean_item(data, header.author)
        received = int(self.clock() * 1000)
        expires = None
        if payload.get("expires_in_ms") is not None:
            expires = received + int(payload["expires_in_ms"])
        conn.execute(
            "INSERT INTO inbox(item_id, circle_id, author, revision, payload, shared_at, received_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(circle_id, item_id) DO UPDATE SET "
            "revision = excluded.revision, payload = excluded.payload, shared_at = excluded.shared_at, "
            "expires_at = excluded.expires_at, read = 0",
            (header.item_id, header.circle_id, header.author, header.revision, json.dumps(payload, ensure_ascii=False),
             header.created_at, received, expires),
        )  # fmt: skip
        self._changed.add("inbox")
        return "applied"

    def _note_item(self, header: Header) -> None:
        self.s.store.conn.execute(
            "INSERT OR IGNORE INTO item_authors(circle_id, item_id, author) VALUES (?, ?, ?)",
            (header.circle_id, header.item_id, header.author),
        )

    def _reply(self, blob: bytes, header: Header) -> str:
        conn = self.s.store.conn
        if conn.execute(
            "SELECT 1 FROM replies WHERE circle_id = ? AND reply_id = ?", (header.circle_id, header.item_id)
        ).fetchone():
            raise Reject("older_revision", header.author)
        data = self._open(blob)
        if data is None:
            return "not_for_me"
        parent = data.get("parent")
        text = data.get("text")
        if not isinstance(parent, str) or not isinstance(text, str) or len(text) > MAX_TEXT:
            raise Reject("malformed", header.author)
        if conn.execute(
            "SELECT 1 FROM gone_items WHERE circle_id = ? AND item_id = ?", (header.circle_id, parent)
        ).fetchone():
            return "ignored"  # the item it answers was retracted or expired here
        audience = self.s.audience_of(parent)
        if audience is None:
            raise Defer("unknown_item")
        item_author, members = audience
        if header.author != item_author and header.author not in members:
            raise Reject("not_in_audience", header.author)
        if item_author != self.s.me.fingerprint:
            row = conn.execute(
                "SELECT payload FROM inbox WHERE circle_id = ? AND item_id = ?", (header.circle_id, parent)
            ).fetchone()
            if row is not None and json.loads(row[0]).get("replies") is False and header.author != item_author:
                raise Reject("replies_not_welcome", header.author)
        conn.execute(
            "INSERT INTO replies(reply_id, circle_id, item_id, author, kind, text, created_at, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (header.item_id, header.circle_id, parent, header.author, header.kind, text, header.created_at,
             int(self.clock() * 1000)),
        )  # fmt: skip
        self._changed.add("inbox")
        return "applied"

    def _retract(self, blob: bytes, header: Header) -> str:
        conn = self.s.store.conn
        cid, iid = header.circle_id, header.item_id
        row = conn.execute("SELECT author FROM item_authors WHERE circle_id = ? AND item_id = ?", (cid, iid)).fetchone()
        mine = conn.execute("SELECT 1 FROM shares WHERE circle_id = ? AND item_id = ?", (cid, iid)).fetchone()
        item_author = self.s.me.fingerprint if mine else (row[0] if row else None)
        if item_author is None:
            raise Defer("unknown_item")
        if header.author != item_author and not self.s.roster.is_admin(header.author):
            raise Reject("retraction_not_by_author", header.author)
        conn.execute("DELETE FROM inbox WHERE circle_id = ? AND item_id = ?", (cid, iid))
        conn.execute("DELETE FROM replies WHERE circle_id = ? AND item_id = ?", (cid, iid))
        if conn.execute("DELETE FROM announced_meetings WHERE circle_id = ? AND item_id = ?", (cid, iid)).rowcount:
            self._changed.add("meetings")  # a withdrawn meeting announcement
        conn.execute(
            "INSERT INTO gone_items(circle_id, item_id, revision, reason, at) VALUES (?, ?, ?, 'retracted', ?) "
            "ON CONFLICT(circle_id, item_id) DO UPDATE SET reason = 'retracted', revision = excluded.revision",
            (cid, iid, header.revision, now_ms()),
        )
        if mine:
            conn.execute("UPDATE shares SET state = 'retracted' WHERE item_id = ?", (iid,))
        self._changed.add("inbox")
        return "applied"

    def _leave(self, blob: bytes, header: Header) -> str:
        data = self._open(blob)
        if data is None:
            return "not_for_me"
        if not self.s.i_am_admin:
            return "applied"  # an admin records it in the roster; until then nothing changes here
        member = self.s.roster.members.get(header.author)
        if member is None or member.status != "active":
            return "applied"
        self.s.append_op(
            "leave", header.author, notice=data.get("notice"), notice_sig=data.get("sig"),
            watermark=max(self.s.store.max_counter(self.s.circle_id, header.author), header.counter),
        )  # fmt: skip
        self._changed.add("circles")
        return "applied"

    def _status(self, blob: bytes, header: Header) -> str:
        """A member's "available to support" / "taking a break" status; a newer counter replaces an older."""
        data = self._open(blob)
        if data is None:
            return "not_for_me"
        available = data.get("available")
        if not isinstance(available, bool):
            raise Reject("malformed", header.author)
        conn = self.s.store.conn
        row = conn.execute(
            "SELECT counter FROM member_status WHERE circle_id = ? AND member_id = ?",
            (header.circle_id, header.author),
        ).fetchone()
        if row is not None and row[0] >= header.counter:
            return "ignored"  # an older status arriving late
        conn.execute(
            "INSERT INTO member_status(circle_id, member_id, available, counter, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(circle_id, member_id) DO UPDATE SET available = excluded.available, "
            "counter = excluded.counter, at = excluded.at",
            (header.circle_id, header.author, int(available), header.counter, int(self.clock() * 1000)),
        )
        self._changed.add("circles")
        return "applied"

    # meetings and check-ins (companion/circles/checkins.py, docs/circles.md) -----------------------------------

    #: Set by the service: records a verified check-in with the attendance book; returns whether it was new.
    on_check_in: Callable[[checkins.CheckIn], bool] | None = None

    def _meeting_announcement(self, blob: bytes, header: Header) -> str:
        """An admin's announcement of a meeting: kept so that members can check in. Only admins may announce."""
        conn = self.s.store.conn
        cid, iid = header.circle_id, header.item_id
        if not self.s.roster.is_admin(header.author):
            raise Reject("not_admin", header.author)
        if conn.execute("SELECT 1 FROM gone_items WHERE circle_id = ? AND item_id = ?", (cid, iid)).fetchone():
            raise Reject("retracted", header.author)
        if conn.execute(
            "SELECT 1 FROM item_authors WHERE circle_id = ? AND item_id = ? AND author != ?", (cid, iid, header.author)
        ).fetchone():
            raise Reject("forged_author", header.author)
        self._note_item(header)  # so that a retraction is honoured only from its author or an admin
        have = conn.execute(
            "SELECT revision, meeting_uid FROM announced_meetings WHERE circle_id = ? AND item_id = ?", (cid, iid)
        ).fetchone()
        if have is not None and header.revision <= have[0]:
            raise Reject("older_revision", header.author)
        data = self._open(blob)
        if data is None:
            return "not_for_me"
        try:
            m = checkins.parse_meeting(data)
        except ValueError:
            raise Reject("malformed", header.author) from None
        if have is not None and have[1] != m["meeting_uid"]:
            raise Reject("malformed", header.author)
        if conn.execute(
            "SELECT 1 FROM announced_meetings WHERE circle_id = ? AND meeting_uid = ? AND item_id != ?",
            (cid, m["meeting_uid"], iid),
        ).fetchone():
            raise Reject("duplicate_meeting", header.author)
        conn.execute(
            "INSERT INTO announced_meetings(circle_id, item_id, author, revision, meeting_uid, starts_at, format, "
            "minutes, topic, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(circle_id, item_id) DO "
            "UPDATE SET revision = excluded.revision, starts_at = excluded.starts_at, format = excluded.format, "
            "minutes = excluded.minutes, topic = excluded.topic, received_at = excluded.received_at",
            (cid, iid, header.author, header.revision, m["meeting_uid"], m["starts_at"], m["format"], m["minutes"],
             m["topic"], int(self.clock() * 1000)),
        )  # fmt: skip
        self._changed.add("meetings")
        return "applied"

    def _check_in(self, blob: bytes, header: Header) -> str:
        """A member's check-in, sealed to the admins only: handed to the attendance book as pending."""
        data = self._open(blob)
        if data is None:
            return "not_for_me"
        try:
            check_in = checkins.parse_check_in(data)
        except ValueError:
            raise Reject("malformed", header.author) from None
        if check_in.member_id != header.author:
            raise Reject("forged_author", header.author)
        if check_in.circle_id != header.circle_id:
            raise Reject("wrong_circle", header.author)
        if check_in.message_id != header.item_id or header.revision != 1:
            raise Reject("malformed", header.author)
        conn = self.s.store.conn
        row = conn.execute(
            "SELECT state FROM meeting_announcements WHERE circle_id = ? AND meeting_uid = ?",
            (header.circle_id, check_in.meeting_uid),
        ).fetchone()
        if row is None:
            if conn.execute(
                "SELECT 1 FROM announced_meetings WHERE circle_id = ? AND meeting_uid = ?",
                (header.circle_id, check_in.meeting_uid),
            ).fetchone():
                return "ignored"  # another admin's meeting: their app records it
            raise Reject("unknown_meeting", header.author)
        if row[0] != "announced":
            raise Reject("meeting_withdrawn", header.author)
        if self.on_check_in is None:
            raise Defer("no_attendance_book")
        if not self.on_check_in(check_in):
            return "ignored"  # the same message id again
        self._changed.add("meetings")
        return "applied"

    # per-run scratch, reset in sync()
    _opened: tuple[bytes, bytes] | None = None  # (blob, payload) of the envelope being decided
    _changed: set[str]
    _admitted: list[str]
    _joined: bool


def _clean_item(data: dict[str, Any], author: str) -> dict[str, Any]:
    """Keep only known fields with the right types; refuse anything else."""

    def text(key: str, limit: int = MAX_TEXT) -> str:
        value = data.get(key, "")
        if not isinstance(value, str) or len(value) > limit:
            raise Reject("malformed", author)
        return value

    out: dict[str, Any] = {
        "title": text("title", 1000), "text": text("text"), "warning": text("warning", 1000),
        "excerpt": bool(data.get("excerpt", False)), "replies": bool(data.get("replies", True)),
    }  # fmt: skip
    exp = data.get("expires_in_ms")
    if exp is not None and (not isinstance(exp, int) or isinstance(exp, bool) or exp < 0):
        raise Reject("malformed", author)
    out["expires_in_ms"] = exp
    mood = data.get("mood")
    if mood is not None and (not isinstance(mood, int) or isinstance(mood, bool) or not 1 <= mood <= 5):
        raise Reject("malformed", author)
    out["mood"] = mood
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and len(t) <= 64 for t in tags) or len(tags) > 100:
        raise Reject("malformed", author)
    out["tags"] = tags
    aud = data.get("audience")
    if aud is not None and (not isinstance(aud, list) or not all(isinstance(a, str) for a in aud)):
        raise Reject("malformed", author)
    out["audience"] = aud
    return out


def purge_expired(conn: Any, *, now_ms: int) -> int:
    """Delete received items whose lifetime is over (and their replies); remember them so they never return."""
    rows = conn.execute(
        "SELECT circle_id, item_id, revision FROM inbox WHERE expires_at IS NOT NULL AND expires_at <= ?", (now_ms,)
    ).fetchall()
    for cid, iid, rev in rows:
        conn.execute("DELETE FROM inbox WHERE circle_id = ? AND item_id = ?", (cid, iid))
        conn.execute("DELETE FROM replies WHERE circle_id = ? AND item_id = ?", (cid, iid))
        conn.execute(
            "INSERT INTO gone_items(circle_id, item_id, revision, reason, at) VALUES (?, ?, ?, 'expired', ?) "
            "ON CONFLICT(circle_id, item_id) DO UPDATE SET revision = max(revision, excluded.revision)",
            (cid, iid, rev, now_ms),
        )
    return len(rows)


def _roster_first(entry: tuple[str, bytes, int | None]) -> int:
    header = peek_header(entry[1])
    return 0 if header is not None and header.kind == "roster" else 1
