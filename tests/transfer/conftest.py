from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.services import Companion
from companion.vault.header import FLOOR

PASSPHRASE = "correct horse battery staple"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def app(data_dir: Path) -> Iterator[Companion]:
    companion = Companion(data_dir)
    companion.create(PASSPHRASE, params=FLOOR)
    yield companion
    companion.lock()


@pytest.fixture
def new_app(tmp_path: Path) -> Iterator[Companion]:
    """A second, empty journal (the target of round trips)."""
    companion = Companion(tmp_path / "other")
    companion.create(PASSPHRASE, params=FLOOR)
    yield companion
    companion.lock()


@pytest.fixture
def fixtures(tmp_path: Path) -> Path:
    """A copy of tests/fixtures, so that tests may zip or alter it."""
    target = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, target)
    return target


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point TMPDIR (and Python's tempfile) at a folder this test owns, so it can be scanned afterwards."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)
    yield folder
    tempfile.tempdir = None


def zip_folder(folder: Path, output: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return output


def entry_state(app: Companion) -> list[tuple]:
    """Everything about the journal's entries that a round trip must keep, in a comparable form."""
    journal = app.journal
    transfer = app.transfer
    rows = []
    for summary in sorted(_all(app), key=lambda s: s.id):
        entry = journal.get_entry(summary.id)
        images = tuple(
            (a.name, a.media_type, a.sha256, transfer.attachment_data(a.id))
            for a in transfer.attachments(entry.id)
        )
        rows.append(
            (
                entry.uid,
                entry.title,
                entry.body,
                tuple(sorted(entry.tags)),
                entry.mood,
                entry.created_at.isoformat(),
                entry.updated_at.isoformat(),
                entry.starred,
                entry.metadata,
                images,
            )
        )
    return sorted(rows)


def _all(app: Companion) -> list:
    return app.journal.recent(100_000)


def tiny_png(seed: int = 0) -> bytes:
    """A real 2×2 PNG, different per seed."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(
        b"\x00"
        + bytes([(seed * 37 + x * 80 + y * 40) % 256, 100, 200] * 1) * 1
        + bytes([(seed + x) % 256, 50, 25])
        for y in range(2)
        for x in range(1)
    )
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


JPEG = next((FIXTURES / "dayone" / "photos").glob("*.jpeg")).read_bytes()
