"""``RelayTransport.abort`` / ``close`` from another thread end requests a relay accepted and never answers:
a pull waiting for its answer, a TLS handshake, the push channel; nothing waits for the 15 s timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from companion.errors import CancelledError
from companion.sync.transports.relay import RelayTransport, new_mailbox

from .hanging import HangingRelay


@pytest.fixture
def hanging() -> Iterator[HangingRelay]:
    relay = HangingRelay()
    yield relay
    relay.close()


def in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, dict[str, object]]:
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc
        box["at"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def push_channel_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "relay-push-channel"]


@pytest.mark.parametrize("scheme", ["http", "https"])  # https: stuck in the TLS handshake
def test_abort_ends_a_request_the_relay_never_answers(hanging: HangingRelay, scheme: str) -> None:
    box = new_mailbox(hanging.url.replace("http:", f"{scheme}:"))
    t = RelayTransport.from_mailbox(box, timeout=30.0)  # without abort, 30 s and then retries
    thread, result = in_thread(lambda: t.pull(None))
    wait_for(lambda: len(hanging.accepted) == 1)
    time.sleep(0.2)  # the request is written (or the handshake started) and waits for the relay
    assert thread.is_alive()
    asked = time.monotonic()
    t.abort()
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(result.get("error"), CancelledError), result
    assert float(result["at"]) - asked < 2  # type: ignore[arg-type]
    # and every later request is refused at once, without connecting
    with pytest.raises(CancelledError):
        t.push([b"later"])
    assert len(hanging.accepted) == 1
    t.close()


def test_close_stops_the_push_channel_and_a_pull_at_once(hanging: HangingRelay) -> None:
    t = RelayTransport.from_mailbox(new_mailbox(hanging.url), timeout=30.0)
    pulling, pulled = in_thread(lambda: t.pull("3"))
    waiting, woke = in_thread(lambda: t.wait(60.0))  # the push channel connects and waits for its headers
    wait_for(lambda: len(hanging.accepted) == 2)
    time.sleep(0.2)
    assert push_channel_threads() == ["relay-push-channel"]
    asked = time.monotonic()
    t.close()  # from this thread: aborts, joins the push channel, releases the client
    assert time.monotonic() - asked < 2
    pulling.join(2)
    waiting.join(2)
    assert isinstance(pulled.get("error"), CancelledError)
    assert woke.get("value") is False  # woken by the close, but nothing arrived
    assert push_channel_threads() == []
    t.close()  # twice is fine
