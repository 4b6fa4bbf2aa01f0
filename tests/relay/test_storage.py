"""The storage layer directly: the event-loop paths (SQLite statements on the loop, commits in the writer thread,
PostgreSQL's asyncio connections) against the blocking ones, fetch size limits, batched purges, draining close."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from companion.relay.storage import (
    CreationRefused,
    Fetched,
    PostgresStorage,
    SQLiteStorage,
    Storage,
    WrongCapability,
    capability_hash,
    open_storage,
)

from .conftest import Backend, new_box


def _open(backend: Backend) -> Storage:
    return open_storage(db=backend.db, postgres=backend.dsn)


def test_async_and_blocking_paths_agree(fresh_backend: Backend) -> None:
    storage = _open(fresh_backend)
    mailbox, cap = new_box()
    h, other = capability_hash(cap), capability_hash(new_box()[1])

    async def scenario() -> None:
        try:
            await on_the_loop()
        finally:
            await storage.aclose()  # as the server does; the blocking calls below reopen nothing

    async def on_the_loop() -> None:
        assert await storage.append_async(mailbox, h, [b"a", b"b", b"a"], 1.0) == [(1, True), (2, True), (1, False)]
        with pytest.raises(WrongCapability):
            await storage.append_async(mailbox, other, [b"c"], 1.0)
        with pytest.raises(CreationRefused):
            await storage.append_async(new_box()[0], h, [b"c"], 1.0, may_create=False)
        assert await storage.head_async(mailbox, h) == 2
        got = await storage.fetch_async(mailbox, h, 0, 10, 1 << 20)
        assert (got.envelopes, got.cursor, got.more) == ([(1, b"a"), (2, b"b")], 2, False)
        await storage.ping_async()

    asyncio.run(scenario())
    storage = _open(fresh_backend)
    try:
        assert storage.append(mailbox, h, [b"b", b"c"], 2.0) == [(2, False), (3, True)]
        assert [c for c, _ in storage.fetch(mailbox, h, 0, 10, 1 << 20).envelopes] == [1, 2, 3]
    finally:
        storage.close()


def test_fetch_stops_at_the_size_limit_but_returns_at_least_one(fresh_backend: Backend) -> None:
    storage = _open(fresh_backend)
    mailbox, cap = new_box()
    h = capability_hash(cap)
    blobs = [bytes([65 + i]) * 100 for i in range(10)]

    async def on_the_loop(*args: Any) -> Fetched:  # one loop per call: PostgreSQL gets a pool for each
        try:
            return await storage.fetch_async(*args)
        finally:
            if isinstance(storage, PostgresStorage):
                await storage._apool.close()

    try:
        storage.append(mailbox, h, blobs, 1.0)
        for fetch in (storage.fetch, lambda *a: asyncio.run(on_the_loop(*a))):
            got = fetch(mailbox, h, 0, 100, 250)
            assert ([c for c, _ in got.envelopes], got.cursor, got.more) == ([1, 2], 2, True)
            got = fetch(mailbox, h, 2, 100, 50)  # one envelope even though it is larger than the limit
            assert ([c for c, _ in got.envelopes], got.cursor, got.more) == ([3], 3, True)
            got = fetch(mailbox, h, 7, 100, 300)
            assert ([c for c, _ in got.envelopes], got.cursor, got.more) == ([8, 9, 10], 10, False)
            got = fetch(mailbox, h, 4, 3, 1 << 20)
            assert ([c for c, _ in got.envelopes], got.cursor, got.more) == ([5, 6, 7], 7, True)
            assert fetch(mailbox, h, 10, 100, 300).envelopes == []
    finally:
        storage.close()


def test_sqlite_purge_runs_in_batches_while_appends_go_on(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "purge.db")
    storage.PURGE_BATCH = 7
    mailbox, cap = new_box()
    h = capability_hash(cap)

    async def scenario() -> tuple[int, list[list[tuple[int, bool]]]]:
        await storage.append_async(mailbox, h, [f"old {i}".encode() for i in range(30)], 1.0)
        return await asyncio.gather(  # type: ignore[return-value]
            storage.purge_async(now=100.0, max_age_seconds=50.0),
            *(storage.append_async(mailbox, h, [f"new {i}".encode()], 99.0) for i in range(20)),
        )

    try:
        removed, *appended = asyncio.run(scenario())
        assert removed == 30
        assert sorted(c for [(c, _)] in appended) == list(range(31, 51))
        assert storage.purge(now=100.0, max_age_seconds=50.0) == 0
        assert len(storage.fetch(mailbox, h, 0, 100, 1 << 20).envelopes) == 20
    finally:
        storage.close()


def test_sqlite_aclose_answers_every_accepted_append(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "close.db")
    mailbox, cap = new_box()
    h = capability_hash(cap)

    async def scenario() -> list[list[tuple[int, bool]]]:
        pending = [asyncio.ensure_future(storage.append_async(mailbox, h, [b"%d" % i], 1.0)) for i in range(50)]
        await asyncio.sleep(0)  # all of them accepted, some committing
        await storage.aclose()
        assert all(p.done() for p in pending)
        with pytest.raises(RuntimeError):
            await storage.append_async(mailbox, h, [b"late"], 1.0)
        return [p.result() for p in pending]

    answers = asyncio.run(scenario())
    assert sorted(c for [(c, _)] in answers) == list(range(1, 51))
    reopened = SQLiteStorage(tmp_path / "close.db")
    try:
        assert reopened.head(mailbox, h) == 50
    finally:
        reopened.close()


def test_sqlite_blocking_calls_from_another_thread_go_through_the_loop(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "threads.db")
    mailbox, cap = new_box()
    h = capability_hash(cap)
    results: list[object] = []

    async def scenario() -> None:
        await storage.append_async(mailbox, h, [b"from the loop"], 1.0)
        worker = threading.Thread(target=lambda: results.append(storage.append(mailbox, h, [b"from a thread"], 1.0)))
        worker.start()
        while worker.is_alive():
            await asyncio.sleep(0.01)
        with pytest.raises(RuntimeError):
            storage.append(mailbox, h, [b"blocking on the loop"], 1.0)

    try:
        asyncio.run(scenario())
        assert results == [[(2, True)]]
    finally:
        storage.close()


def test_sqlite_busy_read_on_the_loop_moves_to_a_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = SQLiteStorage(tmp_path / "busy.db")
    mailbox, cap = new_box()
    h = capability_hash(cap)
    storage.append(mailbox, h, [b"x"], 1.0)
    loop_thread = threading.get_ident()
    seen: list[bool] = []
    real = SQLiteStorage._authorise

    def authorise(self: SQLiteStorage, cur: sqlite3.Cursor, *args: object) -> int:
        on_loop = threading.get_ident() == loop_thread
        seen.append(on_loop)
        if on_loop:
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = sqlite3.SQLITE_BUSY
            raise error
        return real(self, cur, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(SQLiteStorage, "_authorise", authorise)
    try:
        assert asyncio.run(storage.head_async(mailbox, h)) == 1
        assert seen == [True, False]
    finally:
        storage.close()


def test_sqlite_large_appends_run_in_the_writer_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = SQLiteStorage(tmp_path / "large.db")
    mailbox, cap = new_box()
    h = capability_hash(cap)
    loop_thread = threading.get_ident()
    where: dict[int, bool] = {}
    real = SQLiteStorage._append_tx

    def append_tx(self: SQLiteStorage, cur: sqlite3.Cursor, mailbox: str, cap_hash: bytes, blobs, *rest):  # type: ignore[no-untyped-def]
        where[len(blobs[0])] = threading.get_ident() == loop_thread
        return real(self, cur, mailbox, cap_hash, blobs, *rest)

    monkeypatch.setattr(SQLiteStorage, "_append_tx", append_tx)

    async def scenario() -> list[object]:
        return await asyncio.gather(
            storage.append_async(mailbox, h, [b"s" * 1000], 1.0),
            storage.append_async(mailbox, h, [b"L" * (SQLiteStorage.LOOP_BYTES + 1)], 1.0),
            storage.append_async(mailbox, h, [b"t" * 2000], 1.0),
        )

    try:
        assert asyncio.run(scenario()) == [[(1, True)], [(3, True)], [(2, True)]]  # the large one commits last
        assert where == {1000: True, SQLiteStorage.LOOP_BYTES + 1: False, 2000: True}
    finally:
        storage.close()
