"""The facilitator's command line: meeting add / attend / list and attendance export."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from companion.cli import main
from companion.services import Companion
from companion.vault.header import FLOOR

from .conftest import PASSPHRASE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    app = Companion(folder)
    app.create(PASSPHRASE, params=FLOOR)
    app.lock()
    monkeypatch.setenv("COMPANION_PASSPHRASE", PASSPHRASE)
    return folder


def run(capsys, data_dir, *args):
    code = main(["--data-dir", str(data_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_attend_list_export(capsys, data_dir, tmp_path):
    code, out, _ = run(
        capsys,
        data_dir,
        "meeting",
        "add",
        "--date",
        "2026-01-05T18:30",
        "--format",
        "in_person",
        "--minutes",
        "90",
        "--circle",
        "c1",
        "--topic",
        "Grief",
    )
    assert code == 0
    meeting_id = out.strip().splitlines()[-1]
    assert meeting_id.isdigit()
    names = [f"Person {i}" for i in range(14)]
    code, out, _ = run(capsys, data_dir, "meeting", "attend", meeting_id, *names)
    assert code == 0 and "14" in out
    code, out, _ = run(capsys, data_dir, "meeting", "list", "--json")
    listed = json.loads(out)
    assert listed[0]["attendees"] == 14 and listed[0]["format"] == "in_person"
    target = tmp_path / "report.csv"
    code, out, err = run(
        capsys,
        data_dir,
        "attendance",
        "export",
        "--period",
        "month",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--format",
        "csv",
        "--output",
        str(target),
    )
    assert code == 0, err
    rows = list(csv.DictReader(target.open()))
    jan_all = next(r for r in rows if r["format"] == "all")
    assert jan_all["unique_attendees"] == "15" and jan_all["sessions"] == "<11"
    assert "Person" not in target.read_text()


def test_errors_are_one_line_and_change_nothing(capsys, data_dir, tmp_path):
    code, _, err = run(capsys, data_dir, "meeting", "attend", "42", "Ann")
    assert code != 0 and err.count("\n") == 1 and "no meeting 42" in err
    code, _, err = run(
        capsys,
        data_dir,
        "attendance",
        "export",
        "--period",
        "month",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--format",
        "csv",
        "--output",
        str(tmp_path / "r.csv"),
        "--profile",
        "nhs",
        "--epsilon",
        "1",
    )
    assert code != 0 and "not both" in err
    run(
        capsys,
        data_dir,
        "attendance",
        "export",
        "--period",
        "month",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--format",
        "csv",
        "--output",
        str(tmp_path / "m.csv"),
    )
    code, _, err = run(
        capsys,
        data_dir,
        "attendance",
        "export",
        "--period",
        "quarter",
        "--from",
        "2026-01-01",
        "--to",
        "2026-03-31",
        "--format",
        "csv",
        "--output",
        str(tmp_path / "q.csv"),
    )
    assert code == 7 and "overlaps 2026-01" in err and not (tmp_path / "q.csv").exists()
    with pytest.raises(SystemExit):
        main(
            [
                "--data-dir",
                str(data_dir),
                "meeting",
                "add",
                "--date",
                "2026-01-05",
                "--format",
                "zoom",
                "--minutes",
                "60",
            ]
        )


def test_csv_export_does_not_load_qt(data_dir, tmp_path):
    """The command line must start fast: Qt is imported only for --format pdf."""
    script = (
        "import sys; from companion.cli import main; "
        f"main(['--data-dir', {str(data_dir)!r}, 'meeting', 'add', '--date', '2026-01-05', '--format', "
        "'online', '--minutes', '60']); "
        f"main(['--data-dir', {str(data_dir)!r}, 'attendance', 'export', '--period', 'month', '--from', "
        f"'2026-01-01', '--to', '2026-01-31', '--format', 'csv', '--output', {str(tmp_path / 'r.csv')!r}]); "
        "print('QT' if any(m.startswith('PySide6') for m in sys.modules) else 'NOQT')"
    )
    env = {**os.environ, "COMPANION_PASSPHRASE": PASSPHRASE}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "NOQT"
    assert (tmp_path / "r.csv").exists()
