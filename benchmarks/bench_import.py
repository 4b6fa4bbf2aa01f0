"""Import speed: a seeded 100k-entry jrnl plain-text journal into a new encrypted vault.

    python benchmarks/bench_import.py [--entries 100000] [--seed 7] [--jrnl /path/to/jrnl]

Everything happens in a throwaway folder that is deleted afterwards. Prints the parse time, the time to write
into the vault (one transaction, batched ``executemany``, FTS5 triggers on), the total in entries/s, the time
a re-import of the same file takes (all duplicates), and the vault's size. With ``--jrnl`` (a jrnl 4.x
executable, e.g. from a scratch venv) it also times jrnl itself reading the same file, as a peer figure.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from companion.services import Companion
from companion.transfer import importers, importing
from companion.vault.header import FLOOR

WORDS = (
    "meeting sponsor step gratitude walk tired hopeful craving called friend slept coffee rain honest share "
    "listened quiet anxious proud kitchen morning evening bus work family phone pages river breath calm"
).split()


def make_journal(path: Path, n: int, seed: int) -> None:
    """jrnl's own file format with its default time format ("%F %r"), seeded."""
    rng = random.Random(seed)
    moment = time.mktime((2010, 1, 1, 8, 0, 0, 0, 0, -1))
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            moment += rng.randint(600, 6 * 3600)
            stamp = time.strftime("%Y-%m-%d %I:%M:%S %p", time.localtime(moment))
            title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))).capitalize() + "."
            star = " *" if rng.random() < 0.05 else ""
            paragraphs = []
            for _ in range(rng.randint(1, 3)):
                words = [rng.choice(WORDS) for _ in range(rng.randint(15, 90))]
                for _ in range(rng.randint(0, 2)):
                    words[rng.randrange(len(words))] = "@" + rng.choice(WORDS[:12])
                paragraphs.append(" ".join(words) + ".")
            out.write(f"[{stamp}] {title}{star}\n" + "\n\n".join(paragraphs) + "\n\n")
            del i


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jrnl", type=Path, default=None, help="a jrnl executable to time as a peer")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="companion-bench-import-"))
    try:
        source = work / "journal.txt"
        t0 = time.perf_counter()
        make_journal(source, args.entries, args.seed)
        print(
            f"generated {args.entries} entries ({source.stat().st_size / 1e6:.1f} MB) "
            f"in {time.perf_counter() - t0:.1f} s"
        )

        app = Companion(work / "data")
        app.create("benchmark passphrase", params=FLOOR)
        t0 = time.perf_counter()
        parsed = importers.parse("jrnl", source)
        t_parse = time.perf_counter() - t0
        t1 = time.perf_counter()
        report = importing.apply(app.vault, parsed)
        t_write = time.perf_counter() - t1
        total = t_parse + t_write
        assert report.entries == args.entries, report.entries
        print(f"parse            {t_parse:7.2f} s  {args.entries / t_parse:10,.0f} entries/s")
        print(f"write (vault)    {t_write:7.2f} s  {args.entries / t_write:10,.0f} entries/s")
        print(
            f"import total     {total:7.2f} s  {args.entries / total:10,.0f} entries/s   ({report.tags} tags)"
        )

        t0 = time.perf_counter()
        again = app.transfer.import_file("jrnl", source).value
        t_again = time.perf_counter() - t0
        assert again.entries == 0 and again.duplicates == args.entries
        print(
            f"re-import (dups) {t_again:7.2f} s  {args.entries / t_again:10,.0f} entries/s   (nothing added)"
        )
        t0 = time.perf_counter()
        hits = app.journal.search("gratitude", limit=20)
        print(f"search after     {1000 * (time.perf_counter() - t0):7.1f} ms ({len(hits)} shown)")
        app.lock()
        size = sum(p.stat().st_size for p in (work / "data").iterdir())
        print(f"vault size       {size / 1e6:7.1f} MB  (source {source.stat().st_size / 1e6:.1f} MB)")

        if args.jrnl:
            config = work / "cfg" / "jrnl"
            config.mkdir(parents=True)
            (config / "jrnl.yaml").write_text(
                f"journals:\n  default:\n    journal: {source}\nencrypt: false\ntimeformat: '%F %r'\n"
                "tagsymbols: '#@'\ndefault_hour: 9\ndefault_minute: 0\nhighlight: false\nlinewrap: 79\n"
                "editor: ''\nindent_character: '|'\ntemplate: false\nversion: v4.6\n"
                "colors:\n  body: none\n  date: none\n  tags: none\n  title: none\n",
                encoding="utf-8",
            )
            env = {**os.environ, "XDG_CONFIG_HOME": str(work / "cfg"), "XDG_DATA_HOME": str(work / "xdg")}
            t0 = time.perf_counter()
            subprocess.run(
                [str(args.jrnl), "-n", "1", "--format", "json"],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            t_jrnl = time.perf_counter() - t0
            print(
                f"peer: jrnl reads {t_jrnl:7.2f} s  {args.entries / t_jrnl:10,.0f} entries/s   "
                f"(jrnl -n 1 --format json: parse the whole file, print one)"
            )
            print(f"ratio            Companion import / jrnl read = {total / t_jrnl:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
