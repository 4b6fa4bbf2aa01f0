"""Durability under SIGKILL: saving entries, and changing the passphrase.

Each trial starts a child process, kills it at a random moment, and checks the vault afterwards. CI runs a
bounded number of trials; ``COMPANION_TRIALS=2000 pytest tests/core/test_crash.py`` runs as many as you like.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from companion.errors import WrongPassphraseError
from companion.services import Companion
from companion.vault.header import FLOOR

TRIALS = int(os.environ.get("COMPANION_TRIALS", "0")) or None
PASS = "durable passphrase"

SAVER = """
import sys
from pathlib import Path
from companion.services import Companion
app = Companion(Path(sys.argv[1]))
app.unlock(sys.argv[2])
print("ready", flush=True)
i = 0
while True:
    entry = app.journal.add_entry(f"trial body {i} " + "words " * (i % 50), title=f"t{i}", tags=[f"tag{i % 7}"]).value
    sys.stdout.write(f"{entry.id} {entry.uid}\\n")  # only after COMMIT returned; one write (atomic on a pipe)
    sys.stdout.flush()
    i += 1
"""


def _journal_of_400(data: Path, passphrase: str) -> None:
    app = Companion(data)
    app.create(passphrase, params=FLOOR)
    with app.vault.transaction():
        for i in range(400):
            app.journal.add_entry(f"entry {i} " + "text " * 100)
    app.lock()


def _kill_after(child: subprocess.Popen, seconds: float) -> None:
    time.sleep(seconds)
    child.send_signal(signal.SIGKILL)
    child.wait()


@pytest.mark.slow
def test_killed_while_saving_loses_no_reported_entry(tmp_path: Path) -> None:
    trials = TRIALS or 12
    rng = random.Random(1)
    data = tmp_path / "data"
    Companion(data).create(PASS, params=FLOOR)
    reported: dict[int, str] = {}
    for _ in range(trials):
        child = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(data), PASS], stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert child.stdout.readline().strip() == "ready"
        _kill_after(child, rng.uniform(0.0, 0.25))
        lines = child.stdout.read().split("\n")
        for line in lines[:-1]:  # the last piece is empty, or a line the kill cut short (never reported)
            entry_id, uid = line.split()
            reported[int(entry_id)] = uid
        app = Companion(data)
        app.unlock(PASS)
        assert app.vault.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert app.vault.conn.execute("INSERT INTO entries_fts(entries_fts) VALUES ('integrity-check')")
        for entry_id, uid in reported.items():
            assert app.journal.get_entry(entry_id).uid == uid
        app.lock()
    assert len(reported) > trials  # the trials really did save things before being killed


CHANGER = """
import sys
from pathlib import Path
from companion.services import Companion
app = Companion(Path(sys.argv[1]))
app.unlock(sys.argv[2])
real = app.vault._conn

class Announcing:  # says when the file's own work starts (after the key derivations), for the kill schedule
    def __getattr__(self, name):
        return getattr(real, name)

    def execute(self, sql, *args):
        if sql.startswith("PRAGMA wal_checkpoint"):
            print("file", flush=True)
        return real.execute(sql, *args)

app.vault._conn = Announcing()
print("ready", flush=True)
app.change_passphrase(sys.argv[2], sys.argv[3])
print("done", flush=True)
"""


def _opens(data: Path, passphrase: str) -> bool:
    app = Companion(data)
    try:
        app.unlock(passphrase)
    except WrongPassphraseError:
        return False
    ok = app.vault.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    count = app.journal.count()
    app.lock()
    assert ok and count == 400
    return True


@pytest.mark.slow
def test_killed_while_changing_passphrase_leaves_exactly_one_that_opens(tmp_path: Path) -> None:
    trials = TRIALS or 12
    rng = random.Random(2)
    data = tmp_path / "data"
    _journal_of_400(data, "pass-0")

    # How long one change takes here (from "ready" to "done"), to spread the kills over all of it.
    child = subprocess.Popen([sys.executable, "-c", CHANGER, str(data), "pass-0", "pass-1"], stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    assert child.stdout.readline().strip() == "file"
    file_start = time.perf_counter()
    assert child.stdout.readline().strip() == "done"
    span, file_span = time.perf_counter() - start, time.perf_counter() - file_start
    child.wait()
    current, outcomes = "pass-1", {"old": 0, "new": 0}
    for n in range(2, trials + 2):
        new = f"pass-{n}"
        child = subprocess.Popen(
            [sys.executable, "-c", CHANGER, str(data), current, new], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout.readline().strip() == "ready"
        if n % 2:  # anywhere in the change (most of it is the key derivations)
            _kill_after(child, rng.uniform(0.0, span * 1.1))
        else:  # within the file's own work: the checkpoint, the re-key, the header, the switch back to WAL
            assert child.stdout.readline().strip() == "file"
            _kill_after(child, rng.uniform(0.0, file_span * 1.2))
        # A person may type either passphrase first after a crash; both orders must give the same answer.
        if rng.random() < 0.5:
            old_opens, new_opens = _opens(data, current), _opens(data, new)
        else:
            new_opens, old_opens = _opens(data, new), _opens(data, current)
        assert old_opens != new_opens, f"trial {n}: old opens={old_opens}, new opens={new_opens}"
        outcomes["new" if new_opens else "old"] += 1
        current = new if new_opens else current
    print("passphrase change kill outcomes:", outcomes)
    assert sum(outcomes.values()) == trials


# Killed inside the journaled transaction that switches the re-keyed file back to WAL: a hot rollback journal is
# left beside a database that only the new key opens. (The random kills of the test above land here rarely.)
KILLED_IN_WAL_SWITCH = """
import os, sys
from pathlib import Path
from companion.services import Companion
app = Companion(Path(sys.argv[1]))
app.unlock(sys.argv[2])
vault = app.vault
real = vault._conn

class KilledInWalSwitch:
    def __getattr__(self, name):
        return getattr(real, name)

    def execute(self, sql, *args):
        if sql.replace(" ", "").upper() == "PRAGMAJOURNAL_MODE=WAL":
            real.execute("PRAGMA cache_size = 1")  # pages spill to the file before the commit
            real.execute("BEGIN IMMEDIATE")
            real.execute("UPDATE entries SET body = body || ' '")  # a journaled write, under the new key
            os._exit(9)
        return real.execute(sql, *args)

vault._conn = KilledInWalSwitch()
app.change_passphrase(sys.argv[2], sys.argv[3])
"""


def test_killed_while_switching_back_to_wal_after_the_rekey_opens_with_the_new_passphrase(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _journal_of_400(data, "old passphrase")
    child = subprocess.run([sys.executable, "-c", KILLED_IN_WAL_SWITCH, str(data), "old passphrase", "new passphrase"])
    assert child.returncode == 9
    assert (data / "vault.db-journal").stat().st_size > 0  # the state under test: a hot journal is there
    assert _opens(data, "new passphrase")
    assert not _opens(data, "old passphrase")
