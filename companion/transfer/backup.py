"""Encrypted, integrity-checked backups of the whole vault, in one file, and their restore.

File layout (version 1), all integers big-endian::

    magic        8 bytes   b"\\x89CMPBAK\\n"
    header_len   u32
    header       JSON (ASCII): {"format": "companion-backup", "version": 1,
                                "key": {argon2id params, salt, check}, "db_size": N, "created_at": ISO,
                                "db": "sqlcipher4", "mac": "hmac-sha256"}
    db           N bytes   a SQLCipher 4 copy of the vault, keyed with the backup key
    tag          32 bytes  HMAC-SHA256(mac_key, everything above)

The backup key is Argon2id(passphrase, salt) with the parameters in the header, exactly like a vault key; by
default it *is* the vault's key (same passphrase, salt and parameters), so a restore is just "verify, then put
the database and a header in place": nothing is ever re-encrypted, and no decrypted byte is written anywhere.
``mac_key = HKDF-SHA256(backup key, info="companion:v1:backup-mac")``. The header's ``check`` tells a wrong
passphrase from a damaged file (as in the vault header; it reveals nothing the encrypted database does not).

Consistency: the copy is made with ``sqlcipher_export`` inside one read transaction on the vault connection,
so it is a snapshot even while another process writes (WAL). It goes to a hidden, encrypted temporary database
in the destination folder, is streamed into a hidden temporary backup file (owner-only) with the header and
tag, and that file is renamed into place: a reader never sees half a backup.

Restore verifies the whole file (magic, version, key settings not below the floor, passphrase, tag) before
writing anything, and restores only into an empty (or new) data folder. The tag is checked again while the
database is copied, so a file that changes between the two reads is refused too.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from companion.crypto.derive import derive_key
from companion.errors import (
    BackupCorruptError,
    BackupError,
    CancelledError,
    CompanionError,
    InvalidInputError,
    VaultError,
    WrongPassphraseError,
)
from companion.vault.header import DEFAULT, HMACS, SQLCIPHER_DEFAULT_HMAC, Header, KdfParams, KeySlot, fsync_dir
from companion.vault.store import DB_NAME, HEADER_NAME, Vault, key_check

MAGIC = b"\x89CMPBAK\n"
FORMAT = "companion-backup"
VERSION = 1
LABEL_BACKUP_MAC = "companion:v1:backup-mac"
TAG_BYTES = 32
MAX_HEADER = 64 * 1024
CHUNK = 1024 * 1024
SUFFIX = ".cbackup"
AUTO_PREFIX = "companion-backup-"
_AUTO_NAME = re.compile(re.escape(AUTO_PREFIX) + r"\d{8}-\d{6}-\d{6}(-\d+)?" + re.escape(SUFFIX))
_STAMP = "%Y%m%d-%H%M%S-%f"  # UTC, to the microsecond: names sort in the order the backups were made
# A data folder holding only these counts as empty for a restore: the window's preferences (no content), which
# exist before any journal does. A restore writes only the journal's own files and never touches them.
KEEPABLE = frozenset({"ui-settings.json"})
Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]


@dataclass
class BackupKey:
    """The key a backup is written with: a key slot (salt + Argon2id parameters), its check, the key.

    Hold it only while needed (the transfer service drops it on lock); :meth:`wipe` zeroes the key bytes.
    """

    slot: KeySlot
    check: str
    key: bytearray

    @classmethod
    def for_vault(cls, data_dir: Path, passphrase: str) -> BackupKey:
        """The vault's own key, from its current passphrase (checked against the vault header)."""
        header = Header.read(Path(data_dir) / HEADER_NAME)
        key = header.slot.derive(passphrase)
        if not hmac.compare_digest(key_check(key), header.check):
            key[:] = bytes(len(key))
            raise WrongPassphraseError("That is not the journal's current passphrase. No backup was written.")
        return cls(header.slot, header.check, key)

    @classmethod
    def new(cls, passphrase: str, params: KdfParams = DEFAULT) -> BackupKey:
        """A key for a backup protected by a passphrase other than the journal's (fresh salt)."""
        if not passphrase:
            raise InvalidInputError("The backup's passphrase cannot be empty.")
        slot = KeySlot.new(params)
        key = slot.derive(passphrase)
        return cls(slot, key_check(key), key)

    def wipe(self) -> None:
        self.key[:] = bytes(len(self.key))


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    size: int
    created_at: datetime | None


def _mac_key(key: bytes | bytearray) -> bytes:
    return derive_key(bytes(key), LABEL_BACKUP_MAC)


def _raw_key(key: bytearray) -> str:
    return f"\"x'{bytes(key).hex()}'\""


# -- writing -------------------------------------------------------------------------------------------------


def write_backup(vault: Vault, key: BackupKey, output: Path) -> BackupInfo:
    """Write a consistent, encrypted, authenticated copy of the open vault to ``output`` (replacing it)."""
    output = Path(output)
    if output.exists() and output.is_dir():
        raise InvalidInputError(f"{output} is a folder; give a file name for the backup.")
    folder = output.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_hex(4)
    snapshot = folder / f".{output.name}.db-{token}"
    partial = folder / f".{output.name}.tmp-{token}"
    try:
        _export_snapshot(vault, key, snapshot)
        db_size = snapshot.stat().st_size
        header = json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "key": key.slot.to_json() | {"check": key.check},
                "db": "sqlcipher4",
                "db_size": db_size,
                "mac": "hmac-sha256",
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            sort_keys=True,
        ).encode("ascii")
        mac = hmac.new(_mac_key(key.key), digestmod=hashlib.sha256)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            for piece in (MAGIC, struct.pack(">I", len(header)), header):
                out.write(piece)
                mac.update(piece)
            with snapshot.open("rb") as db:
                for chunk in _chunks(db, db_size):
                    out.write(chunk)
                    mac.update(chunk)
            out.write(mac.digest())
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, output)
        fsync_dir(folder)
    except OSError as exc:
        raise BackupError(f"The backup could not be written to {output}: {exc.strerror or exc}.") from exc
    finally:
        for leftover in (partial, snapshot, Path(f"{snapshot}-journal")):
            leftover.unlink(missing_ok=True)
    return BackupInfo(output, output.stat().st_size, None)


def _export_snapshot(vault: Vault, key: BackupKey, target: Path) -> None:
    """``sqlcipher_export`` the vault into a new encrypted database, in one read transaction (a snapshot)."""
    conn = vault.conn
    if conn.in_transaction:
        raise BackupError("The journal is busy saving; try the backup again in a moment.")
    conn.execute(f"ATTACH DATABASE ? AS backup KEY {_raw_key(key.key)}", (str(target),))
    try:
        # SQLCipher 4's default settings whatever the vault uses: a backup opens with the key alone, in any
        # SQLCipher 4 (a restore writes a vault header that says so).
        conn.execute(f"PRAGMA backup.cipher_hmac_algorithm = {HMACS[SQLCIPHER_DEFAULT_HMAC]}")
        os.chmod(target, 0o600)
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT sqlcipher_export('backup')")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("DETACH DATABASE backup")


def _chunks(fh: BinaryIO, size: int) -> Iterator[bytes]:
    left = size
    while left > 0:
        chunk = fh.read(min(CHUNK, left))
        if not chunk:
            raise BackupCorruptError("The backup file is shorter than its header says (truncated).")
        left -= len(chunk)
        yield chunk


# -- rotation ------------------------------------------------------------------------------------------------


def backup_to_folder(
    vault: Vault, key: BackupKey, folder: Path, *, keep: int
) -> tuple[BackupInfo, list[Path]]:
    """A new ``companion-backup-YYYYMMDD-HHMMSS-ffffff.cbackup`` in ``folder``; then the newest ``keep`` stay.

    Only files with exactly that name pattern are ever deleted. Returns the new backup and the paths removed.
    """
    if keep < 1:
        raise InvalidInputError("Keep at least one backup.")
    folder = Path(folder)
    stamp = datetime.now(UTC).strftime(_STAMP)
    output, n = folder / f"{AUTO_PREFIX}{stamp}{SUFFIX}", 2
    while output.exists():
        output, n = folder / f"{AUTO_PREFIX}{stamp}-{n}{SUFFIX}", n + 1
    info = write_backup(vault, key, output)
    removed = []
    for old in list_backups(folder)[keep:]:
        old.path.unlink(missing_ok=True)
        removed.append(old.path)
    return info, removed


def list_backups(folder: Path) -> list[BackupInfo]:
    """Automatic backups in ``folder``, newest first (by the time in their names)."""
    if not Path(folder).is_dir():
        return []
    found = [p for p in Path(folder).iterdir() if _AUTO_NAME.fullmatch(p.name) and p.is_file()]

    def order(p: Path) -> tuple[str, int]:
        stem = p.name[len(AUTO_PREFIX) : -len(SUFFIX)]  # 20261127-113000-123456, maybe with -2, -3 …
        return stem[:22], int(stem[23:] or 1)

    found.sort(key=order, reverse=True)
    infos = []
    for p in found:
        created = datetime.strptime(p.name[len(AUTO_PREFIX) :][:22], _STAMP).replace(tzinfo=UTC)
        infos.append(BackupInfo(p, p.stat().st_size, created))
    return infos


# -- reading and restoring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    slot: KeySlot
    check: str
    db_offset: int
    db_size: int
    created_at: str | None


def _read_header(fh: BinaryIO, total: int, name: str) -> _Parsed:
    damaged = f"{name} is not a Companion backup, or it is damaged"
    if fh.read(len(MAGIC)) != MAGIC:
        raise BackupCorruptError(f"{damaged} (it does not start like one). Nothing was restored.")
    raw_len = fh.read(4)
    if len(raw_len) != 4:
        raise BackupCorruptError(f"{damaged} (truncated). Nothing was restored.")
    (header_len,) = struct.unpack(">I", raw_len)
    if header_len > MAX_HEADER:
        raise BackupCorruptError(f"{damaged} (its header is unreadable). Nothing was restored.")
    try:
        doc = json.loads(fh.read(header_len).decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise BackupCorruptError(f"{damaged} (its header is unreadable). Nothing was restored.") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BackupCorruptError(f"{damaged} (its header is not a backup header). Nothing was restored.")
    if doc.get("version") != VERSION:
        raise BackupError(
            f"{name} was written by a newer version of Companion (backup version {doc.get('version')!r}); "
            "update the app to restore it. Nothing was restored."
        )
    try:
        slot = KeySlot.from_json(doc.get("key"))
        check = doc["key"]["check"]
        db_size = int(doc["db_size"])
    except VaultError as exc:
        raise BackupCorruptError(f"{name}: the backup's key settings were refused: {exc}") from None
    except (KeyError, TypeError, ValueError):
        raise BackupCorruptError(f"{damaged} (its header is incomplete). Nothing was restored.") from None
    db_offset = len(MAGIC) + 4 + header_len
    if not isinstance(check, str) or db_size < 0 or db_offset + db_size + TAG_BYTES != total:
        raise BackupCorruptError(
            f"{name} is damaged: its size does not match its header (truncated or extended). "
            "Nothing was restored."
        )
    return _Parsed(slot, check, db_offset, db_size, doc.get("created_at"))


def _open_key(parsed: _Parsed, passphrase: str, name: str) -> bytearray:
    key = parsed.slot.derive(passphrase)
    if not hmac.compare_digest(key_check(key), parsed.check):
        key[:] = bytes(len(key))
        raise WrongPassphraseError(
            f"That passphrase does not open {name}. A backup opens with the passphrase the journal had "
            "when it was made (or the one chosen for it). Nothing was restored."
        )
    return key


def _verify(
    fh: BinaryIO,
    parsed: _Parsed,
    mac_key: bytes,
    name: str,
    sink: BinaryIO | None = None,
    step: Callable[[int], None] | None = None,
) -> None:
    fh.seek(0)
    mac = hmac.new(mac_key, fh.read(parsed.db_offset), hashlib.sha256)
    for chunk in _chunks(fh, parsed.db_size):
        mac.update(chunk)
        if sink is not None:
            sink.write(chunk)
        if step is not None:
            step(len(chunk))
    tag = fh.read(TAG_BYTES)
    if not hmac.compare_digest(mac.digest(), tag):
        raise BackupCorruptError(
            f"{name} failed its integrity check: it is damaged or was altered. Nothing was restored."
        )


def verify_backup(path: Path, passphrase: str) -> BackupInfo:
    """Check a backup completely (header, passphrase, integrity tag) without writing anything."""
    path = Path(path)
    with _open_backup(path) as (fh, total):
        parsed = _read_header(fh, total, path.name)
        key = _open_key(parsed, passphrase, path.name)
        try:
            _verify(fh, parsed, _mac_key(key), path.name)
        finally:
            key[:] = bytes(len(key))
    created = datetime.fromisoformat(parsed.created_at) if parsed.created_at else None
    return BackupInfo(path, total, created)


@contextlib.contextmanager
def _open_backup(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise InvalidInputError(f"There is no backup file at {path}.") from None
    except OSError as exc:
        raise BackupError(f"{path} could not be read: {exc.strerror or exc}.") from None
    with fh:
        yield fh, os.fstat(fh.fileno()).st_size


def restore_backup(
    path: Path,
    data_dir: Path,
    passphrase: str,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> BackupInfo:
    """Restore ``path`` into ``data_dir``, which must be empty (but for ``KEEPABLE`` files) or not exist yet.
    Verify everything first.

    Afterwards the data folder opens with the backup's passphrase, like any journal. ``progress(done, total)``
    is told in bytes over both passes (check, then check-and-copy); when ``cancelled()`` turns true the restore
    stops with ``CancelledError`` and leaves the folder as it was.
    """
    path, data_dir = Path(path), Path(data_dir)
    if data_dir.exists() and (not data_dir.is_dir() or any(p.name not in KEEPABLE for p in data_dir.iterdir())):
        raise BackupError(
            f"{data_dir} is not empty. A backup is restored only into an empty or new data folder, so that "
            "nothing there is overwritten. Nothing was restored."
        )
    created_folder = not data_dir.exists()
    with _open_backup(path) as (fh, total):
        parsed = _read_header(fh, total, path.name)
        key = _open_key(parsed, passphrase, path.name)
        partial = data_dir / f".{DB_NAME}.restore-{secrets.token_hex(4)}"
        done, total_work = 0, 2 * parsed.db_size

        def step(n: int) -> None:
            nonlocal done
            if cancelled is not None and cancelled():
                raise CancelledError("Restore cancelled; nothing was restored.")
            done += n
            if progress is not None:
                progress(done, total_work)

        try:
            mac_key = _mac_key(key)
            _verify(fh, parsed, mac_key, path.name, step=step)  # everything checked before anything is written
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                _verify(fh, parsed, mac_key, path.name, sink=out, step=step)  # checked again while copying
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, data_dir / DB_NAME)
            Header(slot=parsed.slot, check=parsed.check, hmac=SQLCIPHER_DEFAULT_HMAC).write(data_dir / HEADER_NAME)
            _check_restored(data_dir, passphrase)
        except BaseException as exc:
            for name in (partial.name, DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", HEADER_NAME):
                (data_dir / name).unlink(missing_ok=True)
            if created_folder and data_dir.exists() and not any(data_dir.iterdir()):
                with contextlib.suppress(OSError):
                    data_dir.rmdir()
            if isinstance(exc, OSError):
                raise BackupError(f"The backup could not be restored: {exc.strerror or exc}.") from exc
            raise
        finally:
            key[:] = bytes(len(key))
    created = datetime.fromisoformat(parsed.created_at) if parsed.created_at else None
    return BackupInfo(path, total, created)


def _check_restored(data_dir: Path, passphrase: str) -> None:
    from companion.schema import MIGRATIONS

    try:
        vault = Vault.open(data_dir, passphrase, migrations=MIGRATIONS)
    except CompanionError as exc:
        raise BackupCorruptError(f"The restored journal does not open: {exc}") from exc
    try:
        result = vault.conn.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            raise BackupCorruptError(
                "The restored journal failed its consistency check. Nothing was restored."
            )
    finally:
        vault.close()
