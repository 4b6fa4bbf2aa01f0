"""Attacks on the raw files in the shared folder. Each is rejected, reported, and changes nothing else: a
legitimate item placed in the same batch is still applied."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from companion.circles.roster import canonical, make_op
from companion.crypto import seal
from companion.sync.transports.folder import FolderTransport
from tests.circles.conftest import age_pending

MALLORY = "mallorysubfolderxyz"


def keys(person):
    return person.circles._store.identity()


def drop(shared: Path, blob: bytes) -> None:
    """Write a blob into the folder the way any writer can: a well-formed file in its own subfolder."""
    FolderTransport(shared, MALLORY).push([blob])


def newest(shared: Path, person) -> bytes:
    sub = shared / person.circles._store.circle(person.circles.list_circles()[0].id).writer_id
    return sorted(sub.glob("*.env"))[-1].read_bytes()


def state(person) -> tuple:
    """Everything a person's circles hold that an attack could change."""
    c = person.circles
    items = sorted((i.item_id, i.revision, i.title, i.text, tuple(r.text for r in i.replies)) for i in c.inbox())
    circles = [(x.id, x.roster_seq, x.state) for x in c.list_circles()]
    members = [(m.member_id, m.role, m.status) for x in c.list_circles() for m in c.members(x.id)]
    return items, circles, members


def control(ana, cid: str, title: str) -> None:
    """A legitimate item in the same batch as the attack."""
    ana.circles.share(ana.entry("legit", title=title), cid)
    ana.sync()


def reasons(report) -> list[str]:
    return [r.reason for r in report[0].rejected]


def seal_as(person, recipients, cid: str, **kw) -> bytes:
    s = person.circles._session(cid)
    payload = kw.pop("payload", {})
    args = {
        "kind": "item",
        "circle_id": cid,
        "revision": 1,
        "counter": 10_000 + int(time.time() * 1000) % 10_000,
        "roster_head": s.roster.head,
        "payload": canonical(payload),
        "suite": s.circle.suite,
    }
    args.update(kw)
    return seal(keys(person), [keys(r).public for r in recipients], **args)


def test_flipped_byte(circle, shared) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    ana.circles.share(ana.entry("hello", title="H"), cid)
    ana.sync()
    good = newest(shared, ana)
    before = state(ben)
    for i in (10, len(good) // 2, len(good) - 3):
        bad = bytearray(good)
        bad[i] ^= 0x01
        drop(shared, bytes(bad))
    # and a file damaged in place (its name no longer matches its hash): not even delivered
    victim = sorted((shared / MALLORY).glob("*.env"))[0]
    damaged = bytearray(victim.read_bytes())
    damaged[-1] ^= 0x40
    victim.write_bytes(bytes(damaged))
    control(ana, cid, "control")
    report = ben.sync()
    # Each damaged copy is a sealed blob no key opens: it may be sealed under a rotated key that has not reached
    # Ben yet, so it waits (applied nothing, stopped nothing), and is refused as unreadable once given up on.
    assert reasons(report) == [] and report[0].deferred == 2
    items, *rest = state(ben)
    assert sorted(i[2] for i in items) == ["H", "control"] and rest == list(before[1:])
    age_pending(ben)
    assert reasons(ben.sync()) == ["unreadable", "unreadable"]
    assert state(ben) == (items, *rest)
    assert {r.reason for r in ben.circles.rejections()} == {"unreadable"}


def test_replayed_or_renamed_copy(circle, shared) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    e = ana.entry("v1", title="T")
    ana.circles.share(e, cid)
    ana.sync()
    rev1 = newest(shared, ana)
    ben.sync()
    ana.circles.unshare(e)
    ana.sync()
    ben.sync()
    before = state(ben)
    drop(shared, rev1)  # the same bytes under a new name in another subfolder
    (shared / MALLORY / "0000000099-not-a-hash.env").write_bytes(rev1)
    control(ana, cid, "control")
    report = ben.sync()
    assert report[0].duplicates >= 1
    items, *rest = state(ben)
    assert [i[2] for i in items] == ["control"] and rest == list(before[1:])
    # a member who never saw it before: the retraction wins whatever order the files come in
    assert "T" not in [i.title for i in p["cat"].inbox()]
    p["cat"].sync()
    assert [i.title for i in p["cat"].inbox()] == ["control"]


def test_older_revision_rejected(circle, shared) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    e = ana.entry("v1", title="T")
    item = ana.circles.share(e, cid).value
    ana.app.journal.update_entry(e, body="v2")
    ana.circles.share(e, cid)
    ana.sync()
    ben.sync()
    assert [(i.text, i.revision) for i in ben.inbox()] == [("v2", 2)]
    # a validly signed, never-seen envelope carrying revision 1
    drop(shared, seal_as(ana, [ben], cid, item_id=item.item_id, revision=1, payload={"title": "T", "text": "old"}))
    control(ana, cid, "control")
    report = ben.sync()
    assert reasons(report) == ["older_revision"]
    assert sorted((i.title, i.text) for i in ben.inbox()) == [("T", "v2"), ("control", "legit")]


def test_forged_author(circle, shared) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    item = ana.circles.share(ana.entry("real", title="Real"), cid).value
    ana.sync()
    ben.sync()
    # Cat rewrites the author field of her own envelope to Ana's id: the signature no longer verifies
    forged = seal_as(cat, [ben], cid, item_id="x" * 26, payload={"title": "fake", "text": "fake"})
    forged = forged.replace(cat.id.encode(), ana.id.encode())
    drop(shared, forged)
    # Cat sends a "new revision" of Ana's item under her own name
    drop(shared, seal_as(cat, [ben], cid, item_id=item.item_id, revision=5, payload={"title": "Real", "text": "x"}))
    control(ana, cid, "control")
    report = ben.sync()
    assert sorted(reasons(report)) == ["forged_author", "invalid_signature"]
    assert sorted((i.title, i.text) for i in ben.inbox()) == [("Real", "real"), ("control", "legit")]


def test_retraction_by_non_author(circle, shared) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    item = ana.circles.share(ana.entry("mine", title="Mine"), cid).value
    ana.sync()
    ben.sync()
    cat.sync()
    drop(shared, seal_as(cat, [], cid, kind="retract", item_id=item.item_id, revision=2, content_key=b"k" * 32))
    control(ana, cid, "control")
    report = ben.sync()
    assert reasons(report) == ["retraction_not_by_author"]
    assert sorted(i.title for i in ben.inbox()) == ["Mine", "control"]


def test_old_roster_head_after_removal(circle, shared) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    old_head = ben.circles._session(cid).roster.head
    old_roster_files = [f.read_bytes() for f in (shared / ana.circles._store.circle(cid).writer_id).glob("*.env")]
    ana.circles.remove_member(cid, "Cat")
    ana.sync()
    ben.sync()
    before = state(ben)
    assert ben.circles._session(cid).roster.head != old_head
    # replaying the old roster (under new names) does not take anyone back to it
    for blob in old_roster_files:
        drop(shared, blob)
    # Cat, removed, writes an item and a roster operation that re-adds her, both claiming the old head
    drop(shared, seal_as(cat, [ben], cid, item_id="y" * 26, roster_head=old_head, payload={"title": "t", "text": "t"}))
    s = cat.circles._session(cid)
    readd = make_op(
        keys(cat), circle=cid, seq=s.roster.seq + 1, prev=s.roster.head.hex(), type="promote", subject=cat.id, at=0
    )
    drop(
        shared,
        seal_as(
            cat,
            [ben],
            cid,
            kind="roster",
            item_id="roster",
            revision=s.roster.seq + 1,
            roster_head=old_head,
            payload=readd.to_json(),
        ),
    )
    control(ana, cid, "control")
    report = ben.sync()
    assert sorted(reasons(report)) == ["removed_author", "removed_author"]
    items, *rest = state(ben)
    assert [i[2] for i in items] == ["control"] and rest == list(before[1:])
    assert ben.circles._session(cid).roster.head == ana.circles._session(cid).roster.head


def test_forked_roster(circle, shared) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    dan = p["dan"]
    s = ana.circles._session(cid)
    prev, seq = s.roster.head, s.roster.seq
    ana.circles.promote(cid, "Ben")  # seq + 1, pinned by everyone
    ana.sync()
    ben.sync()
    before = state(ben)
    # a second, different operation at the same position, validly signed by the admin
    fork = make_op(keys(ana), circle=cid, seq=seq + 1, prev=prev.hex(), type="add", subject=dan.id,
                   key=__import__("base64").b64encode(keys(dan).public.to_bytes()).decode(), role="member", name="D",
                   at=0)  # fmt: skip
    drop(shared, seal_as(ana, [ben, cat], cid, kind="roster", item_id="roster", revision=seq + 1, roster_head=prev,
                         payload=fork.to_json()))  # fmt: skip
    control(ana, cid, "control")
    report = ben.sync()
    assert reasons(report) == ["forked_roster"]
    items, *rest = state(ben)
    assert [i[2] for i in items] == ["control"] and rest == list(before[1:])


def test_invite_used_twice_or_expired(circle, shared) -> None:
    cid, p = circle
    ana, dan, eve = p["ana"], p["dan"], p["eve"]
    code = ana.circles.invite(cid).value.code
    dan.circles.join(code, display_name="Dan")
    dan.sync()
    ana.sync()
    dan.sync()
    assert dan.circles.get_circle(cid).state == "active"
    eve.circles.join(code, display_name="Eve")  # the same code again
    eve.sync()
    report = ana.sync()
    assert reasons(report) == ["invite_already_used"]
    short = ana.circles.invite(cid, valid_days=1.5 / 86400).value.code
    p["fay"].circles.join(short, display_name="Fay")
    p["fay"].sync()
    time.sleep(1.6)
    report = ana.sync()
    assert reasons(report) == ["invite_expired"]
    eve.sync()
    p["fay"].sync()
    assert eve.circles.get_circle(cid).state == "joining" and p["fay"].circles.get_circle(cid).state == "joining"
    names = sorted(m.name for m in ana.circles.members(cid) if m.status == "active")
    assert names == ["Ana", "Ben", "Cat", "Dan"]
    from companion.errors import InvalidInputError

    with pytest.raises(InvalidInputError):  # the joiner's app refuses an expired code outright
        p["gus"].circles.join(short)


def test_envelope_from_removed_member_after_removal(circle, shared) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    cat.circles.share(cat.entry("before", title="Before"), cid)
    cat.sync()
    ana.sync()
    ana.circles.remove_member(cid, "Cat")
    ana.sync()
    ben.sync()
    assert [i.title for i in ben.inbox()] == ["Before"]  # sent before removal: accepted
    before = state(ben)
    # after removal, even backdated by a week, with the old head
    s = cat.circles._session(cid)
    week_ago = time.time() - 7 * 86400
    drop(
        shared,
        seal_as(
            cat,
            [ben],
            cid,
            item_id="z" * 26,
            clock=lambda: week_ago,
            roster_head=s.roster.head,
            payload={"title": "late", "text": "late"},
        ),
    )
    control(ana, cid, "control")
    report = ben.sync()
    assert reasons(report) == ["removed_author"]
    items, *rest = state(ben)
    assert sorted(i[2] for i in items) == ["Before", "control"] and rest == list(before[1:])


def test_garbage_conflict_copies_and_temp_files_are_ignored(circle, shared) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    ana.circles.share(ana.entry("x", title="X"), cid)
    ana.sync()
    good = newest(shared, ana)
    sub = shared / ana.circles._store.circle(cid).writer_id
    name = sorted(sub.glob("*.env"))[-1].name
    (sub / name.replace(".env", ".sync-conflict-20261127-123456-ABCDEF.env")).write_bytes(b"junk" + good)
    (sub / name.replace(".env", " (conflicted copy 2026-11-27).env")).write_bytes(good[:-5])
    (sub / ("." + name + ".tmp")).write_bytes(good[:100])
    (shared / ".stfolder").mkdir()
    drop(shared, b"not an envelope at all")
    report = ben.sync()
    assert reasons(report) == ["unreadable"]
    assert [i.title for i in ben.inbox()] == ["X"]


@pytest.mark.parametrize("first_writer", ["2222222222222222", "zzzzzzzzzzzzzzzz"])
def test_removal_and_a_later_item_in_the_same_sync(circle, shared, first_writer: str) -> None:
    """Ben has not synced since before Cat's removal; Cat (not yet knowing) shares something new. When Ben syncs,
    the removal and Cat's later item arrive in one batch: the item is refused whichever comes first."""
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    cat.circles.share(cat.entry("before", title="Before"), cid)
    cat.sync()
    ana.sync()
    ben.sync()
    ana.circles.remove_member(cid, "Cat")
    ana.sync()  # the removal is in the folder; Cat has not seen it
    cat.circles.share(cat.entry("after", title="After"), cid)
    cat.sync()  # pushes her item (the pull then tells her she was removed)
    # the same item also lands in a subfolder read before (or after) the facilitator's
    FolderTransport(shared, first_writer).push([newest(shared, cat)])
    report = ben.sync()
    assert [i.title for i in ben.inbox()] == ["Before"]
    assert "removed_author" in reasons(report)


def test_removal_arriving_after_the_removed_members_later_item_takes_it_back(circle, shared) -> None:
    """Ben syncs Cat's new item before he learns (from Ana) that Cat was removed before she wrote it. When the
    removal arrives, the item and Cat's later reply go, and the sync says why; what she shared before stays."""
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    cat.circles.share(cat.entry("before", title="Before"), cid)
    cat.sync()
    ana.sync()
    ben.sync()
    ana.circles.remove_member(cid, "Cat")  # Ana has seen "Before": the watermark is above it
    cat.circles.share(cat.entry("after", title="After"), cid)
    before_id = next(i.item_id for i in ben.inbox() if i.title == "Before")
    cat.circles.reply(before_id, "a late reply")
    cat.sync()
    ben.sync()  # Ana has not pushed the removal yet: Ben has no reason to refuse
    assert sorted(i.title for i in ben.inbox()) == ["After", "Before"]
    assert [r.text for r in ben.circles.replies_to(before_id)] == ["a late reply"]
    ana.sync()  # the removal goes out
    report = ben.sync()
    assert [i.title for i in ben.inbox()] == ["Before"]
    assert ben.circles.replies_to(before_id) == []
    assert reasons(report).count("removed_author") == 2
    logged = [r.reason for r in ben.circles.rejections(cid)]
    assert logged.count("removed_author") == 2
    # a later sync does not bring them back
    ben.sync()
    assert [i.title for i in ben.inbox()] == ["Before"]


def ben_admin_admits_dan(circle, people):
    """Ana promotes Ben, and Ben's app admits Dan (a welcome by Ben, which only Dan opens)."""
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    ana.circles.promote(cid, ben.id)
    for x in (ana, ben, cat):
        x.sync()
    dan = people["dan"]
    dan.circles.join(ben.circles.invite(cid).value.code, display_name="Dan")
    dan.sync()
    ben.sync()
    return dan


def test_a_removed_admin_cannot_post_under_the_counter_of_a_welcome_it_wrote(circle, shared: Path, people) -> None:
    """A welcome is opened by its joiner only, so the others never see its counter used; the signed ``add`` names
    it. Ben, an admin who admitted Dan and was then removed, signs an item under that counter (within the watermark
    of his removal): nobody takes it as sent before the removal."""
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    dan = ben_admin_admits_dan(circle, people)  # the add names the welcome's counter
    for x in (dan, ana, cat):
        x.sync()
    welcome = next(op.fields["welcome"] for op in cat.circles._session(cid).roster.ops if op.fields["type"] == "add"
                   and op.fields["subject"] == dan.id)  # fmt: skip
    assert cat.circles._store.counter_used(cid, ben.id, welcome)
    eve = people["eve"]  # and Eve, who joins later, learns it from the roster her welcome carries
    eve.circles.join(ana.circles.invite(cid).value.code, display_name="Eve")
    eve.sync()
    ana.sync()
    eve.sync()
    ana.circles.remove_member(cid, ben.id)
    ana.sync()
    for x in (cat, dan, eve, ben):
        x.sync()
    s = ben.circles._session(cid)
    before = s.roster.ops[-2]  # the roster as it was before his removal
    drop(shared, seal_as(ben, [ana, cat, dan, eve], cid, item_id="w" * 26, counter=welcome,
                         roster_head=before.hash, payload={"title": "still here", "text": "after all"}))  # fmt: skip
    for x in (cat, dan, eve, ana):
        [report] = x.sync()
        assert [r.reason for r in report.rejected] == ["replayed_counter"]
        assert all(i.title != "still here" for i in x.inbox())
