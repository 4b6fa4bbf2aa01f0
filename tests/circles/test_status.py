"""The "available to support" / "taking a break" status: sealed to the circle, newest wins, only members'."""

from __future__ import annotations

from companion.services import Changes


def test_status_reaches_the_circle_and_the_newest_wins(circle):
    cid, people = circle
    ana, ben, cat = people["ana"], people["ben"], people["cat"]
    assert ben.circles.availability(cid) == {}
    changed = ben.circles.set_availability(cid, False)
    assert changed.changes & Changes.CIRCLES
    assert ben.circles.availability(cid) == {ben.id: False}
    ben.sync()
    reports = ana.sync()
    assert ana.circles.availability(cid) == {ben.id: False}
    assert reports[0].changed & {"circles"}
    ben.circles.set_availability(cid, True)
    ben.circles.set_availability(cid, False)
    ben.circles.set_availability(cid, True)
    ben.sync()
    cat.sync()
    assert cat.circles.availability(cid) == {ben.id: True}  # three in one batch: the last one counts
    ana.sync()
    assert ana.circles.availability(cid)[ben.id] is True


def test_status_is_sealed_and_a_removed_member_cannot_set_it(circle, shared):
    cid, people = circle
    ana, ben, cat = people["ana"], people["ben"], people["cat"]
    ana.circles.remove_member(cid, ben.id)
    ana.sync()
    cat.sync()  # Cat knows of the removal (if it came in the same batch as Ben's status, see the report)
    ben.circles.set_availability(cid, False)  # Ben has not synced since his removal
    ben.sync()
    cat.sync()
    ana.sync()
    assert ben.id not in cat.circles.availability(cid)
    assert ben.id not in ana.circles.availability(cid)
    assert any(r.reason == "removed_author" and r.author == ben.id for r in ana.circles.rejections(cid))
    # nothing readable in the folder: the payload is sealed like any other
    for path in shared.rglob("*.env"):
        assert b"available" not in path.read_bytes()


def test_a_stale_status_arriving_late_never_replaces_a_newer_one(circle, shared, tmp_path):
    cid, people = circle
    ana, ben = people["ana"], people["ben"]
    before = set(shared.rglob("*.env"))
    ben.circles.set_availability(cid, False)
    ben.circles.set_availability(cid, True)
    ben.sync()
    written = sorted(set(shared.rglob("*.env")) - before, key=lambda p: p.name)
    assert len(written) == 2
    late = written[0]  # "taking a break", the older of the two
    held = tmp_path / "held-back.env"
    late.rename(held)  # file sync delivers this one late
    ana.sync()
    assert ana.circles.availability(cid)[ben.id] is True
    held.rename(late)
    reports = ana.sync()
    assert reports[0].ignored == 1
    assert ana.circles.availability(cid)[ben.id] is True  # the older "taking a break" does not win
