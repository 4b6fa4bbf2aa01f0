"""Where the relay keeps envelopes: SQLite (one relay process) or PostgreSQL (several processes, one db).

The relay stores opaque bytes. Per mailbox it keeps the SHA-256 of the mailbox's capability (never the
capability) and a strictly increasing sequence number; every envelope gets the next number: its cursor.

Ordering under concurrency: the sequence counter lives in the mailbox row, and an append updates that row
inside its transaction, so appends to one mailbox are serialised by the database (SQLite: one writer;
PostgreSQL: the row lock taken by ``SELECT … FOR UPDATE`` inside ``relay_append``). A sequence number
therefore becomes visible only after every smaller one of the same mailbox has committed, and a reader that
has seen cursor N can never later miss an envelope below N. A global ``BIGSERIAL`` would not give that
guarantee across PostgreSQL sessions.

Idempotency: ``(mailbox, sha256(blob))`` is unique; appending a blob that is already there returns its cursor.

Durability: an append returns only after its transaction committed (SQLite ``synchronous=FULL`` in WAL mode;
PostgreSQL's default ``synchronous_commit=on``), so an acknowledged envelope survives a crash or ``kill -9``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import hmac
import logging
import queue
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

T = TypeVar("T")
log = logging.getLogger("companion.relay")

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
    """Common logic over a DB-API connection; subclasses supply connections and schema.

    Every operation has a blocking form (``append``, ``fetch``, …) and one for the event loop
    (``append_async``, ``fetch_async``, …). The async forms run the blocking ones in a worker thread unless a
    subclass does better (SQLite runs its statements on the loop itself)."""

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

    @abstractmethod
    def _read(self) -> Any: ...

    @abstractmethod
    def close(self) -> None: ...

    async def append_async(
        self, mailbox: str, cap_hash: bytes, blobs: Sequence[bytes], now: float, may_create: bool = True
    ) -> list[tuple[int, bool]]:
        return await anyio.to_thread.run_sync(self.append, mailbox, cap_hash, blobs, now, may_create)

    async def fetch_async(self, mailbox: str, cap_hash: bytes, after: int, limit: int, max_bytes: int) -> Fetched:
        return await anyio.to_thread.run_sync(self.fetch, mailbox, cap_hash, after, limit, max_bytes)

    async def head_async(self, mailbox: str, cap_hash: bytes) -> int:
        return await anyio.to_thread.run_sync(self.head, mailbox, cap_hash)

    async def ping_async(self) -> None:
        await anyio.to_thread.run_sync(self.ping)

    async def purge_async(self, now: float, max_age_seconds: float) -> int:
        return await anyio.to_thread.run_sync(self.purge, now, max_age_seconds)

    async def aclose(self) -> None:
        """``close`` for the event loop: answers every append already accepted, then closes."""
        await anyio.to_thread.run_sync(self.close)

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def ping(self) -> None:
        with self._read() as cur:
            self._ping_tx(cur)

    @staticmethod
    def _ping_tx(cur: Any) -> None:
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
        select = self._sql("SELECT cap_hash, next_seq FROM relay_mailboxes WHERE id = ?" + self._lock_suffix)
        cur.execute(select, (mailbox,))
        row = cur.fetchone()
        if row is None:  # a new mailbox (rare): create it, then lock it as above
            if not may_create:
                raise CreationRefused
            cur.execute(self._sql(self._insert_mailbox), (mailbox, cap_hash, now, now))
            cur.execute(select, (mailbox,))
            row = cur.fetchone()
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
        return _head(cur.fetchone(), cap_hash)

    def fetch(self, mailbox: str, cap_hash: bytes, after: int, limit: int, max_bytes: int) -> Fetched:
        """Envelopes after ``after``, oldest first: at most ``limit`` and about ``max_bytes`` (≥ 1)."""
        with self._read() as cur:
            return self._fetch_tx(cur, mailbox, cap_hash, after, limit, max_bytes)

    def _fetch_tx(self, cur: Any, mailbox: str, cap_hash: bytes, after: int, limit: int, max_bytes: int) -> Fetched:
        head = self._authorise(cur, mailbox, cap_hash)
        if after > head:
            raise CursorAhead
        cur.execute(
            self._sql("SELECT seq, data FROM relay_envelopes WHERE mailbox = ? AND seq > ? ORDER BY seq LIMIT ?"),
            (mailbox, after, limit + 1),
        )
        return _page(cur, head, after, limit, max_bytes)  # row by row: reading stops at the size limit

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


_Op = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Cursor]:
    """A cursor reading one snapshot (a read transaction) of ``conn`` for the whole block."""
    cur = conn.cursor()
    cur.execute("BEGIN")
    try:
        yield cur
    finally:
        if conn.in_transaction:
            cur.execute("COMMIT")
        cur.close()


class SQLiteStorage(Storage):
    """One file, WAL, ``synchronous=FULL``; one write connection, a writer thread that commits, and readers.

    On the event loop (the server): the write connection always has a write transaction open
    (``BEGIN IMMEDIATE``, taken by the writer thread). An append runs its statements right on the loop inside
    that transaction (no lock to wait for: the transaction already holds SQLite's single write lock) and joins
    the current *group*; then the group's ``COMMIT`` (the fsync) goes to the writer thread, which at once
    begins the next transaction and hands the connection back to the loop. Appends arriving during a commit
    wait and form the next group; each is answered only after its own group's commit, so an answer still
    means "durably committed" while one fsync serves many appends. A refusal (``StorageRefusal``) happens
    before an operation writes anything and is answered at once; an unexpected error rolls the open
    transaction back and the group's other operations run again in the writer thread, one by one if need be.
    Purging and appends of more than ``LOOP_BYTES`` run in the writer thread between groups (purging in
    batches), so that neither holds up the loop.

    Reads on the event loop use one loop-owned connection (WAL readers never wait for the writer); should
    SQLite still report it busy, the read moves to a worker thread.

    Without an event loop (scripts, tests), the blocking methods run in the caller's thread. Once the storage
    serves a loop, blocking writes from other threads are passed to that loop.
    """

    GROUP = 256  # most operations in one commit
    PURGE_BATCH = 2000  # envelopes deleted per purge transaction
    LOOP_BYTES = 256 * 1024  # a larger append runs in the writer thread, not on the loop

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._writer = self._connect()
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.executescript(f"BEGIN; {_SQLITE_SCHEMA} COMMIT;")
        self._writer.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._writer.execute("BEGIN IMMEDIATE")  # the transaction the first group fills
        self._wcur = self._writer.cursor()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._sync_lock = threading.Lock()  # the write connection, while no event loop drives it
        self._closed = False
        # event-loop side (touched on the loop only)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_reader: sqlite3.Connection | None = None
        self._group: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any], Any]] = []
        self._waiting: collections.deque[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any], bool]]
        self._waiting = collections.deque()
        self._committing = False  # the writer thread has the write connection
        self._flush_handle: asyncio.Handle | None = None
        self._closing = False
        self._drained: asyncio.Event | None = None
        self._jobs: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, list[Any], list[_Op]] | None]
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_loop, name="relay-sqlite-writer", daemon=True)
        self._thread.start()

    def _connect(self, busy_timeout: float = 30.0) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout)
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    # -- on the event loop ------------------------------------------------------------------------------------

    def _attach(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._closed:
                raise RuntimeError("storage is closed")
            if self._loop is not None and self._loop.is_running():
                raise RuntimeError("SQLiteStorage serves one event loop at a time")
            with self._sync_lock:  # once per loop: a blocking write in another thread finishes first
                self._loop = loop
                self._group.clear()
                self._waiting.clear()
                self._committing, self._flush_handle, self._drained = False, None, None
        return loop

    async def append_async(
        self, mailbox: str, cap_hash: bytes, blobs: Sequence[bytes], now: float, may_create: bool = True
    ) -> list[tuple[int, bool]]:
        big = sum(map(len, blobs)) > self.LOOP_BYTES  # copying megabytes into SQLite would hold up the loop
        result: list[tuple[int, bool]] = await self._write_async(
            self._append_tx, (mailbox, cap_hash, blobs, now, may_create), in_thread=big
        )
        return result

    async def _write_async(self, fn: Callable[..., Any], args: tuple[Any, ...], in_thread: bool = False) -> Any:
        """Run ``fn(cursor, *args)`` in the current group (on the loop, or in the writer thread when
        ``in_thread``) and return its result once the group has committed."""
        loop = self._attach()
        if self._closing:
            raise RuntimeError("storage is closed")
        future: asyncio.Future[Any] = loop.create_future()
        if in_thread or self._committing or self._waiting or not self._writer.in_transaction:
            self._waiting.append((fn, args, future, in_thread))
        else:
            self._run_here(fn, args, future)
        if not self._committing and self._flush_handle is None:
            self._flush_handle = loop.call_soon(self._flush)  # appends of this loop turn join the group
        return await future

    def _run_here(self, fn: Callable[..., Any], args: tuple[Any, ...], future: asyncio.Future[Any]) -> None:
        try:
            result = fn(self._wcur, *args)
        except StorageRefusal as refusal:  # nothing written: answer now
            if not future.done():
                future.set_exception(refusal)
            return
        except Exception as exc:
            # It may have written half: undo the whole open transaction; the group's other operations run
            # again in the writer thread (it begins a new transaction).
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("ROLLBACK")
            if not future.done():
                future.set_exception(exc)
            self._waiting.extendleft((f, a, fut, True) for f, a, fut, _ in reversed(self._group))
            self._group.clear()
            return
        self._group.append((fn, args, future, result))

    def _flush(self) -> None:
        """Hand the group's COMMIT to the writer thread; first run what waited (the next group)."""
        self._flush_handle = None
        if self._committing or self._loop is None:
            return
        in_thread: list[_Op] = []
        while self._waiting and len(self._group) + len(in_thread) < self.GROUP:
            fn, args, future, thread = self._waiting.popleft()
            if future.done():  # cancelled while it waited: never ran, never answered
                continue
            if thread or not self._writer.in_transaction:
                in_thread.append((fn, args, future))
            else:
                self._run_here(fn, args, future)
        if self._group or in_thread:
            group, self._group = self._group, []
            self._committing = True
            self._jobs.put((self._loop, group, in_thread))
        elif self._drained is not None:
            self._drained.set()

    def _committed(
        self,
        group: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any], Any]],
        error: BaseException | None,
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]],
    ) -> None:
        """Back from the writer thread: answer the group (durable now), then start the next one."""
        self._committing = False
        for _, _, future, result in group:
            if future.done():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
        for future, result, failure in outcomes:
            if future.done():
                continue
            if failure is None:
                future.set_result(result)
            else:
                future.set_exception(failure)
        self._flush()

    @contextmanager
    def _read_on_loop(self) -> Iterator[sqlite3.Cursor]:
        conn = self._loop_reader
        if conn is None:
            conn = self._loop_reader = self._connect(busy_timeout=0)  # never wait on the loop
            conn.execute("PRAGMA query_only=ON")
        with _snapshot(conn) as cur:
            yield cur

    async def _read_async(self, fn: Callable[..., T], *args: Any) -> T:
        self._attach()
        try:
            with self._read_on_loop() as cur:
                return fn(cur, *args)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
        return await anyio.to_thread.run_sync(self._read_in_thread, fn, *args)  # busy: wait in a thread

    def _read_in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        with self._read() as cur:
            return fn(cur, *args)

    async def fetch_async(self, mailbox: str, cap_hash: bytes, after: int, limit: int, max_bytes: int) -> Fetched:
        return await self._read_async(self._fetch_tx, mailbox, cap_hash, after, limit, max_bytes)

    async def head_async(self, mailbox: str, cap_hash: bytes) -> int:
        return await self._read_async(self._authorise, mailbox, cap_hash)

    async def ping_async(self) -> None:
        await self._read_async(self._ping_tx)

    async def purge_async(self, now: float, max_age_seconds: float) -> int:
        total = 0
        while True:  # batches, so that appends commit in between
            removed: int = await self._write_async(self._purge_tx, (now - max_age_seconds,), in_thread=True)
            total += removed
            if removed < self.PURGE_BATCH:
                return total

    async def aclose(self) -> None:
        if self._closed:
            return
        if self._loop is None or self._loop is not asyncio.get_running_loop():
            self.close()
            return
        self._closing = True
        while self._committing or self._group or self._waiting or self._flush_handle is not None:
            self._drained = asyncio.Event()
            if not self._committing and self._flush_handle is None:
                self._flush()
            await self._drained.wait()
        self._close_now()

    # -- in the writer thread ---------------------------------------------------------------------------------

    def _write_loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, group, in_thread = job
            error: BaseException | None = None
            if group:
                try:
                    self._wcur.execute("COMMIT")
                except Exception as exc:  # nothing of the group is stored; each of its appends gets the error
                    error = exc
                    with contextlib.suppress(sqlite3.Error):
                        self._wcur.execute("ROLLBACK")
            outcomes = self._commit_group(in_thread) if in_thread else []
            self._begin()
            try:
                loop.call_soon_threadsafe(self._committed, group, error, outcomes)
            except RuntimeError:  # the loop is gone, and nobody waits for these answers any more
                pass

    def _begin(self) -> None:
        """Open the write transaction the next group fills (the loop never waits for SQLite's lock)."""
        if not self._writer.in_transaction:
            try:
                self._wcur.execute("BEGIN IMMEDIATE")
            except sqlite3.Error:
                # The loop sees no open transaction and sends the next operations here instead.
                log.exception("relay storage: cannot begin a write transaction")

    def _commit_group(self, group: list[_Op]) -> list[tuple[asyncio.Future[Any], Any, BaseException | None]]:
        try:
            return self._run_group(group)
        except Exception as exc:
            if len(group) == 1:
                return [(group[0][2], None, exc)]
            # Something unexpected inside the group: all of it was rolled back. Give each operation a
            # transaction of its own, so that one bad operation cannot take the others down with it.
            outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
            for item in group:
                try:
                    outcomes.extend(self._run_group([item]))
                except Exception as single:
                    outcomes.append((item[2], None, single))
            return outcomes

    def _run_group(self, group: list[_Op]) -> list[tuple[asyncio.Future[Any], Any, BaseException | None]]:
        """One transaction for the whole group. An operation refuses (``StorageRefusal``) only before it has
        written anything, so a refusal needs no savepoint; any other error rolls the whole group back."""
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        cur = self._wcur
        try:
            if not self._writer.in_transaction:
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
        return outcomes

    # -- without an event loop --------------------------------------------------------------------------------

    def _transact(self, fn: Callable[..., T], *args: Any) -> T:
        loop = self._loop
        if loop is not None and loop.is_running():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                raise RuntimeError("on the event loop, use the storage's async methods")
            future = asyncio.run_coroutine_threadsafe(self._write_async(fn, args), loop)
            result: T = future.result()
            return result
        if self._closed:
            raise RuntimeError("storage is closed")
        with self._sync_lock:
            cur = self._wcur
            if not self._writer.in_transaction:
                cur.execute("BEGIN IMMEDIATE")
            try:
                result = fn(cur, *args)
                cur.execute("COMMIT")
            except StorageRefusal:
                raise  # nothing written; the open transaction serves the next operation
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    cur.execute("ROLLBACK")
                raise
            finally:
                self._begin()
            return result

    def purge(self, now: float, max_age_seconds: float) -> int:
        total = 0
        while True:
            removed = self._transact(self._purge_tx, now - max_age_seconds)
            total += removed
            if removed < self.PURGE_BATCH:
                return total

    def _purge_tx(self, cur: Any, before: float) -> int:
        cur.execute(
            "DELETE FROM relay_envelopes WHERE rowid IN "
            "(SELECT rowid FROM relay_envelopes WHERE received < ? LIMIT ?)",
            (before, self.PURGE_BATCH),
        )
        return int(cur.rowcount or 0)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Cursor]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        with _snapshot(conn) as cur:
            yield cur

    def close(self) -> None:
        if self._closed:
            return
        loop = self._loop
        if loop is not None and loop.is_running():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                asyncio.run_coroutine_threadsafe(self.aclose(), loop).result()
                return
            if self._committing or self._group or self._waiting:
                raise RuntimeError("appends are still in flight: use aclose() on the event loop")
        self._close_now()

    def _close_now(self) -> None:
        if self._closed:
            return
        self._closed = self._closing = True
        self._jobs.put(None)
        self._thread.join()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        if self._loop_reader is not None:
            self._loop_reader.close()
        with contextlib.suppress(sqlite3.Error):
            self._wcur.execute("ROLLBACK")  # the open transaction is empty: every operation was answered
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
    # An append in one statement (one round trip, its own transaction in autocommit), the same steps as
    # ``Storage._append_tx``: lock the mailbox row (creating it if allowed), check the capability's hash,
    # insert each new envelope with the next number, move the counter. Answers NULL when creation is refused,
    # {0} for another capability (nothing written in either case), else one cursor per blob, negated when the
    # blob was already there. The hash comparison need not be constant-time: it compares SHA-256 hashes, and
    # learning the stored hash does not give the capability.
    """CREATE OR REPLACE FUNCTION relay_append(
        p_mailbox TEXT, p_cap_hash BYTEA, p_digests BYTEA[], p_blobs BYTEA[], p_now DOUBLE PRECISION,
        p_may_create BOOLEAN
    ) RETURNS BIGINT[] LANGUAGE plpgsql AS $$
    DECLARE
        v_hash BYTEA;
        v_seq BIGINT;
        v_existing BIGINT;
        v_out BIGINT[] := '{}';
    BEGIN
        SELECT cap_hash, next_seq INTO v_hash, v_seq FROM relay_mailboxes WHERE id = p_mailbox FOR UPDATE;
        IF NOT FOUND THEN
            IF NOT p_may_create THEN
                RETURN NULL;
            END IF;
            INSERT INTO relay_mailboxes (id, cap_hash, next_seq, created, last_append)
                VALUES (p_mailbox, p_cap_hash, 0, p_now, p_now) ON CONFLICT (id) DO NOTHING;
            SELECT cap_hash, next_seq INTO v_hash, v_seq FROM relay_mailboxes WHERE id = p_mailbox FOR UPDATE;
        END IF;
        IF v_hash <> p_cap_hash THEN
            RETURN ARRAY[0]::BIGINT[];
        END IF;
        FOR i IN 1 .. coalesce(array_length(p_blobs, 1), 0) LOOP
            INSERT INTO relay_envelopes (mailbox, seq, digest, data, received)
                VALUES (p_mailbox, v_seq + 1, p_digests[i], p_blobs[i], p_now) ON CONFLICT (mailbox, digest) DO NOTHING;
            IF FOUND THEN
                v_seq := v_seq + 1;
                v_out := v_out || v_seq;
            ELSE
                SELECT seq INTO v_existing FROM relay_envelopes WHERE mailbox = p_mailbox AND digest = p_digests[i];
                v_out := v_out || -v_existing;
            END IF;
        END LOOP;
        UPDATE relay_mailboxes SET next_seq = v_seq, last_append = p_now WHERE id = p_mailbox;
        RETURN v_out;
    END
    $$""",
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
    """psycopg 3 with a connection pool; safe for several relay processes sharing one database.

    An append is one statement (``relay_append``, created with the schema) and a fetch is one statement, each
    its own transaction in autocommit: one round trip apiece. On the event loop they go through psycopg's
    asyncio connections (a pool of its own, opened on first use), without worker threads; the blocking
    methods use a thread-safe pool. Without ``psycopg_pool`` both fall back to a small pool in threads.
    """

    placeholder = "%s"
    _lock_suffix = " FOR UPDATE"

    def __init__(self, dsn: str, pool_size: int = 10) -> None:
        import psycopg

        self._psycopg = psycopg
        self._dsn, self._pool_size = dsn, pool_size
        # One direct connection first: a wrong DSN or an unreachable server fails at once with psycopg's own
        # message (a pool would retry quietly for its whole timeout), and it creates the schema.
        with psycopg.connect(dsn, connect_timeout=10, autocommit=True) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_SCHEMA_LOCK,))
            for statement in _PG_SCHEMA:
                conn.execute(statement)
        self._apool: Any = None
        self._apool_loop: asyncio.AbstractEventLoop | None = None
        self._apool_open: asyncio.Future[None] | None = None
        try:
            from psycopg_pool import ConnectionPool
        except ImportError:
            self._pool: Any = _SimplePool(dsn, pool_size)
            self._async = False
        else:
            self._pool = ConnectionPool(
                dsn, min_size=1, max_size=pool_size, open=True, timeout=30, kwargs={"autocommit": True}
            )
            self._async = True

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    # Reads use the same path: READ COMMITTED with one statement per snapshot is enough, because cursors only
    # ever point at committed envelopes and sequence numbers commit in order per mailbox.
    _read = _write

    _APPEND = "SELECT relay_append(%s, %s, %s, %s, %s, %s)"
    _HEAD = "SELECT cap_hash, next_seq FROM relay_mailboxes WHERE id = %s"
    # The mailbox row and the page in one snapshot. ``before`` is the size of the page's earlier rows. The
    # first row is always answered, so the second always comes along; after that, a row comes only while the
    # rows before it fit in ``max_bytes`` (the first one that does not fit tells ``more``), the rest stay on
    # the server.
    _FETCH = """SELECT m.cap_hash, m.next_seq, e.seq, e.data FROM relay_mailboxes AS m
        LEFT JOIN LATERAL (
            SELECT seq, data, sum(octet_length(data)) OVER w - octet_length(data) AS before, row_number() OVER w AS n
            FROM (
                SELECT seq, data FROM relay_envelopes WHERE mailbox = m.id AND seq > %s ORDER BY seq LIMIT %s
            ) AS page
            WINDOW w AS (ORDER BY seq)
        ) AS e ON e.n <= 2 OR e.before <= %s
        WHERE m.id = %s ORDER BY e.seq"""

    @staticmethod
    def _append_params(
        mailbox: str, cap_hash: bytes, blobs: Sequence[bytes], now: float, may_create: bool
    ) -> tuple[Any, ...]:
        return (mailbox, cap_hash, [hashlib.sha256(b).digest() for b in blobs], list(blobs), now, may_create)

    def append(
        self, mailbox: str, cap_hash: bytes, blobs: Sequence[bytes], now: float, may_create: bool = True
    ) -> list[tuple[int, bool]]:
        """One statement, one round trip (``relay_append`` in the schema): the same steps and guarantees."""
        with self._pool.connection() as conn:
            row = conn.execute(self._APPEND, self._append_params(mailbox, cap_hash, blobs, now, may_create))
            return _appended(row.fetchone()[0])

    def fetch(self, mailbox: str, cap_hash: bytes, after: int, limit: int, max_bytes: int) -> Fetched:
        with self._pool.connection() as conn:
            rows = conn.execute(self._FETCH, (after, limit + 1, max_bytes, mailbox)).fetchall()
        return _fetched(rows, cap_hash, after, limit, max_bytes)

    def head(self, mailbox: str, cap_hash: bytes) -> int:
        with self._pool.connection() as conn:
            return _head(conn.execute(self._HEAD, (mailbox,)).fetchone(), cap_hash)

    # -- on the event loop ------------------------------------------------------------------------------------

    async def _async_pool(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._apool is not None and self._apool_loop is not loop:
            # made on a loop that has ended (scripts and tests may run several); its connections go with it
            self._apool = None
        if self._apool is None:
            from psycopg_pool import AsyncConnectionPool

            self._apool_loop = loop

            self._apool = AsyncConnectionPool(
                self._dsn, min_size=1, max_size=self._pool_size, open=False, timeout=30,
                kwargs={"autocommit": True},
            )
            self._apool_open = asyncio.ensure_future(self._apool.open())
        assert self._apool_open is not None
        await self._apool_open
        return self._apool

    async def append_async(
        self, mailbox: str, cap_hash: bytes, blobs: Sequence[bytes], now: float, may_create: bool = True
    ) -> list[tuple[int, bool]]:
        if not self._async:
            return await super().append_async(mailbox, cap_hash, blobs, now, may_create)
        params = self._append_params(mailbox, cap_hash, blobs, now, may_create)
        async with (await self._async_pool()).connection() as conn:
            cur = await conn.execute(self._APPEND, params)
            return _appended((await cur.fetchone())[0])

    async def fetch_async(self, mailbox: str, cap_hash: bytes, after: int, limit: int, max_bytes: int) -> Fetched:
        if not self._async:
            return await super().fetch_async(mailbox, cap_hash, after, limit, max_bytes)
        async with (await self._async_pool()).connection() as conn:
            cur = await conn.execute(self._FETCH, (after, limit + 1, max_bytes, mailbox))
            rows = await cur.fetchall()
        return _fetched(rows, cap_hash, after, limit, max_bytes)

    async def head_async(self, mailbox: str, cap_hash: bytes) -> int:
        if not self._async:
            return await super().head_async(mailbox, cap_hash)
        async with (await self._async_pool()).connection() as conn:
            cur = await conn.execute(self._HEAD, (mailbox,))
            return _head(await cur.fetchone(), cap_hash)

    async def ping_async(self) -> None:
        if not self._async:
            return await super().ping_async()
        async with (await self._async_pool()).connection() as conn:
            await conn.execute("SELECT 1")

    async def aclose(self) -> None:
        if self._apool is not None and self._apool_loop is asyncio.get_running_loop():
            await self._apool.close()
        self._apool = None
        await super().aclose()

    def close(self) -> None:
        self._pool.close()


def _head(row: Any, cap_hash: bytes) -> int:
    """A mailbox row's ``(cap_hash, next_seq)`` → its head; refuses a missing mailbox or another capability."""
    if row is None:
        raise UnknownMailbox
    if not hmac.compare_digest(bytes(row[0]), cap_hash):
        raise WrongCapability
    return int(row[1])


def _fetched(rows: list[Any], cap_hash: bytes, after: int, limit: int, max_bytes: int) -> Fetched:
    """``PostgresStorage._FETCH``'s rows as ``fetch`` returns them (the same rules as ``Storage._fetch_tx``)."""
    head = _head(rows[0] if rows else None, cap_hash)
    if after > head:
        raise CursorAhead
    return _page(((seq, data) for _, _, seq, data in rows if seq is not None), head, after, limit, max_bytes)


def _page(rows: Iterable[tuple[Any, Any]], head: int, after: int, limit: int, max_bytes: int) -> Fetched:
    """``(seq, data)`` rows in cursor order → one fetch answer: at most ``limit`` envelopes and about
    ``max_bytes`` (always at least one); stops reading ``rows`` at the limit."""
    out: list[tuple[int, bytes]] = []
    size = 0
    more = False
    for seq, data in rows:
        if len(out) == limit or (out and size + len(data) > max_bytes):
            more = True
            break
        out.append((int(seq), bytes(data)))
        size += len(data)
    cursor = out[-1][0] if out else after
    if not more and not out:
        cursor = head  # nothing in between (purged or never there): skip ahead to the head
    return Fetched(out, cursor, more)


def _appended(cursors: list[int] | None) -> list[tuple[int, bool]]:
    """``relay_append``'s answer as ``append`` returns it."""
    if cursors is None:
        raise CreationRefused
    if cursors == [0]:
        raise WrongCapability
    return [(abs(c), c > 0) for c in cursors]


def open_storage(*, db: str | Path | None = None, postgres: str | None = None) -> Storage:
    if postgres:
        return PostgresStorage(postgres)
    if db is None:
        raise ValueError("either db or postgres is needed")
    return SQLiteStorage(db)
