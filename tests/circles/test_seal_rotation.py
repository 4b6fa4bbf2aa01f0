"""Rotating the transport seal (protocol.md §10.2): keyrings, rotation when an admin removes a member, members
who were offline, two admins at once, sealing a circle made without a seal, and invites made before a rotation."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.errors import InvalidInputError
from companion.sync.transports import check_settings, make_transport
from companion.sync.transports.folder import FolderTransport
from companion.sync.transports.sealed import (
    SealedTransport,
    SealRing,
    TransportSeal,
    install_key,
    invite_settings,
    key_id,
    new_seal_key,
    parse_seal_key,
    ring_keys,
)
from tests.circles.conftest import forget_seal

# -- keyrings ----------------------------------------------------------------------------------------------------


def test_a_later_epoch_wins_and_a_tie_is_broken_the_same_way_everywhere() -> None:
    k0, a, b, c = (new_seal_key() for _ in range(4))
    base = {"kind": "folder", "path": "/x", "seal": k0}
    lo, hi = sorted((a, b), key=lambda k: key_id(parse_seal_key(k)))
    # two admins rotate from epoch 0 at once: whatever order the rotations arrive in, the higher key id wins
    one = install_key(install_key(base, lo, 1), hi, 1)
    two = install_key(install_key(base, hi, 1), lo, 1)
    assert one["seal"] == two["seal"] == hi and one["seal_epoch"] == two["seal_epoch"] == 1
    assert set(one["seal_previous"]) == set(two["seal_previous"]) == {lo, k0}  # nothing forgotten
    # a later rotation (epoch 2) wins over both, and an older one arriving late does not take over
    later = install_key(one, c, 2)
    assert later["seal"] == c and install_key(later, lo, 1)["seal"] == c
    assert ring_keys(later)[0] == parse_seal_key(c) and len(ring_keys(later)) == 4
    assert install_key(later, c, 2) == later  # the same rotation twice changes nothing
    assert check_settings(later) == later
    # a key learned for reading only (from a welcome) never becomes current
    assert install_key(base, a, None)["seal"] == k0


def test_invite_codes_carry_the_current_key_only() -> None:
    k0, k1 = new_seal_key(), new_seal_key()
    settings = install_key({"kind": "folder", "path": "/x", "seal": k0}, k1, 1)
    assert invite_settings(settings) == {"kind": "folder", "path": "/x", "seal": k1}


def test_damaged_keyrings_are_refused(tmp_path: Path) -> None:
    k0, k1 = new_seal_key(), new_seal_key()
    base = {"kind": "folder", "path": str(tmp_path), "seal": k0}
    for bad in ({"seal_previous": [k0]}, {"seal_previous": [k1, k1]}, {"seal_previous": ["nope"]},
                {"seal_previous": k1}, {"seal_epoch": -1}, {"seal_epoch": True}, {"seal_epoch": "2"}):  # fmt: skip
        with pytest.raises(InvalidInputError, match="seal key"):
            check_settings({**base, **bad})
    with pytest.raises(InvalidInputError, match="seal key"):
        check_settings({"kind": "folder", "path": str(tmp_path), "seal_previous": [k1]})


def test_a_keyring_opens_blobs_sealed_under_any_of_its_keys(tmp_path: Path) -> None:
    old, new = parse_seal_key(new_seal_key()), parse_seal_key(new_seal_key())
    FolderTransport(tmp_path, "writeraaaaaaaaaaaaaa").push(
        [TransportSeal(old).wrap(b"CPNE before"), TransportSeal(new).wrap(b"CPNE after"), b"CPNE unsealed"]
    )
    ring = SealedTransport(FolderTransport(tmp_path, "readeraaaaaaaaaaaaaa"), [new, old])
    assert ring.pull(None).blobs == [b"CPNE before", b"CPNE after", b"CPNE unsealed"]
    only_old = SealedTransport(FolderTransport(tmp_path, "readeraaaaaaaaaaaaaa"), old).pull(None).blobs
    assert only_old[0] == b"CPNE before" and only_old[1][:4] == b"CPNT" and only_old[2] == b"CPNE unsealed"
    assert SealRing([new, old]).wrap(b"x") == TransportSeal(new).wrap(b"x")  # sealing uses the current key
    settings = {"kind": "folder", "path": str(tmp_path), "seal": new_seal_key()}
    t = make_transport(install_key(settings, new_seal_key(), 1), writer_id="writeraaaaaaaaaaaaaa")
    assert isinstance(t, SealedTransport)


# -- circles over a real shared folder ----------------------------------------------------------------------------


def settings_of(person, cid: str) -> dict:
    return person.app.circles._store.circle(cid).transport


def ring_of(person, cid: str) -> list[bytes]:
    return ring_keys(settings_of(person, cid))


def files(shared: Path) -> set[Path]:
    return set(shared.rglob("*.env"))


def opened_by(keys: list[bytes], paths) -> list[bytes]:
    """What a holder of ``keys`` gets from these files: the inner blob if one key opens it, else the file."""
    ring = SealRing(keys) if keys else None
    out = []
    for f in sorted(paths):
        data = f.read_bytes()
        out.append(ring.receive(data) if ring is not None else data)
    return out


def test_removal_rotates_the_seal_and_the_removed_member_cannot_read_what_follows(circle, shared: Path) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    before_key = settings_of(ana, cid)["seal"]
    cats_ring = ring_of(cat, cid)
    old_files = files(shared)
    ana.circles.remove_member(cid, cat.id)
    new_key = settings_of(ana, cid)["seal"]
    assert new_key != before_key and settings_of(ana, cid)["seal_previous"] == [before_key]
    # made knowing the removal: its epoch's high bits are the roster's length after it
    assert settings_of(ana, cid)["seal_epoch"] == ana.circles.get_circle(cid).roster_seq << 32
    ana.sync()
    [removal, rotation] = sorted(files(shared) - old_files)
    # both go out under the old key: Cat must learn she was removed, Ben must open the envelope with the new key
    assert [b[:4] for b in opened_by(cats_ring, [removal, rotation])] == [b"CPNE", b"CPNE"]
    ben.sync()
    assert settings_of(ben, cid)["seal"] == new_key and parse_seal_key(before_key) in ring_of(ben, cid)
    [report] = cat.sync()
    assert report.removed and cat.circles.get_circle(cid).state == "removed"
    assert new_key not in str(settings_of(cat, cid)) and ring_of(cat, cid) == cats_ring  # never reached her
    # after the rotation: an item, a reply and a status, sealed under the new key
    rotated = files(shared)
    item = ana.circles.share(ana.entry("after cat left", title="After"), cid).value
    ana.sync()
    ben.sync()
    reply = ben.circles.reply(item.item_id, "seen").value
    ben.circles.set_availability(cid, False)
    ben.sync()
    ana.sync()
    assert [r.text for r in ana.circles.replies_to(item.item_id)] == ["seen"]
    after = files(shared) - rotated
    assert len(after) == 3
    # Cat, with every key she ever held, opens none of them and finds no header field in them
    seen_by_cat = b"\0".join(opened_by(cats_ring, after))
    assert all(b[:4] == b"CPNT" for b in opened_by(cats_ring, after))
    needles = [cid, item.item_id, reply.reply_id, ana.id, ben.id, "item", "reply", "status"]
    assert [n for n in needles if n.encode() in seen_by_cat] == []
    # the same bytes under Ben's keyring are the envelopes, headers and all (the test can fail)
    seen_by_ben = b"\0".join(opened_by(ring_of(ben, cid), after))
    assert [n for n in needles if n.encode() in seen_by_ben] == needles
    # old blobs still open for the members: every file in the folder opens under Ben's keyring
    assert all(b[:4] in (b"CPNE", b"CPNI") for b in opened_by(ring_of(ben, cid), files(shared)))
    assert all(b[:4] in (b"CPNE", b"CPNI") for b in opened_by(cats_ring, old_files))
    assert [i.title for i in ben.inbox()] == ["After"]


def test_the_new_key_is_only_ever_inside_end_to_end_encryption(circle, shared: Path, tmp_path: Path) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    old_key = settings_of(ana, cid)["seal"]
    ana.circles.remove_member(cid, cat.id)
    new_key = settings_of(ana, cid)["seal"]
    assert new_key != old_key
    ana.sync()
    ben.sync()
    cat.sync()
    assert settings_of(ben, cid)["seal"] == new_key
    raw = parse_seal_key(new_key)
    everything = b"".join(f.read_bytes() for f in files(shared))
    inner = b"".join(opened_by(ring_of(ben, cid), files(shared)))  # what any holder of the keys sees
    for needle in (new_key.encode(), raw):
        assert needle not in everything and needle not in inner
    for p_ in (ana, ben, cat):
        p_.app.lock()
    for needle in (new_key.encode(), raw):
        assert not [f for f in (tmp_path / "vaults").rglob("*") if f.is_file() and needle in f.read_bytes()]


def waiting(person) -> list[str]:
    """Why the blobs ``person``'s vault keeps waiting are waiting."""
    return sorted(r[0] for r in person.app.vault.conn.execute("SELECT reason FROM pending_blobs").fetchall())


def hold_back(path: Path, tmp_path: Path) -> Path:
    """Take a file out of the shared folder, as a file sync that has not delivered it yet."""
    held = tmp_path / "held" / path.parent.name
    held.mkdir(parents=True, exist_ok=True)
    return path.rename(held / path.name)


def deliver(held: Path, shared: Path) -> None:
    held.rename(shared / held.parent.name / held.name)


def test_an_offline_member_catches_up_even_when_later_blobs_arrive_first(circle, shared: Path, people,
                                                                          tmp_path: Path) -> None:  # fmt: skip
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    dan = people["dan"]
    dan.circles.join(ana.circles.invite(cid).value.code, display_name="Dan")
    dan.sync()
    ana.sync()
    dan.sync()
    ben.sync()
    cat.sync()
    before = files(shared)
    ana.circles.remove_member(cid, dan.id)  # Cat is offline through all of this
    ana.sync()
    rotation = max(files(shared) - before)
    ben.sync()
    ana.circles.share(ana.entry("one", title="One"), cid)
    ana.sync()
    ben.circles.share(ben.entry("two", title="Two"), cid)
    ben.sync()
    # Cat's file sync delivers Ana's and Ben's new files before the rotation that holds their key
    held = hold_back(rotation, tmp_path)
    [report] = cat.sync()
    assert report.rejected == [] and report.deferred == 2 and cat.inbox() == []
    assert waiting(cat) == ["unreadable", "unreadable"]  # sealed under a key Cat does not have yet
    assert settings_of(cat, cid).get("seal_epoch") is None
    deliver(held, shared)
    [report] = cat.sync()
    assert report.rejected == [] and report.deferred == 0
    assert sorted(i.title for i in cat.inbox()) == ["One", "Two"]
    assert settings_of(cat, cid)["seal"] == settings_of(ana, cid)["seal"] and waiting(cat) == []
    assert settings_of(cat, cid)["seal_epoch"] == settings_of(ana, cid)["seal_epoch"]
    assert cat.circles.members(cid) and {m.member_id: m.status for m in cat.circles.members(cid)}[dan.id] == "removed"
    # Dan (removed) saw the removal, and nothing after it
    [report] = dan.sync()
    assert report.removed and dan.inbox() == []


def test_a_member_offline_for_two_rotations_gets_both_in_order(circle, shared: Path, people) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    dan, eve = people["dan"], people["eve"]
    for x in (dan, eve):
        x.circles.join(ana.circles.invite(cid).value.code, display_name=x.name)
        x.sync()
        ana.sync()
        x.sync()
    ana.circles.remove_member(cid, dan.id)
    ana.circles.share(ana.entry("between", title="Between"), cid)
    ana.circles.remove_member(cid, eve.id)
    ana.circles.share(ana.entry("last", title="Last"), cid)
    ana.sync()
    assert settings_of(ana, cid)["seal_epoch"] == ana.circles.get_circle(cid).roster_seq << 32
    assert len(ring_of(ana, cid)) == 3
    [report] = ben.sync()  # offline for both: one sync brings both rotations and what each sealed
    assert report.rejected == [] and report.deferred == 0
    assert sorted(i.title for i in ben.inbox()) == ["Between", "Last"]
    assert ring_of(ben, cid) == ring_of(ana, cid)
    # Dan, removed first, holds the first key only: the second item is closed to him, headers and all
    [report] = eve.sync()
    assert report.removed and [i.title for i in eve.inbox()] == ["Between"]
    assert dan.sync()[0].removed and dan.inbox() == []


def test_an_invite_made_before_a_rotation_still_admits_and_brings_the_current_key(circle, shared: Path,
                                                                                 people) -> None:  # fmt: skip
    cid, p = circle
    ana, cat = p["ana"], p["cat"]
    old_code = ana.circles.invite(cid).value.code
    old_key = settings_of(ana, cid)["seal"]
    ana.circles.remove_member(cid, cat.id)
    ana.circles.share(ana.entry("after the rotation", title="New"), cid)
    ana.sync()
    eve = people["eve"]
    eve.circles.join(old_code, display_name="Eve")
    assert settings_of(eve, cid)["seal"] == old_key  # all the code could carry
    eve.sync()
    ana.sync()  # admits: the welcome goes out under the key the code carried
    [report] = eve.sync()
    assert eve.circles.get_circle(cid).state == "active" and report.joined
    assert settings_of(eve, cid)["seal"] == settings_of(ana, cid)["seal"] != old_key
    assert ring_of(eve, cid) == ring_of(ana, cid)  # the earlier keys too: the history opens
    assert report.rejected == [] and report.deferred == 0
    ana.circles.share(ana.entry("welcome, Eve", title="Hello"), cid)
    ana.sync()
    eve.sync()
    assert [i.title for i in eve.inbox()] == ["Hello"]
    # and a new code carries the current key only
    from companion.circles.invites import InviteCode

    fresh = InviteCode.decode(ana.circles.invite(cid).value.code).transport
    assert fresh["seal"] == settings_of(ana, cid)["seal"] and "seal_previous" not in fresh


def test_two_admins_rotating_at_once_end_on_the_same_key_and_lose_nothing(circle, shared: Path) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    ana.circles.promote(cid, ben.id)
    ana.sync()
    ben.sync()
    cat.sync()
    ana.circles.seal_circle(cid)  # neither has seen the other's rotation yet
    ben.circles.seal_circle(cid)
    ka, kb = settings_of(ana, cid)["seal"], settings_of(ben, cid)["seal"]
    epoch = settings_of(ana, cid)["seal_epoch"]
    assert ka != kb and epoch == settings_of(ben, cid)["seal_epoch"] == ana.circles.get_circle(cid).roster_seq << 32
    ana.circles.share(ana.entry("from ana", title="A"), cid)
    ben.circles.share(ben.entry("from ben", title="B"), cid)
    for x in (ana, ben, cat, ana, ben, cat):
        x.sync()
    winner = max((ka, kb), key=lambda k: key_id(parse_seal_key(k)))
    assert {settings_of(x, cid)["seal"] for x in (ana, ben, cat)} == {winner}
    assert [i.title for i in cat.inbox() if i.title in "AB"] and sorted(i.title for i in cat.inbox()) == ["A", "B"]
    assert [i.title for i in ana.inbox()] == ["B"] and [i.title for i in ben.inbox()] == ["A"]
    for x in (ana, ben, cat):
        assert {parse_seal_key(ka), parse_seal_key(kb)} <= set(ring_of(x, cid))
    # a later rotation (by either) wins everywhere
    ben.circles.seal_circle(cid)
    later = settings_of(ben, cid)["seal"]
    assert settings_of(ben, cid)["seal_epoch"] == epoch + 1
    for x in (ben, ana, cat):
        x.sync()
    assert {settings_of(x, cid)["seal"] for x in (ana, ben, cat)} == {later}


def test_a_rotation_for_a_removal_outranks_one_made_at_the_same_time_without_knowing_it(circle, shared: Path) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    ana.circles.promote(cid, ben.id)
    for x in (ana, ben, cat):
        x.sync()
    ben.circles.seal_circle(cid)  # Ben rotates, not knowing Ana is removing Cat: his key goes to Cat too
    ana.circles.remove_member(cid, cat.id)
    ka, kb = settings_of(ana, cid)["seal"], settings_of(ben, cid)["seal"]
    assert settings_of(ana, cid)["seal_epoch"] > settings_of(ben, cid)["seal_epoch"]
    for x in (ben, ana, cat, ben, ana):
        x.sync()
    # whatever the key ids, the rotation made for the removal is current everywhere, and Cat never gets it
    assert {settings_of(x, cid)["seal"] for x in (ana, ben)} == {ka}
    assert ka not in str(settings_of(cat, cid)) and parse_seal_key(kb) in ring_of(ben, cid)
    before = files(shared)
    item = ana.circles.share(ana.entry("after", title="After"), cid).value
    ana.sync()
    ben.sync()
    assert [i.title for i in ben.inbox()] == ["After"]
    [newest] = files(shared) - before
    assert opened_by(ring_of(cat, cid), [newest])[0][:4] == b"CPNT"
    assert item.item_id.encode() in opened_by(ring_of(ben, cid), [newest])[0]


def test_a_rotation_claiming_a_later_roster_than_its_own_is_refused(circle, shared: Path) -> None:
    cid, p = circle
    ana, ben = p["ana"], p["ben"]
    s = ana.circles._session(cid)
    with ana.app.vault.transaction():
        s.send_seal_key(new_seal_key(), (s.roster.seq + 1) << 32, s.others(), holders={ana.id},
                        pin=settings_of(ana, cid)["seal"])  # fmt: skip
    ana.sync()
    [report] = ben.sync()
    assert [r.reason for r in report.rejected] == ["malformed"]
    assert settings_of(ben, cid).get("seal_epoch") is None


def test_a_member_admitted_with_the_older_keyring_is_sent_the_new_key(circle, shared: Path, people,
                                                                      tmp_path: Path) -> None:  # fmt: skip
    """Ben (an admin) admits Dan before Ana's rotation reaches him: his app forwards the key to Dan."""
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    ana.circles.promote(cid, ben.id)
    ana.sync()
    ben.sync()
    dan = people["dan"]
    dan.circles.join(ben.circles.invite(cid).value.code, display_name="Dan")
    dan.sync()
    before = files(shared)
    ana.circles.remove_member(cid, cat.id)
    ana.sync()
    held = hold_back(max(files(shared) - before), tmp_path)  # the rotation is late reaching Ben
    ben.sync()  # the removal and Dan's request arrive: Dan is admitted with the keyring Ben has
    assert cat.id in {m.member_id for m in ben.circles.members(cid) if m.status == "removed"}
    dan.sync()
    assert dan.circles.get_circle(cid).state == "active"
    old = settings_of(dan, cid)["seal"]
    assert old == settings_of(cat, cid)["seal"] != settings_of(ana, cid)["seal"]
    deliver(held, shared)
    ben.sync()  # the rotation names Ana, Ben and Cat, not Dan: Ben forwards it to him
    ana.sync()  # Ana learns of Dan
    ana.circles.share(ana.entry("for everyone left", title="Left"), cid)
    ana.sync()
    [report] = dan.sync()
    assert settings_of(dan, cid)["seal"] == settings_of(ana, cid)["seal"]
    assert [i.title for i in dan.inbox()] == ["Left"] and report.deferred == 0
    assert cat.sync()[0].removed and settings_of(ana, cid)["seal"] not in str(settings_of(cat, cid))


def test_sealing_a_circle_made_before_the_seal_end_to_end(people, shared: Path) -> None:
    ana, ben, cat, dan = people["ana"], people["ben"], people["cat"], people["dan"]
    cid = ana.circles.create_circle("Old group", folder=shared, display_name="Ana").value.id
    forget_seal(ana, cid)  # made by a version before the seal
    for x in (ben, cat):
        x.circles.join(ana.circles.invite(cid).value.code, display_name=x.name)
        x.sync()
        ana.sync()
        x.sync()
    unsealed_code = ana.circles.invite(cid).value.code  # made before the seal: carries no key
    assert not ana.circles.get_circle(cid).sealed
    with pytest.raises(InvalidInputError, match="facilitator"):
        ben.circles.seal_circle(cid)
    old_files = files(shared)
    assert ana.circles.seal_circle(cid).value.sealed
    key = settings_of(ana, cid)["seal"]
    epoch = settings_of(ana, cid)["seal_epoch"]
    assert epoch == ana.circles.get_circle(cid).roster_seq << 32 and "seal_previous" not in settings_of(ana, cid)
    ana.sync()
    [seal_on] = files(shared) - old_files
    assert seal_on.read_bytes()[:4] == b"CPNE"  # the key goes to members who have none: unsealed, end to end
    ben.sync()
    cat.sync()
    assert settings_of(ben, cid)["seal"] == settings_of(cat, cid)["seal"] == key
    assert ben.circles.get_circle(cid).sealed and cat.circles.get_circle(cid).sealed
    # from now on every member's blobs are sealed, and nothing in them is readable without the key
    sealed_from = files(shared)
    item = ana.circles.share(ana.entry("now sealed", title="Sealed"), cid).value
    ana.sync()
    ben.sync()
    reply = ben.circles.reply(item.item_id, "from ben").value
    ben.sync()
    cat.sync()
    cat.circles.set_availability(cid, True)
    cat.sync()
    ana.sync()
    after = files(shared) - sealed_from
    assert len(after) == 3 and all(f.read_bytes()[:4] == b"CPNT" for f in after)
    data = b"\0".join(f.read_bytes() for f in after)
    needles = [cid, item.item_id, reply.reply_id, ana.id, ben.id, cat.id]
    assert [n for n in needles if n.encode() in data] == []
    assert [n for n in needles if n.encode() in b"\0".join(opened_by(ring_of(ben, cid), after))] == needles
    assert [i.title for i in cat.inbox()] == ["Sealed"]
    assert [r.text for r in ana.circles.replies_to(item.item_id)] == ["from ben"]
    assert ana.circles.availability(cid)[cat.id] is True
    # a new code carries the key; the code made before the seal still admits, and its welcome brings the key
    from companion.circles.invites import InviteCode

    assert InviteCode.decode(ana.circles.invite(cid).value.code).transport["seal"] == key
    dan.circles.join(unsealed_code, display_name="Dan")
    assert "seal" not in settings_of(dan, cid)
    dan.sync()
    ana.sync()
    [report] = dan.sync()
    assert report.joined and settings_of(dan, cid)["seal"] == key and report.deferred == 0
    ana.circles.share(ana.entry("hello dan", title="Dan"), cid)
    ana.sync()
    dan.sync()
    assert [i.title for i in dan.inbox()] == ["Dan"]
    # sealing again rotates the key (e.g. after a lost device); the old one stays for reading
    ana.circles.seal_circle(cid)
    assert settings_of(ana, cid)["seal_epoch"] > epoch and ring_of(ana, cid)[1] == parse_seal_key(key)


def test_a_removed_admin_cannot_make_the_circle_seal_under_a_key_it_chose(circle, shared: Path, people) -> None:
    """Ben, an admin, is removed but keeps his keys and still reaches the folder. His app may still sign envelopes
    within his removal watermark (an unused counter: a share of his the carrier dropped before Cat and Dan saw it). A
    ``seal.key`` naming the roster *after* his removal, with an epoch above the removal's rotation, must not become
    current anywhere (everyone would seal under a key he holds)."""
    from companion.circles.session import SEAL_KIND
    from tests.circles.test_attacks import ben_admin_admits_dan, drop, seal_as

    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    dan = ben_admin_admits_dan(circle, people)
    dan.sync()
    ben.circles.share(ben.entry("from ben", title="B"), cid)
    ben.sync()
    ana.sync()
    # The carrier drops Ben's share before Cat and Dan see it: a counter of his they never saw used, within the
    # watermark Ana's removal will carry (the welcome he made for Dan no longer leaves one: the add names it).
    max(shared.rglob("*.env"), key=lambda f: f.stat().st_mtime_ns).unlink()
    for x in (cat, dan):
        x.sync()
    ana.circles.remove_member(cid, ben.id)
    ana.sync()
    for x in (cat, dan, ben):
        x.sync()
    rotated = settings_of(ana, cid)["seal"]
    assert {settings_of(x, cid)["seal"] for x in (cat, dan)} == {rotated}
    store = cat.circles._store
    watermark = next(m.watermark for m in cat.circles._session(cid).roster.members.values() if m.member_id == ben.id)
    unused = [c for c in range(1, watermark + 1) if not store.counter_used(cid, ben.id, c)]
    assert unused  # the dropped share's counter
    s = ben.circles._session(cid)  # Ben's roster has his removal: he names its head
    mine = new_seal_key()
    epoch = (s.roster.seq << 32) | 0xFFFFFFFF
    drop(shared, seal_as(ben, [ana, cat, dan], cid, kind=SEAL_KIND, item_id="k" * 26, revision=epoch,
                         counter=unused[0], roster_head=s.roster.head,
                         payload={"v": 1, "key": mine, "epoch": epoch, "for": [ana.id, cat.id, dan.id]}))  # fmt: skip
    for x, reason in ((cat, "removed_author"), (dan, "removed_author"), (ana, "replayed_counter")):  # Ana saw it
        [report] = x.sync()
        assert [r.reason for r in report.rejected] == [reason]
    assert {settings_of(x, cid)["seal"] for x in (ana, cat, dan)} == {rotated}
    assert all(parse_seal_key(mine) not in ring_of(x, cid) for x in (ana, cat, dan))
