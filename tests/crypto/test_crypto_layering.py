"""The crypto core stays small and screen-free: importing it loads no Qt and no other Companion layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_crypto_imports_no_qt_and_no_higher_layer():
    code = (
        "import sys, companion.crypto\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('PySide6', 'companion.')) and not "
        "m.startswith(('companion.crypto', 'companion.errors')))\n"
        "print(','.join(bad))\n"
    )
    root = Path(__file__).parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == ""
