"""``companion-relay``: run the ciphertext mailbox server.

    companion-relay [--host 127.0.0.1] [--port 8765] [--db PATH | --postgres DSN] [--public] [limits…]

The relay speaks plain HTTP and leaves TLS to a reverse proxy (see ``docs/relay-api.md``). It refuses to
listen on anything but a loopback address unless ``--public`` is given, so that capabilities never cross a
network in the clear by accident. It logs no request lines by default (``--access-log`` turns them on): the
people using a peer-support relay are entitled to not being recorded.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Sequence

from .app import MiB, RelayConfig, create_app
from .storage import open_storage

ENV_POSTGRES = "COMPANION_RELAY_POSTGRES"  # keeps a DSN with a password out of the process list
ENV_CREATE_TOKEN = "COMPANION_RELAY_CREATE_TOKEN"  # the same for the creation token


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    d = RelayConfig()
    p = argparse.ArgumentParser(prog="companion-relay", description="Companion's ciphertext mailbox relay.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument(
        "--public", action="store_true", help="allow a non-loopback --host (put a TLS reverse proxy in front)"
    )
    store = p.add_mutually_exclusive_group()
    store.add_argument("--db", default=None, help="SQLite file (default ./companion-relay.db)")
    store.add_argument(
        "--postgres",
        default=None,
        metavar="DSN",
        help=f"PostgreSQL connection string (or set ${ENV_POSTGRES})",
    )
    p.add_argument(
        "--create-token",
        default=None,
        metavar="TOKEN",
        help=f"only appends carrying 'Relay-Token: TOKEN' create new mailboxes (or set ${ENV_CREATE_TOKEN}); "
        "existing mailboxes need only their capability",
    )
    p.add_argument("--max-body", type=int, default=d.max_body_bytes, help="bytes per request body (413)")
    p.add_argument("--max-envelope", type=int, default=d.max_envelope_bytes, help="bytes per envelope (413)")
    p.add_argument("--max-batch", type=int, default=d.max_batch, help="envelopes per append (413)")
    p.add_argument("--max-fetch", type=int, default=d.max_fetch, help="envelopes per fetch")
    p.add_argument("--rate", type=float, default=d.rate, help="requests/s per client address; 0 = unlimited")
    p.add_argument("--burst", type=int, default=d.burst, help="rate-limit bucket size")
    p.add_argument(
        "--retention-days", type=float, default=d.retention_days, help="purge envelopes older than this"
    )
    p.add_argument("--purge-interval", type=float, default=d.purge_interval, help="seconds between purges")
    p.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="push channel re-checks storage this often (default: 2 s with --postgres, else off)",
    )
    p.add_argument("--keepalive", type=float, default=d.keepalive, help="push channel keepalive seconds")
    p.add_argument(
        "--trusted-proxy",
        default="127.0.0.1",
        help="addresses whose X-Forwarded-For is believed (comma-separated; default 127.0.0.1)",
    )
    p.add_argument("--access-log", action="store_true", help="log request lines (off by default)")
    p.add_argument("--log-level", default="info")
    return p


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only then (else +40 ms a reply)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not is_loopback(args.host) and not args.public:
        print(
            f"companion-relay: refusing to listen on {args.host}, which is not a loopback address. The relay "
            "speaks plain HTTP; put a TLS reverse proxy in front and pass --public to confirm.",
            file=sys.stderr,
        )
        return 2
    for name in ("max_body", "max_envelope", "max_batch", "max_fetch", "burst"):
        if getattr(args, name) < 1:
            print(f"companion-relay: --{name.replace('_', '-')} must be at least 1.", file=sys.stderr)
            return 2
    for name in ("retention_days", "purge_interval", "keepalive"):
        if getattr(args, name) <= 0:
            print(f"companion-relay: --{name.replace('_', '-')} must be more than 0.", file=sys.stderr)
            return 2
    if args.rate < 0:
        print("companion-relay: --rate must be 0 (no limit) or more.", file=sys.stderr)
        return 2
    dsn = args.postgres or (None if args.db else os.environ.get(ENV_POSTGRES))
    poll = args.poll_interval if args.poll_interval is not None else (2.0 if dsn else None)
    config = RelayConfig(
        max_body_bytes=args.max_body,
        max_envelope_bytes=args.max_envelope,
        max_batch=args.max_batch,
        max_fetch=args.max_fetch,
        max_fetch_bytes=max(args.max_envelope, 8 * MiB),
        rate=args.rate,
        burst=args.burst,
        retention_days=args.retention_days,
        purge_interval=args.purge_interval,
        poll_interval=poll if poll and poll > 0 else None,
        keepalive=args.keepalive,
        create_token=args.create_token or os.environ.get(ENV_CREATE_TOKEN) or None,
    )
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        storage = open_storage(db=args.db or "companion-relay.db", postgres=dsn)
    except ImportError:
        print("companion-relay: PostgreSQL needs psycopg: pip install 'companion[relay]'", file=sys.stderr)
        return 1
    except Exception as exc:  # a clear line, not a traceback, for a wrong path or DSN
        print(f"companion-relay: cannot open storage: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    try:
        sock = _bind(args.host, args.port)
    except OSError as exc:
        storage.close()
        print(f"companion-relay: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1

    import uvicorn

    app = create_app(storage, config)
    uv_config = uvicorn.Config(
        app,
        log_level=args.log_level.lower(),
        access_log=args.access_log,
        proxy_headers=True,
        forwarded_allow_ips=args.trusted_proxy,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(
        f"companion-relay listening on http://{shown}:{port} "
        f"({'postgres' if dsn else 'sqlite'}; retention {args.retention_days:g} days)",
        flush=True,
    )

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: object) -> None:
            app.state.begin_shutdown()  # push-channel streams end now instead of holding the shutdown
            super().handle_exit(sig, frame)  # type: ignore[arg-type]

    # Everything alive now (modules, app, storage) lives as long as the process: move it out of the
    # collector's sight, so that a full collection under load takes a few milliseconds instead of ~40.
    gc.collect()
    gc.freeze()
    _Server(uv_config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
