"""Meeting announcements and members' check-ins, end to end: real vaults syncing through one shared folder.

Ana facilitates (admin), Ben and Cat are members (the ``circle`` fixture in conftest.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from companion.circles import checkins
from companion.circles.session import payload_bytes
from companion.circles.store import blob_id
from companion.crypto import open_envelope, seal, verify_envelope
from companion.errors import InvalidEnvelope, InvalidInputError, NotFoundError
from companion.services import Changes


def _now() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)


def _meeting(ana, cid: str, *, topic: str = "", at: datetime | None = None, minutes: int = 90) -> Any:
    return ana.app.attendance.add_meeting(at or _now(), "in_person", minutes, circle_id=cid, topic=topic).value


def _announce(ana, cid: str, **kw) -> Any:
    meeting = _meeting(ana, cid, **kw)
    ana.circles.announce_meeting(meeting.id)
    ana.sync()
    return meeting


def _craft(person, cid: str, kind: str, payload: dict, *, to, item_id: str | None = None, revision: int = 1,
           counter: int | None = None) -> bytes:  # fmt: skip
    """Seal an arbitrary envelope as ``person`` (what a modified app could send) and queue it for their next sync."""
    s = person.circles._session(cid)
    recipients = [s.public_of(p.id) for p in to]
    item_id = item_id or payload.get("message_id") or checkins.new_message_id()
    with person.app.vault.transaction():
        if counter is None:
            return s.seal_and_queue(kind=kind, item_id=item_id, revision=revision, payload=payload,
                                    recipients=recipients)  # fmt: skip
        blob = seal(s.me, recipients, kind=kind, circle_id=cid, item_id=item_id, revision=revision, counter=counter,
                    roster_head=s.roster.head, payload=payload_bytes(payload), suite=s.circle.suite)  # fmt: skip
        s.store.enqueue(cid, blob_id(blob), blob, author=s.me.fingerprint, counter=counter)
        return blob


def _check_in_payload(person, cid: str, uid: str, **over) -> dict:
    p = checkins.check_in_payload(checkins.new_message_id(), uid, person.id, cid, _now(), "")
    p.update(over)
    return p


def _files(shared: Path) -> list[Path]:
    return [f for f in shared.rglob("*") if f.is_file()]


def _reasons(reports) -> list[str]:
    return sorted(r.reason for rep in reports for r in rep.rejected)


def _attendances(ana, day) -> Any:
    report = ana.app.attendance.preview("month", day, day, today=day)
    return next(r for r in report.rows if r["format"] == "in_person")["attendances"]


def test_announce_check_in_confirm(circle) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    meeting = _announce(ana, cid, topic="grief and loss")
    assert ana.circles.announcements(meeting.id)[0].state == "announced"
    changes = ben.circles.sync().changes
    assert changes & Changes.MEETINGS
    [seen] = ben.circles.meetings_announced()
    assert (seen.meeting_uid, seen.format, seen.minutes, seen.topic) == (meeting.uid, "in_person", 90, "")
    assert seen.starts_at == meeting.starts_at and seen.announced_by == ana.id and seen.announced_by_name == "Ana"
    assert seen.checked_in_at is None and seen.opens < _now() < seen.closes
    assert ben.circles.meetings_announced(cid) == [seen]

    sent = ben.circles.check_in(meeting.uid[:8]).value
    assert sent.recipients == 1 and sent.display_name == "Ben" and len(sent.message_id) == 32
    again = ben.circles.check_in(meeting.uid)
    assert again.changes == Changes.NONE and again.value.message_id == sent.message_id
    assert ben.circles.meetings_announced()[0].checked_in_at == sent.checked_in_at
    ben.sync()
    before = _attendances(ana, meeting.day)
    assert before == 0
    assert ana.circles.sync().changes & Changes.MEETINGS
    [pending] = ana.app.attendance.pending_check_ins()
    ci = pending.check_in
    assert (ci.member_id, ci.meeting_uid, ci.circle_id, ci.display_name) == (ben.id, meeting.uid, cid, "Ben")
    assert ci.message_id == sent.message_id and pending.meeting_id == meeting.id
    assert _attendances(ana, meeting.day) == 0  # pending counts for nothing

    attendee = ana.app.attendance.confirm_check_in(pending.id).value
    assert (attendee.person.name, attendee.person.member_id, attendee.source) == ("Ben", ben.id, "check_in")
    assert [a.person.name for a in ana.app.attendance.attendees(meeting.id)] == ["Ben"]
    assert ana.app.attendance.pending_check_ins() == []
    assert _attendances(ana, meeting.day) not in (0, None)  # counted (one person: hidden as a small number)
    assert ana.app.attendance.get_meeting(meeting.id).attendee_count == 1


def test_decline_and_second_member(circle) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    meeting = _announce(ana, cid)
    for person in (ben, cat):
        person.sync()
        person.circles.check_in(meeting.uid, display_name="")
        person.sync()
    ana.sync()
    pending = {c.check_in.member_id: c for c in ana.app.attendance.pending_check_ins()}
    assert set(pending) == {ben.id, cat.id}
    ana.app.attendance.decline_check_in(pending[cat.id].id)
    person = ana.app.attendance.confirm_check_in(pending[ben.id].id, name="B.").value.person
    assert person.name == "B." and [a.person.id for a in ana.app.attendance.attendees(meeting.id)] == [person.id]


def test_check_in_is_sealed_to_admins_only(circle, shared: Path) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    meeting = _announce(ana, cid)
    ben.sync()
    cat.sync()
    before = set(_files(shared))
    cat.circles.check_in(meeting.uid)
    cat.sync()
    [new] = set(_files(shared)) - before
    blob = ben.unseal(cid, new.read_bytes())
    bs = ben.circles._session(cid)
    header = verify_envelope(blob, bs.public_of)
    assert header.kind == checkins.KIND_CHECK_IN and header.author == cat.id
    with pytest.raises(InvalidEnvelope):  # Ben, a member, holds no key to it
        open_envelope(blob, me=bs.me, author_key=bs.public_of)
    report = ben.sync()[0]
    assert report.not_for_me == 1 and report.rejected == []
    as_ = ana.circles._session(cid)
    opened = open_envelope(blob, me=as_.me, author_key=as_.public_of)
    assert json.loads(opened.payload)["member_id"] == cat.id
    assert meeting.uid.encode() not in blob and b"Cat" not in blob
    raw = new.read_bytes()  # the folder's host sees neither the kind nor the author
    assert checkins.KIND_CHECK_IN.encode() not in raw and cat.id.encode() not in raw


def test_window_and_unannounced(circle) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    later = _now() + timedelta(days=3)
    meeting = _announce(ana, cid, at=later, minutes=60)
    hidden = _meeting(ana, cid)  # never announced
    ben.sync()
    with pytest.raises(NotFoundError):
        ben.circles.check_in(hidden.uid)
    with pytest.raises(InvalidInputError, match="open from"):
        ben.circles.check_in(meeting.uid)
    ben.circles.clock = lambda: (later - timedelta(minutes=59)).timestamp()
    assert ben.circles.check_in(meeting.uid).value.recipients == 1
    with pytest.raises(NotFoundError):  # the facilitator's own meetings are not "announced to" them
        ana.circles.check_in(meeting.uid)
    opens, closes = checkins.window(later, 60)
    assert (opens, closes) == (later - timedelta(hours=1), later + timedelta(minutes=60, hours=24))


def test_forged_replayed_and_unknown_are_rejected_without_stopping_the_batch(circle, shared: Path) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    meeting = _announce(ana, cid)
    hidden = _meeting(ana, cid)  # never announced
    ben.sync()
    cat.sync()
    # Ben: an unannounced meeting, someone else's member id, another circle's id, then an honest check-in;
    # then the honest one again under a used counter, and again under a fresh counter (same message id)
    _craft(ben, cid, checkins.KIND_CHECK_IN, _check_in_payload(ben, cid, hidden.uid), to=[ana])
    _craft(ben, cid, checkins.KIND_CHECK_IN, _check_in_payload(ben, cid, meeting.uid, member_id=cat.id), to=[ana])
    _craft(ben, cid, checkins.KIND_CHECK_IN, _check_in_payload(ben, cid, meeting.uid, circle_id="x" * 26), to=[ana])
    _craft(ben, cid, checkins.KIND_CHECK_IN, _check_in_payload(ben, cid, meeting.uid, checked_in_at="soon"), to=[ana])
    honest = ben.circles.check_in(meeting.uid).value
    payload = _check_in_payload(ben, cid, meeting.uid, message_id=honest.message_id)
    used = ben.circles._store.max_counter(cid, ben.id)
    _craft(ben, cid, checkins.KIND_CHECK_IN, payload, to=[ana], item_id=honest.message_id, counter=used)
    _craft(ben, cid, checkins.KIND_CHECK_IN, payload, to=[ana], item_id=honest.message_id)
    # Cat, a member, announces a meeting of her own
    fake = checkins.meeting_payload("fake-uid", _now(), "online", 60, None)
    _craft(cat, cid, checkins.KIND_MEETING, fake, to=[ana, ben])
    ben.sync()
    cat.sync()
    # a replayed file: Ben's honest check-in copied under another name into Cat's subfolder
    kinds = {f: _kind_and_item(f, ben, cid) for f in _files(shared)}
    honest_file = next(f for f, k in kinds.items() if k == (checkins.KIND_CHECK_IN, honest.message_id))
    elsewhere = next(f for f, k in kinds.items() if k[0] == checkins.KIND_MEETING and f.parent != honest_file.parent)
    copy = elsewhere
    (copy.parent / ("9" + honest_file.name[1:])).write_bytes(honest_file.read_bytes())
    reports = ana.sync()
    assert _reasons(reports) == ["forged_author", "malformed", "not_admin", "replayed_counter", "unknown_meeting",
                                 "wrong_circle"]  # fmt: skip
    assert reports[0].applied >= 1 and reports[0].ignored >= 1  # the honest one, and the same message again
    assert reports[0].duplicates >= 1  # the copied file
    [pending] = ana.app.attendance.pending_check_ins()
    assert pending.check_in.message_id == honest.message_id and pending.check_in.member_id == ben.id
    ben_report = ben.sync()[0]
    assert [r.reason for r in ben_report.rejected] == ["not_admin"]
    assert ben.circles.meetings_announced()[0].meeting_uid == meeting.uid
    assert len(ben.circles.meetings_announced()) == 1
    assert {r.reason for r in ana.circles.rejections(cid)} >= {"unknown_meeting", "not_admin"}


def _kind_and_item(f: Path, person, cid: str) -> tuple[str, str]:
    try:
        h = verify_envelope(person.unseal(cid, f.read_bytes()), person.circles._session(cid).public_of)
    except InvalidEnvelope:
        return "", ""
    return h.kind, h.item_id


def test_removed_member_cannot_check_in(circle) -> None:
    cid, p = circle
    ana, cat = p["ana"], p["cat"]
    meeting = _announce(ana, cid)
    cat.sync()
    ana.circles.remove_member(cid, "Cat")
    ana.sync()
    cat.circles.check_in(meeting.uid)  # Cat's app has not heard yet
    cat.sync()  # pushes, then learns of the removal
    assert _reasons(ana.sync()) == ["removed_author"]
    assert ana.app.attendance.pending_check_ins() == []


def test_edit_and_delete_reach_members(circle) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    meeting = _announce(ana, cid)
    ben.sync()
    assert ana.app.attendance.update_meeting(meeting.id, notes="private").changes == Changes.MEETINGS
    assert ana.app.attendance.update_meeting(meeting.id, minutes=120).changes & Changes.CIRCLES
    ana.sync()
    ben.sync()
    [seen] = ben.circles.meetings_announced()
    assert (seen.minutes, seen.revision) == (120, 2)
    ana.circles.announce_meeting(meeting.id, include_topic=True)  # again, now with the (empty) topic choice
    ana.app.attendance.update_meeting(meeting.id, topic="on the topic")
    ana.sync()
    ben.sync()
    assert ben.circles.meetings_announced()[0].topic == "on the topic"
    stale = ben.circles.check_in(meeting.uid).value  # queued before the withdrawal reaches Ben
    assert ana.app.attendance.delete_meeting(meeting.id).changes & Changes.CIRCLES
    assert ana.circles.announcements()[0].state == "withdrawn"
    ana.sync()
    ben.sync()  # pushes the stale check-in, then learns of the withdrawal
    assert ben.circles.meetings_announced() == []
    assert _reasons(ana.sync()) == ["meeting_withdrawn"]
    assert stale.message_id not in {c.check_in.message_id for c in ana.app.attendance.pending_check_ins()}


def test_topic_and_names_never_reach_the_folder(people, shared: Path) -> None:
    mark = "Qx7Marker"
    ana, ben = people["ana"], people["ben"]
    cid = ana.circles.create_circle("group", folder=shared, display_name="Ana").value.id
    ben.circles.join(ana.circles.invite(cid).value.code, display_name=f"Ben {mark}")
    ben.sync()
    ana.sync()
    ben.sync()
    secret = _meeting(ana, cid, topic=f"topic {mark}")
    ana.circles.announce_meeting(secret.id)
    shown = _meeting(ana, cid, topic=f"shown {mark}")
    ana.circles.announce_meeting(shown.id, include_topic=True)
    ana.sync()
    ben.sync()
    topics = {m.meeting_uid: m.topic for m in ben.circles.meetings_announced()}
    assert topics == {secret.uid: "", shown.uid: f"shown {mark}"}
    ben.circles.check_in(secret.uid)
    ben.circles.check_in(shown.uid, display_name=f"B {mark}")
    ben.sync()
    ana.sync()
    names = sorted(c.check_in.display_name for c in ana.app.attendance.pending_check_ins())
    assert names == [f"B {mark}", f"Ben {mark}"]
    for f in _files(shared):
        data = f.read_bytes()
        for form in (mark, mark.lower(), mark.upper()):
            assert form.encode() not in data and form.encode("utf-16-le") not in data
        for uid in (secret.uid, shown.uid):
            assert uid.encode() not in data


def test_only_an_admin_announces_and_only_linked_meetings(circle) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    loose = ana.app.attendance.add_meeting(_now(), "online", 60).value
    with pytest.raises(InvalidInputError, match="no circle"):
        ana.circles.announce_meeting(loose.id)
    ana.circles.announce_meeting(loose.id, circle=cid)  # or name the circle
    own = ben.app.attendance.add_meeting(_now(), "online", 60, circle_id=cid).value
    with pytest.raises(InvalidInputError, match="admin"):
        ben.circles.announce_meeting(own.id)


def test_cli(circle, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from companion.cli import main

    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    monkeypatch.setenv("COMPANION_PASSPHRASE", "pw")

    def run(person, *args: str) -> tuple[int, str]:
        capsys.readouterr()
        person.app.lock()  # the CLI opens the vault itself
        code = main(["--data-dir", str(person.app.data_dir), *args])
        out = capsys.readouterr()
        person.app.unlock("pw")
        return code, out.out + out.err

    code, out = run(ana, "meeting", "add", "--circle", cid, "--date", _now().strftime("%Y-%m-%dT%H:%M"),
                    "--format", "online", "--minutes", "60", "--topic", "kept")  # fmt: skip
    mid = out.strip().splitlines()[-1]
    code, out = run(ana, "meeting", "announce", mid)
    assert code == 0 and "next sync" in out
    run(ana, "sync")
    run(ben, "sync")
    code, out = run(ben, "--json", "meeting", "announced")
    [announced] = json.loads(out)
    assert announced["topic"] == "" and announced["format"] == "online" and announced["checked_in_at"] is None
    code, out = run(ben, "meeting", "checkin", announced["meeting_uid"][:6], "--circle", cid)
    assert code == 0 and len(out.strip().splitlines()[-1]) == 32  # the message id
    run(ben, "sync")
    run(ana, "sync")
    code, out = run(ana, "--json", "meeting", "checkins")
    [pending] = json.loads(out)
    assert pending["name"] == "Ben" and pending["meeting"] == int(mid)
    code, out = run(ana, "meeting", "confirm", str(pending["id"]))
    assert code == 0 and "Ben" in out
    code, out = run(ana, "meeting", "checkins")
    assert "No check-ins" in out
    code, out = run(ana, "meeting", "decline", str(pending["id"]))
    assert code != 0 and "already confirmed" in out


def test_two_admins_only_the_announcer_records(circle) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    ana.circles.promote(cid, "Cat")
    meeting = _announce(ana, cid)  # sealed to Ben and Cat
    ben.sync()
    cat.sync()
    assert [m.meeting_uid for m in cat.circles.meetings_announced()] == [meeting.uid]
    assert ben.circles.check_in(meeting.uid).value.recipients == 2  # both admins
    ben.sync()
    cat_report = cat.sync()[0]
    assert cat_report.rejected == [] and cat_report.ignored == 1  # Cat's app has no such meeting: not hers
    assert cat.app.attendance.pending_check_ins() == []
    ana.sync()
    assert [c.check_in.member_id for c in ana.app.attendance.pending_check_ins()] == [ben.id]


def test_withdraw_then_announce_again_and_moving_circles(circle, people, shared: Path) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    meeting = _announce(ana, cid)
    ben.sync()
    [first] = ana.circles.withdraw_meeting(meeting.id).value
    assert first.state == "withdrawn"
    ana.sync()
    ben.sync()
    assert ben.circles.meetings_announced() == []
    again = ana.circles.announce_meeting(meeting.id).value
    assert again.item_id != first.item_id and again.revision == 1
    ana.sync()
    ben.sync()
    assert [m.meeting_uid for m in ben.circles.meetings_announced()] == [meeting.uid]
    # moved to another circle: the old announcement is not re-sent there, nor sent to the new circle
    other = ana.circles.create_circle("Thursday", folder=shared).value.id
    changes = ana.app.attendance.update_meeting(meeting.id, circle_id=other, minutes=30).changes
    assert not changes & Changes.CIRCLES
    [still] = [a for a in ana.circles.announcements(meeting.id) if a.state == "announced"]
    assert still.circle_id == cid and still.changed


def test_malformed_payloads_are_rejected_never_crash(circle) -> None:
    """Payloads with wrong types, missing or extra-long fields: every one is refused as ``malformed`` (never
    ``could_not_apply``) and nothing is stored. ``COMPANION_TRIALS`` runs more random variants."""
    import os
    import random

    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    meeting = _announce(ana, cid)
    ben.sync()
    rng = random.Random(8)
    junk: list[Any] = [None, 0, -1, 1441, True, 1.5, "", "x" * 300, [], {}, "2026-13-40T99:00", "2026-03-01T10:00"]
    good_meeting = checkins.meeting_payload("uid-1", _now(), "online", 60, None)
    good_check_in = _check_in_payload(ben, cid, meeting.uid)
    trials = int(os.environ.get("COMPANION_TRIALS", "12"))
    sent = 0
    for _ in range(trials):
        bad = dict(good_meeting)
        bad[rng.choice(["meeting_uid", "starts_at", "format", "minutes", "topic"])] = rng.choice(junk)
        try:
            checkins.parse_meeting(bad)
        except ValueError:
            _craft(ana, cid, checkins.KIND_MEETING, bad, to=[ben])
            sent += 1
        bad_ci = dict(good_check_in, message_id=checkins.new_message_id())
        key = rng.choice(["meeting_uid", "member_id", "circle_id", "checked_in_at", "display_name"])
        bad_ci[key] = rng.choice([j for j in junk if not isinstance(j, str) or key == "checked_in_at"])
        _craft(ben, cid, checkins.KIND_CHECK_IN, bad_ci, to=[ana])
        sent += 1
    ana.sync()
    ben.sync()
    ana.sync()
    every = [r.reason for who in (ana, ben) for r in who.circles.rejections(cid, limit=10**6)]
    assert every == ["malformed"] * sent
    assert len(ben.circles.meetings_announced()) == 1 and ana.app.attendance.pending_check_ins() == []


@pytest.mark.parametrize("approve", [False, True], ids=["invite", "approved-request"])
def test_a_newcomer_is_told_of_meetings_not_over_yet(circle, approve: bool) -> None:
    """Announcements went to the members of the day; someone admitted later hears of the meetings not over yet
    (and only those), whether the invite admits at once or the facilitator approves the request."""
    cid, p = circle
    ana, ben, dan = p["ana"], p["ben"], p["dan"]
    now = _announce(ana, cid, at=_now() - timedelta(minutes=10), topic="boundaries")  # under way
    ana.circles.announce_meeting(now.id, include_topic=True)
    later = _announce(ana, cid, at=_now() + timedelta(days=2))
    past = _announce(ana, cid, at=_now() - timedelta(days=3))
    ben.sync()
    everything = {now.uid, later.uid, past.uid}
    assert {m.meeting_uid for m in ben.circles.meetings_announced()} == everything

    code = ana.circles.invite(cid, approve=approve).value.code
    dan.circles.join(code, display_name="Dan")
    dan.sync()
    ana.sync()
    if approve:
        assert dan.circles.meetings_announced() == []
        ana.circles.approve(cid, "Dan")
        ana.sync()
    dan.sync()
    seen = {m.meeting_uid: m for m in dan.circles.meetings_announced()}
    assert set(seen) == {now.uid, later.uid}
    assert (seen[now.uid].topic, seen[now.uid].announced_by) == ("boundaries", ana.id)  # the topic choice kept
    dan.circles.check_in(now.uid)
    dan.sync()
    ana.sync()
    assert [c.check_in.member_id for c in ana.app.attendance.pending_check_ins()] == [dan.id]
    ben.sync()  # Ben got the same meetings again as their next revision: nothing doubled, nothing lost
    assert sorted(m.meeting_uid for m in ben.circles.meetings_announced()) == sorted(everything)


def test_a_newcomer_admitted_by_another_admin_is_told_too(circle) -> None:
    """Cat, a second facilitator, admits Dan: Ana's app learns of it from the roster and tells Dan of her
    meetings."""
    cid, p = circle
    ana, cat, dan = p["ana"], p["cat"], p["dan"]
    ana.circles.promote(cid, "Cat")
    soon = _announce(ana, cid, at=_now() + timedelta(days=1))
    cat.sync()
    code = cat.circles.invite(cid).value.code
    dan.circles.join(code, display_name="Dan")
    dan.sync()
    cat.sync()  # Cat's app admits Dan
    dan.sync()
    assert dan.circles.meetings_announced() == []  # Cat did not announce it: hers has nothing to send
    ana.sync()  # Ana's app applies the admission and announces again
    dan.sync()
    assert [m.meeting_uid for m in dan.circles.meetings_announced()] == [soon.uid]
