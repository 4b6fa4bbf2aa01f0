"""Start the desktop app: ``run(data_dir)`` (the ``companion`` command with no subcommand calls it).

``COMPANION_UI_SMOKE=1`` is a test hook: the app prints ``companion-ui: <screen> shown <seconds>`` after the
first paint of its first screen and quits with status 0 (for the subprocess test and the startup benchmark).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

START = time.perf_counter()


def run(data_dir: Path, *, kdf_params=None) -> int:
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    from companion.ui import theme
    from companion.ui.main_window import MainWindow
    from companion.ui.settings import UiSettings
    from companion.vault.header import DEFAULT

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Companion")
    app.setApplicationDisplayName("Companion")
    app.setDesktopFileName("companion")
    settings = UiSettings.load(Path(data_dir))
    theme.apply(app, settings.theme, settings.font_size)
    window = MainWindow(Path(data_dir), kdf_params=kdf_params or DEFAULT, settings=settings)

    if os.environ.get("COMPANION_UI_SMOKE") == "1":

        class FirstPaint(QObject):
            def eventFilter(self, watched, event):
                if event.type() == QEvent.Type.Paint and watched is window.stack.currentWidget():
                    watched.removeEventFilter(self)
                    print(f"companion-ui: {window.state} shown {time.perf_counter() - START:.3f}", flush=True)
                    QTimer.singleShot(0, window.close)
                return False

        first_paint = FirstPaint(window)
        window.stack.currentWidget().installEventFilter(first_paint)
    app.aboutToQuit.connect(window.ops.shutdown)
    window.show()
    code = app.exec()
    return int(code)
