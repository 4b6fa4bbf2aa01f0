"""The same circle flow over a real ``companion-relay`` on loopback instead of a folder: one branch in
``make_transport``, nothing else changes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def relay_url(tmp_path: Path) -> Iterator[str]:
    log = tmp_path / "relay.log"
    cmd = [sys.executable, "-m", "companion.relay", "--host", "127.0.0.1", "--port", "0", "--db",
           str(tmp_path / "relay.db")]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = re.search(r"listening on (http://\S+)", log.read_text(errors="replace"))
            if m:
                break
            if proc.poll() is not None:
                pytest.fail("the relay did not start:\n" + log.read_text(errors="replace"))
            time.sleep(0.05)
        else:
            pytest.fail("the relay did not start in time")
        yield m.group(1)
    finally:
        proc.terminate()
        proc.wait(10)


def test_circle_over_relay(people, relay_url: str, tmp_path: Path) -> None:
    from companion.sync.transports.relay import new_mailbox

    ana, ben = people["ana"], people["ben"]
    mark = "Rly7Marker"
    cid = ana.circles.create_circle(f"R {mark}", relay=new_mailbox(relay_url).to_dict(), display_name="Ana").value.id
    assert ana.circles.get_circle(cid).transport.startswith("relay http://127.0.0.1")
    ben.circles.join(ana.circles.invite(cid).value.code, display_name=f"Ben {mark}")
    ben.sync()
    ana.sync()
    ben.sync()
    assert ben.circles.get_circle(cid).state == "active"
    item = ana.circles.share(ana.entry(f"over the relay {mark}", title="R"), cid).value
    ana.sync()
    ben.sync()
    assert [i.text for i in ben.inbox()] == [f"over the relay {mark}"]
    ben.circles.reply(item.item_id, "got it")
    ben.sync()
    ana.sync()
    assert [r.text for r in ana.circles.replies_to(item.item_id)] == ["got it"]
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("relay.db*"))
    assert stored and mark.encode() not in stored


def test_three_members_sealed_over_a_relay_leave_no_header_field_in_its_database(people, relay_url: str,
                                                                                 tmp_path: Path) -> None:  # fmt: skip
    """The relay's database holds no circle, item, member or invite id and no kind of a sealed circle; the same
    flow in a circle made before the seal (other people, same relay) shows the scan would have seen them."""
    from companion.sync.transports.relay import new_mailbox
    from tests.circles.conftest import HEADER_KINDS, three_member_flow

    def stored() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.glob("relay.db*"))

    secrets = three_member_flow(people, ("ana", "ben", "cat"), relay=new_mailbox(relay_url).to_dict())
    sealed = stored()
    assert [s for s in (*secrets, *HEADER_KINDS, "CPNE", "CPNI") if s.encode() in sealed] == []
    control = three_member_flow(people, ("dan", "eve", "fay"), sealed=False, relay=new_mailbox(relay_url).to_dict())
    both = stored()
    assert [s for s in (*control, *HEADER_KINDS) if s.encode() not in both] == []
    assert [s for s in secrets if s.encode() in both] == []


def test_a_removed_member_pulling_from_the_relay_with_all_its_keys_opens_nothing_after_the_rotation(
    people, relay_url: str
) -> None:
    """The relay capability is not rotated by a removal, so a removed member can still pull the mailbox: what it
    gets after the rotation stays sealed under a key it never received."""
    from companion.sync.transports import make_transport
    from companion.sync.transports.relay import new_mailbox

    def pull_all(settings: dict) -> list[bytes]:
        t = make_transport(settings, writer_id="w")
        try:
            return t.pull(None).blobs
        finally:
            t.close()

    ana, ben, cat = people["ana"], people["ben"], people["cat"]
    cid = ana.circles.create_circle("R", relay=new_mailbox(relay_url).to_dict(), display_name="Ana").value.id
    for x in (ben, cat):
        x.circles.join(ana.circles.invite(cid).value.code, display_name=x.name)
        x.sync()
        ana.sync()
        x.sync()
    cats = cat.app.circles._store.circle(cid).transport  # the capability and every seal key Cat holds
    count = len(pull_all(cats))
    ana.circles.remove_member(cid, cat.id)
    ana.sync()
    ben.sync()
    item = ana.circles.share(ana.entry("after", title="After"), cid).value
    ana.sync()
    ben.sync()
    reply = ben.circles.reply(item.item_id, "seen").value
    ben.sync()
    ana.sync()
    assert [r.text for r in ana.circles.replies_to(item.item_id)] == ["seen"]
    assert cat.sync()[0].removed
    got = pull_all(cats)[count:]
    removal_and_key, after = got[:2], got[2:]
    assert [b[:4] for b in removal_and_key] == [b"CPNE", b"CPNE"] and len(after) == 2
    assert all(b[:4] == b"CPNT" for b in after)
    assert [n for n in (cid, item.item_id, reply.reply_id, ana.id, ben.id) if n.encode() in b"".join(after)] == []
    bens = pull_all(ben.app.circles._store.circle(cid).transport)[count + 2 :]
    assert all(b[:4] == b"CPNE" for b in bens) and item.item_id.encode() in b"".join(bens)
