"""The encrypted vault: one SQLCipher 4 database, keyed with a raw Argon2id-derived key.

``vault.db`` holds everything: entries, search index, identities, circles, meetings. ``vault.header`` beside it
holds only the key-derivation settings (see :mod:`companion.vault.header`). Nothing decrypted is ever written
outside the database: ``temp_store=MEMORY`` keeps SQLite's temporary tables and sort spills in memory (SQLCipher's
temporary files would be plaintext), and ``secure_delete`` overwrites deleted content.

A :class:`Vault` is used from one thread at a time (the UI serialises every vault call on one worker).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlcipher3

from companion.errors import (
    NoVaultError,
    VaultCorruptError,
    VaultExistsError,
    VaultLockedError,
    WrongPassphraseError,
)
from companion.vault.header import DEFAULT, HMACS, NEW_VAULT_HMAC, Header, KdfParams, KeySlot, fsync_dir

DB_NAME = "vault.db"
HEADER_NAME = "vault.header"
CACHE_KIB = 64 * 1024  # 64 MiB page cache: decrypted pages stay in memory, so reads cost little more than plain

Connection = Any  # sqlcipher3.Connection; the stubs are not typed
Step = str | Callable[[Connection], None]
Migrations = Mapping[str, Sequence[Step]]
"""Per component (``"journal"``, ``"circles"``, …) an ordered list of steps; step *i* upgrades to version *i + 1*.

Components migrate independently, so features can grow their own tables without a global ordering. Steps are
SQL scripts or callables; all pending steps of all components run in one transaction at unlock.
"""


def key_check(key: bytes | bytearray) -> str:
    """A verifier stored in the header to tell a wrong passphrase from a damaged file.

    It reveals nothing an attacker holding the database could not already test (SQLCipher's per-page HMAC
    verifies a key guess just as well), and it lets Companion refuse a wrong passphrase without touching the
    database at all.
    """
    return hmac.new(bytes(key), b"companion:v1:vault-key-check", hashlib.sha256).hexdigest()[:32]


def _wipe(buf: bytearray) -> None:
    for i in range(len(buf)):
        buf[i] = 0


def _key_pragma(key: bytearray) -> str:
    return f"\"x'{bytes(key).hex()}'\""


def _connect(path: Path, key: bytearray, hmac_name: str) -> Connection:
    conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")  # SQLCipher must not write to the user's terminal
        conn.execute(f"PRAGMA key = {_key_pragma(key)}")
        conn.execute(f"PRAGMA cipher_hmac_algorithm = {HMACS[hmac_name]}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.DatabaseError:
        conn.close()
        raise
    return conn


def _configure(conn: Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    conn.execute("PRAGMA busy_timeout = 5000")


class Vault:
    """An open, unlocked vault. Create with :meth:`create` or :meth:`open`; :meth:`close` locks it."""

    def __init__(self, folder: Path, conn: Connection, header: Header) -> None:
        self.folder = folder
        self._conn: Connection | None = conn
        self._header = header
        self._depth = 0

    # -- lifecycle -------------------------------------------------------------------------------------------------

    @staticmethod
    def exists(folder: Path) -> bool:
        return (folder / DB_NAME).exists() or (folder / HEADER_NAME).exists()

    @classmethod
    def create(
        cls, folder: Path, passphrase: str, *, migrations: Migrations, params: KdfParams = DEFAULT
    ) -> Vault:
        if cls.exists(folder):
            raise VaultExistsError(f"There is already a journal in {folder}.")
        if not passphrase:
            from companion.errors import InvalidInputError

            raise InvalidInputError("The passphrase cannot be empty.")
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        slot = KeySlot.new(params)
        key = slot.derive(passphrase)
        header = Header(slot=slot, check=key_check(key), hmac=NEW_VAULT_HMAC)
        db = folder / DB_NAME
        try:
            conn = _connect(db, key, header.hmac)
            os.chmod(db, 0o600)
            _configure(conn)
            vault = cls(folder, conn, header)
            vault._migrate(migrations)
            header.write(folder / HEADER_NAME)
        except BaseException:
            for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", HEADER_NAME):
                (folder / name).unlink(missing_ok=True)
            raise
        finally:
            _wipe(key)
        return vault

    @classmethod
    def open(cls, folder: Path, passphrase: str, *, migrations: Migrations) -> Vault:
        db, header_path = folder / DB_NAME, folder / HEADER_NAME
        if not db.exists():
            if header_path.exists():
                raise VaultCorruptError(f"The journal file {db} is missing; only its header is there.")
            raise NoVaultError(f"There is no journal in {folder} yet. Create one first (companion init).")
        header = Header.read(header_path)
        for slot, check in header.candidates():
            key = slot.derive(passphrase)
            try:
                if not hmac.compare_digest(key_check(key), check):
                    continue
                unfinished = WrongPassphraseError(
                    "That is the new passphrase from a change that did not finish. The journal still opens "
                    "with your previous passphrase; change it again from there."
                )
                if slot is header.pending and _has_hot_journal(db):
                    # The re-key transaction never committed: its journal must be rolled back under the old
                    # key, so the new key is not even tried (it cannot open the file, and must not replay it).
                    raise unfinished
                try:
                    conn = _connect(db, key, header.hmac)
                except sqlcipher3.DatabaseError as exc:
                    if slot is header.pending:
                        raise unfinished from exc
                    if header.pending is not None:
                        raise WrongPassphraseError(
                            "That was your previous passphrase: a passphrase change finished just before Companion "
                            "stopped. Use the new passphrase."
                        ) from exc
                    raise VaultCorruptError(
                        "The passphrase is right, but the journal file is damaged and cannot be read. "
                        "Restore it from a backup."
                    ) from exc
            finally:
                _wipe(key)
            try:
                _configure(conn)
                vault = cls(folder, conn, Header(slot=slot, check=check, hmac=header.hmac))
                if header.pending is not None:
                    # A passphrase change was interrupted; the database says which side of it we are on.
                    vault._header.write(header_path)
                vault._migrate(migrations)
            except sqlcipher3.DatabaseError as exc:
                conn.close()
                raise VaultCorruptError(f"The journal file is damaged: {exc}. Restore it from a backup.") from exc
            return vault
        raise WrongPassphraseError("That passphrase does not open this journal. Nothing was changed.")

    def close(self) -> None:
        """Lock: close the connection (SQLCipher wipes its key material and page cache on close)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlcipher3.Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise VaultLockedError("The journal is locked. Unlock it to continue.")
        return self._conn

    # -- transactions ------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; nested uses join the outer transaction. Rolls back on any error."""
        conn = self.conn
        if self._depth:
            self._depth += 1
            try:
                yield conn
            finally:
                self._depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield conn
        except BaseException:
            self._depth = 0
            with contextlib.suppress(sqlcipher3.Error):
                conn.execute("ROLLBACK")
            raise
        self._depth = 0
        conn.execute("COMMIT")

    # -- schema ----------------------------------------------------------------------------------------------------

    def schema_versions(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT component, version FROM schema_versions").fetchall()
        return {component: version for component, version in rows}

    def _migrate(self, migrations: Migrations) -> None:
        with self.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            current = self.schema_versions()
            for component, steps in migrations.items():
                have = current.get(component, 0)
                if have > len(steps):
                    raise VaultCorruptError(
                        f"The journal was written by a newer version of Companion ({component} schema {have}); "
                        "update the app to open it."
                    )
                for step in steps[have:]:
                    if callable(step):
                        step(conn)
                    else:
                        for statement in _split_sql(step):
                            conn.execute(statement)
                if len(steps) > have:
                    conn.execute(
                        "INSERT INTO schema_versions(component, version) VALUES (?, ?) "
                        "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                        (component, len(steps)),
                    )

    # -- passphrase ------------------------------------------------------------------------------------------------

    def change_passphrase(self, new_passphrase: str, *, params: KdfParams | None = None) -> None:
        """Re-key the database under a new passphrase (and a fresh salt), crash-safely.

        1. the header gains a *pending* slot (new salt, key check of the new key);
        2. ``PRAGMA rekey`` rewrites every page in one rollback-journal transaction (atomic: before its commit
           only the old key opens the file, after it only the new one);
        3. the header keeps only the new slot;
        4. the file goes back to WAL (a journaled write of its own: after step 3, so its journal, if a crash
           leaves one, is never mistaken for the re-key's).
        A crash between the steps leaves a header with both slots; :meth:`open` tries both and tidies up.
        """
        if not new_passphrase:
            from companion.errors import InvalidInputError

            raise InvalidInputError("The new passphrase cannot be empty.")
        header_path = self.folder / HEADER_NAME
        slot = KeySlot.new(params or self._header.slot.params)
        key = slot.derive(new_passphrase)
        try:
            check = key_check(key)
            Header(
                slot=self._header.slot,
                check=self._header.check,
                pending=slot,
                pending_check=check,
                hmac=self._header.hmac,
            ).write(header_path)
            conn = self.conn
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode = DELETE")
            conn.execute(f"PRAGMA rekey = {_key_pragma(key)}")
            fsync_dir(self.folder)  # the rollback journal's deletion (the re-key's commit) is on disk
            self._header = Header(slot=slot, check=check, hmac=self._header.hmac)
            self._header.write(header_path)
            # Only now back to WAL: the switch is itself a journaled write (under the new key). Killed inside it,
            # a hot journal is left that the new key rolls back; had the header still listed the pending slot,
            # that journal would be taken for an unfinished re-key and neither passphrase would open.
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            _wipe(key)


def _has_hot_journal(db: Path) -> bool:
    journal = db.with_name(db.name + "-journal")
    try:
        return journal.stat().st_size > 0
    except FileNotFoundError:
        return False


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (``;`` at line end), keeping trigger bodies whole."""
    statements: list[str] = []
    current: list[str] = []
    depth = 0
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        current.append(line)
        upper = stripped.upper()
        if upper.startswith("CREATE TRIGGER") or (upper.startswith("CREATE") and " TRIGGER " in upper):
            depth = 1
        if depth and upper.startswith("END;"):
            depth = 0
            statements.append("\n".join(current))
            current = []
            continue
        if not depth and stripped.endswith(";"):
            statements.append("\n".join(current))
            current = []
    if current:
        statements.append("\n".join(current))
    return statements
