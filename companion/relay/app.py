"""The relay's HTTP API as a Starlette app. The wire format is documented in ``docs/relay-api.md``.

Every mailbox request is checked in this order, and the first failing check decides the answer; nothing is
stored unless every check passed:

1. rate limit per client address (429, with ``Retry-After``)
2. mailbox id well-formed (400)
3. ``Authorization: Bearer <capability>`` present and well-formed (401)
4. body within ``max_body_bytes`` — enforced while the body streams in, and up front from Content-Length (413)
5. JSON and base64 well-formed (400); batch within ``max_batch`` and each envelope within
   ``max_envelope_bytes`` (413); query parameters well-formed (400)
6. storage: unknown mailbox (404), another capability (403), cursor beyond the mailbox (400)
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import hmac
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .storage import (
    CreationRefused,
    CursorAhead,
    Storage,
    UnknownMailbox,
    WrongCapability,
    capability_hash,
)

log = logging.getLogger("companion.relay")

API_VERSION = 1
MAILBOX_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
CAPABILITY_RE = re.compile(r"[A-Za-z0-9_-]{32,256}")
CURSOR_RE = re.compile(r"[0-9]{1,18}")
LIMIT_RE = re.compile(r"[0-9]{1,9}")
MiB = 1024 * 1024


@dataclass
class RelayConfig:
    """Limits and timings. Every field has a command-line option in ``server.py``."""

    max_body_bytes: int = 8 * MiB  # one request body (JSON, base64 inside)
    max_envelope_bytes: int = 2 * MiB  # one decoded envelope
    max_batch: int = 256  # envelopes in one append
    max_fetch: int = 1000  # envelopes in one fetch (a larger ``limit`` is clamped)
    max_fetch_bytes: int = 8 * MiB  # decoded bytes in one fetch (at least one envelope is always returned)
    rate: float = 50.0  # requests per second per client address; 0 turns rate limiting off
    burst: int = 200  # bucket size
    retention_days: float = 30.0  # envelopes older than this are purged
    purge_interval: float = 3600.0  # seconds between purges
    poll_interval: float | None = None  # push channel: also re-check storage this often (several processes)
    keepalive: float = 15.0  # push channel: a comment line this often
    max_streams: int = 1000  # open push-channel connections, all clients together
    create_token: str | None = None  # when set, only an append with ``Relay-Token: <it>`` creates a mailbox

    def public_limits(self) -> dict[str, Any]:
        keys = ("max_body_bytes", "max_envelope_bytes", "max_batch", "max_fetch", "max_fetch_bytes")
        return {k: v for k, v in asdict(self).items() if k in keys}


class _Refused(Exception):  # noqa: N818
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers, self.extra = headers or {}, extra or {}


class TokenBuckets:
    """A token bucket per key (client address). Runs on the event loop only, so it needs no lock."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, float(burst), clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """0.0 when allowed, else the seconds until a token is available."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 10_000:
                self._forget_full(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        for key, (tokens, last) in list(self._buckets.items()):
            if tokens + (now - last) * self.rate >= self.burst:
                del self._buckets[key]


class Notifier:
    """Wakes push-channel streams of this process when an append to their mailbox commits."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def event(self, mailbox: str) -> asyncio.Event:
        """Take the event *before* reading the head, so an append in between is not missed."""
        ev = self._events.get(mailbox)
        if ev is None:
            ev = self._events[mailbox] = asyncio.Event()
        return ev

    def notify(self, mailbox: str) -> None:
        ev = self._events.pop(mailbox, None)
        if ev is not None:
            ev.set()

    def notify_all(self) -> None:
        for mailbox in list(self._events):
            self.notify(mailbox)


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status, headers=headers)


def _client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _capability(request: Request) -> bytes:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not CAPABILITY_RE.fullmatch(token):
        raise _Refused(
            401,
            "missing_capability",
            "This mailbox needs 'Authorization: Bearer <capability>'.",
            {"WWW-Authenticate": "Bearer"},
        )
    return capability_hash(token)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise _Refused(400, "bad_request", "Content-Length is not a number.")
        if int(declared) > limit:
            raise _too_big(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_big(limit)  # stop reading here; the server closes the connection after answering
        chunks.append(chunk)
    return b"".join(chunks)


def _too_big(limit: int) -> _Refused:
    return _Refused(413, "body_too_large", f"The request body is larger than {limit} bytes.")


def _parse_envelopes(body: bytes, config: RelayConfig) -> list[bytes]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _Refused(400, "malformed_json", "The body is not valid JSON.") from None
    items = doc.get("envelopes") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items or not all(isinstance(x, str) for x in items):
        raise _Refused(
            400, "malformed_request", 'Expected {"envelopes": [base64 string, ...]} with at least one.'
        )
    if len(items) > config.max_batch:
        raise _Refused(413, "batch_too_large", f"At most {config.max_batch} envelopes per request.")
    blobs = []
    for item in items:
        if len(item) > (config.max_envelope_bytes + 2) // 3 * 4 + 4:
            raise _Refused(
                413, "envelope_too_large", f"An envelope is larger than {config.max_envelope_bytes} bytes."
            )
        try:
            blob = binascii.a2b_base64(item, strict_mode=True)  # as b64decode(validate=True), without a regex
        except (binascii.Error, ValueError):
            raise _Refused(400, "malformed_base64", "An envelope is not valid base64.") from None
        if not blob:
            raise _Refused(400, "empty_envelope", "An envelope is empty.")
        if len(blob) > config.max_envelope_bytes:
            raise _Refused(
                413, "envelope_too_large", f"An envelope is larger than {config.max_envelope_bytes} bytes."
            )
        blobs.append(blob)
    return blobs


def _fetched_json(envelopes: list[tuple[int, bytes]], cursor: int, more: bool) -> bytes:
    """The fetch answer, written directly: base64 and decimal digits need no JSON escaping, and a general
    encoder scanning megabytes of base64 was most of a fetch's cost."""
    items = b",".join(
        b'{"cursor":"%d","data":"%s"}' % (c, binascii.b2a_base64(b, newline=False)) for c, b in envelopes
    )
    return b'{"envelopes":[%s],"cursor":"%d","more":%s}' % (items, cursor, b"true" if more else b"false")


def _appended_json(results: list[tuple[int, bool]]) -> bytes:
    """The append answer, written directly like the fetch answer (one of these per append)."""
    cursors = b",".join(b'"%d"' % c for c, _ in results)
    stored = b",".join(b"true" if new else b"false" for _, new in results)
    return b'{"cursors":[%s],"stored":[%s]}' % (cursors, stored)


def _int_param(request: Request, name: str, pattern: re.Pattern[str], default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not pattern.fullmatch(raw):
        raise _Refused(400, f"bad_{name}", f"'{name}' must be a non-negative whole number.")
    return int(raw)


def create_app(
    storage: Storage, config: RelayConfig | None = None, *, close_storage: bool = True
) -> Starlette:
    """The ASGI app. ``storage`` is closed at shutdown when ``close_storage``."""
    cfg = config or RelayConfig()
    buckets = TokenBuckets(cfg.rate, cfg.burst)
    notifier = Notifier()
    streams = {"open": 0}
    closing = asyncio.Event()
    loop: list[asyncio.AbstractEventLoop] = []

    def begin_shutdown() -> None:
        """Called from any thread (the server's signal handler): end every push-channel stream now, so a
        graceful shutdown does not wait for them."""
        if loop:
            loop[0].call_soon_threadsafe(_close_streams)

    def _close_streams() -> None:
        closing.set()
        notifier.notify_all()

    def guarded(handler: Callable[[Request, str, bytes], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                wait = buckets.take(_client_key(request)) if cfg.rate > 0 else 0.0
                if wait:
                    raise _Refused(
                        429,
                        "rate_limited",
                        "Too many requests; slow down.",
                        {"Retry-After": str(max(1, math.ceil(wait)))},
                        {"retry_after": round(wait, 3)},  # the header has whole seconds only
                    )
                mailbox = request.path_params["mailbox"]
                if not MAILBOX_RE.fullmatch(mailbox):
                    raise _Refused(400, "bad_mailbox", "The mailbox id is malformed.")
                cap_hash = _capability(request)
                return await handler(request, mailbox, cap_hash)
            except _Refused as refused:
                return _error(refused.status, refused.code, refused.message, refused.headers, **refused.extra)
            except UnknownMailbox:
                return _error(404, "unknown_mailbox", "No such mailbox.")
            except WrongCapability:
                return _error(403, "wrong_capability", "This capability does not open this mailbox.")
            except CreationRefused:
                return _error(
                    403,
                    "creation_refused",
                    "This relay creates new mailboxes only with its creation token (header Relay-Token).",
                )
            except CursorAhead:
                return _error(400, "bad_cursor", "The cursor is beyond this mailbox's latest envelope.")

        return endpoint

    async def append(request: Request, mailbox: str, cap_hash: bytes) -> Response:
        body = await _read_body(request, cfg.max_body_bytes)
        blobs = _parse_envelopes(body, cfg)
        may_create = cfg.create_token is None or hmac.compare_digest(
            request.headers.get("relay-token", "").encode(), cfg.create_token.encode()
        )
        results = await storage.append_async(mailbox, cap_hash, blobs, time.time(), may_create)
        if any(new for _, new in results):
            notifier.notify(mailbox)
        return Response(_appended_json(results), media_type="application/json")

    async def fetch(request: Request, mailbox: str, cap_hash: bytes) -> Response:
        after = _int_param(request, "after", CURSOR_RE, 0)
        limit = _int_param(request, "limit", LIMIT_RE, 100)
        if limit < 1:
            raise _Refused(400, "bad_limit", "'limit' must be at least 1.")
        got = await storage.fetch_async(mailbox, cap_hash, after, min(limit, cfg.max_fetch), cfg.max_fetch_bytes)
        return Response(_fetched_json(got.envelopes, got.cursor, got.more), media_type="application/json")

    async def events(request: Request, mailbox: str, cap_hash: bytes) -> Response:
        await storage.head_async(mailbox, cap_hash)  # 404 / 403 before the stream starts
        if streams["open"] >= cfg.max_streams:
            raise _Refused(
                503,
                "too_many_streams",
                "The relay has too many open push channels; poll instead.",
                {"Retry-After": "30"},
            )

        async def stream() -> AsyncIterator[str]:
            streams["open"] += 1
            try:
                last_head: int | None = None
                last_sent = time.monotonic()
                yield "retry: 2000\n\n"
                while True:
                    ev = notifier.event(mailbox)
                    try:
                        head = await storage.head_async(mailbox, cap_hash)
                    except (UnknownMailbox, WrongCapability):
                        return
                    if head != last_head:
                        last_head = head
                        last_sent = time.monotonic()
                        yield f"event: head\ndata: {json.dumps({'cursor': str(head)})}\n\n"
                    timeout = (
                        cfg.keepalive if cfg.poll_interval is None else min(cfg.keepalive, cfg.poll_interval)
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(ev.wait(), timeout)
                    if closing.is_set():
                        return  # the server is shutting down: end the stream, the client reconnects
                    if time.monotonic() - last_sent >= cfg.keepalive:
                        last_sent = time.monotonic()
                        yield ": keepalive\n\n"
            finally:
                streams["open"] -= 1

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def healthz(request: Request) -> Response:
        try:
            await storage.ping_async()
        except Exception:
            log.exception("storage check failed")
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok", "api": API_VERSION, "limits": cfg.public_limits()})

    async def purge_loop() -> None:
        while True:
            try:
                removed = await storage.purge_async(time.time(), cfg.retention_days * 86400.0)
                if removed:
                    log.info("purged %d envelopes older than %s days", removed, cfg.retention_days)
            except Exception:
                log.exception("purge failed; will retry")
            await asyncio.sleep(cfg.purge_interval)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop.append(asyncio.get_running_loop())
        task = asyncio.create_task(purge_loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if close_storage:
                await storage.aclose()  # answers every append it accepted first

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/v1/mailboxes/{mailbox}/envelopes", guarded(append), methods=["POST"]),
        Route("/v1/mailboxes/{mailbox}/envelopes", guarded(fetch), methods=["GET"]),
        Route("/v1/mailboxes/{mailbox}/events", guarded(events), methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.begin_shutdown = begin_shutdown
    return app
