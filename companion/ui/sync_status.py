"""Circle sync in the window: on demand and every minute, on the vault worker, with a status indicator.

``app.circles.sync(circle)`` does the transport I/O and the vault writes in one call, so it runs as a
``collection_op`` (serialised with every other vault call; a folder sync is quick). One op per circle, so the
indicator can say "Syncing 2 of 3…" and other work slips in between. The relay's push channel
(``Transport.wait``) is not exposed by the service yet: periodic + on demand is what there is.

The indicator's states: ``idle`` (nothing to sync), ``up_to_date``, ``syncing``, ``offline`` (a relay could
not be reached), ``error`` (a specific message: a missing folder, a refusal). Refused envelopes are reported
by count and reason only, never content. Notifications about new items are counts in the status bar, never
text, and a circle's "quiet" switch silences them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from companion.services.circles import _default_factory
from companion.sync.engine import SyncReport
from companion.sync.transports import Transport, check_settings, make_transport
from companion.ui.dialogs import plain_tip
from companion.ui.ops import OpRunner

SYNC_INTERVAL_MS = 60_000
RELAY_TIMEOUT_S = 10.0  # per request, in the window's syncs (see ui_transport)
RELAY_RETRIES = 1


def ui_transport(settings: dict[str, Any], writer_id: str) -> Transport:
    """The window's transports: like ``make_transport``, but a relay gives up sooner (one retry, 10 s per
    request instead of four retries of 15 s). A sync holds the vault worker, so an unreachable relay must not
    keep the journal from saving for a minute or more; the next periodic sync simply tries again."""
    settings = check_settings(settings)
    if settings["kind"] != "relay":
        return make_transport(settings, writer_id=writer_id)
    from companion.sync.transports.relay import RelayTransport

    return RelayTransport(settings["url"], settings["mailbox"], settings["capability"],
                          timeout=RELAY_TIMEOUT_S, retries=RELAY_RETRIES, max_backoff=1.0)  # fmt: skip


def _sync_one(app, circle_id: str):
    circles = app.circles
    if circles.transport_factory is _default_factory:  # leave a test's or a hook-up's own factory alone
        circles.transport_factory = ui_transport
    return circles.sync(circle_id)

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
    """Runs syncs (one op per circle) and keeps the state the indicator shows."""

    state_changed = Signal(str, str)  # state, message
    synced = Signal(object)  # list[SyncReport] of one complete round

    def __init__(self, ops: OpRunner, *, interval_ms: int = SYNC_INTERVAL_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.ops = ops
        self.state = "idle"
        self.message = "Circles: nothing to sync yet"
        self.last_reports: list[SyncReport] = []
        self.last_round_at: float | None = None
        self.rounds = 0  # completed rounds (tests wait on it)
        self._running = False
        self._again = False
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.sync_now)

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        """On lock: no more syncs; forget what was shown."""
        self.timer.stop()
        self._running = False
        self._again = False
        self.last_reports = []
        self._set("idle", "Circles: locked")

    @property
    def running(self) -> bool:
        return self._running

    def sync_now(self) -> None:
        """Sync every circle that still syncs (one op each). A request while a round runs queues one more."""
        if self._running:
            self._again = True
            return
        self._running = True
        self.ops.query_op(
            lambda app: [c.id for c in app.circles.list_circles() if c.state in ("active", "joining")]
        ).success(self._round).failure(self._failed).run()

    def _round(self, ids: list[str]) -> None:
        if not ids:
            self._finish([])
            return
        reports: list[SyncReport] = []
        self._set("syncing", f"Syncing circles… 0 of {len(ids)}")

        def one(index: int) -> None:
            cid = ids[index]

            def done(value: list[SyncReport]) -> None:
                reports.extend(value)
                if index + 1 < len(ids):
                    self._set("syncing", f"Syncing circles… {index + 1} of {len(ids)}")
                    one(index + 1)
                else:
                    self._finish(reports)

            self.ops.collection_op(lambda app: _sync_one(app, cid)).success(done).failure(self._failed).run()

        one(0)

    def _failed(self, exc: BaseException) -> None:
        self._running = False
        self._set("error", f"Sync failed: {exc}")

    def _finish(self, reports: list[SyncReport]) -> None:
        self._running = False
        self.last_reports = reports
        self.last_round_at = time.time()
        self.rounds += 1
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
