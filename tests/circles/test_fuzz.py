"""Random damage to valid files in the shared folder never crashes a sync, never changes what a member holds,
and never stops a legitimate item in the same batch. ``COMPANION_TRIALS`` (default 40) sets how many mutants."""

from __future__ import annotations

import os
import random

from companion.sync.transports.folder import FolderTransport

TRIALS = int(os.environ.get("COMPANION_TRIALS", "40"))


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    op = rng.randrange(5)
    if op == 0:
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif op == 1:
        del b[rng.randrange(len(b)) :]
    elif op == 2:
        b += os.urandom(rng.randint(1, 64))
    elif op == 3:
        i = rng.randrange(len(b))
        b[i:i] = os.urandom(rng.randint(1, 16))
    else:
        i, j = sorted(rng.sample(range(len(b)), 2))
        b[i:j] = bytes(j - i)
    return bytes(b)


def test_mutated_files_change_nothing(circle, shared) -> None:
    cid, p = circle
    ana, ben, cat = p["ana"], p["ben"], p["cat"]
    item = ana.circles.share(ana.entry("base", title="Base"), cid).value
    ana.sync()
    ben.sync()
    ben.circles.reply(item.item_id, "r")
    ben.sync()
    cat.sync()
    before = ([(i.item_id, i.revision, i.text, [r.text for r in i.replies]) for i in cat.inbox()],
              [(m.member_id, m.status, m.role) for m in cat.circles.members(cid)])  # fmt: skip
    originals = [f.read_bytes() for f in shared.rglob("*.env")]
    rng = random.Random(int(os.environ.get("COMPANION_SEED", "5")))
    mutants = {mutate(rng, rng.choice(originals)) for _ in range(TRIALS)} - set(originals)
    FolderTransport(shared, "fuzzerfuzzerfuzzer").push(sorted(mutants))
    ana.circles.share(ana.entry("legit", title="Legit"), cid)
    ana.sync()
    report = cat.sync()[0]
    assert report.state == "done"
    decided = len(report.rejected) + report.duplicates + report.deferred + report.not_for_me + report.ignored
    assert report.applied == 1 and decided == len(mutants)  # every mutant got exactly one outcome
    assert {r.reason for r in report.rejected} <= {"unreadable", "invalid_signature", "invalid_join_request"}
    after = cat.inbox()
    assert sorted(i.title for i in after) == ["Base", "Legit"]
    assert [(i.item_id, i.revision, i.text, [r.text for r in i.replies]) for i in after if i.title == "Base"] == (
        before[0]
    )
    assert [(m.member_id, m.status, m.role) for m in cat.circles.members(cid)] == before[1]
    # the facilitator, who can open join requests and is the author of most originals, is not moved either
    admin_report = ana.sync()[0]
    assert admin_report.state == "done" and admin_report.admitted == []
    assert {r.reason for r in admin_report.rejected} <= {
        "unreadable",
        "invalid_signature",
        "invalid_join_request",
        "invite_already_used",
    }
    assert [(m.member_id, m.status, m.role) for m in ana.circles.members(cid)] == before[1]


def test_unknown_author_waits_then_is_refused(circle, shared) -> None:
    """An envelope by someone not on the roster is kept (their `add` may still be on its way), reported as
    waiting, and refused after 14 days."""
    from companion.circles.roster import canonical
    from companion.crypto import Identity, seal

    cid, p = circle
    ben = p["ben"]
    stranger = Identity.generate()
    blob = seal(stranger, [ben.circles._store.identity().public], kind="item", circle_id=cid, item_id="s" * 26,
                revision=1, counter=1, roster_head=b"", payload=canonical({"title": "x", "text": "x"}))  # fmt: skip
    FolderTransport(shared, "strangerstrangerxx").push([blob])
    report = ben.sync()[0]
    assert report.deferred == 1 and report.applied == 0 and ben.inbox() == []
    with ben.app.vault.transaction() as conn:
        conn.execute("UPDATE pending_blobs SET first_seen = first_seen - 15 * 86400000")
    report = ben.sync()[0]
    assert [r.reason for r in report.rejected] == ["unknown_author"] and report.deferred == 0
    assert ben.inbox() == []
