"""Where the relay keeps envelopes: SQLite (one relay process) or PostgreSQL (several processes, one db).

The relay stores opaque bytes. Per mailbox it keeps the SHA-256 of the mailbox's capability (never the
capability) and a strictly increasing sequence number; every envelope gets the next number: its cursor.

Ordering under concurrency: the sequence counter lives in the mailbox row, and an append updates that row
inside its transaction, so appends to one mailbox are serialised by the database (SQLite: one writer;
PostgreSQL: the row lock taken by ``SELECT … FOR UPDATE``). A sequence number therefore becomes visible only
after every smaller one of the same mailbox has committed, and a reader that has seen cursor N can never later
miss an envelope below N. A global ``BIGSERIAL`` would not give that guarantee across PostgreSQL sessions.

Idempotency: ``(mailbox, sha256(blob))`` is unique; appending a blob that is already there returns its cursor.

Durability: an append returns only after its transaction committed (SQLite ``synchronous=FULL`` in WAL mode;
PostgreSQL's default ``synchronous_commit=on``), so an acknowledged envelope survives a crash or ``kill -9``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import queue
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

T = TypeVar("T")

SCHEMA_VERSION = 1
_INSERT_ENVELOPE = (
    "INSERT INTO relay_envelopes (mailbox, seq, digest, data, received) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (mailbox, digest) DO NOTHING"
)
_CAPABILITY_LABEL = b"companion-relay:v1:capability\x00"


def capability_hash(capability: str) -> bytes:
    """What the relay keeps instead of a capability (256-bit random, so a plain hash suffices)."""
    return hashlib.sha256(_CAPABILITY_LABEL + capability.encode("ascii")).digest()


# -- outcomes the HTTP layer turns into status codes ---------------------------------------------------------


class StorageRefusal(Exception):  # noqa: N818  (a refusal, not a fault)
    """Base of the expected refusals; the server maps each to one status code."""


class UnknownMailbox(StorageRefusal):
    """No mailbox with this id (404)."""


class WrongCapability(StorageRefusal):
    """The mailbox exists and this capability is not its own (403)."""


class CreationRefused(StorageRefusal):
    """The mailbox does not exist and this relay creates mailboxes only with its creation token (403)."""


class CursorAhead(StorageRefusal):
    """The cursor is beyond anything this mailbox ever assigned (400)."""


@dataclass(frozen=True)
class Fetched:
    envelopes: list[tuple[int, bytes]]  # (cursor, blob) in cursor order
    cursor: int  # where the next fetch should continue
    more: bool


class Storage(ABC):
    """Common logic over a DB-API connection; subclasses supply connections and schema."""

    placeholder = "?"

    # subclasses: a transaction that may write (serialised per mailbox) and one that only reads
    def _write(self) -> Any:
        raise NotImplementedError

    def _transact(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(cursor, *args)`` in a write transaction and return its result once committed.

        ``fn`` may raise ``StorageRefusal`` only before it has written anything (SQLite runs several
        operations in one transaction and relies on that)."""
        with self._write() as cur:
            return fn(cur, *args)

    async def append_async(
        self, mailbox: str, cap_hash: bytes, blobs: Sequence[bytes], now: float, may_create: bool = True
    ) -> list[tuple[int, bool]]:
        """``append`` for the event loop (in a worker thread unless the storage has its own writer)."""
        return await anyio.to_thread.run_sync(self.append, mailbox, cap_hash, blobs, now, may_create)

    @abstractmethod
    def _read(self) -> Any: ...

    @abstractmethod
    def close(self) -> None: ...

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def ping(self) -> None:
        with self._read() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()

    # The mailbox row lock: SQLite's single writer already serialises, PostgreSQL adds FOR UPDATE.
    _lock_suffix = ""
    _insert_mailbox = (
        "INSERT INTO relay_mailboxes (id, cap_hash, next_seq, created, last_append) VALUES (?, ?, 0, ?, ?) "
        "ON CONFLICT (id) DO NOTHING"
    )

    def append(
        self, mailbox: str, cap_hash: bytes, blobs: Sequence[bytes], now: float, may_create: bool = True
    ) -> list[tuple[int, bool]]:
        """Store ``blobs`` in order; create the mailbox if new. Returns ``(cursor, newly_stored)`` per blob.

        Raises ``WrongCapability`` when the mailbox exists with another capability, and ``CreationRefused``
        when it does not exist and ``may_create`` is false; nothing is stored then.
        """
        return self._transact(self._append_tx, mailbox, cap_hash, blobs, now, may_create)

    def _append_tx(
        self, cur: Any, mailbox: str, cap_hash: bytes, blobs: Sequence[bytes], now: float, may_create: bool
    ) -> list[tuple[int, bool]]:
        if may_create:
            cur.execute(self._sql(self._insert_mailbox), (mailbox, cap_hash, now, now))
        cur.execute(
            self._sql("SELECT cap_hash, next_seq FROM relay_mailboxes WHERE id = ?" + self._lock_suffix),
            (mailbox,),
        )
        row = cur.fetchone()
        if row is None:
            raise CreationRefused
        stored_hash, next_seq = row
        if not hmac.compare_digest(bytes(stored_hash), cap_hash):
            raise WrongCapability
        results: list[tuple[int, bool]] = []
        seen: dict[bytes, int] = {}
        for blob in blobs:
            digest = hashlib.sha256(blob).digest()
            if digest in seen:
                results.append((seen[digest], False))
                continue
            cur.execute(self._sql(_INSERT_ENVELOPE), (mailbox, next_seq + 1, digest, blob, now))
            if cur.rowcount == 1:
                next_seq += 1
                seen[digest] = next_seq
                results.append((next_seq, True))
                continue
            cur.execute(  # already stored earlier: answer with its cursor
                self._sql("SELECT seq FROM relay_envelopes WHERE mailbox = ? AND digest = ?"),
                (mailbox, digest),
            )
            existing = int(cur.fetchone()[0])
            seen[digest] = existing
            results.append((existing, False))
        cur.execute(
            self._sql("UPDATE relay_mailboxes SET next_seq = ?, last_append = ? WHERE id = ?"),
            (next_seq, now, mailbox),
        )
        return results

    def _authorise(self, cur: Any, mailbox: str, cap_hash: bytes) -> int:
        cur.execute(self._sql("SELECT cap_hash, next_seq FROM relay_mailboxes WHERE id = ?"), (mailbox,))
        row = cur.fetchone()
        if row is None:
            raise UnknownMailbox
        if not hmac.compare_digest(bytes(row[0]), cap_hash):
            raise WrongCapability
        return int(row[1])

    def fetch(self, mailbox: str, cap_hash: bytes, after: int, limit: int, max_bytes: int) -> Fetched:
        """Envelopes after ``after``, oldest first: at most ``limit`` and about ``max_bytes`` (≥ 1)."""
        with self._read() as cur:
            head = self._authorise(cur, mailbox, cap_hash)
            if after > head:
                raise CursorAhead
            cur.execute(
                self._sql(
                    "SELECT seq, data FROM relay_envelopes WHERE mailbox = ? AND seq > ? ORDER BY seq LIMIT ?"
                ),
                (mailbox, after, limit + 1),
            )
            rows = cur.fetchall()
        out: list[tuple[int, bytes]] = []
        size = 0
        for seq, data in rows[:limit]:
            if out and size + len(data) > max_bytes:
                break
            out.append((int(seq), bytes(data)))
            size += len(data)
        more = len(out) < len(rows)
        cursor = out[-1][0] if out else after
        if not more and not out:
            cursor = head  # nothing in between (purged or never there): skip ahead to the head
        return Fetched(out, cursor, more)

    def head(self, mailbox: str, cap_hash: bytes) -> int:
        """The mailbox's latest cursor (0 while empty). Raises ``UnknownMailbox`` / ``WrongCapability``."""
        with self._read() as cur:
            return self._authorise(cur, mailbox, cap_hash)

    def purge(self, now: float, max_age_seconds: float) -> int:
        """Delete envelopes received before ``now - max_age_seconds``; returns how many.

        Mailbox rows stay (they are tiny and keep the sequence counter, so clients' cursors stay valid).
        """
        return self._transact(self._purge_tx, now - max_age_seconds)

    def _purge_tx(self, cur: Any, before: float) -> int:
        cur.execute(self._sql("DELETE FROM relay_envelopes WHERE received < ?"), (before,))
        return int(cur.rowcount or 0)


# -- SQLite --------------------------------------------------------------------------------------------------

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS relay_mailboxes (
    id          TEXT PRIMARY KEY,
    cap_hash    BLOB NOT NULL,
    next_seq    INTEGER NOT NULL,
    created     REAL NOT NULL,
    last_append REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS relay_envelopes (
    mailbox  TEXT NOT NULL REFERENCES relay_mailboxes(id),
    seq      INTEGER NOT NULL,
    digest   BLOB NOT NULL,
    data     BLOB NOT NULL,
    received REAL NOT NULL,
    PRIMARY KEY (mailbox, seq),
    UNIQUE (mailbox, digest)
);
CREATE INDEX IF NOT EXISTS relay_envelopes_received ON relay_envelopes (received);
"""


class SQLiteStorage(Storage):
    """One file, WAL, ``synchronous=FULL``; one reader connection per thread and one writer thread.

    The writer thread commits in groups: it takes every append waiting in its queue (up to ``GROUP``), runs
    each inside its own savepoint (a refused one rolls back alone), commits once, and only then answers them
    all. Each answer still means "durably committed"; under load one fsync serves many appends.
    """

    GROUP = 256

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._writer = self._connect()
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.executescript(f"BEGIN; {_SQLITE_SCHEMA} COMMIT;")
        self._writer.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], Future[Any]] | None]
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_loop, name="relay-sqlite-writer", daemon=True)
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        if self._closed:
            raise RuntimeError("storage is closed")
        future: Future[T] = Future()
        self._queue.put((fn, args, future))
        return future

    def _transact(self, fn: Callable[..., T], *args: Any) -> T:
        return self._submit(fn, *args).result()

    async def append_async(
        self, mailbox: str, cap_hash: bytes, blobs: Sequence[bytes], now: float, may_create: bool = True
    ) -> list[tuple[int, bool]]:
        return await asyncio.wrap_future(
            self._submit(self._append_tx, mailbox, cap_hash, blobs, now, may_create)
        )

    def _write_loop(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is None:
                return
            group = [item]
            while len(group) < self.GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
            self._commit_group(group)

    def _commit_group(self, group: list[tuple[Callable[..., Any], tuple[Any, ...], Future[Any]]]) -> None:
        try:
            outcomes = self._run_group(group)
        except Exception as exc:
            if len(group) == 1:
                outcomes = [(group[0][2], None, exc)]
            else:
                # Something unexpected inside the group: all of it was rolled back. Give each operation a
                # transaction of its own, so that one bad operation cannot take the others down with it.
                outcomes = []
                for item in group:
                    try:
                        outcomes.extend(self._run_group([item]))
                    except Exception as single:
                        outcomes.append((item[2], None, single))
        for future, result, error in outcomes:  # answered only now that their transaction is durable
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

    def _run_group(
        self, group: list[tuple[Callable[..., Any], tuple[Any, ...], Future[Any]]]
    ) -> list[tuple[Future[Any], Any, BaseException | None]]:
        """One transaction for the whole group. An operation refuses (``StorageRefusal``) only before it has
        written anything, so a refusal needs no savepoint; any other error rolls the whole group back."""
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        cur = self._writer.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            for fn, args, future in group:
                try:
                    outcomes.append((future, fn(cur, *args), None))
                except StorageRefusal as refusal:
                    outcomes.append((future, None, refusal))
            cur.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()
        return outcomes

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Cursor]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        cur = conn.cursor()
        cur.execute("BEGIN")  # one snapshot for the whole read
        try:
            yield cur
        finally:
            cur.execute("COMMIT")
            cur.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._writer.close()


# -- PostgreSQL ----------------------------------------------------------------------------------------------

_PG_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS relay_mailboxes (
        id          TEXT PRIMARY KEY,
        cap_hash    BYTEA NOT NULL,
        next_seq    BIGINT NOT NULL,
        created     DOUBLE PRECISION NOT NULL,
        last_append DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS relay_envelopes (
        mailbox  TEXT NOT NULL REFERENCES relay_mailboxes(id),
        seq      BIGINT NOT NULL,
        digest   BYTEA NOT NULL,
        data     BYTEA NOT NULL,
        received DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (mailbox, seq),
        UNIQUE (mailbox, digest)
    )""",
    "CREATE INDEX IF NOT EXISTS relay_envelopes_received ON relay_envelopes (received)",
]
_PG_SCHEMA_LOCK = 0x636F6D70  # advisory lock id: several relay processes may start at once


class _SimplePool:
    """Used when ``psycopg_pool`` is not installed: a bounded queue of connections."""

    def __init__(self, dsn: str, size: int) -> None:
        import psycopg

        self._psycopg = psycopg
        self._dsn = dsn
        self._free: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    @contextmanager
    def connection(self) -> Iterator[Any]:
        with self._slots:
            try:
                conn = self._free.get_nowait()
            except queue.Empty:
                conn = self._psycopg.connect(self._dsn, autocommit=True)
            try:
                yield conn
            finally:
                if conn.closed or conn.broken:
                    conn.close()
                else:
                    self._free.put(conn)

    def close(self) -> None:
        while True:
            try:
                self._free.get_nowait().close()
            except queue.Empty:
                return


class PostgresStorage(Storage):
    """psycopg 3 with a connection pool; safe for several relay processes sharing one database."""

    placeholder = "%s"
    _lock_suffix = " FOR UPDATE"

    def __init__(self, dsn: str, pool_size: int = 10) -> None:
        import psycopg

        self._psycopg = psycopg
        # One direct connection first: a wrong DSN or an unreachable server fails at once with psycopg's own
        # message (a pool would retry quietly for its whole timeout), and it creates the schema.
        with psycopg.connect(dsn, connect_timeout=10, autocommit=True) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_SCHEMA_LOCK,))
            for statement in _PG_SCHEMA:
                conn.execute(statement)
        try:
            from psycopg_pool import ConnectionPool
        except ImportError:
            self._pool: Any = _SimplePool(dsn, pool_size)
        else:
            self._pool = ConnectionPool(
                dsn, min_size=1, max_size=pool_size, open=True, timeout=30, kwargs={"autocommit": True}
            )

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    # Reads use the same path: READ COMMITTED with one statement per snapshot is enough, because cursors only
    # ever point at committed envelopes and sequence numbers commit in order per mailbox.
    _read = _write

    def close(self) -> None:
        self._pool.close()


def open_storage(*, db: str | Path | None = None, postgres: str | None = None) -> Storage:
    if postgres:
        return PostgresStorage(postgres)
    if db is None:
        raise ValueError("either db or postgres is needed")
    return SQLiteStorage(db)
