"""The desktop app: PySide6 widgets. The only package that imports Qt (the core reaches it never).

Every emit in PySide6 6.12 drops a reference to ``True`` (see :mod:`companion.ui.qt_fixes`); the fix is installed
here, before any module of the app can emit, so no window or worker runs without it.
"""

from companion.ui import qt_fixes as _qt_fixes

_qt_fixes.install()
