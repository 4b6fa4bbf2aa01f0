"""Share N entries to an M-member circle over a shared folder; every member syncs and applies them.

Prints the wall-clock time of each phase and its ratio to the raw crypto cost of the same work (sealing the same
payloads to the same recipients, and every member verifying and opening every envelope), measured in the same run.

    .venv/bin/python benchmarks/bench_share.py [--entries 1000] [--members 10] [--suite x25519]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from companion.circles.store import blob_id
from companion.crypto import open_envelope, seal
from companion.services import Companion
from companion.vault.header import FLOOR


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1000)
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--suite", default="x25519", choices=["x25519", "mlkem768-x25519"])
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-share-"))
    try:
        run(root, args.entries, args.members, args.suite)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(root: Path, n_entries: int, n_members: int, suite: str) -> None:
    shared = root / "shared"
    shared.mkdir()
    t0 = time.perf_counter()
    apps = []
    for i in range(n_members):
        app = Companion(root / f"m{i}")
        app.create("pw", params=FLOOR)
        apps.append(app)
    admin, others = apps[0], apps[1:]
    cid = admin.circles.create_circle("Bench", folder=shared, display_name="m0", suite=suite).value.id
    for i, app in enumerate(others, 1):
        app.circles.join(admin.circles.invite(cid).value.code, display_name=f"m{i}")
        app.circles.sync()
    admin.circles.sync()
    for app in others:
        app.circles.sync()
    assert all(a.circles.get_circle(cid).state == "active" for a in apps)
    setup = time.perf_counter() - t0

    ids = [
        admin.journal.add_entry(f"entry {k} " + "words " * 60, title=f"Entry {k}").value.id for k in range(n_entries)
    ]
    t = time.perf_counter()
    for eid in ids:
        admin.circles.share(eid, cid)
    t_share = time.perf_counter() - t
    t = time.perf_counter()
    admin.circles.sync()
    t_push = time.perf_counter() - t
    t = time.perf_counter()
    per_member = []
    for app in others:
        m = time.perf_counter()
        report = app.circles.sync().value[0]
        per_member.append(time.perf_counter() - m)
        assert report.applied == n_entries, report
    t_receive = time.perf_counter() - t
    assert all(len(a.circles.inbox(limit=n_entries + 10)) == n_entries for a in others)

    # raw crypto for the same work, same run: seal to the same recipients; every member verifies and opens
    me = admin.circles._store.identity()
    keys = [a.circles._store.identity() for a in others]
    s = admin.circles._session(cid)
    head = s.roster.head
    payloads = [
        json.dumps({"title": f"Entry {k}", "text": f"entry {k} " + "words " * 60}).encode() for k in range(n_entries)
    ]
    t = time.perf_counter()
    blobs = [
        seal(me, [k.public for k in keys], kind="item", circle_id=cid, item_id=f"i{k}", revision=1, counter=k,
             roster_head=head, payload=p, suite=suite)
        for k, p in enumerate(payloads)
    ]  # fmt: skip
    raw_seal = time.perf_counter() - t
    t = time.perf_counter()
    for k in keys:
        for b in blobs:
            open_envelope(b, me=k, author_key=lambda fp: me.public)
            blob_id(b)
    raw_open = time.perf_counter() - t
    raw = raw_seal + raw_open
    total = t_share + t_push + t_receive
    size = sum(f.stat().st_size for f in shared.rglob("*.env"))
    print(f"circle of {n_members} members, {n_entries} entries, suite {suite}")
    print(f"  setup (vaults, joins)           {setup:8.2f} s")
    print(f"  share (seal + outbox)           {t_share:8.2f} s   raw seal  {raw_seal:6.2f} s   "
          f"ratio {t_share / raw_seal:5.2f}")  # fmt: skip
    print(f"  push to folder                  {t_push:8.2f} s")
    print(f"  {n_members - 1} members sync + apply        {t_receive:8.2f} s   raw open  {raw_open:6.2f} s   "
          f"ratio {t_receive / raw_open:5.2f}")  # fmt: skip
    mean = t_receive / len(others)
    print(f"  per member sync (mean)          {mean:8.2f} s   ({n_entries / mean:.0f} items/s)")
    print(f"  total                           {total:8.2f} s   raw crypto {raw:6.2f} s   ratio {total / raw:5.2f}")
    print(f"  folder size                     {size / 1e6:8.2f} MB ({size / n_entries / 1024:.1f} KiB per item)")
    for a in apps:
        a.lock()


if __name__ == "__main__":
    main()
