"""Invite codes, and the two small boxes exchanged under an invite's one-time secret.

**Invite code** (text, also the QR code's content)::

    "companion-invite:1:" + base64url(canonical JSON {circle, transport, inviter, secret, expires})

It carries the circle id, the transport settings, the inviter's fingerprint (so the joiner can check who
answers), a 32-byte one-time secret and the expiry (ms since the epoch). It does *not* carry the circle name.

**Invite boxes** (``CPNI``): what a not-yet-member and the admin exchange through the shared folder, before the
joiner is on the roster and can receive ordinary envelopes::

    "CPNI" | version u8 (=1) | kind u8 (1 = join request, 2 = welcome) | invite_id t8 | nonce (12) | AEAD ciphertext

The AEAD is ChaCha20-Poly1305 under ``derive_key(secret, "companion:v1:invite-join-box"`` or
``"companion:v1:invite-welcome-box")``, with everything before the nonce as associated data. Only holders of the
invite secret (the inviter and the joiner) can open a box; the invite id in clear lets the admin find it.

* a **join request** holds the joiner's public identity, chosen display name, an :func:`invite_proof` (HMAC under
  the secret binding the circle and the joiner's keys) and the joiner's signature over all of it;
* a **welcome** holds the admitting admin's public identity (its fingerprint must equal the one in the code) and
  an ordinary envelope sealed by that admin to the joiner's HPKE key, carrying the circle name and the whole
  roster log. The joiner checks every roster signature from the first operation, so the welcome cannot add
  anything the admins did not sign.

This is a small adapter on top of ``companion.crypto`` (which has no secret-keyed box recipe); every key in it
is derived with :func:`derive_key` under its own label.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from companion.circles import names
from companion.circles.roster import b64d, b64e, canonical
from companion.crypto import (
    Identity,
    PublicIdentity,
    derive_key,
    invite_id,
    invite_proof,
    sign_message,
    verify_invite_proof,
    verify_message,
)
from companion.crypto.encoding import ID_PATTERN, DecodeError, Reader, Writer
from companion.errors import InvalidIdentity, InvalidInputError, InvalidSignature

CODE_PREFIX: Final = "companion-invite:1:"
BOX_MAGIC: Final = b"CPNI"
BOX_JOIN: Final = 1
BOX_WELCOME: Final = 2
LABEL_JOIN_BOX: Final = "companion:v1:invite-join-box"
LABEL_WELCOME_BOX: Final = "companion:v1:invite-welcome-box"
PURPOSE_JOIN: Final = "companion:v1:join-request"
DEFAULT_VALID_DAYS: Final = 7


class BoxError(Exception):
    """A box could not be parsed, opened or verified (internal; the engine records a rejection)."""


@dataclass(frozen=True)
class InviteCode:
    circle_id: str
    transport: dict[str, Any]
    inviter: str
    secret: bytes
    expires_at: int  # ms since the epoch

    @property
    def invite_id(self) -> str:
        return invite_id(self.secret)

    def encode(self) -> str:
        body = canonical({
            "circle": self.circle_id, "transport": self.transport, "inviter": self.inviter,
            "secret": b64e(self.secret), "expires": self.expires_at,
        })  # fmt: skip
        return CODE_PREFIX + base64.urlsafe_b64encode(body).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> InviteCode:
        raw = "".join(text.split())
        if not raw.startswith(CODE_PREFIX):
            raise InvalidInputError("This is not a Companion invite code. Ask for the code again and paste all of it.")
        payload = raw[len(CODE_PREFIX) :]
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            secret = b64d(data["secret"])
            code = cls(str(data["circle"]), dict(data["transport"]), str(data["inviter"]), secret, int(data["expires"]))
        except (ValueError, KeyError, TypeError):
            raise InvalidInputError("This invite code is damaged or incomplete. Ask for it again.") from None
        if len(secret) != 32 or not ID_PATTERN.fullmatch(code.circle_id):
            raise InvalidInputError("This invite code is damaged or incomplete. Ask for it again.")
        return code


# -- boxes -----------------------------------------------------------------------------------------------------


def _box_key(secret: bytes, kind: int) -> bytes:
    return derive_key(secret, LABEL_JOIN_BOX if kind == BOX_JOIN else LABEL_WELCOME_BOX)


def seal_box(secret: bytes, kind: int, plaintext: bytes) -> bytes:
    head = Writer().raw(BOX_MAGIC).u8(1).u8(kind).text8(invite_id(secret)).getvalue()
    nonce = os.urandom(12)
    return head + nonce + ChaCha20Poly1305(_box_key(secret, kind)).encrypt(nonce, plaintext, head)


def box_header(data: bytes) -> tuple[int, str]:
    """``(kind, invite_id)`` of a box, without opening it; raises :class:`BoxError`."""
    try:
        r = Reader(data)
        if r.raw(4) != BOX_MAGIC or r.u8() != 1:
            raise BoxError("not a box")
        kind = r.u8()
        iid = r.text8(ID_PATTERN)
    except DecodeError:
        raise BoxError("not a box") from None
    if kind not in (BOX_JOIN, BOX_WELCOME):
        raise BoxError("unknown box")
    return kind, iid


def open_box(secret: bytes, data: bytes) -> tuple[int, bytes]:
    kind, iid = box_header(data)
    if iid != invite_id(secret):
        raise BoxError("another invite")
    head_len = 4 + 1 + 1 + 1 + len(iid)
    head, nonce, ct = data[:head_len], data[head_len : head_len + 12], data[head_len + 12 :]
    try:
        return kind, ChaCha20Poly1305(_box_key(secret, kind)).decrypt(nonce, ct, head)
    except (InvalidTag, ValueError):
        raise BoxError("does not open") from None


@dataclass(frozen=True)
class JoinRequest:
    circle_id: str
    invite_id: str
    public: PublicIdentity
    name: str
    at: int

    @property
    def member_id(self) -> str:
        return self.public.fingerprint


def make_join_request(me: Identity, code: InviteCode, name: str) -> bytes:
    body = canonical({
        "v": 1, "circle": code.circle_id, "invite": code.invite_id, "key": b64e(me.public.to_bytes()),
        "name": name, "at": int(time.time() * 1000),
        "proof": b64e(invite_proof(code.secret, circle_id=code.circle_id, joiner=me.public)),
    })  # fmt: skip
    sig = sign_message(me, PURPOSE_JOIN, body)
    return seal_box(code.secret, BOX_JOIN, canonical({"req": b64e(body), "sig": b64e(sig)}))


def open_join_request(secret: bytes, circle_id: str, data: bytes) -> JoinRequest:
    """Open and check a join request: the box, the joiner's signature and the invite proof."""
    kind, plaintext = open_box(secret, data)
    if kind != BOX_JOIN:
        raise BoxError("not a join request")
    try:
        outer = json.loads(plaintext)
        body = b64d(outer["req"])
        f = json.loads(body)
        public = PublicIdentity.from_bytes(b64d(f["key"]))
        verify_message(public, PURPOSE_JOIN, body, b64d(outer["sig"]))
        if f.get("v") != 1 or f.get("circle") != circle_id or f.get("invite") != invite_id(secret):
            raise BoxError("for another circle")
        verify_invite_proof(secret, circle_id=circle_id, joiner=public, proof=b64d(f["proof"]))
        name = names.normalize(str(f.get("name", "")))[:80].strip()  # a modified app's bidi or invisible marks
        return JoinRequest(circle_id, invite_id(secret), public, name, int(f.get("at", 0)))
    except (ValueError, KeyError, TypeError, InvalidIdentity, InvalidSignature):
        raise BoxError("invalid join request") from None


def make_welcome(secret: bytes, admin: Identity, envelope: bytes) -> bytes:
    body = canonical({"admin": b64e(admin.public.to_bytes()), "env": b64e(envelope)})
    return seal_box(secret, BOX_WELCOME, body)


def open_welcome(secret: bytes, data: bytes) -> tuple[PublicIdentity, bytes]:
    """``(admin public identity, sealed welcome envelope)``; the caller checks the fingerprint and opens it."""
    kind, plaintext = open_box(secret, data)
    if kind != BOX_WELCOME:
        raise BoxError("not a welcome")
    try:
        f = json.loads(plaintext)
        return PublicIdentity.from_bytes(b64d(f["admin"])), b64d(f["env"])
    except (ValueError, KeyError, TypeError, InvalidIdentity):
        raise BoxError("invalid welcome") from None
