"""The command line contract: exit codes, one-line errors, --json, ids on the last line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from companion.cli import main
from companion.vault import header

PASS = "cli passphrase"


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI creates vaults with the app's default settings; tests use the floor to stay quick."""
    monkeypatch.setattr(header, "DEFAULT", header.FLOOR)
    monkeypatch.setenv("COMPANION_PASSPHRASE", PASS)


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    data = tmp_path / "data"

    def go(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(data), *args])
        out, err = capsys.readouterr()
        return code, out, err

    go.data = data  # type: ignore[attr-defined]
    return go


def test_init_add_list_show_search(run) -> None:
    assert run("init")[0] == 0
    code, out, _ = run("add", "The walk by the canal helped.", "--title", "Canal", "--tag", "walk", "--mood", "4",
                       "--date", "2026-05-01T08:30")
    assert code == 0
    entry_id = int(out.strip().splitlines()[-1])
    code, out, _ = run("list", "--json")
    [row] = json.loads(out)
    assert (row["id"], row["title"], row["tags"], row["mood"]) == (entry_id, "Canal", ["walk"], 4)
    code, out, _ = run("show", str(entry_id), "--json")
    assert json.loads(out)["body"] == "The walk by the canal helped."
    code, out, _ = run("--json", "search", "canal")
    assert json.loads(out)[0]["snippet"] == "The walk by the [canal] helped."
    code, out, _ = run("search", "nothing-like-this")
    assert (code, out.strip()) == (0, "Nothing found.")


def test_edit_delete_trash_undelete(run) -> None:
    run("init")
    entry_id = run("add", "draft")[1].strip()
    assert run("edit", entry_id, "--text", "final", "--title", "Done", "--mood", "2")[0] == 0
    assert json.loads(run("show", entry_id, "--json")[1])["title"] == "Done"
    assert run("edit", entry_id, "--no-mood")[0] == 0
    assert json.loads(run("show", entry_id, "--json")[1])["mood"] is None
    assert run("delete", entry_id)[0] == 0
    assert json.loads(run("trash", "--json")[1])[0]["id"] == int(entry_id)
    assert run("undelete", entry_id)[0] == 0
    assert json.loads(run("list", "--json")[1])[0]["id"] == int(entry_id)
    assert run("delete", entry_id, "--permanent")[0] == 0
    assert run("show", entry_id)[0] != 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["show", "99"], "no entry 99"),
        (["add", "x", "--date", "yesterday"], "not a date"),
        (["edit", "1"], "Nothing to change"),
        (["init"], "already a journal"),
        (["search", "x", "--from", "2026-02-01", "--to", "2026-01-01"], "--from is after --to"),
        (["add", "   "], "empty"),
    ],
)
def test_errors_are_one_line_and_change_nothing(run, args: list[str], fragment: str) -> None:
    run("init")
    run("add", "only entry")
    before = {p.name: p.read_bytes() for p in run.data.iterdir() if p.name != "vault.db-shm"}
    code, _out, err = run(*args)
    assert code != 0
    assert fragment in err and len(err.strip().splitlines()) == 1
    assert err.startswith("companion: ")
    after = {p.name: p.read_bytes() for p in run.data.iterdir() if p.name != "vault.db-shm"}
    assert after == before


def test_no_vault_and_wrong_passphrase(run, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run("list")
    assert code == 3 and "companion init" in err
    run("init")
    monkeypatch.setenv("COMPANION_PASSPHRASE", "wrong")
    code, _, err = run("list")
    assert code == 4 and "does not open" in err


def test_passwd(run, monkeypatch: pytest.MonkeyPatch) -> None:
    run("init")
    run("add", "secret thoughts")
    monkeypatch.setenv("COMPANION_NEW_PASSPHRASE", "brand new")
    assert run("passwd")[0] == 0
    assert run("list")[0] == 4
    monkeypatch.setenv("COMPANION_PASSPHRASE", "brand new")
    assert "secret thoughts" in run("list")[1]


def test_export_json_and_markdown(run, tmp_path: Path) -> None:
    run("init")
    run("add", "body one", "--title", "One", "--tag", "t")
    run("add", "body two", "--title", "One")
    code, _out, _ = run("export", "--format", "json", "--output", str(tmp_path / "out.json"))
    assert code == 0
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["format"] == "companion-journal" and len(doc["entries"]) == 2
    assert (tmp_path / "out.json").stat().st_mode & 0o077 == 0
    assert run("export", "--format", "markdown", "--output", str(tmp_path / "md"))[0] == 0
    files = sorted((tmp_path / "md").iterdir())
    assert len(files) == 2 and all(f.stat().st_mode & 0o077 == 0 for f in files)
    assert "# One" in files[0].read_text()
    code, _, err = run("export", "--format", "markdown", "--output", str(tmp_path / "md"))
    assert code != 0 and "not an empty folder" in err


def test_add_reads_standard_input_and_cli_stays_qt_free(tmp_path: Path) -> None:
    env = {**os.environ, "COMPANION_PASSPHRASE": PASS, "COMPANION_DATA_DIR": str(tmp_path / "d")}
    code = (
        "import sys; from companion.vault import header; header.DEFAULT = header.FLOOR;"
        "from companion.cli import main; rc = main(sys.argv[1:]);"
        "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported';"
        "sys.exit(rc)"
    )
    assert subprocess.run([sys.executable, "-c", code, "init"], env=env, capture_output=True).returncode == 0
    done = subprocess.run(
        [sys.executable, "-c", code, "add", "-", "--title", "piped"], env=env, input=b"from a pipe\n",
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr
    shown = subprocess.run([sys.executable, "-c", code, "show", done.stdout.decode().strip(), "--json"], env=env,
                           capture_output=True)
    assert json.loads(shown.stdout)["body"] == "from a pipe\n"


def test_help_lists_the_contract() -> None:
    out = subprocess.run([sys.executable, "-m", "companion", "--help"], capture_output=True, text=True).stdout
    for command in ["init", "add", "list", "show", "search", "edit", "delete", "passwd", "export"]:
        assert command in out
