"""The sync engine: outbox → transport → inbox, for one circle at a time. States in ``docs/sync-engine.md``.

One sync run is one or more *passes*, each in three phases::

    PLAN (vault, read: settings, cursor, oldest unsent blobs)
      → EXCHANGE (network only: PUSH those blobs, PULL pages after the cursor into memory, bounded)
      → APPLY (vault: mark sent what the transport acknowledged; each page in one transaction with its cursor;
               RETRY blobs deferred earlier; PURGE expired items)
    … another pass while ``report.again``: more to pull, or applying queued something to send (admissions,
    roster changes), or a joiner was just welcomed.

:meth:`SyncEngine.sync` runs the passes in the calling thread (the command line). The window runs the same
phases as separate ops: PLAN and APPLY on the vault worker, :func:`exchange` on a network thread, so a slow
relay never holds up the journal. Dropping a pass between its phases (a lock, a crash) loses nothing: the
outbox and the cursor change only in APPLY, and delivery is at-least-once into an idempotent engine.

Every blob ends in exactly one outcome: ``applied``, ``duplicate``, ``not_for_me``, ``deferred`` (kept and
retried on later syncs: its author or roster state is not known yet), ``ignored`` or ``rejected`` (terminal,
recorded without content). Each blob is applied inside its own savepoint: a blob that fails at any step leaves
nothing behind and never stops the rest of the batch. A failed transport step ends the run in
``TRANSPORT_FAILED`` with nothing lost: the outbox keeps what was not sent and the cursor what was not applied.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from companion.circles import checkins, invites, names
from companion.circles.roster import Roster, RosterError, SignedOp
from companion.circles.session import EPOCH_ROSTER_SHIFT, SEAL_KIND, CircleSession, parse_seal_payload
from companion.circles.store import blob_id as content_address
from companion.circles.store import now_ms
from companion.crypto import Header, PublicIdentity, open_envelope, peek_header, verify_envelope
from companion.errors import CancelledError, CompanionError, InvalidEnvelope, InvalidSignature
from companion.sync.transports import sealed
from companion.sync.transports.base import Transport

log = logging.getLogger(__name__)

BATCH: Final = 500
#: What one pass's network phase may hold in memory; the next pass (or the next round) continues after it.
PASS_BLOBS: Final = 2000
PASS_BYTES: Final = 32 * 1024 * 1024
MAX_PASSES: Final = 100_000  # a guard: a run ends long before (each pass either finishes or makes progress)
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
    #: Another pass has work (more to pull, something new to send, a fresh welcome): set by one pass.
    again: bool = False

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.pop("again")
        d["rejected"] = [r.__dict__ for r in self.rejected]
        d["changed"] = sorted(self.changed)
        return d

    def merge(self, later: SyncReport) -> SyncReport:
        """This pass's report followed by a later pass's, as one report of the whole run."""
        out = SyncReport(self.circle_id)
        for name in ("pushed", "received", "applied", "duplicates", "not_for_me", "ignored", "expired"):
            setattr(out, name, getattr(self, name) + getattr(later, name))
        failed = later if later.state == "transport_failed" else self if self.state == "transport_failed" else None
        out.state = failed.state if failed is not None else later.state
        out.error = failed.error if failed is not None else None
        out.deferred = later.deferred  # what is still waiting after the later pass
        out.rejected = self.rejected + later.rejected
        out.admitted = self.admitted + later.admitted
        out.requests = later.requests
        out.joined = self.joined or later.joined
        out.removed = later.removed
        out.changed = self.changed | later.changed
        out.again = later.again
        return out


@dataclass(frozen=True)
class SyncPlan:
    """Phase 1's answer (:meth:`SyncEngine.plan`): what the network phase of one pass needs from the vault.

    ``transport`` may hold a relay capability: keep plans in memory only (the repr leaves it and the blobs out).
    """

    circle_id: str
    state: str  # the circle's state when planned: active | joining | left | removed
    transport: dict[str, Any] = field(repr=False)
    writer_id: str
    cursor: str | None  # where the pull starts (a joiner scans from the beginning for its welcome)
    #: Unsent (outbox id, blob), oldest first, each already in the form the carrier keeps: sealed under the key
    #: current when planned (or the one it is pinned to), so a transport made before a rotation cannot seal a blob
    #: under a replaced key; :func:`exchange` sends them with ``push_as_is``.
    outbox: list[tuple[int, bytes]] = field(repr=False)
    more_outbox: bool = False  # more waits than this pass carries


@dataclass(frozen=True)
class PulledPage:
    after: str | None  # the cursor this page was pulled after
    blobs: list[bytes] = field(repr=False)
    cursor: str | None = None  # the cursor to store once the page is applied


@dataclass
class SyncExchange:
    """Phase 2's answer (:func:`exchange`): what the transport acknowledged and what it delivered, in memory."""

    plan: SyncPlan
    sent: list[int] = field(default_factory=list)  # outbox ids the transport accepted
    pages: list[PulledPage] = field(default_factory=list)
    more: bool = False  # stopped at a limit before the end: the next pass continues
    push_error: str | None = None
    pull_error: str | None = None


def exchange(
    plan: SyncPlan,
    transport: Transport,
    *,
    max_blobs: int = PASS_BLOBS,
    max_bytes: int = PASS_BYTES,
    cancelled: Callable[[], bool] = lambda: False,
) -> SyncExchange:
    """Phase 2 (network only; touches no vault, so any thread may run it): push the plan's blobs, then pull
    what is new after the plan's cursor into memory, stopping after ``max_blobs`` blobs or ``max_bytes``
    bytes. A ``TransportError`` (any ``CompanionError``) is recorded in the answer, never raised; nothing is
    lost, since the outbox and the cursor change only when :meth:`SyncEngine.apply` stores the answer.
    ``cancelled()`` is asked between requests (a window being locked)."""
    ex = SyncExchange(plan)
    for start in range(0, len(plan.outbox), BATCH):
        if cancelled():
            raise CancelledError()
        batch = plan.outbox[start : start + BATCH]
        try:
            transport.push_as_is([blob for _, blob in batch])
        except CompanionError as exc:
            ex.push_error = str(exc)
            break
        ex.sent.extend(outbox_id for outbox_id, _ in batch)
    if plan.state in ("left", "removed"):
        return ex  # terminal: only what still waited in the outbox goes out
    try:
        if plan.state == "joining":
            _scan_for_welcome(ex, transport, cancelled)
        else:
            cursor, count, size = plan.cursor, 0, 0
            while True:
                if cancelled():
                    raise CancelledError()
                pulled = transport.pull(cursor, max(1, min(BATCH, max_blobs - count)))
                ex.pages.append(PulledPage(cursor, list(pulled.blobs), pulled.cursor))
                cursor = pulled.cursor
                count += len(pulled.blobs)
                size += sum(len(b) for b in pulled.blobs)
                if not pulled.more:
                    break
                if count >= max_blobs or size >= max_bytes:
                    ex.more = True
                    break
    except CancelledError:
        raise
    except CompanionError as exc:  # TransportError and kin
        ex.pull_error = str(exc)
    return ex


def _scan_for_welcome(ex: SyncExchange, transport: Transport, cancelled: Callable[[], bool]) -> None:
    """JOINING: read the whole mailbox, keeping only invite boxes (small); nothing else is stored and the
    cursor does not move, so once admitted the normal pull starts from the beginning and sees the history."""
    cursor: str | None = None
    boxes: list[bytes] = []
    while True:
        if cancelled():
            raise CancelledError()
        pulled = transport.pull(cursor, BATCH)
        boxes.extend(b for b in pulled.blobs if b[:4] == invites.BOX_MAGIC)
        cursor = pulled.cursor
        if not pulled.more:
            break
    ex.pages.append(PulledPage(None, boxes, None))


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
        """A whole sync in this thread: passes of :meth:`plan` → :func:`exchange` → :meth:`apply` until nothing
        is left to send or fetch (the window runs the same three phases on different threads)."""
        total: SyncReport | None = None
        for n in range(MAX_PASSES):
            report = self.apply(exchange(self.plan(), self.transport), keep_deferred=n > 0)
            total = report if total is None else total.merge(report)
            if not report.again:
                break
        assert total is not None
        return total

    def plan(self) -> SyncPlan:
        """Phase 1 (vault, read only): what the network phase needs: settings, cursor and the oldest unsent
        blobs (at most :data:`BATCH`, and about :data:`PASS_BYTES`)."""
        row = self.s.store.circle(self.s.circle_id)
        unsent = self.s.store.unsent(self.s.circle_id, BATCH + 1)
        outbox: list[tuple[int, bytes]] = []
        size = 0
        current = row.transport.get("seal")
        seals: dict[str, sealed.TransportSeal] = {}
        for outbox_id, blob, pin in unsent[:BATCH]:
            if outbox and size + len(blob) > PASS_BYTES:
                break
            outbox.append((outbox_id, sealed.carrier_form(blob, current if pin is None else pin, seals)))
            size += len(blob)
        return SyncPlan(
            circle_id=row.id, state=row.state, transport=dict(row.transport), writer_id=row.writer_id,
            cursor=row.cursor if row.state == "active" else None, outbox=outbox,
            more_outbox=len(unsent) > len(outbox),
        )  # fmt: skip

    def apply(self, ex: SyncExchange, *, keep_deferred: bool = False) -> SyncReport:
        """Phase 3 (vault): record what the transport acknowledged and apply what it delivered. Each pulled page
        is applied in one transaction together with its cursor, and only if the stored cursor is still the one
        the page was pulled after (otherwise another sync got there first: the next pass pulls again). Sets
        ``report.again`` when another pass has work: more to pull, something (new) to send, a fresh welcome."""
        report = SyncReport(self.s.circle_id)
        self._changed, self._admitted, self._joined = report.changed, report.admitted, False
        if not keep_deferred or not hasattr(self, "_deferred"):
            self._deferred = set()
        plan, cid = ex.plan, self.s.circle_id
        if plan.circle_id != cid:
            raise ValueError("a sync exchange applied to another circle")
        if ex.sent:
            with self.vault.transaction():
                self.s.store.mark_sent(ex.sent)  # only what the transport acknowledged
            report.pushed = len(ex.sent)
        if ex.push_error is not None:  # e.g. a read-only folder: what could be received still is
            report.state, report.error = "transport_failed", ex.push_error
        state = self.s.circle.state
        again = False
        if state in ("left", "removed") or plan.state in ("left", "removed"):
            report.state = report.state if report.error else "not_syncing"
        else:
            if plan.state == "joining":
                boxes = [b for page in ex.pages for b in page.blobs]
                if state == "joining" and boxes:
                    with self.vault.transaction():
                        self._apply_batch([(content_address(b), b, None) for b in boxes], report)
                again = self.s.circle.state == "active"  # welcomed: the next pass reads the circle's history
            elif state == "active":
                again = self._apply_pages(ex, report)
            if ex.pull_error is not None:
                report.state, report.error = "transport_failed", ex.pull_error
            else:
                with self.vault.transaction():
                    self.s.store.update_circle(cid, last_sync=now_ms())
        with self.vault.transaction():
            report.expired = purge_expired(self.s.store.conn, now_ms=int(self.clock() * 1000))
        if report.expired:
            report.changed.add("inbox")
        report.requests = [
            r[0] for r in self.s.store.conn.execute(
                "SELECT member_id FROM join_requests WHERE circle_id = ? AND state = 'pending'", (cid,)
            ).fetchall()
        ]  # fmt: skip
        self.s.refresh()
        report.joined = self._joined
        report.removed = self.s.circle.state == "removed"
        report.deferred = len(self._deferred)
        to_send = ex.push_error is None and (plan.more_outbox or self.s.store.outbox_count(cid) > 0)
        report.again = (ex.pull_error is None and (again or ex.more)) or to_send
        return report

    def _apply_pages(self, ex: SyncExchange, report: SyncReport) -> bool:
        """Apply pulled pages in order; then retry what earlier syncs deferred. True if a page was skipped."""
        skipped = False
        for page in ex.pages:
            with self.vault.transaction() as conn:
                if self.s.store.circle(self.s.circle_id).cursor != page.after:
                    skipped = True  # another sync stored a cursor meanwhile; nothing lost, the next pass pulls
                    break
                report.received += len(page.blobs)
                self._apply_batch([(content_address(b), b, None) for b in page.blobs], report)
                conn.execute("UPDATE circles SET cursor = ? WHERE id = ?", (page.cursor, self.s.circle_id))
        if ex.pull_error is None:
            with self.vault.transaction():
                pending = self.s.store.pending(self.s.circle_id)
                if pending:
                    self._apply_batch([(bid, blob, first) for bid, blob, first in pending], report, retry=True)
        return skipped

    # -- a batch ---------------------------------------------------------------------------------------------

    def _apply_batch(
        self, blobs: list[tuple[str, bytes, int | None]], report: SyncReport, *, retry: bool = False
    ) -> None:
        """Apply blobs in passes until no more progress: a blob may depend on another later in the batch."""
        store, conn = self.s.store, self.s.store.conn
        self._late: list[Rejection] = []  # applied earlier, refused now that their author's removal arrived
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
                if blob[:4] == sealed.MAGIC:
                    inner = self._unseal(blob)
                    if inner is not None:  # a key learned since the transport was made (e.g. earlier in this batch)
                        if first is not None or retry:
                            store.drop_pending(blob_id)
                        deferred.pop(blob_id, None)
                        self._deferred.discard(blob_id)
                        blob_id, blob, first = content_address(inner), inner, None
                conn.execute("SAVEPOINT blob")
                late_mark = len(self._late)
                try:
                    outcome, author, counter = self._one(blob_id, blob)
                except Defer as d:
                    conn.execute("ROLLBACK TO blob")
                    del self._late[late_mark:]
                    self._restore()
                    conn.execute("RELEASE blob")
                    deferred[blob_id] = (blob, d.reason, first)
                    next_round.append((blob_id, blob, first))
                    continue
                except Reject as r:
                    conn.execute("ROLLBACK TO blob")
                    del self._late[late_mark:]
                    self._restore()
                    store.reject(blob_id, self.s.circle_id, r.author, r.reason)
                    conn.execute("RELEASE blob")
                    report.rejected.append(Rejection(blob_id, r.author, r.reason))
                    outcome = "rejected"
                except Exception as exc:  # a bug must not stop the batch; the blob is refused and recorded
                    log.warning("could not apply a blob: %s", type(exc).__name__)
                    conn.execute("ROLLBACK TO blob")
                    del self._late[late_mark:]
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
        report.rejected.extend(self._late)
        report.deferred = len(self._deferred)

    def _unseal(self, blob: bytes) -> bytes | None:
        """The inner blob of a sealed one that the transport could not open, under the circle's keyring as it is
        now (a rotation applied since may have brought the key); ``None`` if no key opens it yet."""
        keys = sealed.ring_keys(self.s.circle.transport)
        return sealed.SealRing(keys).unwrap(blob) if keys else None

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
        if blob[:4] == sealed.MAGIC:
            # Sealed under a key this device does not hold: tampered, or sealed under a rotation that has not
            # reached it yet (a shared folder may deliver files out of order). Kept and retried as more keys arrive;
            # refused as unreadable if still closed after PENDING_DAYS. Never stops the batch.
            raise Defer("unreadable")
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
            "retract": self._retract, "leave": self._leave, "status": self._status, SEAL_KIND: self._seal_key,
            checkins.KIND_MEETING: self._meeting_announcement, checkins.KIND_CHECK_IN: self._check_in,
            names.KIND_NAME: self._name,
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
        if fields["type"] == "add":
            self._note_welcome_counter(fields)
            self._tell_newcomer_my_name(str(fields["subject"]))
            if self.on_admitted is not None:  # admitted by another admin: mine to tell of my meetings too
                self.on_admitted(self.s)
        ended = fields["subject"] if fields["type"] in ("remove", "leave") else fields.get("replaces")
        if ended and isinstance(fields.get("watermark"), int) and ended != self.s.me.fingerprint:
            self._take_back_late(str(ended), int(fields["watermark"]))
        self._changed.add("circles")
        return "applied"

    def _note_welcome_counter(self, fields: dict[str, Any]) -> None:
        """An ``add`` names the counter its admin spent on the welcome, which only the joiner opens: mark it used,
        so that no envelope can claim it later (a removed admin would otherwise keep it within its watermark)."""
        welcome, actor = fields.get("welcome"), fields.get("actor")
        if isinstance(welcome, int) and not isinstance(welcome, bool) and welcome > 0 and isinstance(actor, str):
            self.s.store.mark_seen(f"welcome:{self.s.circle_id}:{actor}:{welcome}", self.s.circle_id, "welcome",
                                   author=actor, counter=welcome)  # fmt: skip

    def _take_back_late(self, author: str, watermark: int) -> None:
        """``author`` stopped being a member at ``watermark`` (the highest counter of theirs the admin had
        accepted). What of theirs above it this device applied before the removal reached it is refused now, as
        it would have been had the removal come first: shown items, replies and meeting announcements go, and
        the envelopes are recorded as refused (``removed_author``)."""
        conn, cid = self.s.store.conn, self.s.circle_id
        late = conn.execute(
            "SELECT blob_id FROM seen_envelopes WHERE circle_id = ? AND author = ? AND counter > ? "
            "AND outcome = 'applied'",
            (cid, author, watermark),
        ).fetchall()
        if not late:
            return
        args = (cid, author, watermark)
        tables = (("inbox", "inbox"), ("replies", "inbox"), ("announced_meetings", "meetings"))
        dropped = conn.execute("DELETE FROM member_names WHERE circle_id = ? AND member_id = ? AND counter > ?", args)
        if dropped.rowcount:
            self._changed.add("circles")  # a name they chose after their removal: the roster's is shown again
        for table, view in tables:
            if conn.execute(f"DELETE FROM {table} WHERE circle_id = ? AND author = ? AND counter > ?", args).rowcount:
                self._changed.add(view)
        at = now_ms()
        for (blob_id,) in late:
            conn.execute("UPDATE seen_envelopes SET outcome = 'rejected' WHERE blob_id = ?", (blob_id,))
            conn.execute(
                "INSERT INTO rejections(circle_id, blob_id, author, reason, at) VALUES (?, ?, ?, 'removed_author', ?)",
                (cid, blob_id, author, at),
            )
            self._late.append(Rejection(blob_id, author, "removed_author"))

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
            if self.on_admitted is not None:
                self.on_admitted(self.s)
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
            if op.fields.get("type") == "add":
                self._note_welcome_counter(op.fields)
        suite = str(data.get("suite") or circle.suite)
        try:
            transport = welcome_keyring(circle.transport, data.get("seal"))
        except ValueError:
            raise Reject("invalid_welcome", admin_key.fingerprint) from None
        store.update_circle(circle.id, state="active", suite=suite, invite_secret=None, transport=transport)
        self._welcome_names(partial, data.get("names"))
        self.s.roster = partial
        self.s.refresh()
        self._joined = True
        self._changed.add("circles")
        return "applied"

    def _welcome_names(self, roster: Roster, statements: Any) -> None:
        """The members' current display names a welcome carries: each a statement signed by that member, checked
        against their key from the (verified) roster. One that does not check is skipped (the roster's name is
        shown instead, until the member's own device sends it); an older welcome without names is fine."""
        if not isinstance(statements, list):
            return
        for data in statements[: len(roster.members)]:
            member_id = _statement_member(data)
            m = roster.members.get(member_id or "")
            if m is None or m.status != "active" or member_id == self.s.me.fingerprint:
                continue
            try:
                name, counter = names.open_statement(data, m.public, self.s.circle_id)
            except (ValueError, InvalidSignature):
                continue
            self.s.store.set_name(self.s.circle_id, m.member_id, name, counter, data)

    # names ----------------------------------------------------------------------------------------------------

    def _name(self, blob: bytes, header: Header) -> str:
        """A member's new display name for this circle (names.py): a statement signed by the envelope's author,
        kept if its counter is greater than the one this device has; never from someone no longer active, never a
        name another active member already goes by."""
        data = self._open(blob)
        if data is None:
            return "not_for_me"
        author = self.s.roster.members[header.author]
        if author.status != "active":
            raise Reject("not_a_member", header.author)  # sent before they left, arriving after: not shown
        try:
            name, counter = names.open_statement(data, author.public, self.s.circle_id)
        except InvalidSignature:
            raise Reject("invalid_signature", header.author) from None
        except ValueError:
            raise Reject("malformed", header.author) from None
        if counter > header.counter:
            raise Reject("malformed", header.author)  # a statement is never newer than the envelope carrying it
        store = self.s.store
        if counter <= store.name_counter(self.s.circle_id, header.author):
            return "ignored"  # an older name arriving late, or one this device already has
        others = self.s.names_in_use(besides=(header.author,))
        if names.taken_by(name, others) is not None:
            raise Reject("name_taken", header.author)
        store.set_name(self.s.circle_id, header.author, name, counter, data)
        self._changed.add("circles")
        return "applied"

    def _tell_newcomer_my_name(self, member_id: str) -> None:
        """Someone was just added: if I chose a name in this circle, send them my signed statement as it is (the
        welcome may have been made by an admin who had not seen it yet); they keep it only if it is newer."""
        me = self.s.me.fingerprint
        newcomer = self.s.roster.members.get(member_id)
        if member_id == me or newcomer is None or not self.s.i_am_member:
            return
        mine = self.s.store.name_statements(self.s.circle_id, [me]).get(me)
        if mine is not None:
            self.s.send_name(mine, [newcomer])

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
            "INSERT INTO inbox(item_id, circle_id, author, revision, payload, shared_at, received_at, expires_at, "
            "counter) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(circle_id, item_id) DO UPDATE SET "
            "revision = excluded.revision, payload = excluded.payload, shared_at = excluded.shared_at, "
            "expires_at = excluded.expires_at, counter = excluded.counter, read = 0",
            (header.item_id, header.circle_id, header.author, header.revision, json.dumps(payload, ensure_ascii=False),
             header.created_at, received, expires, header.counter),
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
            "INSERT INTO replies(reply_id, circle_id, item_id, author, kind, text, created_at, received_at, counter) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (header.item_id, header.circle_id, parent, header.author, header.kind, text, header.created_at,
             int(self.clock() * 1000), header.counter),
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
        if self.s.sealed:
            self.s.rotate_seal()  # they keep the key they had: what comes next is sealed under a new one
        self._changed.add("circles")
        return "applied"

    def _seal_key(self, blob: bytes, header: Header) -> str:
        """A new transport seal key from an admin (a rotation, or the seal turned on): added to the keyring, and
        current if its ``(epoch, key id)`` is the greatest known (protocol.md §10.2). The header's roster head is
        known here (checked before every handler), so a rotation made for a removal is applied only after it.

        An admin's device that learns a key forwards it, end to end, to the active members its roster has that the
        envelope does not name (someone admitted meanwhile with the older keyring), pinned to the key this device
        sealed under until now, which those members hold."""
        data = self._open(blob)
        if data is None:
            return "not_for_me"
        author = self.s.roster.members[header.author]
        if author.role != "admin":  # a former admin's rotation within its watermark still counts
            raise Reject("not_admin", header.author)
        try:
            key, epoch, holders = parse_seal_payload(data)
        except ValueError:
            raise Reject("malformed", header.author) from None
        made_at = next((n for n, op in enumerate(self.s.roster.ops, 1) if op.hash == header.roster_head), 0)
        if author.status != "active" and (author.ended_seq is None or made_at >= author.ended_seq):
            # Signed within their watermark but naming the roster after their own removal: made by a device that
            # knew it was out (a removed admin keeping its keys), to outrank the rotation made for that removal.
            raise Reject("removed_author", header.author)
        if epoch >> EPOCH_ROSTER_SHIFT > made_at:
            raise Reject("malformed", header.author)  # claims a roster state its envelope was not made with
        before = self.s.circle.transport
        after = sealed.install_key(before, key, epoch)
        if after != before:
            self.s.store.update_circle(self.s.circle_id, transport=after)
            self.s.refresh()
            self._changed.add("circles")
        if self.s.i_am_admin:
            missing = [m for m in self.s.others() if m.member_id not in holders and m.member_id != header.author]
            if missing:
                self.s.send_seal_key(key, epoch, missing, holders={*holders, header.author},
                                     pin=before.get("seal") or "")  # fmt: skip
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
    #: Set by the service: called in the transaction that admits someone, or applies another admin's admission
    #: (e.g. to tell the newcomer of meetings).
    on_admitted: Callable[[CircleSession], None] | None = None

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
            "minutes, topic, received_at, counter) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(circle_id, "
            "item_id) DO UPDATE SET revision = excluded.revision, starts_at = excluded.starts_at, format = "
            "excluded.format, minutes = excluded.minutes, topic = excluded.topic, received_at = excluded.received_at, "
            "counter = excluded.counter",
            (cid, iid, header.author, header.revision, m["meeting_uid"], m["starts_at"], m["format"], m["minutes"],
             m["topic"], int(self.clock() * 1000), header.counter),
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
    _deferred: set[str]  # blobs deferred in this run (kept across the passes of one sync())
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


def welcome_keyring(settings: dict[str, Any], ring: Any) -> dict[str, Any]:
    """A joiner's settings with the circle's keyring from its welcome (``{"key", "epoch", "previous"}``, or
    ``None`` from an unsealed circle or an older app): the invite code carried only the key current then, which
    may have been rotated since (protocol.md §10.2). ``ValueError`` if the keyring is malformed."""
    if ring is None:
        return settings
    if not isinstance(ring, dict) or not isinstance(ring.get("previous", []), list):
        raise ValueError("malformed keyring")
    epoch = ring.get("epoch", 0)
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise ValueError("malformed keyring")
    out = dict(settings)
    for key in reversed(ring.get("previous", [])[: sealed.MAX_PREVIOUS]):
        out = sealed.install_key(out, key, None)
    key = ring.get("key")
    if not isinstance(key, str):
        raise ValueError("malformed keyring")
    out = sealed.install_key(out, key, epoch)
    sealed.check_keyring(out)
    return out


def _statement_member(data: Any) -> str | None:
    """The member a name statement claims to be from (unverified: only to find the key to verify it with)."""
    try:
        body = json.loads(base64.b64decode(str(data["statement"]), validate=True))
        return str(body["member"])
    except (KeyError, TypeError, ValueError):
        return None


def _roster_first(entry: tuple[str, bytes, int | None]) -> int:
    header = peek_header(entry[1])
    return 0 if header is not None and header.kind == "roster" else 1
