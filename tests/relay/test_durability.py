"""A relay killed with SIGKILL in the middle of a load restarts with every acknowledged envelope intact.

``COMPANION_TRIALS=N`` repeats the kill N times (default 1 in CI).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from pathlib import Path

import httpx

from .conftest import Backend, RelayProcess, new_box

WRITERS = 8


def _writer(
    url: str,
    boxes: list[tuple[str, str]],
    n: int,
    acked: dict[bytes, tuple[str, str]],
    sent: set[bytes],
    lock: threading.Lock,
    stop: threading.Event,
) -> None:
    with httpx.Client(timeout=5) as http:
        k = 0
        while not stop.is_set():
            mailbox, cap = boxes[(n + k) % len(boxes)]
            batch = [
                f"writer {n} item {k}.{j} ".encode() + os.urandom(200 + 37 * j) for j in range(1 + k % 3)
            ]
            k += 1
            with lock:
                sent.update(batch)
            try:
                r = http.post(
                    f"{url}/v1/mailboxes/{mailbox}/envelopes",
                    json={"envelopes": [base64.b64encode(b).decode() for b in batch]},
                    headers={"Authorization": f"Bearer {cap}"},
                )
            except httpx.HTTPError:
                return  # the relay died under us: this batch is unacknowledged
            assert r.status_code == 200, r.text
            with lock:
                for blob, cursor in zip(batch, r.json()["cursors"], strict=True):
                    acked[blob] = (mailbox, cursor)


def _fetch_all(url: str, mailbox: str, cap: str) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    cursor = "0"
    with httpx.Client(timeout=10) as http:
        while True:
            r = http.get(
                f"{url}/v1/mailboxes/{mailbox}/envelopes",
                params={"after": cursor, "limit": "500"},
                headers={"Authorization": f"Bearer {cap}"},
            )
            if r.status_code == 404:
                return out
            doc = r.json()
            out.extend((e["cursor"], base64.b64decode(e["data"])) for e in doc["envelopes"])
            cursor = doc["cursor"]
            if not doc["more"]:
                return out


def test_sigkill_mid_load_loses_no_acknowledged_envelope(fresh_backend: Backend, tmp_path: Path) -> None:
    backend = fresh_backend
    trials = int(os.environ.get("COMPANION_TRIALS", "1"))
    boxes = [new_box() for _ in range(3)]
    acked: dict[bytes, tuple[str, str]] = {}
    sent: set[bytes] = set()
    lock = threading.Lock()
    for trial in range(trials):
        relay = RelayProcess(backend, tmp_path / f"kill-{trial}.log", ["--rate", "0"]).start()
        stop = threading.Event()
        threads = [
            threading.Thread(target=_writer, args=(relay.url, boxes, n, acked, sent, lock, stop))
            for n in range(WRITERS)
        ]
        before = len(acked)
        for th in threads:
            th.start()
        deadline = time.monotonic() + 10
        while len(acked) - before < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        relay.kill()  # SIGKILL while writers are mid-request
        stop.set()
        for th in threads:
            th.join(15)
        assert len(acked) - before >= 100, "the load did not get going"

    relay = RelayProcess(backend, tmp_path / "after.log").start()
    try:
        stored: dict[bytes, tuple[str, str]] = {}
        for mailbox, cap in boxes:
            envelopes = _fetch_all(relay.url, mailbox, cap)
            cursors = [int(c) for c, _ in envelopes]
            assert cursors == list(range(1, len(cursors) + 1))  # no gaps, no repeats: no half-done append
            for cursor, blob in envelopes:
                assert blob in sent  # intact bytes, exactly as sent
                assert blob not in stored  # never stored twice
                stored[blob] = (mailbox, cursor)
        missing = [b for b, where in acked.items() if stored.get(b) != where]
        assert not missing, f"{len(missing)} acknowledged envelopes lost or moved"
        assert len(stored) >= len(acked)  # the difference: committed, but the reply died with the process
    finally:
        relay.stop()
