"""After an import, no plaintext of the imported content is anywhere in the data folder or the temp folder."""

from __future__ import annotations

import shutil

from tests.transfer.conftest import FIXTURES, JPEG, zip_folder

MARKERS = [b"JRNLMARKER", b"DAYONEMARKER", b"OBSIDIANMARKER", "JRNLMARKER".encode("utf-16-le"), JPEG[100:164]]


def _scan(*folders):
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                found += [(str(path), m[:12]) for m in MARKERS if m in data]
    return found


def test_imports_leave_no_plaintext(app, data_dir, private_tmp, tmp_path):
    sources = tmp_path / "sources"  # outside both scanned folders
    sources.mkdir()
    shutil.copy(FIXTURES / "jrnl" / "journal.txt", sources / "journal.txt")
    archive = zip_folder(FIXTURES / "dayone", sources / "dayone.zip")
    notes = sources / "notes"
    notes.mkdir()
    (notes / "2024-01-01.md").write_text("---\ntags: [x]\n---\nThe OBSIDIANMARKER note\n", encoding="utf-8")

    app.transfer.import_file("jrnl", sources / "journal.txt")
    app.transfer.import_file("dayone", archive)
    app.transfer.import_file("markdown", notes)
    assert app.journal.search("JRNLMARKER") and app.journal.search("DAYONEMARKER")
    assert app.journal.search("OBSIDIANMARKER")

    # while unlocked (WAL and all), and after locking
    assert _scan(data_dir, private_tmp) == []
    app.lock()
    assert _scan(data_dir, private_tmp) == []


def test_backup_leaves_no_plaintext(app, data_dir, private_tmp, tmp_path):
    app.transfer.import_file("jrnl", FIXTURES / "jrnl" / "journal.txt")
    app.transfer.import_file("dayone", FIXTURES / "dayone")
    backups = tmp_path / "backups"
    app.transfer.remember_backup_passphrase("correct horse battery staple")
    app.transfer.backup_to_folder(backups, keep=3)
    assert _scan(data_dir, private_tmp, backups) == []
