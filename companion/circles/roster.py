"""The roster: an append-only, hash-chained log of signed operations, and the rules that decide each one.

Each operation is canonical JSON signed by its actor with ``sign_message("companion:v1:roster-op", ...)``. Its
hash is ``labelled_hash("companion:v1:roster-op-hash", op, sig)``; the next operation names it in ``prev``, so
the log is a chain and the last hash (the *head*) pins the whole history. Operations travel inside sealed
envelopes (kind ``roster``), so display names and the circle name never appear in clear.

Rules (:meth:`Roster.check`), all needed for an operation to apply:

* ``seq`` is one more than the current length and ``prev`` is the current head (else: duplicate, old, fork,
  or a gap that must wait);
* ``create`` only at seq 1, self-signed; every later operation is signed by someone who is an active admin
  *before* it applies;
* ``add`` names a new key whose fingerprint is ``subject``; ``remove``/``promote``/``leave`` name an active
  member; ``leave`` embeds the member's own signed notice (so an admin can record a leave without inventing
  one).

This module is pure: no database, no I/O. :class:`Roster` is rebuilt from the stored log when needed.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Final

from companion.crypto import Identity, PublicIdentity, sign_message, verify_message
from companion.crypto.derive import labelled_hash
from companion.errors import InvalidIdentity, InvalidSignature

PURPOSE_OP: Final = "companion:v1:roster-op"
PURPOSE_LEAVE: Final = "companion:v1:leave-notice"
LABEL_OP_HASH: Final = "companion:v1:roster-op-hash"
OP_TYPES: Final = ("create", "add", "remove", "promote", "leave")
ROLES: Final = ("admin", "member")
MAX_NAME: Final = 80


class RosterError(Exception):
    """An operation does not apply. ``reason`` is a short machine word (``fork``, ``old``, ``gap``, …)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True)
class SignedOp:
    """One roster operation as it travels: the signed bytes and the signature."""

    op: bytes
    sig: bytes

    @property
    def hash(self) -> bytes:
        return labelled_hash(LABEL_OP_HASH, self.op, self.sig)

    @property
    def fields(self) -> dict[str, Any]:
        data = json.loads(self.op.decode("utf-8"))
        if not isinstance(data, dict):
            raise RosterError("malformed")
        return data

    def to_json(self) -> dict[str, str]:
        return {"op": b64e(self.op), "sig": b64e(self.sig)}

    @classmethod
    def from_json(cls, data: Any) -> SignedOp:
        try:
            return cls(b64d(data["op"]), b64d(data["sig"]))
        except (KeyError, TypeError, ValueError):
            raise RosterError("malformed") from None


def make_op(actor: Identity, **fields: Any) -> SignedOp:
    """Sign a new operation. ``fields``: circle, seq, prev (hex), type, subject, and per type key/role/name/…"""
    body = {"v": 1, "actor": actor.fingerprint, **fields}
    op = canonical(body)
    return SignedOp(op, sign_message(actor, PURPOSE_OP, op))


def leave_notice(member: Identity, circle_id: str) -> dict[str, str]:
    data = canonical({"v": 1, "circle": circle_id, "member": member.fingerprint, "type": "leave"})
    return {"notice": b64e(data), "sig": b64e(sign_message(member, PURPOSE_LEAVE, data))}


@dataclass
class Member:
    member_id: str
    public: PublicIdentity
    name: str
    role: str
    status: str = "active"  # active | removed | left
    joined_seq: int = 0
    ended_seq: int | None = None
    watermark: int | None = None
    replaces: str | None = None  # an earlier member id this person used (their key changed)


@dataclass
class Roster:
    """The roster's state after applying a log of operations."""

    circle_id: str
    ops: list[SignedOp] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)
    circle_name: str = ""
    suite: str = ""

    @property
    def seq(self) -> int:
        return len(self.ops)

    @property
    def head(self) -> bytes:
        return self.ops[-1].hash if self.ops else b""

    def active(self) -> list[Member]:
        return [m for m in self.members.values() if m.status == "active"]

    def is_admin(self, member_id: str) -> bool:
        m = self.members.get(member_id)
        return m is not None and m.status == "active" and m.role == "admin"

    def knows_head(self, head: bytes) -> bool:
        return head == b"" or any(op.hash == head for op in self.ops)

    @classmethod
    def from_log(cls, circle_id: str, ops: list[SignedOp]) -> Roster:
        roster = cls(circle_id)
        for op in ops:
            roster.apply(op)
        return roster

    # -- rules -----------------------------------------------------------------------------------------------

    def check(self, signed: SignedOp) -> dict[str, Any]:
        """Return the operation's fields if it applies next; raise :class:`RosterError` saying why not."""
        try:
            f = signed.fields
        except (ValueError, UnicodeDecodeError):
            raise RosterError("malformed") from None
        seq, prev, kind = f.get("seq"), f.get("prev"), f.get("type")
        if f.get("v") != 1 or f.get("circle") != self.circle_id or not isinstance(seq, int) or seq < 1:
            raise RosterError("malformed")
        if seq <= self.seq:
            if self.ops[seq - 1].hash == signed.hash:
                raise RosterError("duplicate")
            raise RosterError("fork", f"a different operation {seq} is already pinned")
        if seq > self.seq + 1:
            raise RosterError("gap")
        if prev != self.head.hex():
            raise RosterError("fork", "it does not extend the pinned head")
        if kind not in OP_TYPES:
            raise RosterError("malformed")
        actor_id = f.get("actor")
        if kind == "create":
            if seq != 1:
                raise RosterError("malformed")
            actor_key = _public(f.get("key"))
            if actor_key.fingerprint != actor_id or f.get("subject") != actor_id:
                raise RosterError("malformed")
        else:
            if seq == 1:
                raise RosterError("malformed")
            if not self.is_admin(str(actor_id)):
                raise RosterError("not_admin", "the author is not an admin of this circle")
            actor_key = self.members[str(actor_id)].public
        try:
            verify_message(actor_key, PURPOSE_OP, signed.op, signed.sig)
        except InvalidSignature:
            raise RosterError("bad_signature") from None
        subject = f.get("subject")
        member = self.members.get(str(subject))
        name = f.get("name", "")
        if not isinstance(name, str) or len(name) > MAX_NAME:
            raise RosterError("malformed")
        if kind == "add":
            key = _public(f.get("key"))
            if key.fingerprint != subject or f.get("role") not in ROLES:
                raise RosterError("malformed")
            if member is not None and member.status == "active":
                raise RosterError("conflict", "already a member")
            old = f.get("replaces")
            if old is not None:
                prior = self.members.get(str(old))
                if prior is None or old == subject or not isinstance(f.get("watermark"), int):
                    raise RosterError("malformed", "replaces an unknown member")
        elif kind in ("remove", "promote", "leave"):
            if member is None or member.status != "active":
                raise RosterError("conflict", "not an active member")
            if kind == "remove" and subject == actor_id:
                raise RosterError("conflict", "use leave to leave")
            if kind == "leave" and subject != actor_id:
                try:
                    notice = b64d(f["notice"])
                    verify_message(member.public, PURPOSE_LEAVE, notice, b64d(f["notice_sig"]))
                    n = json.loads(notice)
                except (KeyError, TypeError, ValueError, InvalidSignature):
                    raise RosterError("bad_signature", "the leave notice is not the member's") from None
                if n.get("circle") != self.circle_id or n.get("member") != subject:
                    raise RosterError("bad_signature", "the leave notice is for someone else")
            if kind in ("remove", "leave"):
                wm = f.get("watermark")
                if not isinstance(wm, int) or wm < 0:
                    raise RosterError("malformed")
        return f

    def apply(self, signed: SignedOp) -> dict[str, Any]:
        """Check and apply; returns the fields. Raises :class:`RosterError` and changes nothing if it fails."""
        f = self.check(signed)
        kind, subject, seq = f["type"], f["subject"], f["seq"]
        if kind == "create":
            self.circle_name = str(f.get("circle_name", ""))
            self.suite = str(f.get("suite", ""))
            self.members[subject] = Member(subject, _public(f["key"]), f.get("name", ""), "admin", joined_seq=1)
        elif kind == "add":
            new = Member(subject, _public(f["key"]), f.get("name", ""), f["role"], joined_seq=seq)
            old = self.members.get(str(f.get("replaces")))
            if old is not None:
                new.replaces = old.member_id
                new.name = new.name or old.name
                if old.status == "active":
                    old.status, old.ended_seq, old.watermark = "replaced", seq, int(f["watermark"])
            self.members[subject] = new
        elif kind == "promote":
            self.members[subject].role = "admin"
        else:  # remove, leave
            m = self.members[subject]
            m.status = "removed" if kind == "remove" else "left"
            m.ended_seq = seq
            m.watermark = int(f["watermark"])
        self.ops.append(signed)
        return f


def _public(text: Any) -> PublicIdentity:
    try:
        return PublicIdentity.from_bytes(b64d(str(text)))
    except (ValueError, InvalidIdentity):
        raise RosterError("malformed", "bad key") from None
