"""The relay's HTTP API against a real server process: happy paths, every refusal, retention, bind refusal."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from companion.relay.storage import SQLiteStorage, capability_hash

from .conftest import ROOT, Backend, RelayProcess, new_box, unique_marker


def b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode()


class Api:
    """Raw HTTP calls, so each test sees exactly the status codes a client gets."""

    def __init__(self, relay: RelayProcess) -> None:
        self.url = relay.url
        self.http = httpx.Client(timeout=10)

    def envelopes(self, mailbox: str) -> str:
        return f"{self.url}/v1/mailboxes/{mailbox}/envelopes"

    def append(self, mailbox: str, cap: str | None, blobs: list[bytes]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {cap}"} if cap else {}
        return self.http.post(
            self.envelopes(mailbox), json={"envelopes": [b64(b) for b in blobs]}, headers=headers
        )

    def fetch(self, mailbox: str, cap: str | None, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {cap}"} if cap else {}
        return self.http.get(self.envelopes(mailbox), params=params, headers=headers)

    def all_blobs(self, mailbox: str, cap: str) -> list[bytes]:
        r = self.fetch(mailbox, cap, limit="1000")
        assert r.status_code == 200, r.text
        return [base64.b64decode(e["data"]) for e in r.json()["envelopes"]]


def test_health(relay: RelayProcess) -> None:
    r = httpx.get(f"{relay.url}/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["limits"]["max_batch"] >= 1


def test_append_fetch_order_cursors_and_dedup(relay: RelayProcess) -> None:
    api = Api(relay)
    mailbox, cap = new_box()
    r = api.append(mailbox, cap, [b"one", b"two", b"one"])
    assert r.status_code == 200
    assert r.json() == {"cursors": ["1", "2", "1"], "stored": [True, True, False]}
    r = api.append(mailbox, cap, [b"two", b"three"])  # the same blob again: its existing cursor, stored once
    assert r.json() == {"cursors": ["2", "3"], "stored": [False, True]}

    r = api.fetch(mailbox, cap)
    doc = r.json()
    assert [base64.b64decode(e["data"]) for e in doc["envelopes"]] == [b"one", b"two", b"three"]
    assert [e["cursor"] for e in doc["envelopes"]] == ["1", "2", "3"]
    assert doc["cursor"] == "3" and doc["more"] is False

    page = api.fetch(mailbox, cap, after="1", limit="1").json()
    assert [base64.b64decode(e["data"]) for e in page["envelopes"]] == [b"two"]
    assert page["cursor"] == "2" and page["more"] is True
    assert api.fetch(mailbox, cap, after="3").json() == {"envelopes": [], "cursor": "3", "more": False}


def test_mailboxes_are_separate(relay: RelayProcess) -> None:
    api = Api(relay)
    (m1, c1), (m2, c2) = new_box(), new_box()
    api.append(m1, c1, [b"for one"])
    api.append(m2, c2, [b"for two", b"for one"])  # same bytes in another mailbox: stored there too
    assert api.all_blobs(m1, c1) == [b"for one"]
    assert api.all_blobs(m2, c2) == [b"for two", b"for one"]


@pytest.fixture
def limited(start_relay) -> RelayProcess:  # type: ignore[no-untyped-def]
    return start_relay("--max-body", "65536", "--max-envelope", "32768", "--max-batch", "4")


def _refusal_cases(mailbox: str, cap: str, other_mailbox: str, other_cap: str) -> list[tuple]:
    """(name, method, path suffix, headers, body or params, expected status, expected error code)."""
    auth = {"Authorization": f"Bearer {cap}"}
    envs = f"/v1/mailboxes/{mailbox}/envelopes"
    ok_body = json.dumps({"envelopes": [b64(b"x")]}).encode()
    return [
        ("no capability", "POST", envs, {}, ok_body, 401, "missing_capability"),
        ("not bearer", "POST", envs, {"Authorization": f"Basic {cap}"}, ok_body, 401, "missing_capability"),
        (
            "malformed capability",
            "POST",
            envs,
            {"Authorization": "Bearer short"},
            ok_body,
            401,
            "missing_capability",
        ),
        (
            "wrong capability",
            "POST",
            envs,
            {"Authorization": f"Bearer {new_box()[1]}"},
            ok_body,
            403,
            "wrong_capability",
        ),
        (
            "another mailbox's capability",
            "POST",
            envs,
            {"Authorization": f"Bearer {other_cap}"},
            ok_body,
            403,
            "wrong_capability",
        ),
        (
            "wrong capability, fetch",
            "GET",
            envs,
            {"Authorization": f"Bearer {other_cap}"},
            {},
            403,
            "wrong_capability",
        ),
        ("no capability, fetch", "GET", envs, {}, {}, 401, "missing_capability"),
        (
            "oversized body",
            "POST",
            envs,
            auth,
            b'{"envelopes": ["' + b"A" * 100000 + b'"]}',
            413,
            "body_too_large",
        ),
        (
            "oversized envelope",
            "POST",
            envs,
            auth,
            json.dumps({"envelopes": [b64(b"y" * 40000)]}).encode(),
            413,
            "envelope_too_large",
        ),
        (
            "batch too large",
            "POST",
            envs,
            auth,
            json.dumps({"envelopes": [b64(bytes([i])) for i in range(5)]}).encode(),
            413,
            "batch_too_large",
        ),
        ("malformed JSON", "POST", envs, auth, b'{"envelopes": [', 400, "malformed_json"),
        ("JSON of the wrong shape", "POST", envs, auth, b'{"envelope": "eA=="}', 400, "malformed_request"),
        ("empty batch", "POST", envs, auth, b'{"envelopes": []}', 400, "malformed_request"),
        ("bad base64", "POST", envs, auth, b'{"envelopes": ["not base64!"]}', 400, "malformed_base64"),
        ("empty envelope", "POST", envs, auth, b'{"envelopes": [""]}', 400, "empty_envelope"),
        ("bad mailbox id", "POST", "/v1/mailboxes/bad!id/envelopes", auth, ok_body, 400, "bad_mailbox"),
        ("cursor not a number", "GET", envs, auth, {"after": "abc"}, 400, "bad_after"),
        ("negative cursor", "GET", envs, auth, {"after": "-1"}, 400, "bad_after"),
        ("cursor beyond the mailbox", "GET", envs, auth, {"after": "999"}, 400, "bad_cursor"),
        ("limit zero", "GET", envs, auth, {"limit": "0"}, 400, "bad_limit"),
        ("unknown mailbox", "GET", f"/v1/mailboxes/{'u' * 22}/envelopes", auth, {}, 404, "unknown_mailbox"),
        (
            "unknown mailbox, events",
            "GET",
            f"/v1/mailboxes/{'u' * 22}/events",
            auth,
            {},
            404,
            "unknown_mailbox",
        ),
        (
            "wrong capability, events",
            "GET",
            f"/v1/mailboxes/{mailbox}/events",
            {"Authorization": f"Bearer {other_cap}"},
            {},
            403,
            "wrong_capability",
        ),
        (
            "other mailbox untouched",
            "GET",
            f"/v1/mailboxes/{other_mailbox}/envelopes",
            {"Authorization": f"Bearer {other_cap}"},
            {},
            200,
            None,
        ),
    ]


def test_every_refusal_has_its_status_and_changes_nothing(limited: RelayProcess) -> None:
    api = Api(limited)
    backend = limited.backend
    mailbox, cap = new_box()
    other_mailbox, other_cap = new_box()
    assert api.append(mailbox, cap, [b"first", b"second"]).status_code == 200
    assert api.append(other_mailbox, other_cap, [b"other"]).status_code == 200
    before = (api.all_blobs(mailbox, cap), api.all_blobs(other_mailbox, other_cap), backend.dump())

    for name, method, path, headers, payload, status, code in _refusal_cases(
        mailbox, cap, other_mailbox, other_cap
    ):
        if method == "POST":
            r = api.http.post(limited.url + path, content=payload, headers=headers)
        else:
            r = api.http.get(limited.url + path, params=payload, headers=headers)
        assert r.status_code == status, (name, r.status_code, r.text)
        if code:
            assert r.json()["error"] == code, name
            assert r.json()["message"], name
        if status == 401:
            assert r.headers["www-authenticate"] == "Bearer", name
    after = (api.all_blobs(mailbox, cap), api.all_blobs(other_mailbox, other_cap), backend.dump())
    assert after[:2] == before[:2] == ([b"first", b"second"], [b"other"])
    if backend.db is not None:  # the database file is byte-for-byte unchanged (no write transaction at all)
        assert after[2] == before[2]


def test_body_limit_is_enforced_while_streaming(limited: RelayProcess) -> None:
    """A chunked body with no Content-Length is cut off at the limit, not read to the end."""
    mailbox, cap = new_box()
    sent = 0

    def body():  # type: ignore[no-untyped-def]
        nonlocal sent
        yield b'{"envelopes": ["'
        for _ in range(64):  # would be 4 MiB; the relay stops reading after 64 KiB
            sent += 65536
            yield b"A" * 65536
        yield b'"]}'

    try:
        r = httpx.post(
            f"{limited.url}/v1/mailboxes/{mailbox}/envelopes",
            content=body(),
            headers={"Authorization": f"Bearer {cap}"},
            timeout=10,
        )
    except httpx.HTTPError:
        pass  # the relay may close the connection before the client finishes writing: also a refusal
    else:
        assert r.status_code == 413
    r = httpx.get(
        f"{limited.url}/v1/mailboxes/{mailbox}/envelopes", headers={"Authorization": f"Bearer {cap}"}
    )
    assert r.status_code == 404  # nothing stored: the mailbox was never created


def test_rate_limit_429_and_nothing_stored(start_relay) -> None:  # type: ignore[no-untyped-def]
    relay = start_relay("--rate", "2", "--burst", "5")
    api = Api(relay)
    mailbox, cap = new_box()
    statuses: list[int] = []
    while 429 not in statuses and len(statuses) < 100:  # bounded even on a very slow machine
        statuses.append(api.append(mailbox, cap, [f"blob {len(statuses)}".encode()]).status_code)
    assert statuses[:5] == [200] * 5 and statuses[-1] == 429  # the burst, then refusals
    probe = b"refused"
    refused = api.append(mailbox, cap, [probe])
    if refused.status_code != 429:  # a token came back in between (slow machine): it was spent, try once more
        statuses.append(refused.status_code)
        probe = b"refused again"
        refused = api.append(mailbox, cap, [probe])
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"] == "rate_limited"
    assert 0 < refused.json()["retry_after"] <= 0.5
    time.sleep(refused.json()["retry_after"] + 0.05)  # one token back (the body says exactly when)
    stored = api.all_blobs(mailbox, cap)
    assert probe not in stored
    assert len(stored) == statuses.count(200)  # every 429 stored nothing


def test_relay_keeps_only_a_hash_of_the_capability(relay: RelayProcess, backend: Backend) -> None:
    api = Api(relay)
    mailbox, cap = new_box()
    api.append(mailbox, cap, [b"x" * 100])
    dump = backend.dump()
    assert cap.encode() not in dump
    assert capability_hash(cap) in dump


def test_healthz_and_events_reject_other_methods(relay: RelayProcess) -> None:
    assert httpx.post(f"{relay.url}/healthz").status_code == 405
    assert httpx.delete(f"{relay.url}/v1/mailboxes/{'m' * 22}/envelopes").status_code == 405


def test_retention_purges_old_envelopes_and_keeps_cursors(fresh_backend: Backend) -> None:
    from companion.relay.storage import open_storage

    storage = open_storage(db=fresh_backend.db, postgres=fresh_backend.dsn)
    try:
        mailbox, cap = new_box()
        h = capability_hash(cap)
        t0 = 1_000_000.0
        assert [c for c, _ in storage.append(mailbox, h, [b"old-1", b"old-2"], now=t0)] == [1, 2]
        storage.append(mailbox, h, [b"new"], now=t0 + 10 * 86400)
        storage.purge(now=t0 + 10 * 86400 + 1, max_age_seconds=5 * 86400)
        got = storage.fetch(mailbox, h, after=0, limit=100, max_bytes=1 << 20)
        assert [(c, b) for c, b in got.envelopes] == [(3, b"new")]
        # a reader whose cursor points into the purged range continues without error
        assert storage.fetch(mailbox, h, after=1, limit=100, max_bytes=1 << 20).envelopes == [(3, b"new")]
        # the counter survives the purge: a purged blob appended again gets a new, higher cursor
        assert storage.append(mailbox, h, [b"old-1"], now=t0 + 11 * 86400) == [(4, True)]
    finally:
        storage.close()


def test_retention_runs_periodically_in_the_server(start_relay) -> None:  # type: ignore[no-untyped-def]
    relay = start_relay("--retention-days", str(0.5 / 86400), "--purge-interval", "0.1")  # half a second
    api = Api(relay)
    mailbox, cap = new_box()
    api.append(mailbox, cap, [b"short-lived"])
    deadline = time.monotonic() + 10
    while api.all_blobs(mailbox, cap) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api.all_blobs(mailbox, cap) == []
    assert api.append(mailbox, cap, [b"later"]).json()["cursors"] == ["2"]


def _run_relay(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "companion.relay", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "relay.example.org"])
def test_refuses_non_loopback_without_public(host: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = _run_relay("--host", host, "--port", "0", "--db", str(tmp_path / "r.db"))
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr and "--public" in result.stderr
    assert not (tmp_path / "r.db").exists()  # refused before touching storage


def test_unwritable_db_is_one_clear_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = _run_relay("--port", "0", "--db", str(tmp_path / "missing" / "dir" / "r.db"))
    assert result.returncode == 1
    assert result.stderr.startswith("companion-relay: cannot open storage")


def test_sqlite_is_durable_by_configuration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = SQLiteStorage(tmp_path / "r.db")
    try:
        assert storage._writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert storage._writer.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        storage.close()


def test_marker_helper_is_unique() -> None:
    assert unique_marker() != unique_marker()


def test_unreachable_postgres_fails_fast_and_clearly() -> None:
    started = time.monotonic()
    result = _run_relay("--port", "0", "--postgres", "postgresql://relay@127.0.0.1:1/relay")
    assert result.returncode == 1
    assert result.stderr.startswith("companion-relay: cannot open storage")
    assert time.monotonic() - started < 15


@pytest.mark.parametrize(
    "args", [["--retention-days", "0"], ["--rate", "-1"], ["--max-body", "0"], ["--purge-interval", "-5"]]
)
def test_nonsense_settings_are_refused(args: list[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = _run_relay("--port", "0", "--db", str(tmp_path / "r.db"), *args)
    assert result.returncode == 2
    assert result.stderr.startswith("companion-relay: --")


@pytest.mark.parametrize("blocked", [False, True], ids=["on-the-loop", "behind-a-slow-commit"])
def test_sqlite_group_commit_isolates_a_refusal_and_a_failure(tmp_path, blocked: bool) -> None:  # type: ignore[no-untyped-def]
    """Appends that wait together are committed together; a refused one and one that fails half-way through
    do not take the others down, and nothing of either is stored. Either the group runs on the event loop
    (the failure rolls it back and the others run again in the writer thread), or it queued up behind a slow
    operation in the writer thread."""
    from companion.relay.storage import WrongCapability

    storage = SQLiteStorage(tmp_path / "group.db")
    mailbox, cap = new_box()
    h, other = capability_hash(cap), capability_hash(new_box()[1])

    def broken(cur) -> None:  # type: ignore[no-untyped-def]
        cur.execute("INSERT INTO relay_envelopes VALUES (?, 999, ?, ?, 0)", (mailbox, b"d" * 32, b"half"))
        raise RuntimeError("disk on fire")

    def append(blob: bytes, cap_hash: bytes = h):  # type: ignore[no-untyped-def]
        return storage.append_async(mailbox, cap_hash, [blob], 2.0)

    async def scenario() -> list[object]:
        await storage.append_async(mailbox, h, [b"first"], 1.0)
        # in the writer thread: the rest queue up behind it, run on the loop meanwhile and form groups
        blocker = storage._write_async(lambda cur: time.sleep(0.3 if blocked else 0), (), in_thread=blocked)
        return await asyncio.gather(
            blocker,
            *(append(f"g{i}".encode()) for i in range(10)),
            append(b"intruder", other),
            storage._write_async(broken, ()),
            *(append(f"h{i}".encode()) for i in range(10)),
            return_exceptions=True,
        )

    try:
        outcomes = asyncio.run(scenario())
        good = outcomes[1:11] + outcomes[13:]
        assert good == [[(n, True)] for n in range(2, 22)]
        assert isinstance(outcomes[11], WrongCapability)
        assert isinstance(outcomes[12], RuntimeError)
        got = storage.fetch(mailbox, h, after=0, limit=100, max_bytes=1 << 20).envelopes
        assert [b for _, b in got] == [b"first"] + [f"g{i}".encode() for i in range(10)] + [
            f"h{i}".encode() for i in range(10)
        ]
        assert [c for c, _ in got] == list(range(1, 22))
    finally:
        storage.close()


def test_creation_token_guards_new_mailboxes_only(start_relay) -> None:  # type: ignore[no-untyped-def]
    """An organisation's relay can refuse strangers' new mailboxes: creating one needs its token, while the
    members of an existing mailbox need only their capability."""
    relay = start_relay("--create-token", "org-secret-token")
    api = Api(relay)
    mailbox, cap = new_box()
    url = api.envelopes(mailbox)
    body = {"envelopes": [b64(b"genesis")]}
    auth = {"Authorization": f"Bearer {cap}"}
    for headers in (auth, {**auth, "Relay-Token": "wrong"}):
        r = api.http.post(url, json=body, headers=headers)
        assert r.status_code == 403 and r.json()["error"] == "creation_refused"
        assert api.fetch(mailbox, cap).status_code == 404  # nothing created
    assert (
        api.http.post(url, json=body, headers={**auth, "Relay-Token": "org-secret-token"}).status_code == 200
    )
    assert api.append(mailbox, cap, [b"from a member"]).status_code == 200  # no token needed any more
    assert api.all_blobs(mailbox, cap) == [b"genesis", b"from a member"]
    stranger, stranger_cap = new_box()
    assert api.append(stranger, stranger_cap, [b"free storage?"]).status_code == 403
