"""Identities: one Ed25519 signing key and two HPKE keys per person, and domain-separated signatures.

* :class:`Identity` — the private bundle, stored inside the encrypted vault (:meth:`Identity.to_bytes`).
* :class:`PublicIdentity` — what others hold: canonical bytes, a stable :attr:`~PublicIdentity.fingerprint`
  (the member id) and the keys used to wrap content keys for either suite.
* :func:`sign_message` / :func:`verify_message` — Ed25519 over ``purpose``-labelled input; one error on failure.

Formats (``docs/protocol.md`` § "Identities")::

    private: "CPNS" 0x01 | ed25519 seed (32) | x25519 (32) | ml-kem-768 seed (64) | hybrid x25519 (32)
    public:  "CPNP" 0x01 | ed25519 (32)      | x25519 (32) | ml-kem-768 ek (1184) | hybrid x25519 (32)

The X25519 key of the ``x25519`` suite and the X25519 half of the hybrid are distinct keys, so no key serves two
protocols. Public keys are checked when parsed: Ed25519 and X25519 encodings must be canonical and not of small
order; the ML-KEM encapsulation key must pass FIPS 203's modulus check.
"""

from __future__ import annotations

import os
from typing import Final

from cryptography.exceptions import InvalidSignature as _PycaInvalidSignature
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519

from companion.crypto.derive import LABEL_ENVELOPE_SIGNATURE, LABEL_FINGERPRINT, Rng, b32, check_label, labelled_hash
from companion.crypto.encoding import lp
from companion.crypto.suites import X25519, Suite
from companion.errors import InvalidIdentity, InvalidSignature

__all__ = ["Identity", "PublicIdentity", "sign_message", "verify_message"]

PUBLIC_MAGIC: Final = b"CPNP\x01"
PRIVATE_MAGIC: Final = b"CPNS\x01"
_ED_LEN: Final = 32
_X_LEN: Final = 32
_MLKEM_PUB_LEN: Final = 1184
_MLKEM_SEED_LEN: Final = 64
PUBLIC_LEN: Final = len(PUBLIC_MAGIC) + _ED_LEN + _X_LEN + _MLKEM_PUB_LEN + _X_LEN
PRIVATE_LEN: Final = len(PRIVATE_MAGIC) + _ED_LEN + _X_LEN + _MLKEM_SEED_LEN + _X_LEN
SIGNATURE_LEN: Final = 64

# -- public-key checks -------------------------------------------------------------------------------------------

_P: Final = 2**255 - 19
_D: Final = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1: Final = pow(2, (_P - 1) // 4, _P)
# Any fixed scalar will do: X25519 clamps it to a multiple of 8, so the shared secret is all-zero (and OpenSSL
# refuses it) exactly when the peer's point has order dividing 8.
_PROBE: Final = x25519.X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def _x25519_public_ok(raw: bytes) -> bool:
    """Canonical (u < p, top bit clear) and not of small order (incl. the all-zero key)."""
    if len(raw) != _X_LEN or raw[31] & 0x80 or int.from_bytes(raw, "little") >= _P:
        return False
    try:
        _PROBE.exchange(x25519.X25519PublicKey.from_public_bytes(raw))
    except ValueError:
        return False
    return True


def _ed_double(x: int, y: int, z: int) -> tuple[int, int, int]:
    """Point doubling on -x^2 + y^2 = 1 + d x^2 y^2 in projective coordinates (dbl-2008-hwcd, a = -1)."""
    a, b = x * x % _P, y * y % _P
    c = 2 * z * z % _P
    e = ((x + y) * (x + y) - a - b) % _P
    g = (b - a) % _P  # D + B with D = -A
    f = (g - c) % _P
    h = (-a - b) % _P  # D - B
    return e * f % _P, g * h % _P, f * g % _P


def _ed25519_public_ok(raw: bytes) -> bool:
    """RFC 8032 §5.1.3 decoding with canonical checks, then reject points of small order (8·A = identity)."""
    if len(raw) != _ED_LEN:
        return False
    n = int.from_bytes(raw, "little")
    sign, y = n >> 255, n & ((1 << 255) - 1)
    if y >= _P:
        return False
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    if v * x * x % _P == (-u) % _P:
        x = x * _SQRT_M1 % _P
    if v * x * x % _P != u:
        return False  # not on the curve
    if x == 0 and sign:
        return False  # non-canonical "negative zero"
    if x & 1 != sign:
        x = _P - x
    px, py, pz = x, y, 1
    for _ in range(3):
        px, py, pz = _ed_double(px, py, pz)
    return not (px == 0 and py == pz)  # 8·A is the identity (0 : 1 : 1) exactly for small-order A


# -- public identity -----------------------------------------------------------------------------------------------


class PublicIdentity:
    """A person's public keys. Build one with :meth:`from_bytes` or :attr:`Identity.public`; immutable."""

    __slots__ = ("_bytes", "_digest", "_ed", "_fingerprint", "_hybrid", "_x")

    def __init__(self, data: bytes) -> None:
        """Parse canonical public-identity bytes; raises :class:`InvalidIdentity` for anything malformed/unsafe."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidIdentity()
        data = bytes(data)
        if len(data) != PUBLIC_LEN or not data.startswith(PUBLIC_MAGIC):
            raise InvalidIdentity()
        pos = len(PUBLIC_MAGIC)
        ed_raw = data[pos : pos + _ED_LEN]
        pos += _ED_LEN
        x_raw = data[pos : pos + _X_LEN]
        pos += _X_LEN
        mlkem_raw = data[pos : pos + _MLKEM_PUB_LEN]
        pos += _MLKEM_PUB_LEN
        hx_raw = data[pos : pos + _X_LEN]
        if not (_ed25519_public_ok(ed_raw) and _x25519_public_ok(x_raw) and _x25519_public_ok(hx_raw)):
            raise InvalidIdentity()
        try:
            self._ed = ed25519.Ed25519PublicKey.from_public_bytes(ed_raw)
            self._x = x25519.X25519PublicKey.from_public_bytes(x_raw)
            mlkem_key = mlkem.MLKEM768PublicKey.from_public_bytes(mlkem_raw)
            self._hybrid = hpke.MLKEM768X25519PublicKey(mlkem_key, x25519.X25519PublicKey.from_public_bytes(hx_raw))
        except ValueError:
            raise InvalidIdentity() from None
        self._bytes = data
        self._digest = labelled_hash(LABEL_FINGERPRINT, data)
        self._fingerprint = b32(self._digest[:20])

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicIdentity:
        """Parse :meth:`to_bytes` output; raises :class:`InvalidIdentity`."""
        return cls(data)

    def to_bytes(self) -> bytes:
        """The canonical encoding (1285 bytes)."""
        return self._bytes

    @property
    def digest(self) -> bytes:
        """SHA-256 of the public bundle under the fingerprint label (32 bytes)."""
        return self._digest

    @property
    def fingerprint(self) -> str:
        """The stable member id: lowercase base32 of the first 20 bytes of :attr:`digest` (32 characters)."""
        return self._fingerprint

    @property
    def signing_key(self) -> ed25519.Ed25519PublicKey:
        return self._ed

    @property
    def signing_key_bytes(self) -> bytes:
        return self._bytes[len(PUBLIC_MAGIC) : len(PUBLIC_MAGIC) + _ED_LEN]

    def kem_key(self, suite: Suite) -> x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey:
        """The HPKE public key this person uses for ``suite``."""
        return self._x if suite is X25519 else self._hybrid

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicIdentity) and other._bytes == self._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __repr__(self) -> str:
        return f"PublicIdentity({self.fingerprint})"


# -- private identity ----------------------------------------------------------------------------------------------


class Identity:
    """A person's private keys. Keep :meth:`to_bytes` only inside the encrypted vault; ``repr`` shows no secret."""

    __slots__ = ("_ed", "_hybrid", "_public", "_secret", "_x")

    def __init__(self, secret: bytes) -> None:
        """Load :meth:`to_bytes` output; raises :class:`InvalidIdentity` if it is malformed."""
        if not isinstance(secret, bytes | bytearray) or len(secret) != PRIVATE_LEN:
            raise InvalidIdentity()
        secret = bytes(secret)
        if not secret.startswith(PRIVATE_MAGIC):
            raise InvalidIdentity()
        pos = len(PRIVATE_MAGIC)
        ed_seed, x_raw = secret[pos : pos + 32], secret[pos + 32 : pos + 64]
        mlkem_seed, hx_raw = secret[pos + 64 : pos + 128], secret[pos + 128 : pos + 160]
        try:
            self._ed = ed25519.Ed25519PrivateKey.from_private_bytes(ed_seed)
            self._x = x25519.X25519PrivateKey.from_private_bytes(x_raw)
            mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(mlkem_seed)
            hx = x25519.X25519PrivateKey.from_private_bytes(hx_raw)
            self._hybrid = hpke.MLKEM768X25519PrivateKey(mlkem_key, hx)
            public = (
                PUBLIC_MAGIC
                + self._ed.public_key().public_bytes_raw()
                + self._x.public_key().public_bytes_raw()
                + mlkem_key.public_key().public_bytes_raw()
                + hx.public_key().public_bytes_raw()
            )
            self._public = PublicIdentity(public)
        except (ValueError, InvalidIdentity):
            raise InvalidIdentity() from None
        self._secret = secret

    @classmethod
    def generate(cls, rng: Rng | None = None) -> Identity:
        """A new identity with all three keys. ``rng`` (``rng(n) -> n bytes``) is a seam for fixed vectors."""
        rng = rng or os.urandom
        for _ in range(8):  # a draw giving a small-order key is astronomically unlikely; retry rather than fail
            material = rng(_ED_LEN + _X_LEN + _MLKEM_SEED_LEN + _X_LEN)
            if len(material) != PRIVATE_LEN - len(PRIVATE_MAGIC):
                raise ValueError("rng returned the wrong number of bytes")
            try:
                return cls(PRIVATE_MAGIC + material)
            except InvalidIdentity:
                continue
        raise InvalidIdentity()

    @classmethod
    def from_bytes(cls, secret: bytes) -> Identity:
        return cls(secret)

    def to_bytes(self) -> bytes:
        """Secret bytes (165): store only inside the encrypted vault."""
        return self._secret

    @property
    def public(self) -> PublicIdentity:
        return self._public

    @property
    def fingerprint(self) -> str:
        return self._public.fingerprint

    def kem_private_key(self, suite: Suite) -> x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey:
        return self._x if suite is X25519 else self._hybrid

    def _sign_raw(self, purpose: str, data: bytes) -> bytes:
        return self._ed.sign(_signed_input(purpose, data))

    def __repr__(self) -> str:
        return f"Identity({self.fingerprint}, private)"


# -- signed messages -----------------------------------------------------------------------------------------------


def _signed_input(purpose: str, data: bytes) -> bytes:
    return lp(b"companion:v1:signed-message") + lp(check_label(purpose)) + bytes(data)


def sign_message(identity: Identity, purpose: str, data: bytes) -> bytes:
    """Ed25519 signature (64 bytes) over ``lp("companion:v1:signed-message") || lp(purpose) || data``.

    ``purpose`` names what is signed (e.g. ``"companion:v1:roster-op"``) so a signature made for one purpose can
    never be accepted for another. The envelope purpose is reserved for :func:`~companion.crypto.envelope.seal`.
    """
    if purpose == LABEL_ENVELOPE_SIGNATURE:
        raise ValueError("this purpose is reserved for envelopes")
    if not isinstance(data, bytes | bytearray):
        raise TypeError("data must be bytes")
    return identity._sign_raw(purpose, data)


def verify_message(public: PublicIdentity, purpose: str, data: bytes, signature: bytes) -> None:
    """Check a :func:`sign_message` signature; raises :class:`InvalidSignature` on any failure."""
    if purpose == LABEL_ENVELOPE_SIGNATURE:
        raise ValueError("this purpose is reserved for envelopes")
    _verify_raw(public, purpose, data, signature)


def _verify_raw(public: PublicIdentity, purpose: str, data: bytes, signature: bytes) -> None:
    if (
        not isinstance(public, PublicIdentity)
        or not isinstance(signature, bytes | bytearray)
        or len(signature) != SIGNATURE_LEN
        or not isinstance(data, bytes | bytearray)
    ):
        raise InvalidSignature()
    try:
        public.signing_key.verify(bytes(signature), _signed_input(purpose, data))
    except _PycaInvalidSignature:
        raise InvalidSignature() from None
