"""All SQL of the circles component. Callers hold the transaction; nothing here commits on its own.

The vault is encrypted at rest, so what is stored here (received items, display names, keys) is as protected as
the journal itself.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from companion.circles.roster import Member, Roster, SignedOp
from companion.crypto import Identity, PublicIdentity
from companion.crypto.derive import b32
from companion.crypto.encoding import lp
from companion.errors import NotFoundError
from companion.vault.store import Vault

LABEL_BLOB_ID = "companion:v1:blob-id"


def now_ms() -> int:
    return int(time.time() * 1000)


def blob_id(data: bytes) -> str:
    """The content address of any blob (envelope or invite box): base32 of SHA-256(lp(label) || data).

    Not ``crypto.envelope_id``: that one length-prefixes the whole envelope with a u16 and so raises for envelopes
    over 64 KiB (a long entry, or a welcome carrying a large roster). Reported to the crypto core's owner.
    """
    return b32(hashlib.sha256(lp(LABEL_BLOB_ID.encode("ascii")) + bytes(data)).digest())


@dataclass(frozen=True)
class CircleRow:
    id: str
    name: str
    my_name: str
    transport: dict[str, Any]
    writer_id: str
    suite: str
    state: str
    roster_seq: int
    roster_head: bytes
    cursor: str | None
    invite_id: str | None
    invite_secret: bytes | None
    inviter: str | None
    created_at: int
    last_sync: int | None


_CIRCLE_COLS = (
    "id, name, my_name, transport, writer_id, suite, state, roster_seq, roster_head, cursor, invite_id, "
    "invite_secret, inviter, created_at, last_sync"
)


def _circle(row: Any) -> CircleRow:
    values = list(row)
    values[3] = json.loads(values[3])
    values[8] = bytes(values[8] or b"")
    values[11] = bytes(values[11]) if values[11] is not None else None
    return CircleRow(*values)


class CircleStore:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    @property
    def conn(self) -> Any:
        return self.vault.conn

    # -- identity --------------------------------------------------------------------------------------------

    def identity(self, *, create: bool = True) -> Identity:
        row = self.conn.execute("SELECT secret FROM circle_identity WHERE id = 1").fetchone()
        if row is not None:
            return Identity.from_bytes(bytes(row[0]))
        if not create:
            raise NotFoundError("This journal has no sharing identity yet.")
        identity = Identity.generate()
        with self.vault.transaction() as conn:
            conn.execute(
                "INSERT INTO circle_identity(id, secret, created_at) VALUES (1, ?, ?)", (identity.to_bytes(), now_ms())
            )
        return identity

    # -- circles ---------------------------------------------------------------------------------------------

    def circles(self) -> list[CircleRow]:
        rows = self.conn.execute(f"SELECT {_CIRCLE_COLS} FROM circles ORDER BY created_at, id").fetchall()
        return [_circle(r) for r in rows]

    def circle(self, circle_id: str) -> CircleRow:
        row = self.conn.execute(f"SELECT {_CIRCLE_COLS} FROM circles WHERE id = ?", (circle_id,)).fetchone()
        if row is None:
            raise NotFoundError("There is no such circle in this journal.")
        return _circle(row)

    def insert_circle(self, row: CircleRow) -> None:
        self.conn.execute(
            f"INSERT INTO circles({_CIRCLE_COLS}) VALUES ({', '.join('?' * 15)})",
            (row.id, row.name, row.my_name, json.dumps(row.transport), row.writer_id, row.suite, row.state,
             row.roster_seq, row.roster_head, row.cursor, row.invite_id, row.invite_secret, row.inviter,
             row.created_at, row.last_sync),
        )  # fmt: skip

    def update_circle(self, circle_id: str, **fields: Any) -> None:
        if "transport" in fields:
            fields["transport"] = json.dumps(fields["transport"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(f"UPDATE circles SET {sets} WHERE id = ?", (*fields.values(), circle_id))

    # -- roster ----------------------------------------------------------------------------------------------

    def roster(self, circle_id: str) -> Roster:
        rows = self.conn.execute(
            "SELECT op, sig FROM roster_ops WHERE circle_id = ? ORDER BY seq", (circle_id,)
        ).fetchall()
        return Roster.from_log(circle_id, [SignedOp(bytes(o), bytes(s)) for o, s in rows])

    def save_roster_op(self, roster: Roster, signed: SignedOp) -> None:
        """Persist an operation already applied to ``roster`` in memory, and the member rows it changed."""
        f = signed.fields
        self.conn.execute(
            "INSERT INTO roster_ops(circle_id, seq, op, sig, hash) VALUES (?, ?, ?, ?, ?)",
            (roster.circle_id, f["seq"], signed.op, signed.sig, signed.hash),
        )
        self.conn.execute(
            "UPDATE circles SET roster_seq = ?, roster_head = ? WHERE id = ?",
            (roster.seq, roster.head, roster.circle_id),
        )
        if f["type"] == "create":
            self.conn.execute(
                "UPDATE circles SET name = ?, suite = ? WHERE id = ?",
                (roster.circle_name, roster.suite or "x25519", roster.circle_id),
            )
        subject = roster.members[f["subject"]]
        if subject.replaces is not None and f["type"] == "add":
            self.save_member(roster.circle_id, roster.members[subject.replaces])
        self.save_member(roster.circle_id, subject)

    def save_member(self, circle_id: str, m: Member) -> None:
        prior = self.conn.execute(
            "SELECT public, verified FROM members WHERE circle_id = ? AND member_id = ?", (circle_id, m.member_id)
        ).fetchone()
        verified = self._verified_elsewhere(m.public)
        if prior is not None:
            verified = verified or (bytes(prior[0]) == m.public.to_bytes() and bool(prior[1]))
        key_changed = m.replaces is not None and not verified
        self.conn.execute(
            "INSERT INTO members(circle_id, member_id, public, name, role, status, verified, key_changed, joined_seq, "
            "ended_seq, watermark) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(circle_id, member_id) DO UPDATE SET public = excluded.public, name = excluded.name, "
            "role = excluded.role, status = excluded.status, "
            "verified = excluded.verified, key_changed = excluded.key_changed, joined_seq = excluded.joined_seq, "
            "ended_seq = excluded.ended_seq, watermark = excluded.watermark",
            (circle_id, m.member_id, m.public.to_bytes(), m.name, m.role, m.status, int(verified), int(key_changed),
             m.joined_seq, m.ended_seq, m.watermark),
        )  # fmt: skip

    def _verified_elsewhere(self, public: PublicIdentity) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM members WHERE public = ? AND verified = 1 LIMIT 1", (public.to_bytes(),)
        ).fetchone()
        return row is not None

    def member_rows(self, circle_id: str) -> list[tuple[Any, ...]]:
        """``(member_id, public, name, role, status, verified, key_changed, joined_seq, ended_seq, watermark,
        roster_name)``: ``name`` is the latest name the member chose (``member_names``), else the roster's."""
        return self.conn.execute(
            "SELECT m.member_id, m.public, coalesce(n.name, m.name), m.role, m.status, m.verified, m.key_changed, "
            "m.joined_seq, m.ended_seq, m.watermark, m.name FROM members m LEFT JOIN member_names n "
            "ON n.circle_id = m.circle_id AND n.member_id = m.member_id WHERE m.circle_id = ? "
            "ORDER BY m.joined_seq, m.member_id",
            (circle_id,),
        ).fetchall()

    # -- display names (companion/circles/names.py) ------------------------------------------------------------

    def display_names(self, circle_id: str) -> dict[str, str]:
        """``{member id: the name shown}``: the latest chosen name, else the roster's."""
        return {str(r[0]): str(r[2]) for r in self.member_rows(circle_id)}

    def name_counter(self, circle_id: str, member_id: str) -> int:
        row = self.conn.execute(
            "SELECT counter FROM member_names WHERE circle_id = ? AND member_id = ?", (circle_id, member_id)
        ).fetchone()
        return int(row[0]) if row is not None else 0

    def set_name(self, circle_id: str, member_id: str, name: str, counter: int, statement: dict[str, str]) -> bool:
        """Keep ``name`` as the member's current one if ``counter`` is greater than the stored statement's."""
        if counter <= self.name_counter(circle_id, member_id):
            return False
        self.conn.execute(
            "INSERT INTO member_names(circle_id, member_id, name, counter, statement, at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(circle_id, member_id) DO UPDATE SET name = excluded.name, counter = excluded.counter, "
            "statement = excluded.statement, at = excluded.at",
            (circle_id, member_id, name, counter, json.dumps(statement), now_ms()),
        )
        return True

    def name_statements(self, circle_id: str, member_ids: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
        """``{member id: signed statement}`` of the stored names (of ``member_ids`` only, if given)."""
        rows = self.conn.execute(
            "SELECT member_id, statement FROM member_names WHERE circle_id = ?", (circle_id,)
        ).fetchall()
        wanted = set(member_ids) if member_ids is not None else None
        return {str(r[0]): json.loads(r[1]) for r in rows if wanted is None or r[0] in wanted}

    def set_verified(self, public: PublicIdentity, verified: bool) -> None:
        self.conn.execute(
            "UPDATE members SET verified = ?, key_changed = 0 WHERE public = ?", (int(verified), public.to_bytes())
        )

    # -- counters and seen blobs -----------------------------------------------------------------------------

    def next_counter(self, circle_id: str) -> int:
        row = self.conn.execute("SELECT next FROM counters WHERE circle_id = ?", (circle_id,)).fetchone()
        value = int(row[0]) if row else 1
        self.conn.execute(
            "INSERT INTO counters(circle_id, next) VALUES (?, ?) ON CONFLICT(circle_id) DO UPDATE SET next = ?",
            (circle_id, value + 1, value + 1),
        )
        return value

    def seen(self, blob_id: str) -> str | None:
        row = self.conn.execute("SELECT outcome FROM seen_envelopes WHERE blob_id = ?", (blob_id,)).fetchone()
        return row[0] if row else None

    def counter_used(self, circle_id: str, author: str, counter: int) -> bool:
        return (
            self.conn.execute(
                "SELECT 1 FROM seen_envelopes WHERE circle_id = ? AND author = ? AND counter = ?",
                (circle_id, author, counter),
            ).fetchone()
            is not None
        )

    def max_counter(self, circle_id: str, author: str) -> int:
        row = self.conn.execute(
            "SELECT max(counter) FROM seen_envelopes WHERE circle_id = ? AND author = ? AND outcome != 'rejected'",
            (circle_id, author),
        ).fetchone()
        return int(row[0] or 0)

    def mark_seen(
        self, blob_id: str, circle_id: str, outcome: str, *, author: str | None = None, counter: int | None = None
    ) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO seen_envelopes(blob_id, circle_id, author, counter, outcome, at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (blob_id, circle_id, author, counter, outcome, now_ms()),
        )

    def reject(self, blob_id: str, circle_id: str, author: str | None, reason: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO seen_envelopes(blob_id, circle_id, author, counter, outcome, at) "
            "VALUES (?, ?, NULL, NULL, 'rejected', ?)",
            (blob_id, circle_id, now_ms()),
        )
        self.conn.execute(
            "INSERT INTO rejections(circle_id, blob_id, author, reason, at) VALUES (?, ?, ?, ?, ?)",
            (circle_id, blob_id, author, reason, now_ms()),
        )

    # -- outbox ----------------------------------------------------------------------------------------------

    def enqueue(
        self, circle_id: str, blob_id: str, blob: bytes, *, author: str | None, counter: int | None,
        seal: str | None = None,
    ) -> None:  # fmt: skip
        """Queue an (inner) blob. ``seal`` pins the transport seal it goes out under (``None``: the circle's
        current key when the sync plans it; ``""``: unsealed; else a seal key)."""
        self.conn.execute(
            "INSERT OR IGNORE INTO outbox(circle_id, blob_id, blob, created_at, seal) VALUES (?, ?, ?, ?, ?)",
            (circle_id, blob_id, blob, now_ms(), seal),
        )
        self.mark_seen(blob_id, circle_id, "own", author=author, counter=counter)

    def unsent(self, circle_id: str, limit: int = 500) -> list[tuple[int, bytes, str | None]]:
        """``(outbox id, blob, pinned seal)``, oldest first."""
        rows = self.conn.execute(
            "SELECT id, blob, seal FROM outbox WHERE circle_id = ? AND sent_at IS NULL ORDER BY id LIMIT ?",
            (circle_id, limit),
        ).fetchall()
        return [(int(i), bytes(b), s) for i, b, s in rows]

    def pin_unsent(self, circle_id: str, seal: str) -> None:
        """Pin what waits unpinned in the outbox to ``seal`` (a key, or ``""`` for unsealed): before a rotation."""
        self.conn.execute(
            "UPDATE outbox SET seal = ? WHERE circle_id = ? AND sent_at IS NULL AND seal IS NULL", (seal, circle_id)
        )

    def mark_sent(self, ids: Iterable[int]) -> None:
        at = now_ms()
        self.conn.executemany("UPDATE outbox SET sent_at = ? WHERE id = ?", [(at, i) for i in ids])

    def outbox_count(self, circle_id: str) -> int:
        return int(
            self.conn.execute(
                "SELECT count(*) FROM outbox WHERE circle_id = ? AND sent_at IS NULL", (circle_id,)
            ).fetchone()[0]
        )

    # -- pending ---------------------------------------------------------------------------------------------

    def pending(self, circle_id: str) -> list[tuple[str, bytes, int]]:
        rows = self.conn.execute(
            "SELECT blob_id, blob, first_seen FROM pending_blobs WHERE circle_id = ? ORDER BY first_seen", (circle_id,)
        ).fetchall()
        return [(r[0], bytes(r[1]), int(r[2])) for r in rows]

    def set_pending(self, circle_id: str, blob_id: str, blob: bytes, reason: str) -> None:
        self.conn.execute(
            "INSERT INTO pending_blobs(blob_id, circle_id, blob, reason, first_seen) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(blob_id) DO UPDATE SET reason = excluded.reason",
            (blob_id, circle_id, blob, reason, now_ms()),
        )

    def drop_pending(self, blob_id: str) -> None:
        self.conn.execute("DELETE FROM pending_blobs WHERE blob_id = ?", (blob_id,))
