"""What encryption costs a save, taken apart: per written page, and pages per save.

    python benchmarks/bench_save_cost.py [--saves 300] [--skip-vault]

1. A commit that rewrites K pages of a small table, on an encrypted and a plain database, at 1, 2 and 4 KiB
   pages: the difference per page is SQLCipher's work on a written page (a fresh IV, AES-256-CBC over the page,
   HMAC-SHA256 over the ciphertext).
2. The 100k-entry benchmark databases of ``bench_vault.py`` (copied to a temporary folder first; run
   ``bench_vault.py`` once to build them): how many pages and bytes one journal save writes to the WAL, and, for
   the plain copy, which tables and indexes those pages belong to (SQLite's ``dbstat``, read with Python's own
   ``sqlite3`` module, which has it; the plain database is an ordinary SQLite file).
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import sqlite3
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlcipher3

from benchmarks import corpus
from benchmarks.bench_vault import HERE, PASSPHRASE, open_plain
from companion.journal.entries import Journal
from companion.schema import MIGRATIONS
from companion.vault.store import DB_NAME, Vault

WAL_HEADER = 32
FRAME_HEADER = 24


def page_cost(folder: Path, page: int, pages_per_commit: int = 50, commits: int = 300) -> tuple[float, float]:
    """Median µs of a commit that rewrites ``pages_per_commit`` pages: (encrypted, plain)."""
    medians = []
    for kind in ("encrypted", "plain"):
        conn = sqlcipher3.connect(str(folder / f"{kind}-{page}.db"), isolation_level=None)
        if kind == "encrypted":
            conn.execute("PRAGMA key = \"x'" + "11" * 32 + "'\"")
            conn.execute("PRAGMA cipher_hmac_algorithm = HMAC_SHA256")
            conn.execute(f"PRAGMA cipher_page_size = {page}")
        else:
            conn.execute(f"PRAGMA page_size = {page}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # no fsync: the page work alone
        conn.execute("PRAGMA cache_size = -100000")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        with conn:
            conn.execute("BEGIN")
            for i in range(2000):  # one row per page
                conn.execute("INSERT INTO t VALUES (?, ?)", (i, os.urandom(page // 2 + 100)))
        times = []
        for rep in range(commits):
            started = time.perf_counter()
            conn.execute("BEGIN")
            for j in range(pages_per_commit):
                conn.execute(
                    "UPDATE t SET v = ? WHERE id = ?", (os.urandom(page // 2 + 100), (rep * 97 + j * 13) % 2000)
                )
            conn.execute("COMMIT")
            times.append(time.perf_counter() - started)
        conn.close()
        medians.append(sorted(times)[commits // 2] * 1e6)
    return medians[0], medians[1]


def wal_frames(wal: Path, start: int, page: int) -> list[int]:
    """Page numbers of the WAL frames written after byte ``start``."""
    data = wal.read_bytes()[max(start, WAL_HEADER) :]
    size = FRAME_HEADER + page
    return [struct.unpack(">I", data[k : k + 4])[0] for k in range(0, len(data) - size + 1, size)]


def pages_per_save(kind: str, folder: Path, saves: int) -> tuple[list[int], list[int]]:
    """Saves ``saves`` entries; returns the pages each save wrote, and every page number written."""
    vault = Vault.open(folder, PASSPHRASE, migrations=MIGRATIONS) if kind == "encrypted" else open_plain(folder)
    conn = vault.conn
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint = 0")  # every frame of the run stays in the WAL to be counted
    page = int(conn.execute("PRAGMA page_size").fetchone()[0])
    wal = folder / ((DB_NAME if kind == "encrypted" else "plain.db") + "-wal")
    journal = Journal(vault)
    rng = random.Random(5)
    bodies = [item.body for item in corpus.entries(saves, seed=99)]
    counts, written = [], []
    for body in bodies:
        before = wal.stat().st_size if wal.exists() else 0
        journal.add(body, title="bench", tags=[rng.choice(corpus.TAGS)])
        frames = wal_frames(wal, before, page)
        counts.append(len(frames))
        written += frames
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    vault.close()
    return counts, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--saves", type=int, default=300)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--skip-vault", action="store_true", help="only the per-page figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="companion-bench-") as tmp:
        scratch = Path(tmp)
        print("1. A commit rewriting 50 pages (median µs; synchronous=NORMAL, so no fsync)")
        print(f"{'page size':>10}{'encrypted':>12}{'plain':>10}{'µs per page':>14}")
        for page in (1024, 2048, 4096):
            enc, plain = page_cost(scratch, page)
            print(f"{page:>10}{enc:>12.0f}{plain:>10.0f}{(enc - plain) / 50:>14.1f}")
        if args.skip_vault:
            return
        print(f"\n2. One journal save on the {args.entries}-entry benchmark databases ({args.saves} saves)")
        for kind in ("encrypted", "plain"):
            source = HERE / f"{kind}-{args.entries}"
            if not (source / "complete").exists():
                sys.exit(f"{source} is not built: run benchmarks/bench_vault.py first")
            copy = scratch / kind
            shutil.copytree(source, copy)
            counts, written = pages_per_save(kind, copy, args.saves)
            ordered = sorted(counts)
            print(
                f"  {kind}: pages per save median {ordered[len(ordered) // 2]}, mean {sum(counts) / len(counts):.1f}, "
                f"largest {ordered[-3:]} (FTS5 merges)"
            )
            if kind == "plain":
                with sqlite3.connect(copy / "plain.db") as db:
                    names = dict(db.execute("SELECT pageno, name FROM dbstat"))
                by_name = collections.Counter(names.get(p, "freelist") for p in written)
                for name, n in by_name.most_common():
                    print(f"    {name:<32}{n / len(counts):6.2f} pages per save")


if __name__ == "__main__":
    main()
