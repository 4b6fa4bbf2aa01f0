"""The roster rules on their own (no vault): chain, admins, forks, gaps, leave notices."""

from __future__ import annotations

import base64

import pytest

from companion.circles.roster import Roster, RosterError, leave_notice, make_op
from companion.crypto import Identity

CID = "circle-1"


def key(i: Identity) -> str:
    return base64.b64encode(i.public.to_bytes()).decode()


@pytest.fixture(scope="module")
def ids() -> dict[str, Identity]:
    return {n: Identity.generate() for n in ("admin", "bob", "eve")}


def start(ids: dict[str, Identity]) -> Roster:
    a = ids["admin"]
    r = Roster(CID)
    r.apply(
        make_op(
            a,
            circle=CID,
            seq=1,
            prev="",
            type="create",
            subject=a.fingerprint,
            key=key(a),
            name="A",
            circle_name="C",
            suite="x25519",
            at=0,
        )
    )
    r.apply(
        make_op(
            a,
            circle=CID,
            seq=2,
            prev=r.head.hex(),
            type="add",
            subject=ids["bob"].fingerprint,
            key=key(ids["bob"]),
            role="member",
            name="B",
            at=0,
        )
    )
    return r


def test_chain_and_rebuild(ids) -> None:
    r = start(ids)
    again = Roster.from_log(CID, list(r.ops))
    assert again.head == r.head and again.seq == 2 and again.circle_name == "C"
    assert [m.name for m in again.active()] == ["A", "B"]


def test_only_admins_change_the_roster(ids) -> None:
    r = start(ids)
    op = make_op(
        ids["bob"],
        circle=CID,
        seq=3,
        prev=r.head.hex(),
        type="add",
        subject=ids["eve"].fingerprint,
        key=key(ids["eve"]),
        role="admin",
        name="E",
        at=0,
    )
    with pytest.raises(RosterError) as err:
        r.apply(op)
    assert err.value.reason == "not_admin" and r.seq == 2


def test_fork_gap_duplicate_and_wrong_circle(ids) -> None:
    r = start(ids)
    a = ids["admin"]
    dup = r.ops[1]
    with pytest.raises(RosterError) as err:
        r.apply(dup)
    assert err.value.reason == "duplicate"
    fork = make_op(a, circle=CID, seq=2, prev=r.ops[0].hash.hex(), type="promote", subject=a.fingerprint, at=1)
    with pytest.raises(RosterError) as err:
        r.apply(fork)
    assert err.value.reason == "fork"
    gap = make_op(a, circle=CID, seq=5, prev="00", type="promote", subject=ids["bob"].fingerprint, at=0)
    with pytest.raises(RosterError) as err:
        r.apply(gap)
    assert err.value.reason == "gap"
    bad_prev = make_op(
        a, circle=CID, seq=3, prev=r.ops[0].hash.hex(), type="promote", subject=ids["bob"].fingerprint, at=0
    )
    with pytest.raises(RosterError) as err:
        r.apply(bad_prev)
    assert err.value.reason == "fork"
    other = make_op(a, circle="other", seq=3, prev=r.head.hex(), type="promote", subject=ids["bob"].fingerprint, at=0)
    with pytest.raises(RosterError):
        r.apply(other)
    assert r.seq == 2


def test_tampered_signature(ids) -> None:
    r = start(ids)
    op = make_op(
        ids["admin"], circle=CID, seq=3, prev=r.head.hex(), type="promote", subject=ids["bob"].fingerprint, at=0
    )
    forged = type(op)(op.op.replace(b'"promote"', b'"remove"'), op.sig)
    with pytest.raises(RosterError):
        r.apply(forged)
    assert r.seq == 2


def test_leave_needs_the_members_own_notice(ids) -> None:
    r = start(ids)
    a, bob = ids["admin"], ids["bob"]
    fake = leave_notice(ids["eve"], CID)
    op = make_op(
        a,
        circle=CID,
        seq=3,
        prev=r.head.hex(),
        type="leave",
        subject=bob.fingerprint,
        notice=fake["notice"],
        notice_sig=fake["sig"],
        watermark=0,
        at=0,
    )
    with pytest.raises(RosterError) as err:
        r.apply(op)
    assert err.value.reason == "bad_signature"
    real = leave_notice(bob, CID)
    r.apply(
        make_op(
            a,
            circle=CID,
            seq=3,
            prev=r.head.hex(),
            type="leave",
            subject=bob.fingerprint,
            notice=real["notice"],
            notice_sig=real["sig"],
            watermark=4,
            at=0,
        )
    )
    assert r.members[bob.fingerprint].status == "left" and r.members[bob.fingerprint].watermark == 4
