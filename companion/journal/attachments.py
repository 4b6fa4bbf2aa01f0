"""Images attached to entries, stored as BLOBs inside the encrypted database.

An attachment never exists as a plaintext file: it is read from the source into memory, checked to be an image
we know by its first bytes, and written into the ``attachments`` table (SQLCipher encrypts every page). The
editor asks for the bytes with :meth:`Attachments.data` and shows them from memory.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from companion.errors import InvalidInputError, NotFoundError
from companion.journal.dates import now
from companion.vault.store import Vault

MAX_BYTES = 50 * 1024 * 1024  # one photo from a modern phone is 2–12 MB; refuse anything absurd
MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic")
_EXTENSIONS = {
    "image/jpeg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/heic": "heic",
}


@dataclass(frozen=True)
class Attachment:
    """What a list of attachments shows; the bytes come separately from :meth:`Attachments.data`."""

    id: int
    uid: str
    entry_id: int
    name: str
    media_type: str
    size: int
    sha256: str
    created_at: datetime
    position: int = 0

    @property
    def extension(self) -> str:
        return _EXTENSIONS.get(self.media_type, "bin")


def sniff_image(data: bytes) -> str | None:
    """The image's media type from its first bytes, or None when it is not an image Companion keeps."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"):
        return "image/heic"
    return None


def check_image(data: bytes, name: str = "") -> str:
    """Return the media type, or raise InvalidInputError saying why these bytes cannot be attached."""
    label = f"“{name}”" if name else "This file"
    if not data:
        raise InvalidInputError(f"{label} is empty; nothing was attached.")
    if len(data) > MAX_BYTES:
        raise InvalidInputError(
            f"{label} is larger than {MAX_BYTES // (1024 * 1024)} MB; nothing was attached."
        )
    media_type = sniff_image(data)
    if media_type is None:
        raise InvalidInputError(f"{label} is not a JPEG, PNG, GIF, WebP or HEIC image; nothing was attached.")
    return media_type


_COLUMNS = "id, uid, entry_id, name, media_type, size, sha256, created_at, position"


def _from_row(row: Sequence[Any]) -> Attachment:
    return Attachment(
        id=row[0],
        uid=row[1],
        entry_id=row[2],
        name=row[3],
        media_type=row[4],
        size=row[5],
        sha256=row[6],
        created_at=datetime.fromisoformat(row[7]),
        position=row[8],
    )


class Attachments:
    """Per-entry images inside an open vault."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    def add(
        self,
        entry_id: int,
        data: bytes,
        *,
        name: str = "",
        uid: str | None = None,
        created_at: datetime | None = None,
    ) -> Attachment:
        """Attach an image (checked by its bytes) at the end of the entry's attachments."""
        media_type = check_image(data, name)
        with self.vault.transaction() as conn:
            if conn.execute("SELECT 1 FROM entries WHERE id = ?", (entry_id,)).fetchone() is None:
                raise NotFoundError(f"There is no entry {entry_id}.")
            position = conn.execute(
                "SELECT coalesce(max(position) + 1, 0) FROM attachments WHERE entry_id = ?", (entry_id,)
            ).fetchone()[0]
            cursor = conn.execute(
                "INSERT INTO attachments (uid, entry_id, position, name, media_type, size, sha256, "
                "created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    uid or str(uuid.uuid4()),
                    entry_id,
                    position,
                    _clean_name(name),
                    media_type,
                    len(data),
                    hashlib.sha256(data).hexdigest(),
                    (created_at or now()).isoformat(timespec="seconds"),
                    data,
                ),
            )
            return self.get(cursor.lastrowid)

    def get(self, attachment_id: int) -> Attachment:
        row = self.vault.conn.execute(
            f"SELECT {_COLUMNS} FROM attachments WHERE id = ?", (attachment_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"There is no attachment {attachment_id}.")
        return _from_row(row)

    def list(self, entry_id: int) -> list[Attachment]:
        rows = self.vault.conn.execute(
            f"SELECT {_COLUMNS} FROM attachments WHERE entry_id = ? ORDER BY position, id", (entry_id,)
        ).fetchall()
        return [_from_row(row) for row in rows]

    def data(self, attachment_id: int) -> bytes:
        row = self.vault.conn.execute(
            "SELECT data FROM attachments WHERE id = ?", (attachment_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"There is no attachment {attachment_id}.")
        return bytes(row[0])

    def remove(self, attachment_id: int) -> Attachment:
        """Delete for good (``secure_delete`` overwrites the freed pages)."""
        found = self.get(attachment_id)
        with self.vault.transaction() as conn:
            conn.execute("DELETE FROM attachments WHERE id = ?", (attachment_id,))
        return found

    def counts(self) -> dict[int, int]:
        """``{entry id: number of attachments}`` for entries that have any."""
        rows = self.vault.conn.execute("SELECT entry_id, count(*) FROM attachments GROUP BY entry_id")
        return {entry_id: count for entry_id, count in rows}

    def known_uids(self, uids: Sequence[str]) -> set[str]:
        conn = self.vault.conn
        return {u for u in uids if conn.execute("SELECT 1 FROM attachments WHERE uid = ?", (u,)).fetchone()}


def _clean_name(name: str) -> str:
    """Keep only the last path component, without control characters, at most 200 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable())[:200]
