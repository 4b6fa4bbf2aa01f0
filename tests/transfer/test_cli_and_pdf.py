"""The command line for import and export (PDF via Qt, loaded only for --format pdf)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest

from companion.cli import main
from companion.services import Companion
from companion.vault.header import FLOOR
from tests.transfer.conftest import FIXTURES, JPEG, PASSPHRASE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(app, monkeypatch, capsys):
    app.lock()
    monkeypatch.setenv("COMPANION_PASSPHRASE", PASSPHRASE)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(app.data_dir), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_import_command_reports_and_is_idempotent(cli):
    code, out, _ = cli("import", "--format", "jrnl", str(FIXTURES / "jrnl" / "journal.txt"))
    assert code == 0 and "Imported 5 entries, 5 new tags and 0 attachments" in out
    code, out, _ = cli("import", "--format", "dayone", str(FIXTURES / "dayone"), "--json")
    report = json.loads(out)
    assert (report["entries"], report["attachments"], len(report["skipped"])) == (3, 1, 2)
    code, out, _ = cli("import", "--format", "jrnl", str(FIXTURES / "jrnl" / "export.json"), "--json")
    assert json.loads(out)["entries"] == 0


def test_import_error_is_one_line(cli, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("no dates at all\n", encoding="utf-8")
    code, out, err = cli("import", "--format", "jrnl", str(bad))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "bad.txt (line 1)" in err


def test_export_formats_warn_and_are_owner_only(cli, tmp_path):
    cli("import", "--format", "dayone", str(FIXTURES / "dayone"))
    for fmt, target in (
        ("json", tmp_path / "j.json"),
        ("markdown", tmp_path / "md"),
        ("pdf", tmp_path / "j.pdf"),
    ):
        code, out, err = cli("export", "--format", fmt, "--output", str(target))
        assert code == 0, err
        assert "WITHOUT encryption" in err and "Wrote 3 entries" in out
        paths = [target, *target.rglob("*")] if target.is_dir() else [target]
        for path in paths:
            assert stat.S_IMODE(os.stat(path).st_mode) == (0o700 if path.is_dir() else 0o600), path
    photos = list((tmp_path / "md" / "attachments").iterdir())
    assert [p.read_bytes() for p in photos] == [next((FIXTURES / "dayone" / "photos").glob("*")).read_bytes()]
    pdf = (tmp_path / "j.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    code, out, _ = cli(
        "export",
        "--format",
        "pdf",
        "--output",
        str(tmp_path / "r.pdf"),
        "--from",
        "2023-06-01",
        "--to",
        "2023-12-31",
    )
    assert code == 0 and "Wrote 1 entries" in out


def test_pdf_rendering_has_no_metadata_and_never_interprets_text(app, tmp_path):
    from companion.journal.entries import Journal
    from companion.transfer.pdf import export_pdf

    entry = app.journal.add_entry(
        "<b>not bold</b> <img src='http://example.invalid/x.png'> & plain", title="<h1>Title</h1>"
    ).value
    app.transfer.add_attachment(entry.id, JPEG, name="p.jpg")
    out = tmp_path / "j.pdf"
    assert export_pdf(Journal(app.vault), out) == 1
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    for key in (b"/Author", b"/Creator"):
        if key in data:
            value = data.split(key, 1)[1][:40]
            assert value.lstrip().startswith(b"()") or value.lstrip().startswith(b"<FEFF>"), value
    assert b"example.invalid" not in data and b"/Image" in data  # the attachment is in, no remote resource


def test_command_line_does_not_import_qt_except_for_pdf(app, tmp_path):
    app.lock()
    script = (
        "import sys; from companion.cli import main; "
        f"code = main(['--data-dir', {str(app.data_dir)!r}, 'import', '--format', 'jrnl', "
        f"{str(FIXTURES / 'jrnl' / 'journal.txt')!r}]); "
        f"code |= main(['--data-dir', {str(app.data_dir)!r}, 'export', '--format', 'json', '--output', "
        f"{str(tmp_path / 'x.json')!r}]); "
        "assert code == 0; print(any(m.startswith('PySide6') for m in sys.modules))"
    )
    env = {**os.environ, "COMPANION_PASSPHRASE": PASSPHRASE, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_cli_json_export_then_companion_import_into_a_new_journal(cli, app, tmp_path, monkeypatch, capsys):
    cli("import", "--format", "dayone", str(FIXTURES / "dayone"))
    cli("add", "mine", "--title", "T", "--tag", "x", "--mood", "3")
    out = tmp_path / "all.json"
    assert cli("export", "--format", "json", "--output", str(out))[0] == 0
    other = tmp_path / "other"
    Companion(other).create(PASSPHRASE, params=FLOOR)  # cheaper than `init` (the CLI uses the default KDF)
    assert main(["--data-dir", str(other), "import", "--format", "companion", str(out), "--json"]) == 0
    captured = capsys.readouterr().out
    report = json.loads(captured[captured.index("{") :])
    assert (report["entries"], report["attachments"]) == (4, 1)
    assert main(["--data-dir", str(other), "import", "--format", "companion", str(out), "--json"]) == 0
    captured = capsys.readouterr().out
    assert json.loads(captured[captured.index("{") :])["entries"] == 0


def test_pdf_pages_grow_with_entries_and_the_range_selects(app, tmp_path):
    from datetime import date

    for day in range(1, 29):
        app.journal.add_entry(
            ("A long paragraph of reflection. " * 40 + "\n") * 3,
            title=f"Day {day}",
            created_at=f"2024-02-{day:02d}",
        )
    everything, february_week = tmp_path / "all.pdf", tmp_path / "week.pdf"
    assert app.transfer.export("pdf", everything) == 28
    assert (
        app.transfer.export("pdf", february_week, date_from=date(2024, 2, 1), date_to=date(2024, 2, 7)) == 7
    )
    pages = [len(re.findall(rb"/Type\s*/Page(?!s)", p.read_bytes())) for p in (everything, february_week)]
    assert pages[0] > pages[1] >= 1


def test_journal_pdf_names_no_tool_time_or_id() -> None:
    """The same entries give the same bytes: no creation time, producer, random document id or XMP date."""
    import re
    from datetime import datetime

    from companion.ui.pdf_journal import PdfEntry, render_pdf

    entries = [PdfEntry(created_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC), title="T", body="b")]
    first, second = render_pdf(entries, heading="Journal"), render_pdf(entries, heading="Journal")
    assert first == second
    assert b"Qt " not in first and b"CreateDate" not in first
    assert not re.search(rb"/(Producer|CreationDate)\s*\(\S", first)
