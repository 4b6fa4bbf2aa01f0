"""Encrypted backup and restore: identical journal back, any flipped byte refused, consistent while
writing."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from companion.errors import (
    BackupCorruptError,
    BackupError,
    CompanionError,
    InvalidInputError,
    WrongPassphraseError,
)
from companion.schema import MIGRATIONS
from companion.services import Companion
from companion.services.transfer import restore, verify
from companion.vault.header import FLOOR
from companion.vault.store import Vault
from tests.transfer.conftest import FIXTURES, JPEG, PASSPHRASE, entry_state


def _fill(app):
    app.transfer.import_file("jrnl", FIXTURES / "jrnl" / "journal.txt")
    app.transfer.import_file("dayone", FIXTURES / "dayone")
    entry = app.journal.add_entry("own words", title="Mine", tags=["own"], mood=2).value
    app.transfer.add_attachment(entry.id, JPEG, name="x.jpg")
    app.journal.set_setting("theme", "dark")


@pytest.fixture
def backup_file(app, tmp_path):
    _fill(app)
    out = tmp_path / "backups" / "journal.cbackup"
    app.transfer.backup(out, passphrase=PASSPHRASE)
    return out


def test_backup_then_restore_gives_an_identical_journal(app, backup_file, tmp_path):
    assert stat.S_IMODE(os.stat(backup_file).st_mode) == 0o600
    assert sorted(p.name for p in backup_file.parent.iterdir()) == ["journal.cbackup"]  # no temporary left
    target = tmp_path / "restored"
    restore(backup_file, target, PASSPHRASE)
    restored = Companion(target)
    restored.unlock(PASSPHRASE)
    try:
        assert entry_state(restored) == entry_state(app)
        assert restored.journal.tags() == app.journal.tags()
        assert restored.journal.get_setting("theme") == "dark"
        assert restored.journal.search("DAYONEMARKER")  # the search index came along
        # the import source keys too: importing the same source again adds nothing
        assert restored.transfer.import_file("jrnl", FIXTURES / "jrnl" / "journal.txt").value.entries == 0
    finally:
        restored.lock()


def test_the_database_in_a_backup_opens_with_sqlcipher_defaults_and_the_key(app, backup_file):
    """Portable: whatever page HMAC the vault uses, the backup's database is a plain SQLCipher 4 database
    (default settings), so stock SQLCipher tools open it with the key alone."""
    import json
    import struct

    import sqlcipher3

    from companion.vault.header import KeySlot

    raw = backup_file.read_bytes()
    (header_len,) = struct.unpack(">I", raw[8:12])
    header = json.loads(raw[12 : 12 + header_len])
    db = backup_file.parent / "copy.db"
    db.write_bytes(raw[12 + header_len : 12 + header_len + header["db_size"]])
    key = KeySlot.from_json(header["key"]).derive(PASSPHRASE)
    conn = sqlcipher3.connect(str(db))
    conn.execute(f"PRAGMA key = \"x'{bytes(key).hex()}'\"")
    assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == app.journal.count()
    conn.close()


def test_every_flipped_byte_is_refused_and_nothing_is_written(backup_file, tmp_path):
    original = backup_file.read_bytes()
    size = len(original)
    trials = int(os.environ.get("COMPANION_TRIALS", "1"))
    positions = sorted(
        {
            0,
            7,
            8,
            11,
            12,
            40,
            100,
            size // 3,
            size // 2,
            size - 33,
            size - 32,
            size - 1,
            *range(200, size - 32, max(1, size // (6 * trials))),
        }
    )
    target = tmp_path / "restored"
    for position in positions:
        damaged = bytearray(original)
        damaged[position] ^= 0x01
        backup_file.write_bytes(bytes(damaged))
        with pytest.raises(CompanionError) as caught:
            restore(backup_file, target, PASSPHRASE)
        assert not target.exists(), position
        assert "Nothing was restored" in str(caught.value) or isinstance(caught.value, WrongPassphraseError)
    # in the database or the tag, the message is the integrity one
    for position in (size // 2, size - 1):
        damaged = bytearray(original)
        damaged[position] ^= 0x80
        backup_file.write_bytes(bytes(damaged))
        with pytest.raises(BackupCorruptError, match="failed its integrity check"):
            restore(backup_file, target, PASSPHRASE)
    backup_file.write_bytes(original[:-1])
    with pytest.raises(BackupCorruptError, match="truncated"):
        restore(backup_file, target, PASSPHRASE)
    backup_file.write_bytes(original + b"\x00")
    with pytest.raises(BackupCorruptError):
        restore(backup_file, target, PASSPHRASE)
    assert not target.exists()


def test_wrong_passphrase(backup_file, tmp_path):
    with pytest.raises(WrongPassphraseError):
        restore(backup_file, tmp_path / "restored", "not it")
    assert not (tmp_path / "restored").exists()


def test_restore_only_into_an_empty_folder(backup_file, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(BackupError, match="not empty"):
        restore(backup_file, busy, PASSPHRASE)
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    restore(backup_file, empty, PASSPHRASE)
    assert sorted(p.name for p in empty.iterdir()) == ["vault.db", "vault.header"]


def test_a_folder_with_only_the_window_preferences_counts_as_empty(backup_file, tmp_path):
    """The app writes ui-settings.json before any journal exists; restoring from the first-run screen must work
    there, and the preferences stay as they were."""
    first_run = tmp_path / "first-run"
    first_run.mkdir()
    (first_run / "ui-settings.json").write_text('{"theme": "dark"}')
    reports = []
    restore(backup_file, first_run, PASSPHRASE, progress=lambda done, total: reports.append((done, total)))
    assert sorted(p.name for p in first_run.iterdir()) == ["ui-settings.json", "vault.db", "vault.header"]
    assert (first_run / "ui-settings.json").read_text() == '{"theme": "dark"}'
    dones = [d for d, _ in reports]
    assert dones == sorted(dones) and reports[-1][0] == reports[-1][1] > 0
    restored = Companion(first_run)
    restored.unlock(PASSPHRASE)
    assert restored.journal.count() > 0
    restored.lock()


def test_a_cancelled_restore_leaves_the_folder_as_it_was(backup_file, tmp_path):
    from companion.errors import CancelledError

    calls = []
    target = tmp_path / "target"
    target.mkdir()
    (target / "ui-settings.json").write_text("{}")

    def cancelled():
        calls.append(1)
        return len(calls) > 1  # cancel after the first chunk

    with pytest.raises(CancelledError, match="nothing was restored"):
        restore(backup_file, target, PASSPHRASE, cancelled=cancelled)
    assert [p.name for p in target.iterdir()] == ["ui-settings.json"]
    with pytest.raises(CancelledError):
        restore(backup_file, tmp_path / "new", PASSPHRASE, cancelled=lambda: True)
    assert not (tmp_path / "new").exists()


def test_not_a_backup(tmp_path):
    other = tmp_path / "other.cbackup"
    other.write_bytes(b"SQLite format 3\x00" + bytes(100))
    with pytest.raises(BackupCorruptError, match="not a Companion backup"):
        verify(other, PASSPHRASE)
    with pytest.raises(InvalidInputError):
        verify(tmp_path / "missing.cbackup", PASSPHRASE)


def test_backup_needs_the_journals_passphrase_or_a_separate_one(app, tmp_path):
    _fill(app)
    with pytest.raises(WrongPassphraseError):
        app.transfer.backup(tmp_path / "b.cbackup", passphrase="guess")
    assert not (tmp_path / "b.cbackup").exists()
    app.transfer.backup(tmp_path / "b.cbackup", passphrase="another one", separate=True, params=FLOOR)
    with pytest.raises(WrongPassphraseError):
        verify(tmp_path / "b.cbackup", PASSPHRASE)
    restore(tmp_path / "b.cbackup", tmp_path / "r", "another one")
    restored = Companion(tmp_path / "r")
    restored.unlock("another one")
    assert restored.journal.count() == app.journal.count()
    restored.lock()


def test_automatic_backups_keep_the_last_n(app, tmp_path):
    _fill(app)
    folder = tmp_path / "auto"
    folder.mkdir()
    (folder / "unrelated.txt").write_text("keep me")
    with pytest.raises(InvalidInputError, match="passphrase"):
        app.transfer.backup_to_folder(folder, keep=2)
    app.transfer.remember_backup_passphrase(PASSPHRASE)
    made = []
    for _ in range(4):
        info, _removed = app.transfer.backup_to_folder(folder, keep=2)
        made.append(info.path)
    listed = app.transfer.list_backups(folder)
    assert [b.path for b in listed] == [made[3], made[2]]
    assert sorted(p.name for p in folder.iterdir()) == sorted([made[2].name, made[3].name, "unrelated.txt"])
    verify(made[3], PASSPHRASE)
    # the key goes with the lock: wiped in the service that held it, not just dropped with it
    service = app.transfer
    app.lock()
    assert not service.has_backup_key
    app.unlock(PASSPHRASE)
    assert not app.transfer.has_backup_key


def test_backup_is_consistent_while_another_process_writes(app, tmp_path):
    """A writer on its own connection adds entries 10 per transaction while backups are taken: every backup
    holds whole transactions only, and passes SQLite's and FTS5's integrity checks."""
    _fill(app)
    base = app.journal.count()
    writer = Vault.open(app.data_dir, PASSPHRASE, migrations=MIGRATIONS)
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        from companion.journal.entries import Journal

        journal = Journal(writer)
        n = 0
        try:
            while not stop.is_set():
                with writer.transaction():
                    for _ in range(10):
                        journal.add(f"concurrent entry {n} " + "words " * 20, tags=[f"w{n % 5}"])
                        n += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        outputs = []
        for i in range(2):
            out = tmp_path / f"live-{i}.cbackup"
            app.transfer.backup(out, passphrase=PASSPHRASE)
            outputs.append(out)
    finally:
        stop.set()
        thread.join()
        writer.close()
    assert not errors
    counts = []
    for i, out in enumerate(outputs):
        target = tmp_path / f"r{i}"
        restore(out, target, PASSPHRASE)
        vault = Vault.open(target, PASSPHRASE, migrations=MIGRATIONS)
        try:
            conn = vault.conn
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            conn.execute("INSERT INTO entries_fts(entries_fts) VALUES ('integrity-check')")
            count = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
            assert (count - base) % 10 == 0
            counts.append(count)
        finally:
            vault.close()
    assert counts == sorted(counts)


def test_cli_backup_restore_and_flipped_byte(app, tmp_path, monkeypatch, capsys):
    from companion.cli import main

    _fill(app)
    app.lock()
    monkeypatch.setenv("COMPANION_PASSPHRASE", PASSPHRASE)
    out = tmp_path / "cli.cbackup"
    assert main(["--data-dir", str(app.data_dir), "backup", "--output", str(out)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)
    assert main(["--data-dir", str(tmp_path / "r1"), "restore", str(out)]) == 0
    assert main(["--data-dir", str(tmp_path / "r1"), "list", "--json"]) == 0
    capsys.readouterr()
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x10
    out.write_bytes(bytes(data))
    assert main(["--data-dir", str(tmp_path / "r2"), "restore", str(out)]) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "integrity check" in err[0]
    assert not (tmp_path / "r2").exists()


def test_a_passphrase_change_moves_the_remembered_backup_key_along(app, tmp_path):
    """Backups under the journal's passphrase follow a change of it; a separate backup passphrase stays."""
    _fill(app)
    app.transfer.remember_backup_passphrase(PASSPHRASE)
    app.change_passphrase(PASSPHRASE, "a new passphrase")
    first = tmp_path / "after-change.cbk"
    app.transfer.backup(first)
    verify(first, "a new passphrase")
    with pytest.raises(CompanionError):
        verify(first, PASSPHRASE)

    app.transfer.remember_backup_passphrase("backups only", separate=True, params=FLOOR)
    app.change_passphrase("a new passphrase", "newer still")
    second = tmp_path / "separate.cbk"
    app.transfer.backup(second)
    verify(second, "backups only")
