"""Import, attachments, export and backup: the verbs the GUI and the command line call.

Long operations (``import_file``, ``export``, ``backup_*``) take ``progress(done, total)`` and ``cancelled()``
callbacks where cancelling makes sense, and are meant for the one vault worker (never the GUI thread). A
cancelled import raises :class:`~companion.errors.CancelledError` and leaves the journal as it was.

Backups need a key. ``backup(output, passphrase=...)`` derives it for that one call; for "Back up now" and
automatic backups the GUI calls :meth:`TransferService.remember_backup_passphrase` once (right after unlock,
while it still has the passphrase): the derived key is kept in memory until the journal locks, never the
passphrase.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from companion.errors import InvalidInputError
from companion.journal import export as exporting
from companion.journal.attachments import Attachment, Attachments
from companion.journal.entries import Journal
from companion.services import Changed, Changes
from companion.transfer import backup as backups
from companion.transfer import importers, importing
from companion.transfer.backup import BackupInfo, BackupKey
from companion.transfer.model import ImportReport
from companion.vault.header import KeySlot

if TYPE_CHECKING:
    from companion.services import Companion
    from companion.vault.header import KdfParams

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]
IMPORT_FORMATS = importers.FORMATS
EXPORT_FORMATS = ("json", "markdown", "pdf")


class TransferService:
    def __init__(self, app: Companion) -> None:
        self._app = app
        self._vault = app.vault
        self._journal = Journal(self._vault)
        self._attachments = Attachments(self._vault)
        self._backup_key: BackupKey | None = None

    # -- import ----------------------------------------------------------------------------------------------

    def import_file(
        self,
        fmt: str,
        path: Path,
        *,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> Changed[ImportReport]:
        """Import ``path`` (a file, a Day One .zip or folder, a folder of Markdown notes) in one transaction.

        ``fmt``: ``companion`` (Companion's JSON export), ``jrnl`` (plain text or JSON, told apart by
        content), ``dayone``, ``markdown``. Raises ``ImportFormatError`` (names the file and place) for a
        malformed source and ``CancelledError`` when ``cancelled()`` turns true; in both cases nothing is
        imported.
        """
        parsed = importers.parse(fmt, Path(path))
        if cancelled is not None and cancelled():
            from companion.errors import CancelledError

            raise CancelledError("Import cancelled; nothing was imported.")
        report = importing.apply(self._vault, parsed, progress=progress, cancelled=cancelled)
        changes = Changes.NONE
        if report.entries:
            changes = Changes.ENTRIES | (Changes.TAGS if report.tags else Changes.NONE)
        return Changed(report, changes)

    # -- attachments -----------------------------------------------------------------------------------------

    def add_attachment(self, entry_id: int, data: bytes, *, name: str = "") -> Changed[Attachment]:
        """Attach image bytes (JPEG, PNG, GIF, WebP, HEIC; checked by content) to an entry, in the vault."""
        return Changed(self._attachments.add(entry_id, data, name=name), Changes.ENTRIES)

    def add_attachment_file(self, entry_id: int, path: Path) -> Changed[Attachment]:
        """Read an image file and attach it (the file itself is left where it is)."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"{path} could not be read: {exc.strerror or exc}.") from None
        return self.add_attachment(entry_id, data, name=Path(path).name)

    def attachments(self, entry_id: int) -> list[Attachment]:
        return self._attachments.list(entry_id)

    def attachment_data(self, attachment_id: int) -> bytes:
        """The image's bytes, for showing from memory (never write them to a temp file)."""
        return self._attachments.data(attachment_id)

    def remove_attachment(self, attachment_id: int) -> Changed[Attachment]:
        return Changed(self._attachments.remove(attachment_id), Changes.ENTRIES)

    # -- export ----------------------------------------------------------------------------------------------

    def export(
        self,
        fmt: str,
        output: Path,
        *,
        date_from: date | None = None,
        date_to: date | None = None,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> int:
        """Write entries out as ``json`` (one file, re-importable), ``markdown`` (a new folder) or ``pdf``.

        This writes plaintext outside the vault: the caller warns the person first. Files are owner-only.
        """
        if fmt == "pdf":
            from companion.transfer.pdf import export_pdf

            return export_pdf(
                self._journal,
                Path(output),
                date_from=date_from,
                date_to=date_to,
                progress=progress,
                cancelled=cancelled,
            )
        if fmt not in EXPORT_FORMATS:
            raise InvalidInputError(
                f"Unknown export format “{fmt}”. Choose one of: {', '.join(EXPORT_FORMATS)}."
            )
        return exporting.export(
            self._journal,
            fmt,
            Path(output),
            progress=progress,
            cancelled=cancelled,
            date_from=date_from,
            date_to=date_to,
        )

    # -- backup ----------------------------------------------------------------------------------------------

    def remember_backup_passphrase(
        self, passphrase: str, *, separate: bool = False, params: KdfParams | None = None
    ) -> None:
        """Derive and keep the backup key until lock.

        By default the passphrase must be the journal's current one (checked); ``separate=True`` protects
        backups with a different passphrase (fresh salt).
        """
        key = self._derive(passphrase, separate=separate, params=params)
        self.forget_backup_passphrase()
        self._backup_key = key

    def passphrase_changed(self, *, old_slot: KeySlot, new: str) -> None:
        """Called by ``Companion.change_passphrase``: a remembered key that was the journal's own (same slot as
        the old header) is derived again from the new passphrase; a separate backup passphrase stays."""
        if self._backup_key is not None and self._backup_key.slot == old_slot:
            self.remember_backup_passphrase(new)

    def forget_backup_passphrase(self) -> None:
        if self._backup_key is not None:
            self._backup_key.wipe()
            self._backup_key = None

    @property
    def has_backup_key(self) -> bool:
        return self._backup_key is not None

    def backup(
        self,
        output: Path,
        *,
        passphrase: str | None = None,
        separate: bool = False,
        params: KdfParams | None = None,
    ) -> BackupInfo:
        """Write one encrypted, integrity-checked backup file of the whole journal (consistent while writing).

        With ``passphrase`` the key is derived for this call (the journal's passphrase, or with
        ``separate=True`` another one); without it the remembered key is used.
        """
        if passphrase is None:
            return backups.write_backup(self._vault, self._remembered(), Path(output))
        key = self._derive(passphrase, separate=separate, params=params)
        try:
            return backups.write_backup(self._vault, key, Path(output))
        finally:
            key.wipe()

    def backup_to_folder(self, folder: Path, *, keep: int = 10) -> tuple[BackupInfo, list[Path]]:
        """Automatic backup: a new timestamped backup in ``folder`` with the remembered key.

        Then only the newest ``keep`` automatic backups there stay. Returns the new one and the paths removed.
        """
        return backups.backup_to_folder(self._vault, self._remembered(), Path(folder), keep=keep)

    def list_backups(self, folder: Path) -> list[BackupInfo]:
        return backups.list_backups(Path(folder))

    # -- internals -------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Called by ``Companion.lock()``: the backup key goes with the vault's."""
        self.forget_backup_passphrase()

    def _derive(self, passphrase: str, *, separate: bool, params: KdfParams | None) -> BackupKey:
        if separate:
            return BackupKey.new(passphrase, params) if params else BackupKey.new(passphrase)
        return BackupKey.for_vault(self._vault.folder, passphrase)

    def _remembered(self) -> BackupKey:
        if self._backup_key is None:
            raise InvalidInputError("Enter your passphrase to make backups (it is needed once per unlock).")
        return self._backup_key


def restore(
    path: Path,
    data_dir: Path,
    passphrase: str,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> BackupInfo:
    """Restore a backup into an empty or new data folder (no unlocked journal needed).

    Verifies everything first; a damaged or altered file raises ``BackupCorruptError`` and nothing is written.
    A folder holding only the window's preferences counts as empty. ``cancelled()`` stops it with
    ``CancelledError``, leaving the folder as it was.
    """
    return backups.restore_backup(Path(path), Path(data_dir), passphrase, progress=progress, cancelled=cancelled)


def verify(path: Path, passphrase: str) -> BackupInfo:
    """Check a backup completely without restoring it."""
    return backups.verify_backup(Path(path), passphrase)
