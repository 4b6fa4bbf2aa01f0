"""A real ``companion-relay`` process on loopback for each test that asks for one.

The ``backend`` fixture runs every test that uses it twice: on SQLite, and on PostgreSQL when
``$COMPANION_TEST_POSTGRES_DSN`` names a database (``.ci/run`` starts one); without it the PostgreSQL half is
skipped with a reason.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_ENV = "COMPANION_TEST_POSTGRES_DSN"
LISTENING = re.compile(r"listening on (http://\S+)")


@dataclass
class Backend:
    name: str
    db: Path | None = None
    dsn: str | None = None

    def args(self) -> list[str]:
        return ["--postgres", self.dsn] if self.dsn else ["--db", str(self.db)]

    def dump(self) -> bytes:
        """Every byte the relay keeps (files for SQLite, every row for PostgreSQL), for scanning."""
        if self.db is not None:
            return b"".join(p.read_bytes() for p in self.db.parent.glob(self.db.name + "*"))
        import psycopg

        out = []
        with psycopg.connect(self.dsn) as conn:
            for table in ("relay_mailboxes", "relay_envelopes"):
                for row in conn.execute(f"SELECT * FROM {table}"):
                    out.extend(v if isinstance(v, bytes) else str(v).encode() for v in row)
        return b"\x00".join(out)


@dataclass
class RelayProcess:
    backend: Backend
    log: Path
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""

    def start(self, timeout: float = 20.0) -> RelayProcess:
        cmd = [
            sys.executable,
            "-m",
            "companion.relay",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *self.backend.args(),
            *self.extra,
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.log.write_bytes(b"")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = LISTENING.search(self.log.read_text(errors="replace"))
            if match:
                self.url = match.group(1)
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"relay exited: {self.log.read_text(errors='replace')}")
            time.sleep(0.05)
        else:
            raise RuntimeError("relay did not start")
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("relay did not become healthy")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def make_backend(kind: str, folder: Path) -> Backend:
    if kind == "postgres":
        return Backend("postgres", dsn=os.environ[PG_ENV])
    folder.mkdir(parents=True, exist_ok=True)
    return Backend("sqlite", db=folder / "relay.db")


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and not os.environ.get(PG_ENV):
        pytest.skip(f"PostgreSQL tests need ${PG_ENV} (.ci/run starts a local server and sets it)")
    return str(request.param)


@pytest.fixture(scope="session")
def relay(backend_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    """One relay per backend, shared by the tests that need default settings (each uses fresh mailboxes)."""
    folder = tmp_path_factory.mktemp(f"relay-{backend_kind}")
    # Rate limiting off: every test talks from 127.0.0.1 and would share one bucket; the rate-limit tests
    # start relays of their own.
    process = RelayProcess(make_backend(backend_kind, folder), folder / "relay.log", ["--rate", "0"]).start()
    yield process
    process.stop()


@pytest.fixture
def backend(relay: RelayProcess) -> Backend:
    """The shared relay's storage."""
    return relay.backend


@pytest.fixture
def fresh_backend(backend_kind: str, tmp_path: Path) -> Backend:
    """Storage of its own (a new SQLite file; PostgreSQL is the one test database)."""
    return make_backend(backend_kind, tmp_path / "fresh")


@pytest.fixture
def start_relay(backend_kind: str, tmp_path: Path) -> Iterator[object]:
    """``start_relay(*extra_args, shared=None)`` starts a relay with its own settings (and, on SQLite, its own
    file unless ``shared`` names another relay's backend); all are stopped at teardown."""
    started: list[RelayProcess] = []

    def start(*extra: str, shared: Backend | None = None) -> RelayProcess:
        n = len(started)
        store = shared or make_backend(backend_kind, tmp_path / f"relay-{n}")
        relay = RelayProcess(store, tmp_path / f"relay-{n}.log", list(extra)).start()
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.stop()


def new_box() -> tuple[str, str]:
    """A fresh (mailbox, capability) pair, as the circles layer would make."""
    from companion.sync.transports.relay import new_mailbox

    box = new_mailbox("http://127.0.0.1")
    return box.mailbox, box.capability


def unique_marker() -> bytes:
    return f"MARKER-{uuid.uuid4().hex}".encode()
