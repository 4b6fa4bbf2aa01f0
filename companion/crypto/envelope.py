"""Envelopes v1: signed, end-to-end encrypted items for a circle. The recipes are :func:`seal` and
:func:`open_envelope`; :func:`verify_envelope` checks without decrypting; :func:`envelope_id` is the content address.

Layout (every integer big-endian; ``docs/protocol.md`` § "Envelope v1" is the normative description)::

    envelope = "CPNE" | version u8 (=1) | header_len u16 | header
             | stanza_count u8 | stanza × stanza_count      (fixed length per suite)
             | ciphertext_len u32 | ciphertext             (= bucket size + 16)
             | signature (64)                              (Ed25519 by the author)
    header   = kind t8 | circle_id t8 | item_id t8 | revision u64 | author t8 | counter u64
             | roster_head b8 (0..64) | created_at u64 (ms) | bucket u8 | suite u8 | salt (32)

Opening checks, in order: size and structure (strict, canonical, no trailing bytes) → the author's key (from the
caller) → the Ed25519 signature over everything before it → the content key (from the caller, else by trying each
stanza with HPKE) → the payload AEAD → the padding. Every failure raises :class:`~companion.errors.InvalidEnvelope`
and nothing else; nothing is returned from an envelope that failed any step.
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from companion.crypto.derive import (
    LABEL_ENVELOPE_ID,
    LABEL_ENVELOPE_SIGNATURE,
    LABEL_HEADER,
    LABEL_PAYLOAD,
    LABEL_STANZA,
    Rng,
    _hkdf_sha256,
    b32,
    labelled_hash,
)
from companion.crypto.encoding import ID_PATTERN, KIND_PATTERN, DecodeError, Reader, check_text, lp
from companion.crypto.identity import SIGNATURE_LEN, Identity, PublicIdentity, _verify_raw
from companion.crypto.suites import CONTENT_KEY_LEN, DEFAULT_SUITE, SUITES_BY_ID, suite_by_name
from companion.errors import InvalidEnvelope, InvalidSignature

__all__ = [
    "BUCKETS",
    "KINDS",
    "MAX_PAYLOAD",
    "MAX_RECIPIENTS",
    "Header",
    "Opened",
    "envelope_id",
    "new_content_key",
    "open_envelope",
    "peek_header",
    "seal",
    "verify_envelope",
]

MAGIC: Final = b"CPNE"
VERSION: Final = 1
#: Padded plaintext sizes (``u32`` length + payload + zero bytes): 256 B, 1 KiB, 4 KiB … 4 MiB (×4 each step).
BUCKETS: Final = tuple(256 * 4**i for i in range(8))
MAX_PAYLOAD: Final = BUCKETS[-1] - 4
MAX_RECIPIENTS: Final = 255
MAX_ROSTER_HEAD: Final = 64
SALT_LEN: Final = 32
_TAG_LEN: Final = 16
_U64_MAX: Final = 2**64 - 1
_NONCE_LEN: Final = 12
_HEADER_MAX: Final = 0xFFFF
MAX_ENVELOPE_LEN: Final = (
    len(MAGIC) + 1 + 2 + _HEADER_MAX + 1 + MAX_RECIPIENTS * 1168 + 4 + BUCKETS[-1] + _TAG_LEN + SIGNATURE_LEN
)
#: Kinds the circles layer uses today. ``kind`` stays an open string (``[a-z][a-z0-9_.-]{0,31}``): a new kind
#: needs no change here; this tuple is documentation, not a gate.
KINDS: Final = ("item", "retract", "reply", "reaction", "roster", "join", "checkin", "status")

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Header:
    """The signed, cleartext header of an envelope. ``created_at`` is milliseconds since the Unix epoch."""

    kind: str
    circle_id: str
    item_id: str
    revision: int
    author: str
    counter: int
    roster_head: bytes
    created_at: int
    bucket: int
    suite: str
    salt: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Opened:
    """An envelope that passed every check: its header, its payload and the content key that opened it."""

    header: Header
    payload: bytes = field(repr=False)
    content_key: bytes = field(repr=False)


def new_content_key(rng: Rng | None = None) -> bytes:
    """A fresh 32-byte content key (keep it to seal replies and reactions under the same key)."""
    key = (rng or os.urandom)(CONTENT_KEY_LEN)
    if len(key) != CONTENT_KEY_LEN:
        raise ValueError("rng returned the wrong number of bytes")
    return key


# -- encoding ------------------------------------------------------------------------------------------------------


def _encode_header(h: Header) -> bytes:
    def t8(text: str) -> bytes:
        raw = text.encode("ascii")
        return bytes([len(raw)]) + raw

    if len(h.roster_head) > 0xFF or len(h.salt) != SALT_LEN:
        raise ValueError("roster_head or salt out of range")
    return b"".join(
        (
            t8(h.kind), t8(h.circle_id), t8(h.item_id), struct.pack(">Q", h.revision), t8(h.author),
            struct.pack(">QB", h.counter, len(h.roster_head)), h.roster_head,
            struct.pack(">QBB", h.created_at, h.bucket, suite_by_name(h.suite).id), h.salt,
        )
    )  # fmt: skip


def _decode_header(data: bytes) -> Header:
    r = Reader(data)
    kind = r.text8(KIND_PATTERN)
    circle_id = r.text8(ID_PATTERN)
    item_id = r.text8(ID_PATTERN)
    revision = r.u64()
    author = r.text8(ID_PATTERN)
    counter = r.u64()
    roster_head = r.bytes8(max_len=MAX_ROSTER_HEAD)
    created_at = r.u64()
    bucket = r.u8()
    suite_id = r.u8()
    salt = r.raw(SALT_LEN)
    r.end()
    if bucket >= len(BUCKETS) or suite_id not in SUITES_BY_ID:
        raise DecodeError("unknown bucket or suite")
    return Header(
        kind, circle_id, item_id, revision, author, counter, roster_head, created_at, bucket,
        SUITES_BY_ID[suite_id].name, salt,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Parsed:
    header: Header
    head: bytes  # magic .. end of header: the payload AEAD's associated data
    stanzas: tuple[bytes, ...]
    ciphertext: bytes
    body: bytes  # everything the signature covers
    signature: bytes


def _parse(data: bytes) -> _Parsed:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError("expected bytes")
    data = bytes(data)
    if len(data) > MAX_ENVELOPE_LEN:
        raise DecodeError("too large")
    r = Reader(data)
    if r.raw(len(MAGIC)) != MAGIC or r.u8() != VERSION:
        raise DecodeError("not a v1 envelope")
    header_len = r.u16()
    header = _decode_header(r.raw(header_len))
    head = data[: r.position]
    suite = suite_by_name(header.suite)
    count = r.u8()
    stanzas = tuple(r.raw(suite.stanza_len) for _ in range(count))
    ct_len = r.u32()
    if ct_len != BUCKETS[header.bucket] + _TAG_LEN:
        raise DecodeError("ciphertext length does not match its bucket")
    ciphertext = r.raw(ct_len)
    body = data[: r.position]
    signature = r.raw(SIGNATURE_LEN)
    r.end()
    return _Parsed(header, head, stanzas, ciphertext, body, signature)


def _assemble(author: Identity, header_bytes: bytes, stanzas: Sequence[bytes], ciphertext: bytes) -> bytes:
    """Frame and sign raw parts. Internal seam (like Fernet's ``_encrypt_from_parts``) used by tests to build
    envelopes that are validly signed but otherwise wrong; :func:`seal` is the only supported way to make one."""
    body = b"".join(
        (
            MAGIC, struct.pack(">BH", VERSION, len(header_bytes)), header_bytes, struct.pack(">B", len(stanzas)),
            *stanzas, struct.pack(">I", len(ciphertext)), ciphertext,
        )
    )  # fmt: skip
    return body + author._sign_raw(LABEL_ENVELOPE_SIGNATURE, body)


def _head_for(header_bytes: bytes) -> bytes:
    return MAGIC + bytes([VERSION]) + len(header_bytes).to_bytes(2, "big") + header_bytes


def _header_digest(head: bytes) -> bytes:
    return labelled_hash(LABEL_HEADER, head)


def _stanza_info(digest: bytes) -> bytes:
    return lp(LABEL_STANZA.encode("ascii")) + digest


_PAYLOAD_INFO: Final = LABEL_PAYLOAD.encode("ascii") + b"\x00"  # derive_key's info layout, precomputed


def _payload_cipher(content_key: bytes, digest: bytes) -> tuple[ChaCha20Poly1305, bytes]:
    """Same as ``derive_key(content_key, LABEL_PAYLOAD, context=digest, length=44)`` without re-checking the label."""
    okm = _hkdf_sha256(content_key, b"", _PAYLOAD_INFO + digest, 32 + _NONCE_LEN)
    return ChaCha20Poly1305(okm[:32]), okm[32:]


def _pad(payload: bytes, bucket: int) -> bytes:
    size = BUCKETS[bucket]
    return len(payload).to_bytes(4, "big") + payload + bytes(size - 4 - len(payload))


def _unpad(padded: bytes) -> bytes:
    n = int.from_bytes(padded[:4], "big")
    if n > len(padded) - 4 or padded.count(0, 4 + n) != len(padded) - 4 - n:  # every padding byte is zero
        raise DecodeError("bad padding")
    return padded[4 : 4 + n]


def _shuffle(items: list[bytes], rng: Rng) -> None:
    """Fisher–Yates with unbiased draws from ``rng`` (so fixed randomness gives a fixed order)."""
    for i in range(len(items) - 1, 0, -1):
        bound = i + 1
        limit = (1 << 32) - (1 << 32) % bound
        while True:
            draw = int.from_bytes(rng(4), "big")
            if draw < limit:
                break
        j = draw % bound
        items[i], items[j] = items[j], items[i]


# -- recipes -------------------------------------------------------------------------------------------------------


def seal(
    author: Identity,
    recipients: Sequence[PublicIdentity],
    *,
    kind: str,
    circle_id: str,
    item_id: str,
    revision: int,
    counter: int,
    roster_head: bytes,
    payload: bytes,
    suite: str = DEFAULT_SUITE,
    content_key: bytes | None = None,
    min_bucket: int = 0,
    rng: Rng | None = None,
    clock: Clock | None = None,
) -> bytes:
    """Encrypt ``payload`` for ``recipients`` and sign it as ``author``; returns the envelope bytes.

    * A fresh content key is drawn unless ``content_key`` is given (replies and reactions reuse their item's key:
      get one from :func:`new_content_key` and keep it). It is wrapped to each recipient with HPKE, one stanza
      each, in shuffled order and without recipient ids. With ``content_key`` given, ``recipients`` may be empty:
      the envelope then carries no stanzas and readers must already hold the key.
    * The payload is padded to the smallest bucket in :data:`BUCKETS` that fits (never below ``min_bucket``).
    * ``rng`` (``rng(n) -> n bytes``) and ``clock`` (seconds, like ``time.time``) are seams for fixed vectors;
      HPKE draws its own ephemeral randomness, so only envelopes without stanzas are fully reproducible.

    Raises ``ValueError``/``TypeError`` for invalid arguments (a programming error, not a runtime condition).
    """
    if not isinstance(author, Identity):
        raise TypeError("author must be an Identity")
    check_text(kind, KIND_PATTERN, "kind")
    check_text(circle_id, ID_PATTERN, "circle_id")
    check_text(item_id, ID_PATTERN, "item_id")
    for name, value in (("revision", revision), ("counter", counter)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _U64_MAX:
            raise ValueError(f"{name} must be an int in 0..2**64-1")
    if not isinstance(roster_head, bytes) or len(roster_head) > MAX_ROSTER_HEAD:
        raise ValueError(f"roster_head must be bytes of at most {MAX_ROSTER_HEAD}")
    if not isinstance(payload, bytes | bytearray) or len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload must be bytes of at most {MAX_PAYLOAD}")
    if not isinstance(min_bucket, int) or not 0 <= min_bucket < len(BUCKETS):
        raise ValueError("min_bucket out of range")
    hpke_suite = suite_by_name(suite)
    unique: dict[bytes, PublicIdentity] = {}
    for r in recipients:
        if not isinstance(r, PublicIdentity):
            raise TypeError("recipients must be PublicIdentity objects")
        unique.setdefault(r.to_bytes(), r)
    if len(unique) > MAX_RECIPIENTS:
        raise ValueError(f"at most {MAX_RECIPIENTS} recipients")
    rng = rng or os.urandom
    if content_key is None:
        if not unique:
            raise ValueError("an envelope with a fresh content key needs at least one recipient")
        content_key = new_content_key(rng)
    elif not isinstance(content_key, bytes) or len(content_key) != CONTENT_KEY_LEN:
        raise ValueError("content_key must be 32 bytes")
    payload = bytes(payload)
    bucket = next(i for i, size in enumerate(BUCKETS) if size - 4 >= len(payload) and i >= min_bucket)
    salt = rng(SALT_LEN)
    if len(salt) != SALT_LEN:
        raise ValueError("rng returned the wrong number of bytes")
    created_at = int((clock or time.time)() * 1000)
    if not 0 <= created_at <= _U64_MAX:
        raise ValueError("clock out of range")
    header = Header(
        kind, circle_id, item_id, revision, author.fingerprint, counter, roster_head, created_at, bucket,
        hpke_suite.name, salt,
    )  # fmt: skip
    header_bytes = _encode_header(header)
    head = _head_for(header_bytes)
    digest = _header_digest(head)
    info = _stanza_info(digest)
    stanzas = [hpke_suite.hpke.encrypt(content_key, r.kem_key(hpke_suite), info=info) for r in unique.values()]
    _shuffle(stanzas, rng)
    cipher, nonce = _payload_cipher(content_key, digest)
    ciphertext = cipher.encrypt(nonce, _pad(payload, bucket), head)
    return _assemble(author, header_bytes, stanzas, ciphertext)


def _parse_and_verify(data: bytes, author_key: Callable[[str], PublicIdentity | None]) -> _Parsed:
    try:
        parsed = _parse(data)
    except DecodeError:
        raise InvalidEnvelope() from None
    public = author_key(parsed.header.author)
    if not isinstance(public, PublicIdentity) or public.fingerprint != parsed.header.author:
        raise InvalidEnvelope()
    try:
        _verify_raw(public, LABEL_ENVELOPE_SIGNATURE, parsed.body, parsed.signature)
    except InvalidSignature:
        raise InvalidEnvelope() from None
    return parsed


def verify_envelope(data: bytes, author_key: Callable[[str], PublicIdentity | None]) -> Header:
    """Check structure and the author's signature without decrypting; return the header.

    ``author_key(member_id)`` returns that member's :class:`PublicIdentity`, or ``None`` if unknown (→ rejected).
    Use it for tombstones and retractions, and to reject early. Raises :class:`InvalidEnvelope` on any failure.
    """
    return _parse_and_verify(data, author_key).header


def open_envelope(
    data: bytes,
    *,
    me: Identity | None,
    author_key: Callable[[str], PublicIdentity | None],
    content_key: Callable[[Header], bytes | None] | None = None,
) -> Opened:
    """Verify and decrypt an envelope; raises :class:`InvalidEnvelope` on every failure.

    The signature is checked first (see module docstring for the full order). The content key comes from
    ``content_key(header)`` when that callback is given and returns bytes (replies, reactions: the item's key;
    stanzas are then ignored); otherwise ``me``'s key for the header's suite is tried on each stanza in turn.
    Exceptions raised by the callbacks themselves propagate unchanged.
    """
    parsed = _parse_and_verify(data, author_key)
    header = parsed.header
    suite = suite_by_name(header.suite)
    digest = _header_digest(parsed.head)
    key = content_key(header) if content_key is not None else None
    if key is None:
        if not isinstance(me, Identity):
            raise InvalidEnvelope()
        private = me.kem_private_key(suite)
        info = _stanza_info(digest)
        for stanza in parsed.stanzas:
            try:
                candidate = suite.hpke.decrypt(stanza, private, info=info)
            except (InvalidTag, ValueError):
                continue
            if len(candidate) == CONTENT_KEY_LEN:
                key = candidate
                break
        else:
            raise InvalidEnvelope()
    if not isinstance(key, bytes) or len(key) != CONTENT_KEY_LEN:
        raise InvalidEnvelope()
    cipher, nonce = _payload_cipher(key, digest)
    try:
        payload = _unpad(cipher.decrypt(nonce, parsed.ciphertext, parsed.head))
    except (InvalidTag, DecodeError):
        raise InvalidEnvelope() from None
    return Opened(header, payload, key)


def peek_header(data: bytes) -> Header | None:
    """The header of a well-formed envelope, **not verified**: for ordering work only, never for a decision.

    A sync engine uses it to apply roster changes before the items of the same batch; every envelope is still
    verified in full (:func:`open_envelope`, :func:`verify_envelope`) before anything from it is applied.
    Returns ``None`` for anything that does not parse.
    """
    try:
        return _parse(data).header
    except (DecodeError, ValueError, TypeError):
        return None


def envelope_id(data: bytes) -> str:
    """The content address of an envelope: lowercase base32 of a labelled SHA-256 (52 characters)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("data must be bytes")
    # The envelope is the last (and only) part, so it needs no length prefix; envelopes may exceed the u16
    # prefix that labelled_hash gives each part (anything over 64 KiB would not hash otherwise).
    return b32(hashlib.sha256(lp(LABEL_ENVELOPE_ID.encode("ascii")) + bytes(data)).digest())
