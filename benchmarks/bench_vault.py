"""Vault and journal speed at scale: encrypted (SQLCipher) against the same workload on plain SQLite.

    python benchmarks/bench_vault.py [--entries 100000] [--rebuild]

Both databases are built by the same journal code from the same seeded corpus and cached under
``benchmarks/.data/`` (git-ignored). The plain one is the same sqlcipher3 library without a key, so the only
difference measured is the encryption. Prints figures and the encrypted/plain ratios.

Before each database is measured its file is read once, so both start from the operating system's file cache
(SQLite's own page cache still starts empty: "cold" figures are first touches, which the encrypted database
must decrypt). Without that, whichever file the OS happened to keep cached would decide the cold ratios.
"""

from __future__ import annotations

import argparse
import random
import shutil
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
from companion.vault.header import DEFAULT, NEW_VAULT_HMAC, Header, KeySlot
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


KINDS = ("encrypted", "plain")
ROUNDS = 3


def prime_os_cache(folder: Path) -> None:
    for path in folder.glob("*.db*"):
        with path.open("rb") as f:
            while f.read(1 << 20):
                pass


def measure(folders: dict[str, Path]) -> dict[str, dict[str, float]]:
    """Both databases, interleaved: every sample of one is taken next to the same sample of the other (in
    alternating order), so load from outside this script lands on both alike and the ratios stay meaningful."""
    results: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}

    def open_vault(kind: str) -> Vault:
        folder = folders[kind]
        return Vault.open(folder, PASSPHRASE, migrations=MIGRATIONS) if kind == "encrypted" else open_plain(folder)

    def both(fn: Callable[[str], object], i: int) -> dict[str, float]:
        out = {}
        for kind in KINDS if i % 2 == 0 else KINDS[::-1]:
            t = time.perf_counter()
            fn(kind)
            out[kind] = time.perf_counter() - t
        return out

    def record(name: str, samples: list[dict[str, float]], *percentiles: float) -> None:
        for kind in KINDS:
            for p in percentiles:
                key = f"{name} p{p:g} (ms)" if len(percentiles) > 1 or p != 50 else f"{name} (ms, median)"
                results[kind][key] = pct([s[kind] for s in samples], p)

    for folder in folders.values():
        prime_os_cache(folder)

    # unlock (key derivation included for the encrypted vault) to the first 50 entries
    def unlock(kind: str) -> None:
        vault = open_vault(kind)
        Journal(vault).recent(50)
        vault.close()

    record("unlock to first 50", [both(unlock, i) for i in range(6)], 50)

    rare, mid = corpus.rare_words(), corpus.mid_words()
    searches = [
        ("search selective, newest", rare, "newest"),
        ("search selective, ranked", rare, "relevance"),
        ("search mid, newest", mid, "newest"),
        ("search mid, ranked", mid, "relevance"),
        ("search common word, newest", ["felt", "today", "group", "sleep", "friend"] * 4, "newest"),
        ("search two words, newest", [f"{a} {b}" for a, b in zip(mid, rare, strict=True)], "newest"),
        ("search as-you-type prefix", [w[:3] for w in mid], "newest"),
    ]
    cold: dict[str, list[dict[str, float]]] = {label: [] for label, _w, _o in searches}
    warm: dict[str, list[dict[str, float]]] = {label: [] for label, _w, _o in searches}
    # Each round starts from freshly opened databases (an empty page cache: "cold" is a session's first
    # touches) and runs every search list twice; the rounds multiply the samples behind each p95.
    for _round in range(ROUNDS):
        vaults = {kind: open_vault(kind) for kind in KINDS}
        for vault in vaults.values():
            Journal(vault).recent(50)
        for label, words, order in searches:
            for w in words[:3]:
                for vault in vaults.values():
                    search(vault, w, order=order)  # the statements compiled, the index roots read

            def one(kind: str, w: str = "", o: str = order, open_now: dict[str, Vault] = vaults) -> None:
                search(open_now[kind], w + " ", order=o, limit=50)  # type: ignore[arg-type]

            cold[label] += [both(lambda kind, w=w: one(kind, w), i) for i, w in enumerate(words)]
            # The same searches again: their pages are now in the (decrypted) page cache, as later in a session.
            warm[label] += [both(lambda kind, w=w: one(kind, w), i) for i, w in enumerate(words)]
        for vault in vaults.values():
            vault.close()
    for label, _w, _o in searches:
        record(label, cold[label], 50, 95)
        record(f"{label}, cache warm", warm[label], 95)

    vaults = {kind: open_vault(kind) for kind in KINDS}
    journals = {kind: Journal(vaults[kind]) for kind in KINDS}
    rng = random.Random(5)
    bodies = [item.body for item in corpus.entries(300, seed=99)]
    samples = []
    for i, body in enumerate(bodies):
        tags = [rng.choice(corpus.TAGS)]
        samples.append(both(lambda kind, body=body, tags=tags: journals[kind].add(body, title="bench", tags=tags), i))
    record("save", samples, 50, 95)
    ids = {
        kind: [row[0] for row in vaults[kind].conn.execute("SELECT id FROM entries WHERE title = 'bench'")]
        for kind in KINDS
    }
    samples = [
        both(lambda kind, n=n: journals[kind].update(ids[kind][n], body="edited " + bodies[n]), n) for n in range(150)
    ]
    record("edit", samples, 50, 95)
    for vault in vaults.values():
        with vault.transaction() as conn:
            conn.execute("DELETE FROM entries WHERE title = 'bench'")
        vault.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    folders = {}
    for kind in KINDS:
        folder = folders[kind] = HERE / f"{kind}-{args.entries}"
        done = folder / "complete"
        stale = kind == "encrypted" and done.exists() and Header.read(folder / store.HEADER_NAME).hmac != NEW_VAULT_HMAC
        if args.rebuild or not done.exists() or stale:  # stale: a vault made before the page HMAC changed
            build(kind, folder, args.entries)
    figures = measure(folders)
    print(f"\n{args.entries} entries, ~200 words each")
    print(f"{'measure':<42}{'encrypted':>12}{'plain':>12}{'ratio':>8}")
    for key in figures["encrypted"]:
        enc, plain = figures["encrypted"][key], figures["plain"][key]
        ratio = enc / plain if plain else float("nan")
        print(f"{key:<42}{enc:>12.2f}{plain:>12.2f}{ratio:>8.2f}")


if __name__ == "__main__":
    main()
