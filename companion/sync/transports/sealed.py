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
a non-canonical nonce, or a key this device has not learned yet) is handed on unchanged, so the engine can try
again once it knows more keys, and the rest of the batch applies; a blob without the magic (a member on an older
version, a circle that was sealed later) passes through.

**Keyrings.** The key is rotated when an admin removes a member (and can be turned on for a circle made without
one); the new key reaches the remaining members end to end (``docs/protocol.md`` §10.2). A device therefore holds
a *keyring* in the settings: ``"seal"`` (the current key: everything it sends is sealed under it),
``"seal_epoch"`` (the current key's epoch, 0 when absent) and ``"seal_previous"`` (every earlier key it learned,
newest first). Sealed blobs carry no key id: a reader tries its keys in that order and the AEAD tag decides.
Older keys are kept so that older blobs still open. Invite codes carry only the current key
(:func:`invite_settings`); a joiner learns the rest from its welcome.
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

from companion.crypto.derive import (
    LABEL_TRANSPORT_SEAL_ENC,
    LABEL_TRANSPORT_SEAL_ID,
    LABEL_TRANSPORT_SEAL_NONCE,
    derive_key,
    labelled_hash,
)

from .base import Pulled, Transport

__all__ = [
    "MAGIC",
    "MAX_PREVIOUS",
    "OVERHEAD",
    "SEAL_KEY_LEN",
    "SealRing",
    "SealedTransport",
    "TransportSeal",
    "carrier_form",
    "check_keyring",
    "install_key",
    "invite_settings",
    "key_id",
    "new_seal_key",
    "parse_seal_key",
    "ring_keys",
]

MAGIC: Final = b"CPNT"
NONCE_LEN: Final = 12
TAG_LEN: Final = 16
OVERHEAD: Final = len(MAGIC) + NONCE_LEN + TAG_LEN  # 32 bytes on every blob
SEAL_KEY_LEN: Final = 32
#: Earlier keys a keyring keeps (one per rotation); beyond this the oldest are forgotten (their blobs then stay
#: unreadable to a device that never opened them, e.g. a new joiner reading a very old history).
MAX_PREVIOUS: Final = 1000
KEYRING_FIELDS: Final = ("seal", "seal_epoch", "seal_previous")


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


class SealRing:
    """A keyring's seals, newest first: ``wrap`` uses the current (first) key, ``unwrap`` tries each in order."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self._seals = [TransportSeal(k) for k in keys]

    def wrap(self, blob: bytes) -> bytes:
        return self._seals[0].wrap(blob)

    def unwrap(self, data: bytes) -> bytes | None:
        """The inner blob if one of the keys opens ``data`` (the AEAD tag and the synthetic nonce decide), else
        ``None``. The nonce check makes the choice of key unambiguous in practice: for one sealed blob to open
        under two keys, its nonce would have to equal both keys' HMAC of two plaintexts (a 96-bit coincidence),
        so the trial order never changes what a reader sees."""
        if data[: len(MAGIC)] != MAGIC:
            return None
        for seal in self._seals:
            blob = seal.unwrap(data)
            if blob is not None:
                return blob
        return None

    def receive(self, data: bytes) -> bytes:
        if data[: len(MAGIC)] != MAGIC:
            return data
        blob = self.unwrap(data)
        return data if blob is None else blob


# -- keyrings in transport settings ------------------------------------------------------------------------------


def key_id(key: bytes) -> bytes:
    """A seal key's id (never sent; it orders two rotations of the same epoch, so every device picks the same)."""
    return labelled_hash(LABEL_TRANSPORT_SEAL_ID, key)


def check_keyring(settings: dict[str, Any]) -> dict[str, Any]:
    """The keyring fields of ``settings`` (``seal``, ``seal_epoch``, ``seal_previous``), checked; ``{}`` when there
    is no seal. ``ValueError`` if any is malformed (a key that is not canonical, a negative epoch, repeats)."""
    if settings.get("seal") is None:
        if settings.get("seal_previous") or settings.get("seal_epoch"):
            raise ValueError("earlier seal keys without a current one")
        return {}
    current = settings["seal"]
    parse_seal_key(current)
    out: dict[str, Any] = {"seal": current}
    epoch = settings.get("seal_epoch", 0)
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise ValueError("the seal epoch must be a whole number")
    if epoch:
        out["seal_epoch"] = epoch
    previous = settings.get("seal_previous") or []
    if not isinstance(previous, list) or len(previous) > MAX_PREVIOUS:
        raise ValueError("the earlier seal keys must be a list")
    for key in previous:
        parse_seal_key(key)
    if len(set(previous) | {current}) != len(previous) + 1:
        raise ValueError("a seal key appears twice")
    if previous:
        out["seal_previous"] = list(previous)
    return out


def ring_keys(settings: dict[str, Any]) -> list[bytes]:
    """The keyring of (checked) settings, newest first: the current key, then the earlier ones; ``[]`` unsealed."""
    if settings.get("seal") is None:
        return []
    return [parse_seal_key(settings["seal"]), *(parse_seal_key(k) for k in settings.get("seal_previous") or [])]


def _order(key_text: str, epoch: int) -> tuple[int, bytes]:
    return epoch, key_id(parse_seal_key(key_text))


def install_key(settings: dict[str, Any], key_text: str, epoch: int | None) -> dict[str, Any]:
    """``settings`` with one more key in its keyring (a copy; unchanged if the key is known and stays where it is).

    With an ``epoch``, the key becomes current if ``(epoch, key_id)`` is greater than the current key's — a later
    rotation (higher epoch) always wins, and two rotations of the same epoch (two admins at once) are ordered by
    key id, so every device ends on the same current key whatever order they arrive in. The key it replaces, and a
    key that does not win, are kept first among the earlier keys (so that blobs sealed under them still open).
    ``epoch=None`` adds a key for reading only (an earlier key from a welcome)."""
    parse_seal_key(key_text)
    out = dict(settings)
    current = out.get("seal")
    previous = [k for k in out.get("seal_previous") or [] if k != key_text]
    if current is None:
        out["seal"], out["seal_epoch"] = key_text, epoch or 0
    elif key_text == current:
        return dict(settings)
    elif epoch is not None and _order(key_text, epoch) > _order(current, int(out.get("seal_epoch", 0))):
        out["seal"], out["seal_epoch"] = key_text, epoch
        previous.insert(0, current)
    elif key_text in (out.get("seal_previous") or []):
        return dict(settings)  # already kept; its place in the trial order does not matter
    else:
        previous.insert(0, key_text)
    out["seal_previous"] = previous[:MAX_PREVIOUS]
    if not out["seal_previous"]:
        del out["seal_previous"]
    if not out.get("seal_epoch"):
        out.pop("seal_epoch", None)
    return out


def invite_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """What an invite code carries: the settings with the current seal key only (a joiner learns the earlier keys
    from its welcome, end to end; a code seen by someone else never holds more than the one key)."""
    return {k: v for k, v in settings.items() if k not in ("seal_epoch", "seal_previous")}


def carrier_form(blob: bytes, key_text: str | None, _cache: dict[str, TransportSeal] | None = None) -> bytes:
    """``blob`` as the carrier stores it: sealed under ``key_text`` (a settings ``"seal"`` value), or as it is
    when ``key_text`` is ``None`` or empty (an unsealed circle, or a blob pinned to go out unsealed)."""
    if not key_text:
        return bytes(blob)
    cache = {} if _cache is None else _cache
    seal = cache.get(key_text)
    if seal is None:
        seal = cache[key_text] = TransportSeal(parse_seal_key(key_text))
    return seal.wrap(blob)


class SealedTransport(Transport):
    """Any :class:`Transport`, seen through the circle's seal: ``push`` wraps, ``pull`` unwraps, and everything
    else (``wait``, ``close``, attributes such as the relay's ``connected`` or ``missed``) is the inner
    transport's. Made by :func:`companion.sync.transports.make_transport` when the settings hold a seal key.

    ``keys`` is one key or a keyring, newest first: ``push`` seals under the first; ``pull`` tries each in turn. The
    sync engine does not use ``push``: its plan puts every outgoing blob in its carrier form itself (sealed under
    the key that was current when it was planned, or the one it is pinned to) and sends it with
    :meth:`push_as_is`, so a transport made before a rotation never seals under a key that was replaced."""

    def __init__(self, inner: Transport, keys: bytes | Sequence[bytes]) -> None:
        self.inner = inner
        self._seal = SealRing([keys] if isinstance(keys, bytes | bytearray) else list(keys))

    def push(self, blobs: Sequence[bytes]) -> None:
        self.inner.push([self._seal.wrap(b) for b in blobs])

    def push_as_is(self, blobs: Sequence[bytes]) -> None:
        self.inner.push_as_is(blobs)

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
