""""Change my name in this circle": a statement each member signs, sealed to the circle, newest wins, carried to
newcomers; never a name another member goes by; never in clear in the shared folder."""

from __future__ import annotations

import shutil

import pytest

from companion.circles import names
from companion.errors import InvalidInputError
from companion.services import Changes


def shown(person, cid) -> dict[str, str]:
    return {m.member_id: m.name for m in person.circles.members(cid)}


def test_a_new_name_reaches_the_others_and_the_roster_name_stays_as_history(circle):
    cid, people = circle
    ana, ben, cat = people["ana"], people["ben"], people["cat"]
    item = ana.circles.share(ana.entry("hello", title="Hi"), cid).value
    ana.sync()
    ben.sync()
    ben.circles.reply(item.item_id, "thanks")
    changed = ben.circles.set_my_name(cid, "  Benji\t ")  # folded like a join name
    assert changed.changes & Changes.CIRCLES and changed.value.name == "Benji"
    assert changed.value.joined_as == "Ben" and changed.value.is_me
    assert ben.circles.get_circle(cid).my_name == "Benji"
    ben.sync()
    report = ana.sync()[0]
    assert "circles" in report.changed and not report.rejected
    cat.sync()
    for p in (ana, cat):
        assert shown(p, cid)[ben.id] == "Benji"
        me = next(m for m in p.circles.members(cid) if m.member_id == ben.id)
        assert me.joined_as == "Ben"  # the signed roster's name, shown beside it
        assert p.circles.find_member(cid, "Benji") == ben.id
    assert [r.author_name for r in ana.circles.replies_to(item.item_id)] == ["Benji"]
    # an admin may change theirs too; the others see it in what she shares
    ana.circles.set_my_name(cid, "Ana M.")
    ana.circles.share(ana.entry("second", title="Two"), cid)
    ana.sync()
    ben.sync()
    assert {i.author_name for i in ben.inbox()} == {"Ana M."}
    assert shown(ben, cid)[ana.id] == "Ana M." and shown(ben, cid)[ben.id] == "Benji"


def test_the_same_name_again_sends_nothing_and_bad_names_are_refused(circle):
    cid, people = circle
    ben = people["ben"]
    ben.circles.set_my_name(cid, "Benji")
    outbox = ben.circles.get_circle(cid).outbox
    assert ben.circles.set_my_name(cid, "Benji").changes == Changes.NONE
    assert ben.circles.get_circle(cid).outbox == outbox
    for bad in ("", "   ", "\x00\x07", "x" * 81):
        with pytest.raises(InvalidInputError):
            ben.circles.set_my_name(cid, bad)
    assert ben.circles.set_my_name(cid, "Be\x00n\x1bJ").value.name == "BenJ"  # control characters dropped
    # nobody may take a name another member goes by, now or joined under (case and spacing ignored)
    for taken in ("Cat", "cat", " ANA "):
        with pytest.raises(InvalidInputError, match="goes by"):
            ben.circles.set_my_name(cid, taken)
    people["ana"].circles.set_my_name(cid, "Annie")
    people["ana"].sync()
    ben.sync()
    with pytest.raises(InvalidInputError):
        ben.circles.set_my_name(cid, "ana")  # still her roster name
    with pytest.raises(InvalidInputError):
        ben.circles.set_my_name(cid, "annie")


def test_an_older_or_replayed_name_never_rolls_back(circle, shared, tmp_path):
    cid, people = circle
    ana, ben = people["ana"], people["ben"]
    before = set(shared.rglob("*.env"))
    ben.circles.set_my_name(cid, "Benji")
    ben.circles.set_my_name(cid, "B.")
    ben.sync()
    written = sorted(set(shared.rglob("*.env")) - before, key=lambda p: p.name)
    assert len(written) == 2
    older = written[0]
    held = tmp_path / "held.env"
    older.rename(held)  # file sync delivers the first rename late
    ana.sync()
    assert shown(ana, cid)[ben.id] == "B."
    shutil.copy(held, older)
    report = ana.sync()[0]
    assert report.ignored == 1 and not report.rejected
    assert shown(ana, cid)[ben.id] == "B."
    # the same bytes again, as a copy in another subfolder: a duplicate, nothing changes
    replay = shared / "replayreplayreplay"  # a writer of its own
    replay.mkdir()
    shutil.copy(held, replay / ("0000000001-" + older.name.split("-", 1)[1]))
    report = ana.sync()[0]
    assert report.duplicates == 1 and report.applied == 0 and shown(ana, cid)[ben.id] == "B."


def test_a_removed_members_new_name_is_refused(circle):
    cid, people = circle
    ana, ben, cat = people["ana"], people["ben"], people["cat"]
    ana.circles.remove_member(cid, ben.id)
    ana.sync()
    cat.sync()
    ben.circles.set_my_name(cid, "Not Ben")  # Ben has not synced since his removal
    ben.sync()
    for p in (ana, cat):
        p.sync()
        assert shown(p, cid)[ben.id] == "Ben"
        assert any(r.reason == "removed_author" and r.author == ben.id for r in p.circles.rejections(cid))
    assert ben.circles.get_circle(cid).state == "removed"
    with pytest.raises(InvalidInputError, match="no longer in this circle"):
        ben.circles.set_my_name(cid, "Again")


def test_a_forged_name_and_one_that_copies_another_member_are_refused_on_receipt(circle):
    cid, people = circle
    ana, ben, cat = people["ana"], people["ben"], people["cat"]
    s = ben.circles._active_session(cid)
    # a modified app skips the service's checks: Cat's name, and a statement signed for Cat by Ben
    with ben.app.vault.transaction():
        counter = s.store.next_counter(cid)
        s.send_name(names.make_statement(s.me, cid, "cat", counter), s.others(), counter=counter)
        forged = names.make_statement(s.me, cid, "Cat 2", s.store.next_counter(cid))
        forged["statement"] = names.b64e(names.b64d(forged["statement"]).replace(ben.id.encode(), cat.id.encode()))
        s.send_name(forged, s.others())
        counter = s.store.next_counter(cid)
        s.send_name(names.make_statement(s.me, "another-circle", "Benny", counter), s.others(), counter=counter)
    ben.sync()
    report = ana.sync()[0]
    assert sorted(r.reason for r in report.rejected) == ["invalid_signature", "malformed", "name_taken"]
    assert shown(ana, cid) == {ana.id: "Ana", ben.id: "Ben", cat.id: "Cat"}


def test_a_newcomer_sees_the_current_names(circle, people):
    cid, _ = circle
    ana, ben, cat, dan, eve = (people[n] for n in ("ana", "ben", "cat", "dan", "eve"))
    ben.circles.set_my_name(cid, "Benji")
    ana.circles.set_my_name(cid, "Annie")
    ben.sync()
    ana.sync()  # Ana's app has Ben's new name: her welcome carries it, signed by Ben
    dan.circles.join(ana.circles.invite(cid).value.code, display_name="Dan")
    dan.sync()
    ana.sync()
    dan.sync()
    assert shown(dan, cid) == {ana.id: "Annie", ben.id: "Benji", cat.id: "Cat", dan.id: "Dan"}
    # Cat changes hers but her app has not synced when Eve is admitted: on seeing the `add`, it sends Eve the
    # signed statement itself (the welcome could not carry it)
    cat.circles.set_my_name(cid, "Caterina")
    eve.circles.join(ana.circles.invite(cid).value.code, display_name="Eve")
    eve.sync()
    ana.sync()
    eve.sync()
    assert shown(eve, cid)[cat.id] == "Cat"
    cat.sync()
    for p in (ana, ben, dan, eve):
        p.sync()
        assert shown(p, cid)[cat.id] == "Caterina"
        assert not p.circles.rejections(cid)
    # the newcomer already had Ben's and Ana's names from the welcome: their devices' copies change nothing
    ben.sync()
    eve.sync()
    assert shown(eve, cid) == {ana.id: "Annie", ben.id: "Benji", cat.id: "Caterina", dan.id: "Dan", eve.id: "Eve"}


def test_a_new_name_never_reaches_the_shared_folder_in_clear(circle, shared):
    cid, people = circle
    ana, ben, dan = people["ana"], people["ben"], people["dan"]
    mark = "Qx7Pseudonym"
    ben.circles.set_my_name(cid, f"ben {mark}")
    ana.circles.set_my_name(cid, f"ana {mark}2")
    ben.sync()
    ana.sync()
    dan.circles.join(ana.circles.invite(cid).value.code, display_name="Dan")
    dan.sync()
    ana.sync()
    dan.sync()
    assert shown(dan, cid)[ben.id] == f"ben {mark}"  # the welcome carried it
    files = [f for f in shared.rglob("*") if f.is_file()]
    assert len(files) >= 8
    for f in files:
        data = f.read_bytes()
        for form in (mark, mark.lower(), mark.upper()):
            assert form.encode() not in data
            assert form.encode("utf-16-le") not in data
        assert mark not in f.name
        # inside the transport seal, a member sees an envelope whose header names no one by name either
        assert mark.encode() not in ana.unseal(cid, data)


def test_invisible_and_lookalike_spellings_of_a_name_are_the_same_name(circle):
    """Zero-width and bidirectional-control characters, compatibility forms (fullwidth letters) and another
    Unicode spelling of the same letters (decomposed accents) must not let a member go by another's name."""
    cid, people = circle
    ana, ben, cat = people["ana"], people["ben"], people["cat"]
    cat.circles.set_my_name(cid, "Zoë")
    cat.sync()
    ben.sync()
    for lookalike in ("Ana\u200b", "A\u2060na", "\u202eanA", "\u200fAna\u200e", "\uff21\uff4e\uff41", "Ana\u00ad",
                      "Zoe\u0308", "Cat\u3164", "\u2800Cat"):  # fmt: skip
        with pytest.raises(InvalidInputError, match="goes by"):
            ben.circles.set_my_name(cid, lookalike)
    # invisible formatting is dropped from a name kept or sent; it is stored composed (NFC)
    assert ben.circles.set_my_name(cid, "\u202eBe\u200bn\u2066ji\u2069").value.name == "Benji"
    assert ben.circles.set_my_name(cid, "Jose\u0301").value.name == "Jos\u00e9"
    # a modified app sending such a name anyway: refused on receipt, the name shown stays
    s = ben.circles._active_session(cid)
    with ben.app.vault.transaction():
        for sneaky in ("Ana\u200b", "\u202eanA"):
            counter = s.store.next_counter(cid)
            s.send_name(names.make_statement(s.me, cid, sneaky, counter), s.others(), counter=counter)
    ben.sync()
    report = ana.sync()[0]
    assert [r.reason for r in report.rejected] == ["malformed", "malformed"]
    assert shown(ana, cid)[ben.id] == "Jos\u00e9"


def test_a_join_name_with_invisible_or_bidi_marks_is_cleaned_by_the_admitting_admin(circle, people, monkeypatch):
    """A modified app skips the joiner's own cleaning; the admin's app cleans the name before signing it into the
    roster, so a right-to-left override cannot reorder the text around it on anyone's screen."""
    cid, _ = circle
    ana, dan = people["ana"], people["dan"]
    code = ana.circles.invite(cid).value.code
    monkeypatch.setattr("companion.services.circles._name", lambda text, what="": text)
    dan.circles.join(code, display_name="\u202eD\u200ban\u2066")
    monkeypatch.undo()
    dan.sync()
    ana.sync()
    dan.sync()
    assert shown(ana, cid)[dan.id] == "Dan" and shown(dan, cid)[dan.id] == "Dan"


def test_a_joiner_asking_for_a_name_someone_goes_by_is_numbered(circle, people):
    """Nobody joins as someone else: the admitting admin signs a numbered name into the roster when the one asked
    for is taken (a member's current name or the one they joined under); the joiner may then choose another."""
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    ben.circles.set_my_name(cid, "Benji")
    ben.sync()
    ana.sync()
    joiners = {"dan": "BEN", "eve": "benji", "fay": "Benji"}  # a joined-under name, a current one, and again
    for key, asked in joiners.items():
        person = people[key]
        person.circles.join(ana.circles.invite(cid).value.code, display_name=asked)
        person.sync()
        ana.sync()
        person.sync()
    names_now = shown(ana, cid)
    assert names_now[people["dan"].id] == "BEN (2)"
    assert names_now[people["eve"].id] == "benji (2)"
    assert names_now[people["fay"].id] == "Benji (3)"
    cat.sync()
    assert shown(cat, cid) == names_now  # the signed roster says so on every device
    assert names.distinct_name("x" * 80, [("m", ["x" * 80])]) == "x" * 76 + " (2)"  # still within the limit
    people["dan"].circles.set_my_name(cid, "Dan")  # and the joiner can then pick a name of their own
    people["dan"].sync()
    ana.sync()
    assert shown(ana, cid)[people["dan"].id] == "Dan"
