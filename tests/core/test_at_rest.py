"""No plaintext on disk, and the core never imports Qt."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

MARKER = "zebracanary7Q"
PASS = "at rest passphrase"


def files_containing(folder: Path, needle: bytes) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and needle in path.read_bytes():
            found.append(path)
    return found


def test_marker_never_reaches_the_data_folder_or_temp(tmp_path: Path) -> None:
    data, tmp, out = tmp_path / "data", tmp_path / "tmp", tmp_path / "out"
    tmp.mkdir()
    out.mkdir()
    env = {**os.environ, "COMPANION_PASSPHRASE": PASS, "COMPANION_DATA_DIR": str(data), "TMPDIR": str(tmp)}
    script = (
        "import sys; from companion.vault import header; header.DEFAULT = header.FLOOR;"
        "from companion.cli import main; sys.exit(main(sys.argv[1:]))"
    )

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("init")
    for i in range(3):
        cli("add", f"day {i}: {MARKER} in the body " + "filler " * 200, "--title", f"{MARKER} title {i}",
            "--tag", f"{MARKER}tag")
    # the bulk of the entries in one process, so the WAL and the page cache see real churn
    bulk = (
        "import sys; from companion.services import Companion; from pathlib import Path;"
        "app = Companion(Path(sys.argv[1])); app.unlock(sys.argv[2]);"
        f"[app.journal.add_entry('{MARKER} ' + 'words ' * 300, title='{MARKER}', tags=['{MARKER}x']) "
        "for _ in range(300)];"
        f"assert app.journal.search('{MARKER}'); app.journal.update_entry(1, body='edited {MARKER}');"
        "import time; open(sys.argv[3], 'w').write('ready'); time.sleep(0.5)"
    )
    flag = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", bulk, str(data), PASS, str(flag)], env=env)
    while not flag.exists():
        assert child.poll() is None
    # while the vault is open and the WAL is live
    assert files_containing(data, MARKER.encode()) == []
    child.wait()
    assert json.loads(cli("search", MARKER, "--json"))
    cli("export", "--format", "json", "--output", str(out / "journal.json"))
    cli("export", "--format", "markdown", "--output", str(out / "md"))
    cli("delete", "1", "--permanent")

    assert {p.name for p in data.iterdir()} <= {"vault.db", "vault.header", "vault.db-wal", "vault.db-shm"}
    for needle in (MARKER.encode(), MARKER.encode("utf-16-le"), PASS.encode()):
        assert files_containing(data, needle) == []
        assert files_containing(tmp, needle) == []
    assert files_containing(out, MARKER.encode())  # the export went where it was told, and only there


CORE = Path(__file__).resolve().parents[2] / "companion"


def test_core_never_imports_qt() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        if "ui" in path.relative_to(CORE).parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in {"PySide6", "shiboken6"} for n in names):
                offenders.append(str(path.relative_to(CORE)))
    assert offenders == []
