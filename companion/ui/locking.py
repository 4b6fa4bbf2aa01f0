"""Auto-lock after idle time that keeps counting while the machine sleeps.

Idle time is measured as a difference of clock readings, checked by a timer; a QTimer interval alone would
stop counting while the machine is suspended. The clock is ``CLOCK_BOOTTIME`` on Linux (monotonic, includes
time asleep), else wall-clock ``time.time()``."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import SLOT, QEvent, QObject, QTimer, Signal, Slot

_INPUT = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
    QEvent.Type.InputMethod,
}


def default_clock() -> float:
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        try:
            return time.clock_gettime(boottime)
        except OSError:
            pass
    return time.time()


class IdleWatcher(QObject):
    """Install on the QApplication; emits ``timed_out`` once after ``delay_seconds`` without input."""

    timed_out = Signal()

    def __init__(
        self,
        delay_seconds: float,
        *,
        clock: Callable[[], float] = default_clock,
        check_ms: int = 2000,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.delay_seconds = delay_seconds
        self.clock = clock
        self.last_activity = clock()
        self._timer = QTimer(self)
        self._timer.setInterval(check_ms)
        self._timer.timeout.connect(self.check)

    def start(self) -> None:
        self.touch()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def touch(self) -> None:
        self.last_activity = self.clock()

    def check(self) -> None:
        if self._timer.isActive() and self.clock() - self.last_activity >= self.delay_seconds:
            self._timer.stop()
            self.timed_out.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _INPUT:
            if self._timer.isActive() and self.clock() - self.last_activity >= self.delay_seconds:
                self.check()  # woke from sleep and the first input arrives before the timer: lock, swallow it
                return True
            self.last_activity = self.clock()
        return False


SCREENSAVER_SIGNALS = (
    ("/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver"),
    ("/org/gnome/ScreenSaver", "org.gnome.ScreenSaver"),
    ("/ScreenSaver", "org.freedesktop.ScreenSaver"),  # KDE
)


class ScreenLockWatcher(QObject):
    """Emits ``screen_locked`` when the desktop's screen saver / screen lock activates.

    Listens on the D-Bus session bus for ``ActiveChanged(true)`` from the freedesktop, GNOME and KDE screen
    savers. Without a session bus (or without QtDBus) it does nothing and ``available`` is False.
    """

    screen_locked = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.available = False
        try:
            from PySide6.QtDBus import QDBusConnection
        except ImportError:
            return
        bus = QDBusConnection.sessionBus()
        if not bus.isConnected():
            return
        for path, interface in SCREENSAVER_SIGNALS:
            if bus.connect("", path, interface, "ActiveChanged", self, SLOT("_active_changed(bool)")):
                self.available = True

    @Slot(bool)
    def _active_changed(self, active: bool) -> None:
        if active:
            self.screen_locked.emit()
