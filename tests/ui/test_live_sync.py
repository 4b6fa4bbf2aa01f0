"""The window's sync with relays: network I/O off the vault worker, and live updates from the push channel.

A relay that accepts connections and never answers (a socket server in the test) shows the journal still saving
and searching while a sync waits on it; a real ``companion-relay`` on loopback shows a share arriving in the
other member's window through the push channel, with the 60 s timer set to an hour; listeners stop on lock and
when the circle is left, and no thread is left behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from companion.services import Companion
from companion.sync.transports.relay import new_mailbox
from companion.ui.sync_status import controller_for
from tests.circles.conftest import Person
from tests.relay.conftest import RelayProcess, make_backend
from tests.relay.hanging import HangingRelay
from tests.ui.conftest import PASSPHRASE, run_query, wait_idle
from tests.ui.test_circles_ui import new_window, page, run_op, sync


@pytest.fixture
def hanging_relay() -> Iterator[HangingRelay]:
    relay = HangingRelay()
    yield relay
    relay.close()


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    folder = tmp_path / "relay"
    process = RelayProcess(make_backend("sqlite", folder), tmp_path / "relay.log", ["--rate", "0"]).start()
    yield process
    process.stop()


def sync_threads() -> list[str]:
    """Listener and push-channel threads still alive."""
    return [t.name for t in threading.enumerate() if t.name.startswith(("companion-live-", "relay-push-channel"))]


def test_the_journal_saves_and_searches_while_a_relay_hangs(qtbot, unlocked, hanging_relay):
    window = unlocked
    ctrl = controller_for(window.ops)
    qtbot.waitUntil(lambda: not ctrl.running, timeout=10000)
    box = new_mailbox(hanging_relay.url).to_dict()
    run_op(qtbot, window, lambda app: app.circles.create_circle("Slow", relay=box, display_name="Ana"))
    ctrl.sync_now()
    qtbot.waitUntil(lambda: bool(hanging_relay.accepted), timeout=5000)  # the sync's request now waits
    started = time.monotonic()
    editor = window.journal.editor
    window.show_page(0)
    window.journal.new_entry()
    qtbot.keyClicks(editor.title, "While waiting")
    editor.body.setFocus()
    qtbot.keyClicks(editor.body, "The relay hangs and the journal saves anyway.")
    qtbot.waitUntil(lambda: editor.save_state.text() == "Saved" and editor.entry_id is not None, timeout=5000)
    hits = run_query(qtbot, window, lambda app: app.journal.search("hangs"))
    assert time.monotonic() - started < 5  # the relay's request alone would take 15 s to time out
    assert [h.title for h in hits] == ["While waiting"]
    assert ctrl.running and ctrl.state == "syncing"  # still waiting on the relay, off the vault worker
    # locking mid-sync drops the round between its phases: nothing is applied or shown afterwards
    window.lock()
    hanging_relay.close()
    assert window.ops.pool.waitForDone(5000)
    qtbot.wait(100)
    assert not ctrl.running and ctrl.state == "idle" and ctrl.message == "Circles: locked"
    assert window.ops.presenter.last_message == ""
    assert sync_threads() == []


def hang_mid_sync(qtbot, window, hanging_relay, tmp_path) -> tuple[str, int]:
    """A relay circle whose sync waits on a relay that accepted and never answers, with its push channel waiting
    on it too, and text in the editor not yet saved. Returns the circle's id and how many items wait to be sent."""
    ctrl = controller_for(window.ops)
    qtbot.waitUntil(lambda: not ctrl.running, timeout=10000)
    ana = Person(tmp_path, "ana")  # Ana's circle lives on the hanging relay; the window joins it
    try:
        cid = ana.circles.create_circle("Slow", relay=new_mailbox(hanging_relay.url).to_dict(), display_name="Ana")
        code = ana.circles.invite(cid.value.id).value.code
    finally:
        ana.app.lock()
    run_op(qtbot, window, lambda app: app.circles.join(code, display_name="Ben"))
    cid = cid.value.id
    outbox = run_query(qtbot, window, lambda app: app.circles.get_circle(cid).outbox)
    assert outbox == 1  # the join request waits to be sent
    ctrl.sync_now()
    qtbot.waitUntil(lambda: len(hanging_relay.accepted) == 1, timeout=5000)  # the exchange waits on the relay
    ctrl._links[cid].listen(ctrl.woken.emit)  # and a live listener (normally started after a completed round)
    qtbot.waitUntil(lambda: len(hanging_relay.accepted) == 2, timeout=5000)  # its push channel waits too
    assert ctrl.running and ctrl.listening() == [cid]
    assert "relay-push-channel" in sync_threads()
    editor = window.journal.editor
    window.show_page(0)
    window.journal.new_entry()
    qtbot.keyClicks(editor.title, "Before the hang")
    editor.body.setFocus()
    qtbot.keyClicks(editor.body, "Typed while the relay says nothing.")
    assert editor.save_state.text() != "Saved"
    return cid, outbox


def test_locking_while_a_relay_hangs_is_prompt_and_loses_nothing(qtbot, unlocked, hanging_relay, tmp_path):
    window = unlocked
    ctrl = controller_for(window.ops)
    cid, outbox = hang_mid_sync(qtbot, window, hanging_relay, tmp_path)
    started = time.monotonic()
    window.lock()
    assert window.ops.pool.waitForDone(5000)  # the exchange was cut short (its request alone: 15 s, then a retry)
    qtbot.waitUntil(lambda: sync_threads() == [], timeout=5000)
    wait_idle(qtbot, window)
    assert time.monotonic() - started < 5
    assert not window.companion.is_unlocked and window.state == "unlock"
    assert not ctrl.running and ctrl.state == "idle" and ctrl.listening() == []
    assert window.ops.presenter.last_message == ""  # the cancelled exchange is not shown as an error
    # unlocked again: the text typed before the lock was saved, and what waited to be sent still waits
    qtbot.keyClicks(window.unlock_screen.passphrase, PASSPHRASE)
    with qtbot.waitSignal(window.unlocked, timeout=15000):
        qtbot.keyClick(window.unlock_screen.passphrase, Qt.Key.Key_Return)
    hits = run_query(qtbot, window, lambda app: app.journal.search("relay says nothing"))
    assert [h.title for h in hits] == ["Before the hang"]
    assert run_query(qtbot, window, lambda app: app.circles.get_circle(cid).outbox) == outbox


def test_closing_while_a_relay_hangs_is_prompt_and_loses_nothing(qtbot, unlocked, hanging_relay, tmp_path):
    window = unlocked
    cid, outbox = hang_mid_sync(qtbot, window, hanging_relay, tmp_path)
    started = time.monotonic()
    window.close()  # no automatic backups here: closing is synchronous
    assert time.monotonic() - started < 5  # ops.shutdown used to wait 10 s for the pool
    assert window.state == "closed" and not window.isVisible()
    assert not window.companion.is_unlocked
    assert window.ops.pool.activeThreadCount() == 0
    qtbot.waitUntil(lambda: sync_threads() == [], timeout=3000)
    assert window.ops.presenter.last_message == ""
    app = Companion(tmp_path / "data")
    app.unlock(PASSPHRASE)
    try:
        assert [h.title for h in app.journal.search("relay says nothing")] == ["Before the hang"]
        assert app.circles.get_circle(cid).outbox == outbox
    finally:
        app.lock()


def test_a_share_arrives_through_the_push_channel_and_listeners_stop(qtbot, make_window, tmp_path, relay):
    ana = Person(tmp_path, "ana")
    ben = new_window(qtbot, make_window, tmp_path / "ben")
    ctrl = controller_for(ben.ops)
    ctrl.timer.setInterval(3_600_000)  # the periodic sync cannot be what brings anything here
    try:
        cid = ana.circles.create_circle("Online", relay=new_mailbox(relay.url).to_dict(), display_name="Ana").value.id
        code = ana.circles.invite(cid).value.code
        run_op(qtbot, ben, lambda app: app.circles.join(code, display_name="Ben"))
        sync(qtbot, ben)  # the join request goes out
        ana.sync()  # Ana's app admits Ben
        qtbot.waitUntil(lambda: ctrl.listening() == [cid], timeout=5000)  # joining circles listen too
        qtbot.waitUntil(lambda: not ctrl.running and ben.ops.pool.activeThreadCount() == 0, timeout=10000)
        shared = page(ben, "shared")
        qtbot.waitUntil(lambda: "Online" in {c.name for c in page(ben, "circles").circles}, timeout=10000)

        # Ana shares; Ben's window gets it without anyone pressing Sync now
        wakes, rounds = ctrl.wakes, ctrl.rounds
        ana.circles.share(ana.entry("it came by itself", title="Live"), cid)
        ana.sync()
        qtbot.waitUntil(lambda: [i.title for i in shared.items] == ["Live"], timeout=10000)
        assert ctrl.wakes > wakes and ctrl.rounds > rounds
        assert ctrl.timer.remainingTime() > 3_000_000  # the timer did not fire

        # locking stops every listener and its push channel; no thread is left running
        ben.lock()
        assert ctrl.listening() == []
        qtbot.waitUntil(lambda: sync_threads() == [], timeout=5000)

        # unlocked again, the listener comes back after the first round; leaving the circle stops it
        qtbot.keyClicks(ben.unlock_screen.passphrase, PASSPHRASE)
        with qtbot.waitSignal(ben.unlocked, timeout=15000):
            qtbot.keyClick(ben.unlock_screen.passphrase, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: ctrl.listening() == [cid], timeout=10000)
        run_op(qtbot, ben, lambda app: app.circles.leave(cid, deliver=False))
        sync(qtbot, ben)  # sends the leave notice from the pool and stops the listener
        assert ctrl.listening() == []
        qtbot.waitUntil(lambda: sync_threads() == [], timeout=5000)
        assert run_query(qtbot, ben, lambda app: app.circles.get_circle(cid).outbox) == 0
        ana.sync()
        assert next(m for m in ana.circles.members(cid) if m.name == "Ben").status == "left"
    finally:
        ana.app.lock()


def test_the_windows_transports_are_sealed_like_every_other(tmp_path: Path) -> None:
    from companion.errors import CancelledError
    from companion.sync.transports import new_seal_key
    from companion.sync.transports.folder import FolderTransport
    from companion.sync.transports.relay import RelayTransport
    from companion.sync.transports.sealed import SealedTransport
    from companion.ui.sync_status import ui_transport

    seal = new_seal_key()
    relay = {"kind": "relay", **new_mailbox("http://127.0.0.1:9").to_dict(), "seal": seal}
    stop = threading.Event()
    t = ui_transport(relay, "writeraaaaaaaaaaaaaa", stop)
    assert isinstance(t, SealedTransport) and isinstance(t.inner, RelayTransport)
    stop.set()  # a lock: the retry's back-off ends at once, through the seal too
    with pytest.raises(CancelledError):
        t.push([b"CPNE x"])
    t.close()
    folder = ui_transport({"kind": "folder", "path": str(tmp_path), "seal": seal}, "writeraaaaaaaaaaaaaa", stop)
    assert isinstance(folder, SealedTransport) and isinstance(folder.inner, FolderTransport)
