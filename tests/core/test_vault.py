"""The vault: creation, unlocking, wrong passphrases, tampered headers, migrations, passphrase change."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from companion.errors import (
    InvalidInputError,
    NoVaultError,
    VaultCorruptError,
    VaultExistsError,
    VaultLockedError,
    WeakParametersError,
    WrongPassphraseError,
)
from companion.schema import MIGRATIONS
from companion.services import Companion
from companion.vault.header import FLOOR
from companion.vault.store import DB_NAME, HEADER_NAME, Vault

PASSPHRASE = "correct horse battery staple"


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_create_then_unlock_reads_entries_back(data_dir: Path) -> None:
    app = Companion(data_dir)
    app.create(PASSPHRASE, params=FLOOR)
    entry_id = app.journal.add_entry("first words", title="Day one").value.id
    app.lock()
    with pytest.raises(VaultLockedError):
        app.journal  # noqa: B018
    again = Companion(data_dir)
    again.unlock(PASSPHRASE)
    assert again.journal.get_entry(entry_id).body == "first words"
    again.lock()


def test_files_are_private_and_header_holds_no_secret(app: Companion, data_dir: Path) -> None:
    for path in data_dir.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path
    header = json.loads((data_dir / HEADER_NAME).read_text())
    assert set(header["key"]) == {"kdf", "memory_kib", "iterations", "lanes", "salt", "check"}
    assert PASSPHRASE not in (data_dir / HEADER_NAME).read_text()


def test_pragmas_keep_temporary_data_in_memory(app: Companion) -> None:
    conn = app.vault.conn
    assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA cache_size").fetchone()[0] <= -32 * 1024


def test_create_refuses_existing_and_empty(app: Companion, data_dir: Path) -> None:
    with pytest.raises(VaultExistsError):
        Companion(data_dir).create("another", params=FLOOR)
    with pytest.raises(InvalidInputError):
        Companion(data_dir.parent / "other").create("", params=FLOOR)


def test_unlock_without_vault_says_so(tmp_path: Path) -> None:
    with pytest.raises(NoVaultError, match="no journal"):
        Companion(tmp_path / "nothing").unlock("x")


def test_wrong_passphrase_changes_nothing(app: Companion, data_dir: Path) -> None:
    app.journal.add_entry("something")
    app.lock()
    before = snapshot(data_dir)
    for wrong in ["", "Correct horse battery staple", PASSPHRASE + " ", "\x00", "'; DROP TABLE entries; --"]:
        with pytest.raises(WrongPassphraseError, match="does not open"):
            Companion(data_dir).unlock(wrong)
    assert snapshot(data_dir) == before


@pytest.mark.parametrize(
    "odd",
    ["it's \"quoted\"", "nul\x00inside", "emoji 🌱🫶 and accents é", "x'00'", "a" * 1_000_000, "\ud800 lone surrogate"],
)
def test_odd_passphrases_work(tmp_path: Path, odd: str) -> None:
    app = Companion(tmp_path / "d")
    app.create(odd, params=FLOOR)
    app.journal.add_entry("kept")
    app.lock()
    again = Companion(tmp_path / "d")
    again.unlock(odd)
    assert again.journal.count() == 1
    again.lock()
    with pytest.raises(WrongPassphraseError):
        Companion(tmp_path / "d").unlock(odd[:-1] or "z")


def test_header_below_floor_is_refused(app: Companion, data_dir: Path) -> None:
    app.lock()
    path = data_dir / HEADER_NAME
    header = json.loads(path.read_text())
    header["key"]["memory_kib"] = 1024
    path.write_text(json.dumps(header))
    with pytest.raises(WeakParametersError, match="weaker key protection"):
        Companion(data_dir).unlock(PASSPHRASE)


@pytest.mark.parametrize("damage", ["garbage", "missing", "future"])
def test_damaged_header_is_a_clear_error(app: Companion, data_dir: Path, damage: str) -> None:
    app.lock()
    path = data_dir / HEADER_NAME
    if damage == "garbage":
        path.write_bytes(b"\x00\xff not json")
    elif damage == "missing":
        path.unlink()
    else:
        header = json.loads(path.read_text())
        header["version"] = 99
        path.write_text(json.dumps(header))
    with pytest.raises(VaultCorruptError):
        Companion(data_dir).unlock(PASSPHRASE)


def test_damaged_database_is_told_apart_from_a_wrong_passphrase(app: Companion, data_dir: Path) -> None:
    for i in range(30):
        app.journal.add_entry(f"entry {i} " * 50)
    app.lock()
    db = data_dir / DB_NAME
    raw = bytearray(db.read_bytes())
    raw[100] ^= 0xFF  # inside page 1's ciphertext: its HMAC no longer verifies
    db.write_bytes(bytes(raw))
    with pytest.raises(VaultCorruptError, match="damaged"):
        Companion(data_dir).unlock(PASSPHRASE)


def test_passphrase_change(app: Companion, data_dir: Path) -> None:
    app.journal.add_entry("before the change")
    with pytest.raises(WrongPassphraseError):
        app.change_passphrase("not it", "new one")
    app.change_passphrase(PASSPHRASE, "new one 🌿")
    app.journal.add_entry("after the change")
    app.lock()
    with pytest.raises(WrongPassphraseError):
        Companion(data_dir).unlock(PASSPHRASE)
    again = Companion(data_dir)
    again.unlock("new one 🌿")
    assert again.journal.count() == 2
    assert "pending_key" not in json.loads((data_dir / HEADER_NAME).read_text())
    again.lock()


V1_ONLY = {"journal": MIGRATIONS["journal"][:1]}


def test_first_schema_version_opens_and_upgrades(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    vault = Vault.create(folder, PASSPHRASE, migrations=V1_ONLY, params=FLOOR)
    vault.conn.execute(
        "INSERT INTO entries (uid, title, body, tag_text, mood, created_at, created_ts, day, updated_at) "
        "VALUES ('u1', 'Old', 'from version one', 'legacy', 3, '2024-03-01T12:00:00+00:00', 1709294400, "
        "'2024-03-01', '2024-03-01T12:00:00+00:00')"
    )
    assert vault.schema_versions() == {"journal": 1}
    vault.close()

    app = Companion(folder)
    app.unlock(PASSPHRASE)
    assert app.vault.schema_versions()["journal"] == len(MIGRATIONS["journal"])
    [hit] = app.journal.search("version")
    entry = app.journal.get_entry(hit.id)
    assert (entry.title, entry.mood, entry.starred) == ("Old", 3, False)
    app.journal.update_entry(entry.id, starred=True)
    assert app.journal.get_entry(entry.id).starred
    app.lock()


def test_newer_schema_is_refused_with_advice(app: Companion, data_dir: Path) -> None:
    app.vault.conn.execute("UPDATE schema_versions SET version = 999 WHERE component = 'journal'")
    app.lock()
    with pytest.raises(VaultCorruptError, match="newer version"):
        Companion(data_dir).unlock(PASSPHRASE)


def test_crash_between_rekey_and_header_update(app: Companion, data_dir: Path) -> None:
    """The re-key committed but the header still lists both slots: the new passphrase opens, the old one is
    told it is the previous passphrase (not "damaged"), and the header is tidied on the first unlock."""
    from companion.vault.header import Header

    app.journal.add_entry("kept through the change")
    old_header = Header.read(data_dir / HEADER_NAME)
    app.change_passphrase(PASSPHRASE, "the new one")
    new_header = Header.read(data_dir / HEADER_NAME)
    app.lock()
    Header(slot=old_header.slot, check=old_header.check, pending=new_header.slot,
           pending_check=new_header.check, hmac=new_header.hmac).write(data_dir / HEADER_NAME)
    with pytest.raises(WrongPassphraseError, match="previous passphrase"):
        Companion(data_dir).unlock(PASSPHRASE)
    again = Companion(data_dir)
    again.unlock("the new one")
    assert again.journal.count() == 1
    again.lock()
    assert "pending_key" not in json.loads((data_dir / HEADER_NAME).read_text())
    with pytest.raises(WrongPassphraseError, match="does not open"):
        Companion(data_dir).unlock(PASSPHRASE)


def test_new_vaults_authenticate_pages_with_hmac_sha256(app: Companion, data_dir: Path) -> None:
    """The header names the page HMAC; a header naming the wrong one does not open the file (and says so)."""
    doc = json.loads((data_dir / HEADER_NAME).read_text())
    assert doc["version"] == 2 and doc["database"] == {"hmac": "sha256"}
    app.journal.add_entry("under sha-256")
    app.lock()
    before = snapshot(data_dir)
    doc["database"]["hmac"] = "sha512"
    (data_dir / HEADER_NAME).write_text(json.dumps(doc))
    with pytest.raises(VaultCorruptError, match="damaged"):
        Companion(data_dir).unlock(PASSPHRASE)
    doc["database"]["hmac"] = "md5"
    (data_dir / HEADER_NAME).write_text(json.dumps(doc))
    with pytest.raises(VaultCorruptError, match="database settings"):
        Companion(data_dir).unlock(PASSPHRASE)
    assert {k: v for k, v in snapshot(data_dir).items() if k != HEADER_NAME} == {
        k: v for k, v in before.items() if k != HEADER_NAME
    }


def test_a_version_1_header_means_sqlcipher_defaults(app: Companion, data_dir: Path, tmp_path: Path) -> None:
    """Vaults from before header v2 use SQLCipher 4's default HMAC-SHA512. A restored backup is such a
    database (backups keep SQLCipher's defaults): written with a v1 header it opens, and a passphrase change
    keeps its setting."""
    from companion.services.transfer import restore

    app.journal.add_entry("written before v2")
    app.transfer.backup(tmp_path / "b.cbackup", passphrase=PASSPHRASE)
    old = tmp_path / "old"
    restore(tmp_path / "b.cbackup", old, PASSPHRASE)
    doc = json.loads((old / HEADER_NAME).read_text())
    assert doc["database"] == {"hmac": "sha512"}
    doc["version"] = 1
    del doc["database"]
    (old / HEADER_NAME).write_text(json.dumps(doc))
    again = Companion(old)
    again.unlock(PASSPHRASE)
    assert again.journal.count() == 1
    again.change_passphrase(PASSPHRASE, "another one")
    again.lock()
    assert json.loads((old / HEADER_NAME).read_text())["database"] == {"hmac": "sha512"}
    third = Companion(old)
    third.unlock("another one")
    assert third.journal.count() == 1
    third.lock()
