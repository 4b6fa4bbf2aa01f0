"""Vault and journal speed at scale: encrypted (SQLCipher) against the same workload on plain SQLite.

    python benchmarks/bench_vault.py [--entries 100000] [--rebuild]

Both databases are built by the same journal code from the same seeded corpus and cached under
``benchmarks/.data/`` (git-ignored). The plain one is the same sqlcipher3 library without a key, so the only
difference measured is the encryption. Prints figures and the encrypted/plain ratios.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlcipher3

from benchmarks import corpus
from companion.journal.entries import Journal
from companion.journal.search import search
from companion.schema import MIGRATIONS
from companion.vault import store
from companion.vault.header import DEFAULT, Header, KeySlot
from companion.vault.store import Vault

PASSPHRASE = "benchmark passphrase"
HERE = Path(__file__).resolve().parent / ".data"


def open_plain(folder: Path) -> Vault:
    conn = sqlcipher3.connect(str(folder / "plain.db"), isolation_level=None, check_same_thread=False)
    store._configure(conn)
    vault = Vault(folder, conn, Header(slot=KeySlot.new(DEFAULT), check="0" * 32))
    vault._migrate(MIGRATIONS)
    return vault


def build(kind: str, folder: Path, count: int) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    vault = Vault.create(folder, PASSPHRASE, migrations=MIGRATIONS) if kind == "encrypted" else open_plain(folder)
    journal = Journal(vault)
    started = time.perf_counter()
    batch = 2000
    gen = corpus.entries(count)
    done = 0
    while done < count:
        with vault.transaction():
            for item in (next(gen) for _ in range(min(batch, count - done))):
                journal.add(item.body, title=item.title, tags=item.tags, mood=item.mood, created_at=item.created_at)
                done += 1
        print(f"  {kind}: {done}/{count} entries", end="\r", flush=True)
    vault.conn.execute("INSERT INTO entries_fts(entries_fts) VALUES ('optimize')")
    vault.close()
    print(f"  {kind}: built {count} entries in {time.perf_counter() - started:.0f} s" + " " * 20)
    (folder / "complete").write_text(str(count))


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def timed(fn: Callable[[], object], repeat: int = 1) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def measure(kind: str, folder: Path) -> dict[str, float]:
    results: dict[str, float] = {}

    def open_vault() -> Vault:
        return Vault.open(folder, PASSPHRASE, migrations=MIGRATIONS) if kind == "encrypted" else open_plain(folder)

    # unlock (key derivation included for the encrypted vault) to the first 50 entries
    samples = []
    for _ in range(5):
        t = time.perf_counter()
        vault = open_vault()
        Journal(vault).recent(50)
        samples.append(time.perf_counter() - t)
        vault.close()
    results["unlock to first 50 (ms, median)"] = statistics.median(samples) * 1000

    vault = open_vault()
    journal = Journal(vault)
    journal.recent(50)
    rare, mid = corpus.rare_words(), corpus.mid_words()
    for label, words, order in [
        ("search selective, newest", rare, "newest"),
        ("search selective, ranked", rare, "relevance"),
        ("search mid, newest", mid, "newest"),
        ("search mid, ranked", mid, "relevance"),
        ("search common word, newest", ["felt", "today", "group", "sleep", "friend"] * 4, "newest"),
        ("search two words, newest", [f"{a} {b}" for a, b in zip(mid, rare, strict=True)], "newest"),
        ("search as-you-type prefix", [w[:3] for w in mid], "newest"),
    ]:
        for w in words[:3]:
            search(vault, w, order=order)  # warm
        samples = [
            s for w in words for s in timed(lambda w=w, o=order: search(vault, w + " ", order=o, limit=50))
        ]
        results[f"{label} p50 (ms)"] = pct(samples, 50)
        results[f"{label} p95 (ms)"] = pct(samples, 95)
        # The same searches again: the pages they need are now in the (decrypted) page cache, as in a session.
        again = [
            s for w in words for s in timed(lambda w=w, o=order: search(vault, w + " ", order=o, limit=50))
        ]
        results[f"{label} p95, cache warm (ms)"] = pct(again, 95)

    rng = random.Random(5)
    bodies = [item.body for item in corpus.entries(200, seed=99)]
    samples = []
    for body in bodies:
        samples.extend(timed(lambda body=body: journal.add(body, title="bench", tags=[rng.choice(corpus.TAGS)])))
    results["save p50 (ms)"] = pct(samples, 50)
    results["save p95 (ms)"] = pct(samples, 95)
    ids = [row[0] for row in vault.conn.execute("SELECT id FROM entries WHERE title = 'bench'")]
    samples = [s for i in ids[:100] for s in timed(lambda i=i: journal.update(i, body="edited " + bodies[i % 200]))]
    results["edit p95 (ms)"] = pct(samples, 95)
    with vault.transaction() as conn:
        conn.execute("DELETE FROM entries WHERE title = 'bench'")
    vault.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    figures = {}
    for kind in ("encrypted", "plain"):
        folder = HERE / f"{kind}-{args.entries}"
        done = folder / "complete"
        if args.rebuild or not done.exists():
            build(kind, folder, args.entries)
        figures[kind] = measure(kind, folder)
    print(f"\n{args.entries} entries, ~200 words each")
    print(f"{'measure':<42}{'encrypted':>12}{'plain':>12}{'ratio':>8}")
    for key in figures["encrypted"]:
        enc, plain = figures["encrypted"][key], figures["plain"][key]
        ratio = enc / plain if plain else float("nan")
        print(f"{key:<42}{enc:>12.2f}{plain:>12.2f}{ratio:>8.2f}")


if __name__ == "__main__":
    main()
