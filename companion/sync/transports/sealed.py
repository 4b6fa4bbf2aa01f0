"""The transport seal: carrier-blind wrapping of every blob a circle's transport moves.

Envelope headers are signed but not encrypted (``docs/protocol.md`` §6.9), and invite boxes name their invite in
clear. A circle's transport settings may therefore hold a circle-wide symmetric **seal key**
(``"seal": base64(32 bytes)``, kept in the vault and carried in invite codes like the relay capability).
:class:`SealedTransport` wraps every blob on its way out and unwraps it on its way in, so the shared folder's
host or the relay operator stores only opaque, authenticated ciphertext, while the engine and everything above
it see exactly the inner blobs they saw before. The format (``docs/protocol.md`` §10)::

    sealed = "CPNT" || nonce[12] || ChaCha20-Poly1305(k_enc, nonce, blob, aad = "CPNT")
    k_enc   = derive_key(seal_key, "companion:v1:transport-seal-enc")
    k_nonce = derive_key(seal_key, "companion:v1:transport-seal-nonce")
    nonce   = HMAC-SHA256(k_nonce, blob)[0:12]

The nonce is *synthetic*: derived from the blob, so wrapping is deterministic. The same blob always gives the
same bytes, which keeps pushes idempotent (the folder and the relay deduplicate by content hash) and reveals no
more than that deduplication already does (that two stored blobs are equal). Different blobs get different
nonces unless HMAC-SHA256 collides in 96 bits. The overhead is a constant 32 bytes, so the inner envelope's
padding buckets stay what they were.

Receiving is forgiving, never fatal: a blob with the magic that does not open (tampered, another circle's key,
a non-canonical nonce) is handed on unchanged, so the engine records it as unreadable and the rest of the batch
applies; a blob without the magic (a member on an older version, a circle that was sealed later) passes through.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Sequence
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from companion.crypto.derive import LABEL_TRANSPORT_SEAL_ENC, LABEL_TRANSPORT_SEAL_NONCE, derive_key

from .base import Pulled, Transport

__all__ = ["MAGIC", "OVERHEAD", "SEAL_KEY_LEN", "SealedTransport", "TransportSeal", "new_seal_key", "parse_seal_key"]

MAGIC: Final = b"CPNT"
NONCE_LEN: Final = 12
TAG_LEN: Final = 16
OVERHEAD: Final = len(MAGIC) + NONCE_LEN + TAG_LEN  # 32 bytes on every blob
SEAL_KEY_LEN: Final = 32


def new_seal_key() -> str:
    """A fresh seal key as it is kept in transport settings: standard base64 of 32 random bytes."""
    return base64.b64encode(os.urandom(SEAL_KEY_LEN)).decode("ascii")


def parse_seal_key(text: Any) -> bytes:
    """The 32 key bytes of a settings ``"seal"`` value; ``ValueError`` unless it is canonical base64 of exactly
    32 bytes (so one key has one spelling, and a truncated invite code cannot pass for a shorter key)."""
    if not isinstance(text, str):
        raise ValueError("the seal key must be text")
    try:
        key = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("the seal key is not base64") from None
    if len(key) != SEAL_KEY_LEN or base64.b64encode(key).decode("ascii") != text:
        raise ValueError("the seal key must be 32 bytes")
    return key


class TransportSeal:
    """Wrap and unwrap blobs under one circle's seal key (the derived keys are computed once)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != SEAL_KEY_LEN:
            raise ValueError("the seal key must be 32 bytes")
        self._aead = ChaCha20Poly1305(derive_key(key, LABEL_TRANSPORT_SEAL_ENC))
        self._nonce_key = derive_key(key, LABEL_TRANSPORT_SEAL_NONCE)

    def _nonce(self, blob: bytes) -> bytes:
        return hmac.digest(self._nonce_key, blob, "sha256")[:NONCE_LEN]

    def wrap(self, blob: bytes) -> bytes:
        nonce = self._nonce(bytes(blob))
        return MAGIC + nonce + self._aead.encrypt(nonce, bytes(blob), MAGIC)

    def unwrap(self, data: bytes) -> bytes | None:
        """The inner blob, or ``None`` if ``data`` is not a blob sealed under this key (or was changed)."""
        if len(data) < OVERHEAD or data[: len(MAGIC)] != MAGIC:
            return None
        nonce = data[len(MAGIC) : len(MAGIC) + NONCE_LEN]
        try:
            blob = self._aead.decrypt(nonce, data[len(MAGIC) + NONCE_LEN :], MAGIC)
        except (InvalidTag, ValueError):
            return None
        if not hmac.compare_digest(nonce, self._nonce(blob)):
            return None  # authentic but not the one canonical wrapping: refuse, so each blob has one form
        return blob

    def receive(self, data: bytes) -> bytes:
        """What a pull hands on: the inner blob if ``data`` opens; otherwise ``data`` unchanged (an unsealed
        blob passes through; a damaged sealed one reaches the engine, which records it as unreadable)."""
        if data[: len(MAGIC)] != MAGIC:
            return data
        blob = self.unwrap(data)
        return data if blob is None else blob


class SealedTransport(Transport):
    """Any :class:`Transport`, seen through the circle's seal: ``push`` wraps, ``pull`` unwraps, and everything
    else (``wait``, ``close``, attributes such as the relay's ``connected`` or ``missed``) is the inner
    transport's. Made by :func:`companion.sync.transports.make_transport` when the settings hold a seal key."""

    def __init__(self, inner: Transport, seal_key: bytes) -> None:
        self.inner = inner
        self._seal = TransportSeal(seal_key)

    def push(self, blobs: Sequence[bytes]) -> None:
        self.inner.push([self._seal.wrap(b) for b in blobs])

    def append(self, blobs: Sequence[bytes]) -> Any:
        """The relay transport's ``push`` that returns cursors, sealed too (never reached around the seal)."""
        return self.inner.append([self._seal.wrap(b) for b in blobs])  # type: ignore[attr-defined]

    def pull(self, cursor: str | None, limit: int = 1000) -> Pulled:
        got = self.inner.pull(cursor, limit)
        return Pulled([self._seal.receive(b) for b in got.blobs], got.cursor, got.more)

    def wait(self, timeout: float) -> bool:
        return self.inner.wait(timeout)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        if name in ("inner", "_seal"):  # not set yet (during construction): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:  # never print the key
        return f"SealedTransport({self.inner!r})"
