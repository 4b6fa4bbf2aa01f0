"""The transport seal over a real relay: what the relay stores, idempotent pushes, tampered blobs, and the push
channel seen through the seal."""

from __future__ import annotations

import threading

from companion.sync.transports import make_transport, new_seal_key
from companion.sync.transports.relay import RelayMailbox, RelayTransport, new_mailbox
from companion.sync.transports.sealed import SealedTransport, TransportSeal, parse_seal_key

from .conftest import Backend, RelayProcess, unique_marker

FAST = {"retries": 2, "backoff": 0.05, "max_backoff": 0.2}


def sealed(relay: RelayProcess, box: RelayMailbox, key: str) -> SealedTransport:
    t = make_transport({"kind": "relay", **box.to_dict(), "seal": key}, writer_id="unused", relay_options=FAST)
    assert isinstance(t, SealedTransport) and isinstance(t.inner, RelayTransport)
    return t


def test_the_relay_stores_only_sealed_blobs_and_each_once(relay: RelayProcess, backend: Backend) -> None:
    box, key = new_mailbox(relay.url), new_seal_key()
    a, b = sealed(relay, box, key), sealed(relay, box, key)
    try:
        marker = unique_marker()
        blobs = [b"CPNE header-ish " + marker, b"CPNI box " + marker + b"2"]
        first = a.append(blobs)
        assert a.append(blobs) == first  # the same bytes again: the relay's deduplication still holds
        b.push([blobs[0]])
        assert b.pull(None).blobs == blobs
        raw = RelayTransport(relay.url, box.mailbox, box.capability, **FAST).pull(None).blobs
        seal = TransportSeal(parse_seal_key(key))
        assert raw == [seal.wrap(x) for x in blobs] and all(r[:4] == b"CPNT" for r in raw)
        dump = backend.dump()
        assert marker not in dump  # (the relay is shared with other tests: only this test's marker is unique)
        assert raw[0] in dump
    finally:
        a.close()
        b.close()


def test_tampered_and_unsealed_blobs_come_through_unchanged(relay: RelayProcess) -> None:
    box, key = new_mailbox(relay.url), new_seal_key()
    t = sealed(relay, box, key)
    carrier = RelayTransport(relay.url, box.mailbox, box.capability, **FAST)
    try:
        t.push([b"CPNE good"])
        tampered = bytearray(TransportSeal(parse_seal_key(key)).wrap(b"CPNE changed"))
        tampered[20] ^= 1
        carrier.push([bytes(tampered), b"CPNE from an older app", b"CPNT"])
        assert t.pull(None).blobs == [b"CPNE good", bytes(tampered), b"CPNE from an older app", b"CPNT"]
    finally:
        t.close()
        carrier.close()


def test_the_push_channel_works_through_the_seal(relay: RelayProcess) -> None:
    box, key = new_mailbox(relay.url), new_seal_key()
    alice, bea = sealed(relay, box, key), sealed(relay, box, key)
    try:
        alice.push([b"hello"])
        cursor = bea.pull(None).cursor
        assert bea.wait(0.3) is False
        assert bea.connected.wait(5)  # the relay transport's attribute, read through the wrapper
        timer = threading.Timer(0.2, alice.push, args=([b"news"],))
        timer.start()
        assert bea.wait(10) is True
        timer.join()
        assert bea.pull(cursor).blobs == [b"news"]
    finally:
        alice.close()
        bea.close()
