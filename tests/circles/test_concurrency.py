"""Concurrent offline work on several machines, with clocks days apart, loses nothing."""

from __future__ import annotations

import time


def skew(person, days: float) -> None:
    person.circles.clock = lambda: time.time() + days * 86400


def test_offline_edits_and_clock_skew(circle) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    skew(ana, +4)  # Ana's clock runs four days fast, Ben's three days slow
    skew(ben, -3)
    e = ana.entry("v1", title="Shared")
    item = ana.circles.share(e, cid).value
    ana.sync()
    ben.sync()
    cat.sync()
    # everyone goes offline and works
    ana.app.journal.update_entry(e, body="v2")
    ana.circles.share(e, cid)
    ana.circles.reply(item.item_id, "note from ana")
    ben.circles.reply(item.item_id, "reply to v1 from ben")
    ben.circles.share(ben.entry("ben's own", title="Ben"), cid, expires_days=2)
    cat.circles.reply(item.item_id, "cat too")
    # they come back in different orders
    for order in ((cat, ben, ana), (ben, ana, cat), (ana, cat, ben)):
        for person in order:
            person.sync()
    for person in (ben, cat):
        got = {i.title: i for i in person.inbox()}
        assert got["Shared"].text == "v2" and got["Shared"].revision == 2
    for person in (ana, ben, cat):
        assert sorted(r.text for r in person.circles.replies_to(item.item_id)) == [
            "cat too",
            "note from ana",
            "reply to v1 from ben",
        ]
    # Ben's slow clock does not make his two-day item expire early or late at Cat's
    assert "Ben" in [i.title for i in cat.inbox()]
    skew(cat, +1)
    assert "Ben" in [i.title for i in cat.inbox()]
    skew(cat, +2.1)
    assert "Ben" not in [i.title for i in cat.inbox()]


def test_interrupted_sync_resumes_without_duplicates(circle, shared) -> None:
    """A crash after applying but before the cursor is stored: the batch comes again and changes nothing."""
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    for n in range(5):
        ana.circles.share(ana.entry(f"n{n}", title=f"T{n}"), cid)
    ana.sync()
    first = ben.sync()[0]
    assert first.applied == 5
    with ben.app.vault.transaction() as conn:  # forget the cursor, as if the process died before storing it
        conn.execute("UPDATE circles SET cursor = NULL")
    again = ben.sync()[0]
    assert again.applied == 0 and again.rejected == [] and again.duplicates >= 5
    assert sorted(i.title for i in ben.inbox()) == [f"T{n}" for n in range(5)]


def test_out_of_order_files_are_not_lost(circle, shared) -> None:
    """File sync may deliver a later file first; the earlier one is still read when it arrives."""
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    ana.circles.share(ana.entry("a", title="A"), cid)
    ana.circles.share(ana.entry("b", title="B"), cid)
    ana.sync()
    sub = shared / ana.circles._store.circle(cid).writer_id
    files = sorted(sub.glob("*.env"))
    held = files[-2].read_bytes()
    files[-2].rename(files[-2].with_name("." + files[-2].name + ".tmp"))  # not arrived yet
    ben.sync()
    assert [i.title for i in ben.inbox()] == ["B"]
    files[-2].with_name("." + files[-2].name + ".tmp").rename(files[-2])
    assert files[-2].read_bytes() == held
    ben.sync()
    assert sorted(i.title for i in ben.inbox()) == ["A", "B"]
