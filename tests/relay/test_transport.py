"""RelayTransport against a real relay: the Transport contract, three members, offline, push channel."""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from companion.errors import RelayAccessError, TransportError
from companion.sync.transports.base import Pulled, Transport
from companion.sync.transports.relay import RelayMailbox, RelayTransport, check_relay_url, new_mailbox

from .conftest import Backend, RelayProcess, unique_marker

FAST = {"retries": 2, "backoff": 0.05, "max_backoff": 0.2}


def transport(relay: RelayProcess, box: RelayMailbox, **kwargs) -> RelayTransport:  # type: ignore[no-untyped-def]
    return RelayTransport(relay.url, box.mailbox, box.capability, **{**FAST, **kwargs})


def pull_all(t: Transport, cursor: str | None = None, limit: int = 1000) -> tuple[list[bytes], str | None]:
    blobs: list[bytes] = []
    while True:
        got = t.pull(cursor, limit)
        blobs.extend(got.blobs)
        cursor = got.cursor
        if not got.more:
            return blobs, cursor


class Sealer:
    """Stands in for the circle's envelope recipe: an AEAD under a key the relay never sees."""

    def __init__(self) -> None:
        self.aead = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())

    def seal(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self.aead.encrypt(nonce, plaintext, b"companion-test")

    def open(self, blob: bytes) -> bytes:
        return self.aead.decrypt(blob[:12], blob[12:], b"companion-test")


def test_is_a_transport_and_settings_round_trip() -> None:
    box = new_mailbox("https://relay.example.org/")
    assert box.url == "https://relay.example.org"
    assert len(box.mailbox) >= 22 and len(box.capability) >= 43 and box.mailbox != box.capability
    assert RelayMailbox.from_dict(box.to_dict()) == box
    assert box.capability not in repr(box)
    assert issubclass(RelayTransport, Transport)
    with pytest.raises(TransportError, match="incomplete"):
        RelayMailbox.from_dict({"url": box.url, "mailbox": box.mailbox})


@pytest.mark.parametrize("url", ["http://relay.example.org", "http://192.0.2.1:8765", "ftp://x", "relay"])
def test_plain_http_only_on_loopback(url: str) -> None:
    with pytest.raises(TransportError):
        check_relay_url(url)
    assert check_relay_url("http://127.0.0.1:8765/") == "http://127.0.0.1:8765"
    assert check_relay_url("http://[::1]:8765") == "http://[::1]:8765"
    assert check_relay_url("https://relay.example.org") == "https://relay.example.org"


def test_push_pull_cursors_paging_and_idempotency(relay: RelayProcess) -> None:
    box = new_mailbox(relay.url)
    t = transport(relay, box)
    try:
        assert t.pull(None) == Pulled([], None, False)  # nobody has written yet: empty, not an error
        blobs = [os.urandom(random.randint(1, 3000)) for _ in range(25)]
        t.push(blobs[:10])
        t.push(blobs[5:25])  # overlaps: 5..9 are stored once
        t.push(blobs)  # all again: nothing new
        got, cursor = pull_all(t, None, limit=7)  # several pages
        assert got == blobs
        assert t.pull(cursor) == Pulled([], cursor, False)
        assert t.append([blobs[3]]) == ["4"]  # the existing cursor
        more = [b"later one", b"later two"]
        t.push(more)
        assert pull_all(t, cursor)[0] == more
    finally:
        t.close()
        t.close()  # safe twice


def test_large_blobs_are_batched_and_split(start_relay) -> None:  # type: ignore[no-untyped-def]
    relay = start_relay("--max-body", str(600_000), "--max-envelope", str(400_000))
    box = new_mailbox(relay.url)
    t = transport(relay, box)
    try:
        blobs = [os.urandom(300_000) for _ in range(6)]
        assert t.append(blobs) == [str(i) for i in range(1, 7)]  # batches sized from the relay's /healthz
        assert pull_all(t)[0] == blobs
        # a transport that could not learn the limits (say a proxy forwards only /v1) sends 4 MiB batches;
        # the relay's 413 makes it halve them until they fit
        blind = transport(relay, box)
        blind._limits_known = True
        more = [os.urandom(300_000) for _ in range(6)]
        assert blind.append(more) == [str(i) for i in range(7, 13)]
        blind.close()
        assert pull_all(t)[0] == blobs + more
        with pytest.raises(TransportError, match="larger than the relay"):
            t.push([os.urandom(500_000)])
        assert len(pull_all(t)[0]) == 12
    finally:
        t.close()


def test_about_a_mebibyte_per_envelope_with_default_limits(relay: RelayProcess) -> None:
    box = new_mailbox(relay.url)
    t = transport(relay, box)
    try:
        blobs = [os.urandom(1024 * 1024) for _ in range(5)]
        t.push(blobs)
        assert pull_all(t)[0] == blobs
    finally:
        t.close()


def test_three_members_share_one_mailbox(relay: RelayProcess, backend: Backend) -> None:
    """Three members push sealed items with markers inside; each sees every item exactly once, in one order,
    and the relay's storage holds none of the markers (nor the capability)."""
    box = new_mailbox(relay.url)
    invite = box.to_dict()  # what travels inside the invite code
    members = [RelayTransport.from_mailbox(RelayMailbox.from_dict(invite), **FAST) for _ in range(3)]
    sealer = Sealer()  # the circle's content key (the real recipe wraps one per item to each member)
    markers: list[bytes] = []
    cursors: list[str | None] = [None, None, None]
    seen: list[list[bytes]] = [[], [], []]
    try:
        for round_ in range(4):
            for i, member in enumerate(members):
                batch = []
                for _ in range(1 + (round_ + i) % 3):
                    marker = unique_marker()
                    markers.append(marker)
                    batch.append(sealer.seal(b"title: shared item\n" + marker + os.urandom(64)))
                member.push(batch)
                if round_ % 2 == i % 2:  # members pull at different times
                    got, cursors[i] = pull_all(member, cursors[i], limit=3)
                    seen[i].extend(got)
        for i, member in enumerate(members):
            got, cursors[i] = pull_all(member, cursors[i])
            seen[i].extend(got)

        assert seen[0] == seen[1] == seen[2]  # the same items in the same order for everyone
        assert len(seen[0]) == len(set(seen[0])) == len(markers)  # each exactly once
        opened = [sealer.open(blob) for blob in seen[0]]
        assert sorted(m for p in opened for m in markers if m in p) == sorted(markers)

        dump = backend.dump()
        assert all(marker not in dump for marker in markers)
        assert b"MARKER-" not in dump and b"shared item" not in dump
        assert box.capability.encode() not in dump
        assert all(blob in dump for blob in seen[0][:3])  # the relay does hold the ciphertext as given
    finally:
        for member in members:
            member.close()


def test_concurrent_members_lose_nothing(relay: RelayProcess) -> None:
    box = new_mailbox(relay.url)
    per_member = int(os.environ.get("COMPANION_TRIALS", "1")) * 40
    errors: list[BaseException] = []

    def member(n: int) -> None:
        t = transport(relay, box)
        try:
            for k in range(per_member):
                t.push([f"member {n} item {k}".encode()])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            t.close()

    threads = [threading.Thread(target=member, args=(n,)) for n in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    t = transport(relay, box)
    got, _ = pull_all(t, None, limit=17)
    t.close()
    assert len(got) == len(set(got)) == 3 * per_member
    for n in range(3):  # each member's own items keep their order
        mine = [b for b in got if b.startswith(f"member {n} ".encode())]
        assert mine == [f"member {n} item {k}".encode() for k in range(per_member)]


def test_wrong_capability_is_refused_not_retried(relay: RelayProcess) -> None:
    box = new_mailbox(relay.url)
    owner = transport(relay, box)
    owner.push([b"private"])
    intruder = RelayTransport(relay.url, box.mailbox, new_mailbox(relay.url).capability, **FAST)
    try:
        started = time.monotonic()
        with pytest.raises(RelayAccessError):
            intruder.push([b"intrusion"])
        with pytest.raises(RelayAccessError):
            intruder.pull(None)
        assert time.monotonic() - started < 1.0  # a refusal is final, not retried with backoff
        assert pull_all(owner)[0] == [b"private"]
    finally:
        owner.close()
        intruder.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_push_fails_bounded_then_succeeds_later(fresh_backend: Backend, tmp_path: Path) -> None:
    """The relay is down: push raises TransportError after bounded retries and stores nothing; the outbox
    (here: the test) keeps the blobs, and the same push succeeds once the relay is back."""
    from .conftest import RelayProcess as Proc

    port = _closed_port()
    box = new_mailbox(f"http://127.0.0.1:{port}")
    sleeps: list[float] = []
    t = RelayTransport(
        box.url,
        box.mailbox,
        box.capability,
        retries=3,
        backoff=0.01,
        max_backoff=0.05,
        sleep=lambda s: (sleeps.append(s), time.sleep(s)),
    )
    outbox = [b"written while offline 1", b"written while offline 2"]
    started = time.monotonic()
    with pytest.raises(TransportError, match="could not be reached"):
        t.push(outbox)
    assert time.monotonic() - started < 5
    assert len(sleeps) == 3 and sleeps == sorted(sleeps)  # bounded, growing backoff
    with pytest.raises(TransportError):
        t.pull(None)
    assert t.wait(0.2) is False  # no push channel: behaves like a sleep
    t.close()

    relay = Proc(fresh_backend, tmp_path / "late.log", ["--port", str(port)])
    relay.start()
    try:
        t2 = RelayTransport(relay.url, box.mailbox, box.capability, **FAST)
        t2.push(outbox)
        assert pull_all(t2)[0] == outbox
        t2.close()
    finally:
        relay.stop()


def test_retries_ride_out_a_rate_limit(start_relay) -> None:  # type: ignore[no-untyped-def]
    relay = start_relay("--rate", "20", "--burst", "3")
    box = new_mailbox(relay.url)
    t = transport(relay, box, retries=6, backoff=0.1, max_backoff=1.0)
    try:
        for k in range(12):
            t.push([f"item {k}".encode()])
        assert len(pull_all(t)[0]) == 12
    finally:
        t.close()


def test_wait_wakes_on_push_from_another_member(relay: RelayProcess) -> None:
    box = new_mailbox(relay.url)
    alice, bea = transport(relay, box), transport(relay, box)
    try:
        alice.push([b"hello"])
        _, cursor = pull_all(bea)
        assert bea.wait(0.5) is False  # nothing new since bea's pull
        assert bea.connected.wait(5)
        timer = threading.Timer(0.3, alice.push, args=([b"news"],))
        timer.start()
        started = time.monotonic()
        assert bea.wait(10) is True
        assert time.monotonic() - started < 3
        timer.join()
        assert bea.pull(cursor).blobs == [b"news"]
        assert bea.wait(0.3) is False
    finally:
        alice.close()
        bea.close()


def test_wait_before_any_pull_reports_existing_items(relay: RelayProcess) -> None:
    box = new_mailbox(relay.url)
    alice, carl = transport(relay, box), transport(relay, box)
    try:
        alice.push([b"already there"])
        assert carl.wait(5) is True  # carl has pulled nothing yet: something may be waiting
    finally:
        alice.close()
        carl.close()


def test_push_channel_across_two_relay_processes(start_relay, backend_kind: str) -> None:  # type: ignore[no-untyped-def]
    """An organisation runs several relay processes on one PostgreSQL: a push through one wakes a listener
    on the other (by polling the shared database), and both serve the same mailbox."""
    if backend_kind != "postgres":
        pytest.skip("several relay processes share one database only with PostgreSQL")
    a = start_relay("--poll-interval", "0.3")
    b = start_relay("--poll-interval", "0.3")
    box = new_mailbox(a.url)
    writer = transport(a, box)
    reader = RelayTransport(b.url, box.mailbox, box.capability, **FAST)
    try:
        writer.push([b"first"])
        _, cursor = pull_all(reader)
        reader.wait(0.01)  # starts the push channel
        assert reader.connected.wait(5)
        writer.push([b"second"])
        assert reader.wait(10) is True
        assert reader.pull(cursor).blobs == [b"second"]
    finally:
        writer.close()
        reader.close()


def test_relay_reset_behind_cursor_reads_again(relay: RelayProcess) -> None:
    box = new_mailbox(relay.url)
    t = transport(relay, box)
    try:
        t.push([b"a", b"b"])
        # a cursor from before the relay's database was restored from an older backup
        assert t.pull("99").blobs == [b"a", b"b"]
    finally:
        t.close()


def test_shutdown_does_not_wait_for_open_push_channels(start_relay) -> None:  # type: ignore[no-untyped-def]
    relay = start_relay()
    box = new_mailbox(relay.url)
    t = transport(relay, box)
    try:
        t.push([b"x"])
        t.wait(0.01)
        assert t.connected.wait(5)
        started = time.monotonic()
        relay.stop()  # SIGTERM with a stream open
        assert time.monotonic() - started < 3
        assert relay.proc is not None and relay.proc.returncode is not None
    finally:
        t.close()


def test_items_purged_before_a_member_fetched_them_are_counted(start_relay) -> None:  # type: ignore[no-untyped-def]
    relay = start_relay("--retention-days", str(0.4 / 86400), "--purge-interval", "0.1")
    box = new_mailbox(relay.url)
    writer, away = transport(relay, box), transport(relay, box)
    try:
        writer.push([b"seen"])
        got = away.pull(None)
        assert got.blobs == [b"seen"] and away.missed == 0
        writer.push([b"expired 1", b"expired 2"])
        deadline = time.monotonic() + 10
        while pull_all(writer)[0] and time.monotonic() < deadline:  # until the relay has purged them all
            time.sleep(0.1)
        back = away.pull(got.cursor)
        assert back.blobs == [] and back.cursor == "3"
        assert away.missed == 2  # the member was away longer than the relay keeps items
        writer.push([b"fresh"])
        assert away.pull(back.cursor).blobs == [b"fresh"]
        assert away.missed == 2
    finally:
        writer.close()
        away.close()


def test_relay_token_lets_the_creator_open_a_guarded_mailbox(start_relay) -> None:  # type: ignore[no-untyped-def]
    relay = start_relay("--create-token", "org-secret-token")
    box = new_mailbox(relay.url)
    member = transport(relay, box)
    creator = transport(relay, box, relay_token="org-secret-token")
    try:
        with pytest.raises(RelayAccessError, match="operator"):
            member.push([b"too early"])
        creator.push([b"genesis"])
        member.push([b"hello"])
        assert pull_all(member)[0] == [b"genesis", b"hello"]
    finally:
        member.close()
        creator.close()
