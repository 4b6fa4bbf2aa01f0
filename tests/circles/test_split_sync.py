"""A sync split into phases (``sync_plan`` → ``sync_exchange`` → ``sync_apply``), as the window runs it: the same
outcomes as ``sync``, and nothing lost when a phase's result is dropped (a lock, a crash) or goes stale."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from companion.errors import TransportError
from companion.services.circles import CirclesService
from companion.sync.engine import SyncReport
from companion.sync.transports import Transport, make_transport

from .conftest import Person


def split_sync(person: Person, cid: str, **limits) -> tuple[SyncReport, int]:
    """One circle's sync through the three phases, pass after pass, as the window runs it; (report, passes)."""
    circles = person.circles
    total: SyncReport | None = None
    passes = 0
    while True:
        plan = circles.sync_plan(cid)
        transport = make_transport(plan.transport, writer_id=plan.writer_id)
        ex = CirclesService.sync_exchange(plan, transport, **limits)  # no vault: any thread may run it
        report = circles.sync_apply(ex).value
        passes += 1
        total = report if total is None else total.merge(report)
        if not report.again:
            return total, passes


def unsent(person: Person, cid: str) -> int:
    return person.circles.get_circle(cid).outbox


def test_the_split_run_does_what_sync_does(people, shared: Path) -> None:
    ana, ben = people["ana"], people["ben"]
    cid = ana.circles.create_circle("Split", folder=shared, display_name="Ana").value.id
    ben.circles.join(ana.circles.invite(cid).value.code, display_name="Ben")
    report, _ = split_sync(ben, cid)  # the join request goes out
    assert report.pushed == 1 and unsent(ben, cid) == 0
    report, passes = split_sync(ana, cid)  # admits Ben; a second pass sends the add and the welcome
    assert report.admitted == [ben.id] and passes == 2 and unsent(ana, cid) == 0
    report, passes = split_sync(ben, cid)  # welcomed; the next pass reads the circle's history
    assert report.joined and passes == 2 and ben.circles.get_circle(cid).state == "active"
    item = ana.circles.share(ana.entry("split phases", title="S"), cid).value
    split_sync(ana, cid)
    report, _ = split_sync(ben, cid)
    assert report.applied == 1 and [i.text for i in ben.inbox()] == ["split phases"]
    ben.circles.reply(item.item_id, "seen")
    split_sync(ben, cid)
    again, _ = split_sync(ben, cid)
    assert again.applied == 0 and again.pushed == 0  # idempotent
    split_sync(ana, cid)
    assert [r.text for r in ana.circles.replies_to(item.item_id)] == ["seen"]
    assert ana.sync()[0].applied == 0 and ben.sync()[0].applied == 0  # the plain sync finds nothing left


def test_dropped_phases_lose_nothing(circle, shared: Path) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    ana.circles.share(ana.entry("once", title="Once"), cid)
    circles = ana.circles
    plan = circles.sync_plan(cid)
    assert len(plan.outbox) == 1 and "capability" not in repr(plan)
    ex = CirclesService.sync_exchange(plan, make_transport(plan.transport, writer_id=plan.writer_id))
    assert ex.sent == [plan.outbox[0][0]]
    # the app locks (or crashes) before the apply: the blob is still unsent, and is sent again, stored once
    assert unsent(ana, cid) == 1
    assert ana.sync()[0].pushed == 1 and unsent(ana, cid) == 0
    digests = [f.name.split("-")[1] for f in shared.rglob("*.env")]
    assert len(digests) == len(set(digests))  # content-addressed: pushed twice, stored once
    # Ben pulls it but never applies: his cursor did not move, so the next sync brings it again
    bplan = ben.circles.sync_plan(cid)
    bex = CirclesService.sync_exchange(bplan, make_transport(bplan.transport, writer_id=bplan.writer_id))
    assert sum(len(page.blobs) for page in bex.pages) >= 1 and ben.inbox() == []
    assert ben.circles.sync_plan(cid).cursor == bplan.cursor
    assert ben.sync()[0].applied == 1 and [i.title for i in ben.inbox()] == ["Once"]
    # an exchange that went stale meanwhile (another sync stored a newer cursor) is not applied twice
    stale = ben.circles.sync_apply(bex).value
    assert stale.received == 0 and stale.applied == 0 and stale.again
    assert ben.sync()[0].applied == 0 and [i.title for i in ben.inbox()] == ["Once"]


class Refusing(Transport):
    """Pushes fail (a read-only folder, an unreachable relay); pulls read the real folder."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def push(self, blobs: Sequence[bytes]) -> None:
        raise TransportError("The shared folder is read-only here.")

    def pull(self, cursor, limit=1000):
        return self.inner.pull(cursor, limit)


def test_only_what_the_transport_acknowledged_is_marked_sent(circle, shared: Path) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    ben.circles.share(ben.entry("from ben", title="B"), cid)
    ben.sync()
    ana.circles.share(ana.entry("waits", title="W"), cid)
    plan = ana.circles.sync_plan(cid)
    ex = CirclesService.sync_exchange(plan, Refusing(make_transport(plan.transport, writer_id=plan.writer_id)))
    assert ex.sent == [] and ex.push_error
    report = ana.circles.sync_apply(ex).value
    assert report.state == "transport_failed" and "read-only" in (report.error or "")
    assert report.pushed == 0 and unsent(ana, cid) == 1  # kept for the next sync
    assert report.applied == 1  # receiving still works
    assert not report.again  # no retry loop against a transport that refuses
    assert ana.sync()[0].pushed == 1 and unsent(ana, cid) == 0


def test_a_pass_holds_a_bounded_batch_and_the_next_pass_continues(circle) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    for n in range(5):
        ana.circles.share(ana.entry(f"item {n}", title=f"T{n}"), cid)
    ana.sync()
    plan = ben.circles.sync_plan(cid)
    ex = CirclesService.sync_exchange(plan, make_transport(plan.transport, writer_id=plan.writer_id), max_blobs=2)
    assert ex.more and sum(len(page.blobs) for page in ex.pages) == 2
    assert ben.circles.sync_apply(ex).value.again
    _, passes = split_sync(ben, cid, max_blobs=2)
    assert passes >= 2 and len(ben.inbox()) == 5
