"""Load benchmark for ``companion-relay``: 50 concurrent clients appending and fetching on loopback.

Starts a real relay process on 127.0.0.1 (SQLite in a temporary folder, or ``--postgres DSN``), runs N clients
(asyncio + httpx.AsyncClient, one connection each), five per mailbox like small circles. Each client appends
single envelopes (1 KiB by default) and, every few appends, fetches what is new in its mailbox. The load is
bounded by a count per client and by a deadline, and goes to 127.0.0.1 only.

Prints appends/s, append and fetch latency (p50/p99), and a count check: everything acknowledged is stored
exactly once, in every mailbox, and each client's fetches saw every envelope of its mailbox once.

    .venv/bin/python benchmarks/bench_relay.py [--clients 50] [--appends 200] [--size 1024] [--postgres DSN]

Targets (issue 6): at least 2,000 appends/s and p99 append latency at most 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATE = 2000.0
TARGET_P99_MS = 50.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def start_relay(args: argparse.Namespace, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    db = Path(args.db_dir) / f"bench-relay-{os.getpid()}.db" if args.db_dir else folder / "relay.db"
    storage = ["--postgres", args.postgres] if args.postgres else ["--db", str(db)]
    log = folder / "relay.log"
    cmd = [
        sys.executable,
        "-m",
        "companion.relay",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--rate",
        "0",
        "--log-level",
        "warning",
        *storage,
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://\S+)", log.read_text(errors="replace"))
        if found:
            url = found.group(1)
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"relay did not start:\n{log.read_text(errors='replace')}")


class RawClient:
    """A minimal keep-alive HTTP/1.1 client on one asyncio connection (the relay always sends Content-Length).

    The load generator shares the machine with the relay, so it must be light: httpx.AsyncClient costs
    about 2-3 ms of client CPU per request here, which would measure the client, not the relay. ``--httpx``
    switches to it for comparison.
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: {self.host}\r\n{self.extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_and_headers = await self.reader.readuntil(b"\r\n\r\n")
        status = int(status_and_headers.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)content-length: *(\d+)", status_and_headers).group(1))  # type: ignore[union-attr]
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class HttpxClient:
    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.http = httpx.AsyncClient(headers=headers, timeout=30, limits=httpx.Limits(max_connections=1))

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        r = await self.http.request(
            method, self.url + target, content=body or None, headers={"Content-Type": "application/json"}
        )
        return r.status_code, r.content

    async def close(self) -> None:
        await self.http.aclose()


async def fetch_new(
    http: RawClient | HttpxClient, path: str, cursor: str, into: list[bytes], lat: list[float] | None = None
) -> str:
    more = True
    while more:
        t0 = time.perf_counter()
        status, raw = await http.request("GET", f"{path}?after={cursor}&limit=1000")
        if lat is not None:
            lat.append(time.perf_counter() - t0)
        if status != 200:
            raise RuntimeError(f"fetch failed: {status} {raw[:200]!r}")
        doc = json.loads(raw)
        into.extend(base64.b64decode(e["data"]) for e in doc["envelopes"])
        cursor, more = doc["cursor"], doc["more"]
    return cursor


async def client(
    url: str,
    box: tuple[str, str],
    n: int,
    args: argparse.Namespace,
    deadline: float,
    append_lat: list[float],
    fetch_lat: list[float],
    acked: dict[bytes, str],
    seen: list[bytes],
) -> None:
    mailbox, cap = box
    make = HttpxClient if args.httpx else RawClient
    http = make(url, {"Authorization": f"Bearer {cap}"})
    path = f"/v1/mailboxes/{mailbox}/envelopes"
    cursor = "0"
    try:
        for k in range(args.appends):
            if time.monotonic() > deadline:
                break
            blob = f"client {n} item {k} ".encode() + os.urandom(args.size)
            body = json.dumps({"envelopes": [base64.b64encode(blob).decode()]}).encode()
            t0 = time.perf_counter()
            status, raw = await http.request("POST", path, body)
            append_lat.append(time.perf_counter() - t0)
            if status != 200:
                raise RuntimeError(f"append failed: {status} {raw[:200]!r}")
            acked[blob] = json.loads(raw)["cursors"][0]
            if k % args.fetch_every == args.fetch_every - 1:
                cursor = await fetch_new(http, path, cursor, seen, fetch_lat)
        await fetch_new(http, path, cursor, seen)  # a last fetch: this client has seen its whole mailbox
    finally:
        await http.close()


async def fetch_everything(url: str, box: tuple[str, str]) -> list[bytes]:
    mailbox, cap = box
    out: list[bytes] = []
    cursor = "0"
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {cap}"}, timeout=30) as http:
        while True:
            r = await http.get(
                f"{url}/v1/mailboxes/{mailbox}/envelopes", params={"after": cursor, "limit": "1000"}
            )
            doc = r.json()
            out.extend(base64.b64decode(e["data"]) for e in doc["envelopes"])
            cursor = doc["cursor"]
            if not doc["more"]:
                return out


def fsync_ms(folder: Path, commits: int = 50) -> float:
    """Median time of a small SQLite commit (synchronous=FULL) in ``folder``: the disk's share."""
    import sqlite3

    path = folder / f"bench-fsync-{os.getpid()}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (x BLOB)")
        times = []
        for _ in range(commits):
            t0 = time.perf_counter()
            conn.execute("INSERT INTO t VALUES (?)", (os.urandom(1024),))
            times.append(time.perf_counter() - t0)
        return percentile(times, 50) * 1000
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process (the relay), from /proc; 0 when unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(url: str, args: argparse.Namespace, server_pid: int | None) -> bool:
    boxes = [(secrets.token_urlsafe(16), secrets.token_urlsafe(32)) for _ in range(max(1, args.clients // 5))]
    append_lat: list[float] = []
    fetch_lat: list[float] = []
    acked: dict[bytes, str] = {}
    seen: list[list[bytes]] = [[] for _ in range(args.clients)]
    deadline = time.monotonic() + args.seconds
    server_cpu0, client_cpu0 = cpu_seconds(server_pid), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(
        *(
            client(url, boxes[n % len(boxes)], n, args, deadline, append_lat, fetch_lat, acked, seen[n])
            for n in range(args.clients)
        )
    )
    elapsed = time.perf_counter() - started
    server_cpu, client_cpu = cpu_seconds(server_pid) - server_cpu0, time.process_time() - client_cpu0
    requests = len(append_lat) + len(fetch_lat) + args.clients

    stored_by_box = [await fetch_everything(url, box) for box in boxes]
    stored = [blob for blobs in stored_by_box for blob in blobs]
    unique = set(stored)
    lost = [blob for blob in acked if blob not in unique]
    per_client_ok = all(
        len(seen[n]) == len(set(seen[n])) and set(seen[n]) <= set(stored_by_box[n % len(boxes)])
        for n in range(args.clients)
    )
    counts_ok = len(stored) == len(unique) == len(acked) and not lost and per_client_ok

    rate = len(append_lat) / elapsed
    p50, p99 = percentile(append_lat, 50) * 1000, percentile(append_lat, 99) * 1000
    print(
        f"relay load: {args.clients} clients, {len(boxes)} mailboxes, {args.size} B envelopes, "
        f"backend {'postgres' if args.postgres else 'sqlite'}, {os.cpu_count()} cores (server + clients)"
    )
    print(
        f"  appends          {len(append_lat):>7}  in {elapsed:.2f} s  = {rate:,.0f} appends/s "
        f"(target ≥ {TARGET_RATE:,.0f}: ratio {rate / TARGET_RATE:.2f})"
    )
    print(
        f"  append latency   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms  (target p99 ≤ {TARGET_P99_MS:.0f} ms: "
        f"ratio {p99 / TARGET_P99_MS:.2f})"
    )
    print(
        f"  fetch latency    p50 {percentile(fetch_lat, 50) * 1000:6.1f} ms   "
        f"p99 {percentile(fetch_lat, 99) * 1000:6.1f} ms  ({len(fetch_lat)} fetches)"
    )
    print(
        f"  count check      acknowledged {len(acked)}, stored {len(stored)}, distinct {len(unique)}, "
        f"lost {len(lost)}, duplicated {len(stored) - len(unique)}, clients saw each once: {per_client_ok}"
        f"  -> {'OK' if counts_ok else 'FAILED'}"
    )
    if server_pid is not None:
        per_request = server_cpu / max(1, requests) * 1e6
        print(
            f"  relay CPU        {server_cpu:.2f} s for {requests} requests = {per_request:.0f} us/request "
            f"(one free core would serve ~{1e6 / per_request:,.0f} requests/s); load generator "
            f"{client_cpu / max(1, requests) * 1e6:.0f} us/request; machine load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
    return counts_ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--appends", type=int, default=200, help="appends per client (bounded)")
    p.add_argument("--size", type=int, default=1024, help="envelope bytes")
    p.add_argument("--fetch-every", type=int, default=10, help="a client fetches after this many appends")
    p.add_argument("--seconds", type=float, default=60.0, help="deadline for the load")
    p.add_argument("--postgres", default=None, metavar="DSN", help="use PostgreSQL instead of SQLite")
    p.add_argument(
        "--httpx", action="store_true", help="load with httpx.AsyncClient instead of the raw client"
    )
    p.add_argument(
        "--db-dir",
        default=None,
        help="folder for the SQLite file (default: a temporary one); /dev/shm leaves out disk latency",
    )
    p.add_argument("--url", default=None, help="an already running relay on loopback (skip starting one)")
    args = p.parse_args()
    if args.url and not re.match(r"http://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$", args.url):
        raise SystemExit("the benchmark only targets loopback addresses")
    with tempfile.TemporaryDirectory(prefix="companion-bench-relay-") as tmp:
        proc = None
        url = args.url
        if url is None:
            proc, url = start_relay(args, Path(tmp))
        try:
            ok = asyncio.run(run(url, args, proc.pid if proc is not None else None))
            if proc is not None and not args.postgres:
                print(
                    f"  storage fsync    {fsync_ms(Path(args.db_dir or tmp)):.2f} ms per SQLite commit "
                    "(synchronous=FULL, measured right after the load in the same folder)"
                )
        finally:
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if args.db_dir:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{args.db_dir}/bench-relay-{os.getpid()}.db{suffix}").unlink(missing_ok=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
