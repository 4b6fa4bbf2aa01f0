"""The relay transport: a circle's mailbox on a ``companion-relay`` server, over HTTPS with httpx.

What a member needs to reach the mailbox is a :class:`RelayMailbox`: the relay's URL, the mailbox id and
the mailbox's capability (a bearer secret). The circles layer creates one with :func:`new_mailbox`, carries it
in the invite code (``to_dict`` / ``from_dict``) and keeps it in the vault. Anyone holding the capability can
read and append ciphertext; nobody without it can do either, and the relay itself can read nothing.

Behaviour behind the :class:`~companion.sync.transports.base.Transport` interface:

- ``push`` sends blobs in batches (base64 in JSON). The relay stores each batch atomically and deduplicates
  by SHA-256 per mailbox, so retrying after a timeout never stores a blob twice. Network failures, 429 and
  5xx are retried with exponential backoff and jitter a bounded number of times; then ``TransportError`` is
  raised and the sync engine keeps the blobs in its outbox. A batch the relay finds too large is halved.
- ``pull`` fetches after a cursor (the relay's per-mailbox sequence number, as a string). A mailbox nobody
  has written to yet is simply empty. If the relay says the cursor is beyond its mailbox (the relay's database
  was reset or restored), the transport starts again from the beginning: receiving is idempotent.
- ``wait`` listens on the relay's server-sent-events channel in a background thread and returns early when the
  mailbox's head moves past what ``pull`` has seen. Offline, it sleeps like the base class.
- ``abort`` (from any thread) ends every request in flight at once, the push channel's included, even against a
  relay that accepted the connection and never answers: they raise ``CancelledError`` instead of waiting for
  their timeout (15 s, then a retry). The window calls it when it locks or closes; ``close`` does it too.
  Closing an ``httpx.Client`` from another thread would not: closing a socket does not wake a thread blocked
  reading it (Linux), and httpx's pool only refuses new requests. So a transport's connections come from an
  :class:`_AbortableBackend`, which keeps a duplicate of every socket it opens and shuts them all down.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import logging
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from httpcore._backends.sync import SyncStream  # httpcore's own socket stream (httpx pins httpcore 1.*)

from companion.errors import CancelledError, RelayAccessError, TransportError

from .base import Pulled, Transport

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
DEFAULT_BATCH_BYTES = 4 * 1024 * 1024  # encoded bytes per append request; below the relay's 8 MiB default
DEFAULT_BATCH_COUNT = 128


@dataclass(frozen=True)
class RelayMailbox:
    """Everything needed to reach one circle's mailbox. ``capability`` is a secret: keep it in the vault."""

    url: str
    mailbox: str
    capability: str

    def to_dict(self) -> dict[str, str]:
        return {"url": self.url, "mailbox": self.mailbox, "capability": self.capability}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RelayMailbox:
        try:
            return cls(url=str(data["url"]), mailbox=str(data["mailbox"]), capability=str(data["capability"]))
        except KeyError as missing:
            raise TransportError(
                f"The relay settings are incomplete ({missing.args[0]} is missing)."
            ) from None

    def __repr__(self) -> str:  # never print the capability
        return f"RelayMailbox(url={self.url!r}, mailbox={self.mailbox!r}, capability=<hidden>)"


def new_mailbox(url: str) -> RelayMailbox:
    """A fresh mailbox id (128 bits) and capability (256 bits); the mailbox exists on the first push."""
    return RelayMailbox(
        url=url.rstrip("/"), mailbox=secrets.token_urlsafe(16), capability=secrets.token_urlsafe(32)
    )


def _is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_relay_url(url: str, *, allow_insecure_http: bool = False) -> str:
    """The URL without a trailing slash. Plain ``http`` only on loopback: the capability travels bare."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(
            f"'{url}' is not a relay address (it should look like https://relay.example.org)."
        )
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback_host(parts.hostname):
        raise TransportError(
            "This relay address uses plain http, which would expose the circle's key on the network. "
            "Use an https:// address."
        )
    return url.rstrip("/")


class _AbortableBackend(httpcore.SyncBackend):
    """httpcore's socket backend, plus :meth:`abort`: from any thread, shut down every socket this backend opened
    (connecting, in the TLS handshake, or waiting for an answer: each blocked call returns at once with an error)
    and refuse new connections.

    It keeps a duplicate of each socket (``dup()``: the same connection in the kernel under a second file
    descriptor), so the shutdown reaches the connection whatever wraps it (a TLS socket takes over the original's
    descriptor). The duplicate is closed with the stream."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handles: set[socket.socket] = set()
        self.aborted = False

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            handles = list(self._handles)
        for handle in handles:
            with contextlib.suppress(OSError):
                handle.shutdown(socket.SHUT_RDWR)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        # socket.create_connection, with each socket registered before it connects (so a relay that never
        # completes the TCP handshake can be aborted too).
        if self.aborted:
            raise httpcore.ConnectError("aborted")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        failure: OSError | None = None
        for family, kind, proto, _name, address in infos:
            sock = socket.socket(family, kind, proto)
            handle = self._track(sock)
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.settimeout(timeout)
                if local_address is not None:
                    sock.bind((local_address, 0))
                sock.connect(address)
                if self.aborted:  # shut down while connecting
                    raise ConnectionAbortedError("aborted")
            except OSError as exc:
                self._forget(handle)
                sock.close()
                failure = exc
                if self.aborted:
                    break
                continue
            return _TrackedStream(SyncStream(sock), self, handle)
        if isinstance(failure, TimeoutError):
            raise httpcore.ConnectTimeout(str(failure))
        raise httpcore.ConnectError(str(failure or "no address"))

    def _track(self, sock: socket.socket) -> socket.socket:
        handle = sock.dup()
        with self._lock:
            self._handles.add(handle)
            aborted = self.aborted
        if aborted:
            with contextlib.suppress(OSError):
                handle.shutdown(socket.SHUT_RDWR)
        return handle

    def _forget(self, handle: socket.socket) -> None:
        with self._lock:
            self._handles.discard(handle)
        handle.close()


class _TrackedStream(httpcore.NetworkStream):
    """A stream of :class:`_AbortableBackend`: httpcore's own, and its socket's duplicate dropped on close."""

    def __init__(self, inner: httpcore.NetworkStream, backend: _AbortableBackend, handle: socket.socket) -> None:
        self._inner, self._backend, self._handle = inner, backend, handle

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._backend._forget(self._handle)

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        try:
            tls = self._inner.start_tls(ssl_context, server_hostname, timeout)
        except BaseException:
            self.close()
            raise
        return _TrackedStream(tls, self._backend, self._handle)  # the same connection: the same duplicate

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _abortable_client(backend: _AbortableBackend, timeout: httpx.Timeout) -> httpx.Client:
    """An ``httpx.Client`` whose connections come from ``backend``. httpx takes no network backend, so its
    transport's connection pool is replaced by the same pool (httpx's default limits) with the backend."""
    transport = httpx.HTTPTransport()
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=backend,
    )
    return httpx.Client(timeout=timeout, transport=transport)


class RelayTransport(Transport):
    """One circle's mailbox on a relay. Thread-safe for one ``push``/``pull`` caller plus ``wait``, and for
    ``abort`` / ``close`` from any thread."""

    def __init__(
        self,
        base_url: str,
        mailbox: str,
        capability: str,
        *,
        client: httpx.Client | None = None,
        timeout: float = 15.0,
        retries: int = 4,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        batch_count: int = DEFAULT_BATCH_COUNT,
        stream_read_timeout: float = 45.0,
        allow_insecure_http: bool = False,
        relay_token: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = check_relay_url(base_url, allow_insecure_http=allow_insecure_http)
        self.mailbox = mailbox
        self._auth = {"Authorization": f"Bearer {capability}"}
        self._own_client = client is None
        self._network = _AbortableBackend()  # a given client's requests cannot be cut short, only refused after
        self._client = client or _abortable_client(self._network, httpx.Timeout(timeout))
        self._timeout = timeout
        self._retries, self._backoff, self._max_backoff = retries, backoff, max_backoff
        self._batch_bytes, self._batch_count = batch_bytes, batch_count
        self._limits_known = False
        self._relay_token = relay_token  # only the creator needs it, for the first push to a guarded relay
        self.missed = 0  # envelopes purged by the relay's retention before this device fetched them
        self._stream_read_timeout = stream_read_timeout
        self._sleep = sleep
        self._path = f"{self.base_url}/v1/mailboxes/{mailbox}"
        # push channel state
        self._known_head = -1  # highest head this transport has pulled up to
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._lock = threading.Lock()
        self._aborted = threading.Event()
        self.connected = threading.Event()  # set while the push channel is open (for tests and the UI)

    @classmethod
    def from_mailbox(cls, box: RelayMailbox, **kwargs: Any) -> RelayTransport:
        return cls(box.url, box.mailbox, box.capability, **kwargs)

    # -- requests with retries -------------------------------------------------------------------------------

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self._auth, **kwargs.pop("headers", {})}
        last: str = ""
        for attempt in range(self._retries + 1):
            delay = min(self._max_backoff, self._backoff * (2**attempt)) * (0.5 + random.random() / 2)
            self._check_aborted()
            try:
                response = self._client.request(method, url, headers=headers, **kwargs)
            except httpx.HTTPError as exc:  # connect/read/write errors and timeouts
                self._check_aborted()  # ended by abort(): not the relay's doing, and not retried
                last = type(exc).__name__
            else:
                if response.status_code not in RETRY_STATUS:
                    return response
                last = f"HTTP {response.status_code}"
                if response.status_code == 429:
                    delay = min(self._max_backoff, max(delay, _retry_after(response)))
            if attempt < self._retries:
                self._sleep(delay)
        raise TransportError(
            f"The relay at {self.base_url} could not be reached ({last}). Nothing was lost: "
            "outgoing items wait in the outbox and are sent later."
        )

    def _check_aborted(self) -> None:
        if self._aborted.is_set():
            raise CancelledError("The relay request was cancelled (the journal locked or closed).")

    def _refusal(self, response: httpx.Response) -> TransportError:
        code = _error_code(response)
        if code == "creation_refused":
            return RelayAccessError(
                f"The relay at {self.base_url} only accepts new circles from its operator. Ask them for the "
                "relay's token, or use another relay. Nothing was lost: outgoing items wait in the outbox."
            )
        if response.status_code in (401, 403):
            return RelayAccessError()
        return TransportError(
            f"The relay at {self.base_url} refused the request (HTTP {response.status_code}"
            f"{', ' + code if code else ''}). Nothing was lost: outgoing items wait in the outbox."
        )

    # -- Transport -------------------------------------------------------------------------------------------

    def push(self, blobs: Sequence[bytes]) -> None:
        self.append(blobs)

    def append(self, blobs: Sequence[bytes]) -> list[str]:
        """Like ``push``, and returns each blob's cursor (the existing one for a blob already stored)."""
        self._learn_limits()
        cursors: list[str] = []
        for batch in self._batches(blobs):
            cursors.extend(self._append_batch(batch))
        return cursors

    def _learn_limits(self) -> None:
        """Once: shrink batches to the relay's advertised limits (``/healthz``), so that a relay with a small
        body limit is not sent requests it would cut off mid-upload. Best effort; 413 halving remains."""
        if self._limits_known:
            return
        self._check_aborted()
        try:
            limits = self._client.get(f"{self.base_url}/healthz", timeout=self._timeout).json()["limits"]
            self._batch_bytes = min(self._batch_bytes, int(limits["max_body_bytes"]) - 1024)
            self._batch_count = min(self._batch_count, int(limits["max_batch"]))
            self._limits_known = True
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            pass  # offline or an older relay: the push itself reports what matters

    def _batches(self, blobs: Sequence[bytes]) -> Iterator[list[bytes]]:
        batch: list[bytes] = []
        size = 0
        for blob in blobs:
            encoded = (len(blob) + 2) // 3 * 4 + 4
            if batch and (size + encoded > self._batch_bytes or len(batch) >= self._batch_count):
                yield batch
                batch, size = [], 0
            batch.append(bytes(blob))
            size += encoded
        if batch:
            yield batch

    def _append_batch(self, batch: list[bytes]) -> list[str]:
        body = json.dumps({"envelopes": [base64.b64encode(b).decode("ascii") for b in batch]}).encode()
        headers = {"Content-Type": "application/json"}
        if self._relay_token:
            headers["Relay-Token"] = self._relay_token
        response = self._request("POST", f"{self._path}/envelopes", content=body, headers=headers)
        if response.status_code == 413:
            if len(batch) > 1:
                half = len(batch) // 2
                return self._append_batch(batch[:half]) + self._append_batch(batch[half:])
            raise TransportError(
                f"An item ({len(batch[0])} bytes) is larger than the relay at {self.base_url} accepts; "
                "it stays in the outbox."
            )
        if response.status_code != 200:
            raise self._refusal(response)
        try:
            cursors = [str(c) for c in response.json()["cursors"]]
        except (ValueError, KeyError, TypeError):
            raise TransportError(
                f"The relay at {self.base_url} answered with something unexpected."
            ) from None
        if len(cursors) != len(batch):
            raise TransportError(f"The relay at {self.base_url} answered with something unexpected.")
        return cursors

    def pull(self, cursor: str | None, limit: int = 1000) -> Pulled:
        params = {"limit": str(max(1, limit))}
        if cursor is not None:
            params["after"] = cursor
        response = self._request("GET", f"{self._path}/envelopes", params=params)
        code = _error_code(response)
        if response.status_code == 404 and code == "unknown_mailbox":
            with self._lock:
                self._known_head = max(self._known_head, 0)
            return Pulled([], cursor, False)  # nobody has written yet
        if response.status_code == 400 and code == "bad_cursor" and cursor is not None:
            log.warning("relay mailbox is behind our cursor (relay reset?); reading it again from the start")
            return self.pull(None, limit)
        if response.status_code != 200:
            raise self._refusal(response)
        try:
            doc = response.json()
            blobs = [base64.b64decode(item["data"], validate=True) for item in doc["envelopes"]]
            seqs = [int(item["cursor"]) for item in doc["envelopes"]]
            new_cursor = str(doc["cursor"])
            more = bool(doc["more"])
            head = int(new_cursor)
        except (ValueError, KeyError, TypeError):
            raise TransportError(
                f"The relay at {self.base_url} answered with something unexpected."
            ) from None
        if cursor is not None and cursor.isdigit():
            self._count_gaps(int(cursor), seqs, head)
        if not more:
            with self._lock:
                self._known_head = max(self._known_head, head)
        return Pulled(blobs, new_cursor, more)

    def _count_gaps(self, after: int, seqs: list[int], head: int) -> None:
        """Cursors are gap-free per mailbox, so a jump means envelopes were purged (retention) before this
        device fetched them. Counted in ``missed`` for the sync engine to tell the person; not an error."""
        previous, missed = after, 0
        for seq in seqs:
            missed += max(0, seq - previous - 1)
            previous = seq
        if not seqs:
            missed += max(0, head - previous)  # everything up to the head is gone
        if missed:
            self.missed += missed
            log.warning("%d shared items expired on the relay before this device fetched them", missed)

    def wait(self, timeout: float) -> bool:
        self._ensure_listener()
        woke = self._wake.is_set() or self._wake.wait(timeout)
        self._wake.clear()
        return woke and not self._aborted.is_set()  # abort() wakes a waiter, but nothing arrived

    def abort(self) -> None:
        """From any thread, without waiting: end every request in flight (push, pull, the push channel) at once,
        even one a relay accepted and never answers; it and every later request raise ``CancelledError``. For a
        lock or a window closing. Only this transport's own connections can be cut (not a given ``client``'s)."""
        self._aborted.set()
        self._stop.set()
        self._wake.set()
        self._network.abort()

    def close(self) -> None:
        """Abort what is in flight, stop the push channel, release the connections. Safe to call twice."""
        self.abort()
        if self._listener is not None and self._listener is not threading.current_thread():
            self._listener.join(timeout=2.0)
        if self._own_client:
            self._client.close()

    # -- push channel ----------------------------------------------------------------------------------------

    def _ensure_listener(self) -> None:
        if self._listener is None and not self._stop.is_set():
            self._listener = threading.Thread(target=self._listen, name="relay-push-channel", daemon=True)
            self._listener.start()

    def _listen(self) -> None:
        failures = 0
        timeout = httpx.Timeout(self._timeout, read=self._stream_read_timeout)
        with _abortable_client(self._network, timeout) as client:
            while not self._stop.is_set():
                try:
                    with client.stream("GET", f"{self._path}/events", headers=self._auth) as response:
                        if response.status_code != 200:
                            raise _StreamRefused(response.status_code)
                        self.connected.set()
                        failures = 0
                        self._read_events(response)
                except (httpx.HTTPError, _StreamRefused, ValueError, RuntimeError) as exc:
                    log.debug("push channel closed: %s", type(exc).__name__)
                finally:
                    self.connected.clear()
                failures += 1
                self._stop.wait(min(10.0, 0.5 * 2 ** min(failures, 5)) * (0.5 + random.random() / 2))

    def _read_events(self, response: httpx.Response) -> None:
        event, data = "", ""
        for line in response.iter_lines():
            if self._stop.is_set():
                return
            if line == "":
                if event == "head" and data:
                    head = int(json.loads(data)["cursor"])
                    with self._lock:
                        if head > self._known_head:
                            self._wake.set()
                event, data = "", ""
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()


class _StreamRefused(Exception):  # noqa: N818
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")


def _error_code(response: httpx.Response) -> str:
    if response.status_code < 400:
        return ""
    try:
        return str(response.json().get("error", ""))
    except (ValueError, AttributeError):
        return ""


def _retry_after(response: httpx.Response) -> float:
    """The relay's precise hint from the JSON body, else the whole-second ``Retry-After`` header, else 0."""
    try:
        return max(0.0, float(response.json()["retry_after"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        header = response.headers.get("retry-after", "")
        return float(header) if header.isdigit() else 0.0
