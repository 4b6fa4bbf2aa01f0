"""Under ``dbus-run-session``: open a journal, send the screen saver's ActiveChanged(true), expect a lock."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from companion.ui.main_window import MainWindow
from companion.vault.header import FLOOR


def wait_for(condition, ms=10000):
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: condition() and loop.quit())
    timer.start()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
    return condition()


app = QApplication([])
with tempfile.TemporaryDirectory() as tmp:
    window = MainWindow(Path(tmp) / "d", kdf_params=FLOOR, interactive_errors=False)
    window.show()
    print("available", window.screen_lock.available, flush=True)
    window._create("a long enough passphrase")
    assert wait_for(lambda: window.state == "main"), "did not open"
    subprocess.run(
        [
            "dbus-send",
            "--session",
            "--type=signal",
            "/org/freedesktop/ScreenSaver",
            "org.freedesktop.ScreenSaver.ActiveChanged",
            "boolean:true",
        ],
        check=True,
    )
    locked = wait_for(lambda: window.state == "unlock")
    print("locked", locked, flush=True)
    window.close()
sys.exit(0 if locked else 1)
