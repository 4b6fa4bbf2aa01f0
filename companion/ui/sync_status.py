"""Circle sync in the window: on demand, every minute, and live from a relay's push channel, with a status
indicator. The network I/O never runs on the vault worker.

One circle's sync is passes of three ops (``docs/sync-engine.md``)::

    query_op     app.circles.sync_plan(cid)          vault worker: settings, cursor, unsent blobs
    network_op   CirclesService.sync_exchange(...)    network pool: push them, pull what is new (bounded)
    collection_op app.circles.sync_apply(exchange)    vault worker: mark sent, apply, store the cursor

and another pass while the report says ``again`` (e.g. to send the welcome an admission produced), at most
:data:`PASSES_PER_ROUND` per round; one circle after the other, so the indicator can say "Syncing 2 of 3…".
While a relay is slow or unreachable the journal still saves and searches: only the pool thread waits, with the
transport's normal retries and timeouts. A lock bumps a token (and the op runner's generation), so a pass
interrupted by it is dropped between phases: nothing is written after the lock, and nothing is lost (the outbox
and the cursor change only in the apply). The lock (and closing the window) also aborts each relay transport's
requests in flight (``RelayTransport.abort``: their sockets are shut down), so a relay that accepted a request
and never answers holds up neither: the exchange ends with ``CancelledError`` at once, not at its 15 s timeout.

**Live updates.** While unlocked, each active or joining relay circle has a listener thread
(``companion-live-<circle>``) calling the relay transport's ``wait()`` (the relay's server-sent events); when
the relay says its mailbox moved on, a queued signal asks for :meth:`SyncController.sync_now` (coalesced with a
running round). Listener and network phases share the circle's transport, so a change this device pulled does
not wake it again. The 60 s timer stays as the fallback and for folder circles. Listeners stop on lock, when a
circle is left or removed, and when the window closes; each closes its transport on its way out.

The indicator's states: ``idle`` (nothing to sync), ``up_to_date``, ``syncing``, ``offline`` (a relay could
not be reached), ``error`` (a specific message: a missing folder, a refusal). Refused envelopes are reported
by count and reason only, never content. Notifications about new items are counts in the status bar, never
text, and a circle's "quiet" switch silences them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from companion.errors import CancelledError
from companion.services.circles import CirclesService, SyncTarget, _default_factory
from companion.sync.engine import SyncExchange, SyncPlan, SyncReport
from companion.sync.transports import Transport, make_transport
from companion.ui.dialogs import plain_tip
from companion.ui.ops import OpRunner

log = logging.getLogger(__name__)

SYNC_INTERVAL_MS = 60_000
PASSES_PER_ROUND = 8  # per circle; a circle with more to do continues in the next round, queued at once
LISTEN_POLL_S = 0.2  # how often a listener looks at its stop flag while waiting on the push channel

TransportMaker = Callable[[dict[str, Any], str, threading.Event], Transport]


def ui_transport(settings: dict[str, Any], writer_id: str, stop: threading.Event | None = None) -> Transport:
    """The window's transports: ``make_transport``'s (sealed like everywhere else when the circle has a seal
    key), with the relay's normal retries and timeouts (the network phase runs on the pool, not the vault
    worker), except that a retry's back-off ends at once with ``CancelledError`` when ``stop`` is set (a lock),
    instead of sleeping on."""
    if stop is None:
        return make_transport(settings, writer_id=writer_id)

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise CancelledError()

    return make_transport(settings, writer_id=writer_id, relay_options={"sleep": sleep})


class _Link:
    """One circle's transport for the session: shared by its network phases (one at a time, on the pool) and
    its push-channel listener (a thread of its own). Made on first use, on the thread that needs it."""

    def __init__(self, circle_id: str, settings: dict[str, Any], writer_id: str, make: TransportMaker) -> None:
        self.circle_id = circle_id
        self.key = (json.dumps(settings, sort_keys=True), writer_id)
        self.settings, self.writer_id, self._make = settings, writer_id, make
        self.stop = threading.Event()
        self.listener: threading.Thread | None = None
        self._transport: Transport | None = None
        self._lock = threading.Lock()

    def transport(self) -> Transport:
        with self._lock:
            if self.stop.is_set():
                raise CancelledError()
            if self._transport is None:
                self._transport = self._make(self.settings, self.writer_id, self.stop)
            return self._transport

    def listen(self, wake: Callable[[str], None]) -> None:
        if self.listener is None and not self.stop.is_set():
            self.listener = threading.Thread(
                target=self._listen, args=(wake,), name=f"companion-live-{self.circle_id[:8]}", daemon=True
            )
            self.listener.start()

    def _listen(self, wake: Callable[[str], None]) -> None:
        try:
            transport = self.transport()
            while not self.stop.is_set():
                if transport.wait(LISTEN_POLL_S) and not self.stop.is_set():
                    wake(self.circle_id)
        except CancelledError:
            pass
        except Exception as exc:  # never content: the type only
            log.warning("push channel listener stopped: %s", type(exc).__name__)
        finally:
            self._close_transport()

    def close(self) -> None:
        """Stop listening, end the transport's requests in flight at once (a relay that never answers must not
        hold up a lock or closing: ``RelayTransport.abort``), and release the transport. Never waits: a
        listener closes it on its way out, which is at once now."""
        self.stop.set()
        with self._lock:
            transport = self._transport
        abort = getattr(transport, "abort", None)  # relays (through the seal too); folders have nothing to cut
        if abort is not None:
            try:
                abort()
            except Exception as exc:
                log.warning("could not abort a transport: %s", type(exc).__name__)
        if self.listener is None or not self.listener.is_alive():
            self._close_transport()

    def _close_transport(self) -> None:
        with self._lock:
            transport, self._transport = self._transport, None
        if transport is not None:
            try:
                transport.close()
            except Exception as exc:
                log.warning("could not close a transport: %s", type(exc).__name__)


def _round_start(app) -> tuple[list[SyncTarget], Any]:
    """On the vault worker: the circles to visit, and a test's or a hook-up's own transport factory if set."""
    circles = app.circles
    factory = circles.transport_factory
    return circles.sync_targets(), (None if factory is _default_factory else factory)


REASONS = {
    "removed_author": "from someone no longer in the circle",
    "replayed_counter": "replayed (already seen)",
    "invalid_signature": "with a signature that did not verify",
    "forged_author": "claiming a false author",
    "forked_roster": "a conflicting change to the member list",
    "not_in_audience": "replies from outside an item's audience",
    "replies_not_welcome": "replies where none were welcome",
    "retraction_not_by_author": "a withdrawal by someone other than the author",
    "older_revision": "older versions of items",
    "invite_already_used": "a second use of an invite",
    "invite_expired": "an expired invite",
    "malformed": "malformed",
    "unreadable": "unreadable",
}


def describe_rejections(reports: list[SyncReport]) -> str:
    """"2 items refused: 1 from someone no longer in the circle, 1 replayed" — reasons and counts only."""
    reasons = Counter(r.reason for report in reports for r in report.rejected)
    total = sum(reasons.values())
    if not total:
        return ""
    parts = [f"{n} {REASONS.get(reason, reason.replace('_', ' '))}" for reason, n in sorted(reasons.items())]
    return f"{total} item{'s' if total != 1 else ''} refused: " + ", ".join(parts)


class SyncController(QObject):
    """Runs sync rounds (every circle, one after the other, each in passes of plan → exchange → apply), keeps
    the state the indicator shows, and runs the relay circles' push-channel listeners while started."""

    state_changed = Signal(str, str)  # state, message
    synced = Signal(object)  # list[SyncReport] of one complete round
    woken = Signal(str)  # a listener heard its relay (emitted on the listener's thread; queued to ours)

    def __init__(self, ops: OpRunner, *, interval_ms: int = SYNC_INTERVAL_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.ops = ops
        self.state = "idle"
        self.message = "Circles: nothing to sync yet"
        self.last_reports: list[SyncReport] = []
        self.last_round_at: float | None = None
        self.rounds = 0  # completed rounds (tests wait on it)
        self.wakes = 0  # rounds asked for by a push channel
        self._running = False
        self._again = False
        self._started = False
        self._token = 0  # bumped by stop(): callbacks of an earlier round do nothing
        self._links: dict[str, _Link] = {}
        self._targets: list[SyncTarget] | None = None
        self._factory: Any = None
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.sync_now)
        self.woken.connect(self._woken, Qt.ConnectionType.QueuedConnection)

    def start(self) -> None:
        self._started = True
        self.timer.start()

    def stop(self) -> None:
        """On lock and on close: no more syncs, listeners stopped, a running round dropped between its phases;
        forget what was shown."""
        self._started = False
        self._token += 1
        self.timer.stop()
        self._running = False
        self._again = False
        self._targets = None
        self.last_reports = []
        for link in self._links.values():
            link.close()
        self._links.clear()
        self._set("idle", "Circles: locked")

    @property
    def running(self) -> bool:
        return self._running

    def listening(self) -> list[str]:
        """The circles whose push-channel listener thread is alive (tests: none after a lock)."""
        return [cid for cid, link in self._links.items() if link.listener is not None and link.listener.is_alive()]

    def sync_now(self) -> None:
        """Sync every circle that still syncs. A request while a round runs queues one more."""
        if self._running:
            self._again = True
            return
        self._running = True
        token = self._token
        self.ops.query_op(_round_start).success(lambda value: self._round(token, *value)).failure(
            lambda exc: self._failed(token, exc)
        ).run()

    def _woken(self, circle_id: str) -> None:
        link = self._links.get(circle_id)
        if not self._started or link is None or link.stop.is_set():
            return  # a listener being stopped
        self.wakes += 1
        self.sync_now()

    def _round(self, token: int, targets: list[SyncTarget], factory: Any) -> None:
        if token != self._token:
            return
        self._targets, self._factory = targets, factory
        if not targets:
            self._finish([])
            return
        reports: list[SyncReport] = []
        self._set("syncing", f"Syncing circles… 0 of {len(targets)}")

        def one(index: int) -> None:
            def done(report: SyncReport) -> None:
                reports.append(report)
                if index + 1 < len(targets):
                    self._set("syncing", f"Syncing circles… {index + 1} of {len(targets)}")
                    one(index + 1)
                else:
                    self._finish(reports)

            self._sync_circle(token, targets[index].circle_id, done)

        one(0)

    def _sync_circle(self, token: int, cid: str, done: Callable[[SyncReport], None]) -> None:
        """One circle: passes of plan (vault) → exchange (pool) → apply (vault) while the report asks again."""
        box: dict[str, Any] = {"passes": 0, "total": None}

        def plan() -> None:
            self.ops.query_op(lambda app: app.circles.sync_plan(cid)).success(exchange).failure(failed).run()

        def exchange(plan: SyncPlan) -> None:
            if token != self._token:
                return
            link = self._link(plan)
            self.ops.network_op(
                lambda: CirclesService.sync_exchange(plan, link.transport(), cancelled=link.stop.is_set)
            ).success(apply).failure(failed).run()

        def apply(ex: SyncExchange) -> None:
            if token != self._token:
                return  # locked meanwhile: dropped, nothing written; the outbox and cursor are as they were
            self.ops.collection_op(lambda app: app.circles.sync_apply(ex)).success(applied).failure(failed).run()

        def applied(report: SyncReport) -> None:
            if token != self._token:
                return
            box["passes"] += 1
            box["total"] = report if box["total"] is None else box["total"].merge(report)
            if report.again and box["passes"] < PASSES_PER_ROUND:
                plan()
                return
            if report.again:
                self._again = True  # more than one round's worth: the next round follows at once
            done(box["total"])

        def failed(exc: BaseException) -> None:
            self._failed(token, exc)

        plan()

    def _link(self, plan: SyncPlan) -> _Link:
        link = self._links.get(plan.circle_id)
        key = (json.dumps(plan.transport, sort_keys=True), plan.writer_id)
        if link is None or link.key != key:  # new, or the circle's settings changed
            if link is not None:
                link.close()
            custom = self._factory
            make: TransportMaker = ui_transport if custom is None else (lambda s, w, _stop: custom(s, w))
            link = self._links[plan.circle_id] = _Link(plan.circle_id, plan.transport, plan.writer_id, make)
        return link

    def _listen(self, reports: list[SyncReport]) -> None:
        """After a round: a listener for each relay circle that is still active or joining; others stop."""
        targets = self._targets
        if targets is None or not self._started:
            return
        ended = {r.circle_id for r in reports if r.removed or r.state == "not_syncing"}
        live = {t.circle_id for t in targets if t.relay and t.state in ("active", "joining")} - ended
        visited = {t.circle_id for t in targets}
        for cid in [cid for cid in self._links if cid in ended or cid not in visited]:
            self._links.pop(cid).close()
        for cid in live:
            link = self._links.get(cid)
            if link is not None:  # made by this round's network phase, which pulled: no wake for old news
                link.listen(self.woken.emit)

    def _failed(self, token: int, exc: BaseException) -> None:
        if token != self._token:
            return
        self._running = False
        self._set("error", f"Sync failed: {exc}")

    def _finish(self, reports: list[SyncReport]) -> None:
        self._running = False
        self.last_reports = reports
        self.last_round_at = time.time()
        self.rounds += 1
        self._listen(reports)
        failed = [r for r in reports if r.state == "transport_failed"]
        refused = describe_rejections(reports)
        if not reports:
            self._set("idle", "Circles: nothing to sync yet")
        elif failed:
            error = failed[0].error or "the shared folder or relay could not be reached"
            offline = "could not be reached" in error
            self._set("offline" if offline else "error", ("Offline: " if offline else "Sync problem: ") + error)
        elif refused:
            self._set("error", f"Synced, but {refused}.")
        else:
            self._set("up_to_date", "Circles up to date")
        self.synced.emit(reports)
        if self._again:
            self._again = False
            QTimer.singleShot(0, self.sync_now)

    def _set(self, state: str, message: str) -> None:
        self.state, self.message = state, message
        self.state_changed.emit(state, message)


SYMBOLS = {"idle": "○", "up_to_date": "✓", "syncing": "⟳", "offline": "⚠", "error": "⚠"}


class SyncIndicator(QWidget):
    """The status bar's circle sync state (text, not colour alone) and a "Sync now" button."""

    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setAccessibleName("Circle sync")
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setObjectName("SyncState")
        self.label.setAccessibleName("Circle sync state")
        self.button = QPushButton("Sync now")
        self.button.setAccessibleName("Sync circles now")
        self.button.setAccessibleDescription("Send what waits and fetch what others shared (F5)")
        self.button.setFlat(True)
        self.button.clicked.connect(controller.sync_now)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 4, 0)
        row.addWidget(self.label)
        row.addWidget(self.button)
        controller.state_changed.connect(self.show_state)
        self.show_state(controller.state, controller.message)

    def show_state(self, state: str, message: str) -> None:
        self.label.setText(f"{SYMBOLS.get(state, '')} {message}".strip())
        self.label.setAccessibleDescription(message)
        self.label.setToolTip(plain_tip(message))  # errors can quote paths and names: never rich text
        self.button.setEnabled(state != "syncing")


def notify_text(new_counts: dict[str, int], names: dict[str, str], quiet: Callable[[str], bool]) -> str:
    """The status-bar line about new items: counts per circle, never titles or text; quiet circles left out."""
    parts = [
        f"{n} new in {names.get(cid) or 'a circle'}" for cid, n in sorted(new_counts.items()) if n and not quiet(cid)
    ]
    return ("Shared with you: " + "; ".join(parts)) if parts else ""



def controller_for(ops: OpRunner) -> SyncController:
    """The one sync controller of a window (kept on its op runner), shared by the Circles and Shared pages."""
    controller = getattr(ops, "circle_sync", None)
    if controller is None:
        controller = SyncController(ops, parent=ops)
        ops.circle_sync = controller  # type: ignore[attr-defined]
    return controller
