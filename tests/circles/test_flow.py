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


def test_reply_reaches_the_audience_only(circle, people) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    e = ana.entry("to ben", title="Private")
    item = ana.circles.share(e, cid, to=["Ben"]).value
    ana.sync()
    ben.sync()
    ben.circles.reply(item.item_id, "thank you for this")
    ben.circles.reply(item.item_id, "❤", kind="reaction")
    ben.sync()
    ana.sync()
    cat.sync()
    replies = ana.circles.replies_to(item.item_id)
    assert [(r.author_name, r.kind, r.text) for r in replies] == [
        ("Ben", "reply", "thank you for this"),
        ("Ben", "reaction", "❤"),
    ]
    assert cat.circles.replies_to(item.item_id) == []
    # a reply to an item shared with the whole circle reaches everyone who can see it
    e2 = ana.entry("to all", title="Open")
    item2 = ana.circles.share(e2, cid).value
    ana.sync()
    cat.sync()
    cat.circles.reply(item2.item_id, "me too")
    cat.sync()
    ben.sync()
    ana.sync()
    assert [r.text for r in ben.circles.replies_to(item2.item_id)] == ["me too"]
    assert [r.text for r in ana.circles.replies_to(item2.item_id)] == ["me too"]


def test_no_replies_option(circle) -> None:
    import pytest

    from companion.errors import InvalidInputError

    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    e = ana.entry("just listen", title="Quiet")
    item = ana.circles.share(e, cid, replies=False).value
    ana.sync()
    ben.sync()
    assert ben.inbox()[0].replies_welcome is False
    with pytest.raises(InvalidInputError):
        ben.circles.reply(item.item_id, "but…")


def test_edit_sends_a_new_revision(circle) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    e = ana.entry("first words", title="Draft")
    ana.circles.share(e, cid)
    ana.sync()
    ben.sync()
    assert ana.circles.shares_of(e)[0].changed_since is False
    ana.app.journal.update_entry(e, body="better words")
    status = ana.circles.shares_of(e)
    assert [(s.circle_id, s.revision, s.changed_since) for s in status] == [(cid, 1, True)]
    preview = ana.circles.preview_share(e, cid)
    assert preview.revision == 2 and preview.payload["text"] == "better words"
    ana.circles.share(e, cid)
    ana.sync()
    ben.sync()
    cat.sync()
    for person in (ben, cat):
        items = person.inbox()
        assert [(i.text, i.revision) for i in items] == [("better words", 2)]
    assert ana.circles.shares_of(e)[0].changed_since is False


def test_unshare_removes_from_recipients(circle) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    e = ana.entry("regret", title="Oops")
    keep = ana.entry("stays", title="Keep")
    item = ana.circles.share(e, cid).value
    ana.circles.share(keep, cid)
    ana.sync()
    ben.sync()
    ben.circles.reply(item.item_id, "hm")
    ben.sync()
    ana.circles.unshare(e)
    ana.sync()
    ben.sync()
    cat.sync()
    for person in (ben, cat):
        assert [i.title for i in person.inbox()] == ["Keep"]
        assert person.circles.replies_to(item.item_id) == []
    assert ana.circles.shares_of(e)[0].state == "retracted"


def test_expiry_is_deleted_by_recipients(circle) -> None:
    import time

    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    e = ana.entry("for a day", title="Brief")
    ana.circles.share(e, cid, expires_days=1)
    ana.sync()
    ben.sync()
    assert [i.title for i in ben.inbox()] == ["Brief"]
    ben.circles.clock = lambda: time.time() + 2 * 86400
    assert ben.circles.purge_expired().value == 1  # what the UI calls on app open
    assert ben.inbox() == []
    ben.sync()  # the old envelope is still in the folder: it does not come back
    assert ben.inbox() == []


def test_excerpt_and_preview_show_exactly_what_is_sent(circle) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    e = ana.entry("a long private text with one line to share", title="T", tags=["x"], mood=2)
    preview = ana.circles.preview_share(e, cid, excerpt="one line to share", to=["ben"])
    assert preview.payload["text"] == "one line to share" and preview.payload["excerpt"] is True
    assert preview.payload["tags"] == [] and preview.payload["mood"] is None
    assert [r["name"] for r in preview.recipients] == ["Ben"]
    assert ana.circles.get_circle(cid).outbox == 0  # a preview sends nothing
    ana.circles.share(e, cid, excerpt="one line to share", to=["ben"])
    ana.sync()
    ben.sync()
    got = ben.inbox()[0]
    assert (got.title, got.text, got.tags, got.mood) == ("T", "one line to share", [], None)


def test_approval_flow_and_verify(people, shared) -> None:
    import pytest

    from companion.errors import InvalidInputError

    ana, dan = people["ana"], people["dan"]
    cid = ana.circles.create_circle("Careful", folder=shared).value.id
    code = ana.circles.invite(cid, approve=True).value.code
    dan.circles.join(code, display_name="D")
    dan.sync()
    ana.sync()
    assert [r.name for r in ana.circles.requests(cid)] == ["D"]
    dan.sync()
    assert dan.circles.get_circle(cid).state == "joining"
    ana.circles.approve(cid, "D")
    ana.sync()
    dan.sync()
    assert dan.circles.get_circle(cid).state == "active"
    assert dan.circles.get_circle(cid).name == "Careful"
    # safety numbers: the same on both sides; a wrong one is refused
    sn = ana.circles.safety_number(cid, "D").digits
    assert dan.circles.safety_number(cid, ana.id).digits == sn
    with pytest.raises(InvalidInputError):
        ana.circles.verify_member(cid, "D", "1" * 60)
    assert ana.circles.verify_member(cid, "D", sn).value.verified


def test_removed_member_keeps_old_but_gets_nothing_new(circle, shared) -> None:
    from companion.crypto import open_envelope
    from companion.errors import InvalidEnvelope

    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    before = ana.entry("before", title="Before")
    old_item = ana.circles.share(before, cid).value
    ana.sync()
    ben.sync()
    cat.sync()
    files_before = set(shared.rglob("*.env"))
    ana.circles.remove_member(cid, "Ben")
    after = ana.entry("after removal", title="After")
    ana.circles.share(after, cid)
    ana.app.journal.update_entry(before, body="before, edited")
    ana.circles.share(before, cid)  # a new revision of an item Ben already has
    ana.sync()
    cat.sync()
    cat.circles.reply(old_item.item_id, "a reply after the removal")  # to an item Ben could read
    cat.sync()
    ben.sync()
    assert ben.circles.get_circle(cid).state == "removed"
    assert "stays in your journal" in ben.circles.get_circle(cid).note
    assert [(i.title, i.text) for i in ben.inbox()] == [("Before", "before")]  # what they had stays
    assert ben.circles.replies_to(old_item.item_id) == []
    assert sorted(i.title for i in cat.inbox()) == ["After", "Before"]
    removed = {m.name: m for m in ana.circles.members(cid)}["Ben"]
    assert removed.status == "removed" and "stays on their device" in removed.note
    # with Ben's own keys, nothing written after the removal opens
    ben_keys = ben.circles._store.identity()
    keys_by_id = {x.id: x.circles._store.identity().public for x in (ana, cat)}
    new_files = set(shared.rglob("*.env")) - files_before
    assert new_files
    opened = 0
    for path in new_files:
        try:
            blob = ben.unseal(cid, path.read_bytes())  # removed members keep the seal key: only the envelope guards
            o = open_envelope(blob, me=ben_keys, author_key=lambda fp: keys_by_id.get(fp))
        except InvalidEnvelope:
            continue
        opened += 1
        assert o.header.kind == "roster"  # only the removal notice itself is addressed to him
    assert opened == 1


def test_marker_never_reaches_the_shared_folder(people, shared) -> None:
    mark = "Zq8Marker"
    ana, ben = people["ana"], people["ben"]
    cid = ana.circles.create_circle(f"circle {mark}", folder=shared, display_name=f"ana {mark}").value.id
    ben.circles.join(ana.circles.invite(cid).value.code, display_name=f"ben {mark}")
    ben.sync()
    ana.sync()
    ben.sync()
    e = ana.entry(f"text {mark}", title=f"title {mark}", tags=[f"tag{mark}"], mood=3)
    item = ana.circles.share(e, cid, include_mood_tags=True, warning=f"cw {mark}").value
    ana.sync()
    ben.sync()
    ben.circles.reply(item.item_id, f"reply {mark}")
    ben.sync()
    ana.sync()
    assert ben.inbox()[0].title == f"title {mark}"
    files = [f for f in shared.rglob("*") if f.is_file()]
    assert len(files) >= 5  # join request, add, welcome, item, reply
    for f in files:
        data = f.read_bytes()
        for form in (mark, mark.lower(), mark.upper()):
            assert form.encode() not in data
            assert form.encode("utf-16-le") not in data
        assert mark not in f.name


def test_leave(circle) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    ben.circles.leave(cid)
    ana.sync()
    cat.sync()
    status = {m.name: m.status for m in cat.circles.members(cid)}
    assert status["Ben"] == "left"
    e = ana.entry("after ben left", title="Later")
    item = ana.circles.share(e, cid).value
    assert ben.id not in item.audience


def test_key_change_makes_a_member_unverified_with_a_warning(circle) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    sn = cat.circles.safety_number(cid, "Ben").digits
    assert cat.circles.verify_member(cid, "Ben", sn).value.verified
    old_ben = ben.id
    new_ben = p["ben2"]  # Ben's new device: a new journal, new keys
    code = ana.circles.invite(cid, replaces="Ben").value.code
    new_ben.circles.join(code)
    new_ben.sync()
    ana.sync()
    new_ben.sync()
    cat.sync()
    members = {m.member_id: m for m in cat.circles.members(cid)}
    assert members[old_ben].status == "replaced"
    fresh = members[new_ben.id]
    assert fresh.name == "Ben" and fresh.status == "active"
    assert not fresh.verified and fresh.key_changed and "changed" in fresh.note
    item = ana.circles.share(ana.entry("hi", title="After"), cid).value
    assert new_ben.id in item.audience and old_ben not in item.audience
    ana.sync()
    new_ben.sync()
    ben.sync()
    assert [i.title for i in new_ben.inbox()] == ["After"]
    assert "After" not in [i.title for i in ben.inbox()]
    sn2 = cat.circles.safety_number(cid, new_ben.id).digits
    again = cat.circles.verify_member(cid, new_ben.id, sn2).value
    assert again.verified and not again.key_changed


def test_long_entry_over_64_kib(circle) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    text = "a long night of writing. " * 6000  # ~150 kB: an envelope far above 64 KiB
    ana.circles.share(ana.entry(text, title="Long"), cid)
    ana.sync()
    ben.sync()
    assert [len(i.text) for i in ben.inbox()] == [len(text)]


def test_admin_leaving_and_short_item_ids(circle) -> None:
    import pytest

    from companion.errors import InvalidInputError

    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    with pytest.raises(InvalidInputError, match="only facilitator"):
        ana.circles.leave(cid)
    ana.circles.promote(cid, "Ben")
    item = ana.circles.share(ana.entry("x", title="X"), cid).value
    ana.sync()
    ben.sync()
    cat.sync()
    cat.circles.reply(item.item_id[:8], "short id")  # as `companion inbox` shows it
    assert cat.circles.get_item(item.item_id[:8]).item_id == item.item_id
    ana.circles.leave(cid)
    ben.sync()
    cat.sync()
    roles = {m.name: (m.role, m.status) for m in cat.circles.members(cid)}
    assert roles["Ana"] == ("admin", "left") and roles["Ben"] == ("admin", "active")
    ben.sync()
    assert [r.text for r in ben.circles.replies_to(item.item_id)] == ["short id"]


def test_send_update_keeps_the_original_choices(circle) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    e = ana.entry("first", title="Just Ben", tags=["t"])
    ana.circles.share(e, cid, to=["Ben"], warning="heavy", replies=False, include_mood_tags=True)
    ana.app.journal.update_entry(e, body="second")
    assert ana.circles.shares_of(e)[0].changed_since
    sent = ana.circles.send_update(e).value
    assert [(s.revision, s.audience) for s in sent] == [(2, [ben.id])]
    ana.sync()
    ben.sync()
    cat.sync()
    got = ben.inbox()[0]
    assert (got.text, got.revision, got.warning, got.replies_welcome, got.tags) == ("second", 2, "heavy", False, ["t"])
    assert cat.inbox() == []
