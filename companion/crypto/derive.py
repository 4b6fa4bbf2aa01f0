"""Every key derivation and labelled hash in Companion, in one place, each named by its purpose.

A purpose label is ASCII and starts with ``companion:v1:``; the labels used by the protocol itself are the
constants below (``docs/protocol.md`` lists them with their exact inputs). A new purpose is a new label: never
reuse one key for two purposes.

* :func:`derive_key` — HKDF-SHA256 (RFC 5869; the tests check it against ``cryptography``'s HKDF) with
  ``info = label``, optionally followed by ``0x00 || context``.
* :func:`labelled_hash` — SHA-256 over ``lp(label) || lp(part1) || lp(part2) …`` (``lp`` = u16 length prefix), so
  no two different inputs can collide by shifting bytes between parts.
* Invite helpers: :func:`new_secret`, :func:`invite_id`, :func:`invite_proof`, :func:`verify_invite_proof`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from companion.crypto.encoding import ID_PATTERN, check_text, lp
from companion.errors import InvalidSignature

if TYPE_CHECKING:
    from companion.crypto.identity import PublicIdentity

__all__ = [
    "LABEL_ENVELOPE_ID",
    "LABEL_ENVELOPE_SIGNATURE",
    "LABEL_FINGERPRINT",
    "LABEL_HEADER",
    "LABEL_INVITE_ID",
    "LABEL_INVITE_PROOF",
    "LABEL_PAYLOAD",
    "LABEL_SAFETY_NUMBER",
    "LABEL_SIGNED_MESSAGE",
    "LABEL_STANZA",
    "LABEL_TRANSPORT_SEAL_ENC",
    "LABEL_TRANSPORT_SEAL_ID",
    "LABEL_TRANSPORT_SEAL_NONCE",
    "Rng",
    "b32",
    "derive_key",
    "invite_id",
    "invite_proof",
    "labelled_hash",
    "new_secret",
    "verify_invite_proof",
]

#: A source of random bytes: ``rng(n)`` returns ``n`` bytes. Defaults to :func:`os.urandom` everywhere.
Rng = Callable[[int], bytes]

PREFIX: Final = "companion:v1:"
_LABEL_RE: Final = re.compile(r"companion:v1:[a-z0-9][a-z0-9._:-]{0,99}")

# Labels used by the protocol (docs/protocol.md § "Labels").
LABEL_HEADER: Final = "companion:v1:envelope-header"  # digest of the header, bound into stanzas
LABEL_STANZA: Final = "companion:v1:stanza"  # HPKE info prefix for content-key wrapping
LABEL_PAYLOAD: Final = "companion:v1:payload"  # payload AEAD key + nonce from the content key
LABEL_ENVELOPE_SIGNATURE: Final = "companion:v1:envelope"  # signature purpose for envelopes (reserved)
LABEL_SIGNED_MESSAGE: Final = "companion:v1:signed-message"  # prefix of every Ed25519-signed input
LABEL_ENVELOPE_ID: Final = "companion:v1:envelope-id"  # content address of an envelope
LABEL_FINGERPRINT: Final = "companion:v1:fingerprint"  # member id from a public identity
LABEL_SAFETY_NUMBER: Final = "companion:v1:safety-number"  # safety-number chain
LABEL_INVITE_ID: Final = "companion:v1:invite-id"  # public handle of an invite secret
LABEL_INVITE_PROOF: Final = "companion:v1:invite-proof"  # HMAC key proving knowledge of an invite secret
LABEL_TRANSPORT_SEAL_ENC: Final = "companion:v1:transport-seal-enc"  # AEAD key of the carrier-blind wrapping
LABEL_TRANSPORT_SEAL_NONCE: Final = "companion:v1:transport-seal-nonce"  # HMAC key of its synthetic nonce
LABEL_TRANSPORT_SEAL_ID: Final = "companion:v1:transport-seal-id"  # a seal key's id: breaks ties between rotations


def check_label(purpose: str) -> bytes:
    """Return the label as bytes; raise ``ValueError`` unless it is ``companion:v1:`` + ``[a-z0-9._:-]``."""
    if not isinstance(purpose, str) or _LABEL_RE.fullmatch(purpose) is None:
        raise ValueError(f"purpose labels must look like {PREFIX}name (lowercase ascii), got {purpose!r}")
    return purpose.encode("ascii")


def derive_key(ikm: bytes, purpose: str, *, salt: bytes = b"", length: int = 32, context: bytes = b"") -> bytes:
    """Derive ``length`` bytes from ``ikm`` for one named ``purpose`` with HKDF-SHA256.

    ``info`` is the ASCII label, followed by ``0x00 || context`` when ``context`` is non-empty. ``salt`` is HKDF's
    salt (empty means HKDF's default of zeros). Raises ``ValueError`` for a label without the ``companion:v1:``
    prefix, an empty ``ikm`` or a length outside 1..255*32.
    """
    label = check_label(purpose)
    if not isinstance(ikm, bytes | bytearray) or len(ikm) == 0:
        raise ValueError("ikm must be non-empty bytes")
    if not 1 <= length <= 255 * 32:
        raise ValueError("length out of range for HKDF-SHA256")
    info = label + (b"\x00" + bytes(context) if context else b"")
    return _hkdf_sha256(bytes(ikm), bytes(salt), info, length)


def _hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF with SHA-256 (stdlib HMAC: a few microseconds, on every envelope's path)."""
    prk = hmac.digest(salt or bytes(32), ikm, "sha256")
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes([counter]), "sha256")
        out += block
        counter += 1
    return out[:length]


def labelled_hash(purpose: str, *parts: bytes) -> bytes:
    """SHA-256 of ``lp(label) || lp(part) ...`` — an unambiguous, domain-separated hash."""
    h = hashlib.sha256(lp(check_label(purpose)))
    for part in parts:
        h.update(lp(part))
    return h.digest()


def b32(data: bytes) -> str:
    """Lowercase base32 without padding (safe in file names on case-insensitive file systems)."""
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


# -- invite secrets ------------------------------------------------------------------------------------------------


def new_secret(rng: Rng | None = None) -> bytes:
    """A fresh 32-byte secret (for invites and content keys)."""
    out = (rng or os.urandom)(32)
    if len(out) != 32:
        raise ValueError("rng returned the wrong number of bytes")
    return out


def invite_id(secret: bytes) -> str:
    """A public handle for an invite secret (lets an admin find the invite without the secret being sent)."""
    return b32(derive_key(secret, LABEL_INVITE_ID, length=16))


def invite_proof(secret: bytes, *, circle_id: str, joiner: PublicIdentity) -> bytes:
    """HMAC-SHA256 proving knowledge of ``secret``, bound to the circle and to the joiner's public identity.

    A proof cannot be replayed for another circle or by another person: the MAC covers the circle id and a hash
    of the joiner's whole public bundle.
    """
    check_text(circle_id, ID_PATTERN, "circle_id")
    key = derive_key(secret, LABEL_INVITE_PROOF)
    msg = lp(circle_id.encode("ascii")) + lp(joiner.digest)
    return hmac.new(key, msg, hashlib.sha256).digest()


def verify_invite_proof(secret: bytes, *, circle_id: str, joiner: PublicIdentity, proof: bytes) -> None:
    """Check a proof from :func:`invite_proof` in constant time; raise :class:`InvalidSignature` if wrong."""
    expected = invite_proof(secret, circle_id=circle_id, joiner=joiner)
    if not isinstance(proof, bytes | bytearray) or not hmac.compare_digest(expected, bytes(proof)):
        raise InvalidSignature()
