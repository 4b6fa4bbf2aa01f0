"""One way to run work off the GUI thread (the shape of Anki's ``CollectionOp`` / ``QueryOp``).

Every call that touches the vault runs on ONE dedicated worker thread, one at a time, in the order queued: the
SQLCipher connection is only ever used from that thread. Results come back to the GUI thread by a queued
signal and are handed to ``.success()`` or ``.failure()`` callbacks; a failure without its own callback goes
to the one :class:`ErrorPresenter`. Ops never touch widgets: they get the
:class:`~companion.services.Companion` (and, for long work, a :class:`Task` to report progress and check for
cancellation) and return a value.

Mutations return ``Changed(value, changes)``; the runner emits ``changes`` once on :attr:`OpRunner.changed`,
and each view refreshes itself on its own flags.

Locking bumps a *generation*: results of ops queued before the lock are dropped on arrival, so nothing read
before a lock can reach a widget after it.

Usage::

    runner.collection_op(lambda app: app.journal.add_entry(text)).success(on_added).run()
    runner.query_op(lambda app: app.journal.recent(50)).success(model.set_rows).run()
    runner.query_op(export, progress="Exporting…", parent=self).success(done).run()   # op(app, task)
    runner.network_op(lambda: relay.fetch(cursor)).success(apply).run()   # no vault: its own thread pool

Network and sync work runs on a separate ``QThreadPool`` (:meth:`OpRunner.network_op`) so a slow relay never
holds up the journal; such ops get no ``Companion`` and must hand results to a vault op to store them.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from companion.errors import CancelledError, CompanionError
from companion.services import Changed, Changes, Companion
from companion.ui.dialogs import message as show

log = logging.getLogger(__name__)
T = TypeVar("T")

GENERIC_FAILURE = (
    "Something went wrong and the last action did not finish. Your journal was not changed by it. "
    "If this keeps happening, restart Companion."
)


class Task:
    """Handed to long ops: report progress, and check whether the person pressed Cancel."""

    def __init__(self, report: Callable[[int, int], None]) -> None:
        self._report = report
        self._cancelled = threading.Event()

    def report(self, done: int, total: int) -> None:
        self._report(done, total)

    def cancel(self) -> None:
        self._cancelled.set()

    def is_cancelled(self) -> bool:
        return self._cancelled.is_set()


@dataclass
class _Job:
    serial: int
    generation: int
    fn: Callable[[], Any]
    on_done: Callable[[_Job], None]
    result: Any = None
    error: BaseException | None = None
    keep_after_lock: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class _Worker(QThread):
    """The vault thread: takes jobs from a queue, one at a time."""

    done = Signal(object)
    progress = Signal(object, int, int)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("companion-vault")
        self.jobs: queue.Queue[_Job | None] = queue.Queue()

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            try:
                job.result = job.fn()
            except BaseException as exc:  # handed to the GUI thread, never raised here
                job.error = exc
            self.done.emit(job)
            job = None  # drop our reference: results may hold decrypted text


class _PoolBridge(QObject):
    done = Signal(object)


class _PoolJob(QRunnable):
    def __init__(self, job: _Job, bridge: _PoolBridge) -> None:
        super().__init__()
        self.job, self.bridge = job, bridge

    def run(self) -> None:
        job = self.job
        try:
            job.result = job.fn()
        except BaseException as exc:
            job.error = exc
        self.bridge.done.emit(job)
        self.job = None


class ErrorPresenter(QObject):
    """The one place errors are shown. ``CompanionError`` messages are written for the person; anything else
    gets a generic message (the details go to the log by type only: never content)."""

    shown = Signal(str)

    def __init__(self, parent_widget: Callable[[], QWidget | None] = lambda: None) -> None:
        super().__init__()
        self.parent_widget = parent_widget
        self.interactive = True  # tests and screenshots turn the modal box off and listen to `shown`
        self.last_message = ""

    def present(self, error: BaseException) -> None:
        if isinstance(error, CompanionError):
            message = str(error)
        else:
            log.error("unexpected failure in an op: %s", type(error).__name__)
            message = GENERIC_FAILURE
        self.last_message = message
        self.shown.emit(message)
        if self.interactive:
            show(self.parent_widget(), "Companion", message, icon=QMessageBox.Icon.Warning)


class OpRunner(QObject):
    """Owns the vault worker and the :class:`Companion`. One per window."""

    changed = Signal(object)  # Changes
    idle = Signal()  # the queue drained (tests wait on it)

    def __init__(self, companion: Companion, presenter: ErrorPresenter | None = None) -> None:
        super().__init__()
        self.companion = companion
        self.presenter = presenter or ErrorPresenter()
        self.generation = 0
        self._serial = itertools.count(1)
        self._pending = 0
        self._closed = False  # after shutdown: results still in flight reach no callback
        self._worker = _Worker()
        self._worker.done.connect(self._finished)
        self._worker.start()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(4)
        self._pool_bridge = _PoolBridge()
        self._pool_bridge.done.connect(self._finished)

    # -- building ops ----------------------------------------------------------------------------------------

    def collection_op(self, op: Callable[..., Changed[T]], **kw: Any) -> Op[T]:
        """A mutation: ``op(app)`` returns ``Changed``; success gets the value, ``changed`` gets the flags."""
        return Op(self, op, mutation=True, **kw)

    def query_op(self, op: Callable[..., T], **kw: Any) -> Op[T]:
        """A read: ``op(app)`` returns a plain value."""
        return Op(self, op, mutation=False, **kw)

    def network_op(self, op: Callable[..., T], **kw: Any) -> Op[T]:
        """Work that must not use the vault (network, sync transport): ``op()`` (or ``op(task)`` with
        ``progress=``) runs on the network thread pool, never on the vault worker."""
        return Op(self, op, mutation=False, pool=True, **kw)

    def on_vault_thread(self) -> bool:
        """True when called from the vault worker (for assertions in ops)."""
        return QThread.currentThread() is self._worker

    # -- lifecycle -------------------------------------------------------------------------------------------

    def new_generation(self) -> None:
        """Drop the results of everything queued so far (called when locking)."""
        self.generation += 1

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Lock the vault on the worker (after what is queued) and stop it (window closing).

        Blocks the GUI thread until then, so the window cuts network work short first: the sync controller
        aborts its relay requests (``SyncController.stop``), and the pool's jobs end at once. ``timeout_ms``
        bounds the wait for anything else.

        Results that arrive after this (queued on the GUI thread while it waited) are dropped: their callbacks
        would reach widgets that are being closed and deleted."""
        if not self._worker.isRunning():
            return
        self._closed = True
        self._worker.jobs.put(_Job(0, -1, self.companion.lock, lambda job: None))
        self._worker.jobs.put(None)
        self._worker.wait(timeout_ms)
        self.pool.waitForDone(timeout_ms)

    # -- internals -------------------------------------------------------------------------------------------

    def _submit(self, job: _Job, *, pool: bool = False) -> None:
        self._pending += 1
        if pool:
            self.pool.start(_PoolJob(job, self._pool_bridge))
        else:
            self._worker.jobs.put(job)

    @Slot(object)
    def _finished(self, job: _Job) -> None:
        if self._closed:
            job.result = job.error = None
            self._pending = 0
            return
        self._pending -= 1
        try:
            job.on_done(job)
        finally:
            if self._pending == 0:
                self.idle.emit()


class Op(Generic[T]):
    """Built by :class:`OpRunner`; set ``.success()`` / ``.failure()``, then start it with ``.run()``."""

    def __init__(
        self,
        runner: OpRunner,
        op: Callable[..., Any],
        *,
        mutation: bool,
        progress: str | None = None,
        parent: QWidget | None = None,
        keep_after_lock: bool = False,
        pool: bool = False,
    ) -> None:
        self._runner = runner
        self._pool = pool
        self._op = op
        self._mutation = mutation
        self._progress_label = progress
        self._parent = parent
        self._keep = keep_after_lock
        self._success: Callable[[T], None] | None = None
        self._failure: Callable[[BaseException], None] | None = None
        self._dialog: QProgressDialog | None = None
        self.task: Task | None = None

    def success(self, callback: Callable[[T], None]) -> Op[T]:
        self._success = callback
        return self

    def failure(self, callback: Callable[[BaseException], None]) -> Op[T]:
        self._failure = callback
        return self

    def run(self) -> Op[T]:
        runner = self._runner
        app = runner.companion
        if self._progress_label is not None:
            dialog = QProgressDialog(self._progress_label, "Cancel", 0, 0, self._parent)
            dialog.setWindowTitle("Companion")
            dialog.setAccessibleName("Progress")
            dialog.setAccessibleDescription(self._progress_label)
            dialog.setMinimumDuration(300)
            bridge = _ProgressBridge(dialog)
            self.task = Task(bridge.report.emit)
            dialog.canceled.connect(self.task.cancel)
            self._dialog, self._bridge = dialog, bridge
            task = self.task
            fn: Callable[[], Any] = (lambda: self._op(task)) if self._pool else (lambda: self._op(app, task))
        else:
            fn = self._op if self._pool else (lambda: self._op(app))
        job = _Job(next(runner._serial), runner.generation, fn, self._done, keep_after_lock=self._keep)
        runner._submit(job, pool=self._pool)
        return self

    def _done(self, job: _Job) -> None:
        if self._dialog is not None:
            self._bridge.dialog = None
            if shiboken6.isValid(self._dialog):  # its parent (a closed dialog) may have taken it along
                self._dialog.reset()
                self._dialog.deleteLater()
            self._dialog = None
        runner = self._runner
        stale = job.generation != runner.generation and not job.keep_after_lock
        result, error = job.result, job.error
        job.result = job.error = None
        if stale:  # queued before a lock: nothing from it may reach a widget now
            return
        if error is not None:
            if self._failure is not None:
                self._failure(error)
            elif not isinstance(error, CancelledError):
                runner.presenter.present(error)
            return
        changes = Changes.NONE
        if self._mutation and isinstance(result, Changed):
            changes = result.changes
            result = result.value
        if self._success is not None:
            self._success(result)
        if changes:
            runner.changed.emit(changes)


class _ProgressBridge(QObject):
    """Lives on the GUI thread; the worker emits ``report`` and the dialog is updated here."""

    report = Signal(int, int)

    def __init__(self, dialog: QProgressDialog) -> None:
        super().__init__()
        self.dialog = dialog
        self.report.connect(self._apply)

    @Slot(int, int)
    def _apply(self, done: int, total: int) -> None:
        if self.dialog is not None and shiboken6.isValid(self.dialog):
            self.dialog.setMaximum(max(total, 1))
            self.dialog.setValue(done)
