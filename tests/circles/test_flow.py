"""Three people, one shared folder: joining, sharing, replies, edits, unshare, expiry."""

from __future__ import annotations


def test_three_people_join(circle) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    for person in (ana, ben, cat):
        info = person.circles.get_circle(cid)
        assert info.state == "active"
        assert info.name == "Tuesday group"
        names = sorted(m.name for m in person.circles.members(cid) if m.status == "active")
        assert names == ["Ana", "Ben", "Cat"]
    roles = {m.name: m.role for m in ben.circles.members(cid)}
    assert roles == {"Ana": "admin", "Ben": "member", "Cat": "member"}
    assert all(not m.verified for m in ben.circles.members(cid) if not m.is_me)


def test_share_to_one_and_to_all(circle) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    e1 = ana.entry("only for ben", title="One")
    e2 = ana.entry("for everyone", title="All", tags=["hope"], mood=4)
    ana.circles.share(e1, cid, to=["Ben"])
    ana.circles.share(e2, cid, include_mood_tags=True, warning="grief")
    ana.sync()
    ben.sync()
    cat.sync()
    assert sorted(i.title for i in ben.inbox()) == ["All", "One"]
    assert [i.title for i in cat.inbox()] == ["All"]
    item = cat.inbox()[0]
    assert item.text == "for everyone" and item.tags == ["hope"] and item.mood == 4 and item.warning == "grief"
    assert item.author_name == "Ana"
