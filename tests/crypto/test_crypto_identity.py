"""Identities, public-key checks, signed messages, derivations, invite proofs and the canonical encoding."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.crypto import (
    Identity,
    PublicIdentity,
    derive_key,
    invite_id,
    invite_proof,
    new_secret,
    sign_message,
    verify_invite_proof,
    verify_message,
)
from companion.crypto.derive import labelled_hash
from companion.crypto.encoding import KIND_PATTERN, DecodeError, Reader, Writer
from companion.crypto.identity import PUBLIC_LEN, PUBLIC_MAGIC
from companion.errors import CryptoError, InvalidIdentity, InvalidSignature

from .crypto_support import TRIALS, FixedRng

P = 2**255 - 19
# Low-order X25519 u-coordinates (RFC 7748 §7 and the usual blocklist), incl. non-canonical encodings of them.
X25519_LOW_ORDER = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    (P - 1).to_bytes(32, "little"),
]
X25519_NON_CANONICAL = [P.to_bytes(32, "little"), (P + 1).to_bytes(32, "little"), b"\xff" * 32]
# Small-order Ed25519 points: the identity, order 2, order 4 (y = 0) and two of order 8 (libsodium's blocklist).
ED25519_SMALL_ORDER = [
    (1).to_bytes(32, "little"),
    (P - 1).to_bytes(32, "little"),
    (0).to_bytes(32, "little"),
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
]
ED25519_NON_CANONICAL = [
    P.to_bytes(32, "little"),
    (P + 1).to_bytes(32, "little"),
    (1 | 1 << 255).to_bytes(32, "little"),  # x = 0 with the sign bit set
]


def _with_part(pub: bytes, offset: int, part: bytes) -> bytes:
    return pub[:offset] + part + pub[offset + len(part) :]


ED_AT, X_AT, HX_AT = 5, 37, 5 + 32 + 32 + 1184


# -- identities ----------------------------------------------------------------------------------------------------


def test_identity_round_trips_and_hides_secrets(pool):
    me = pool[0]
    again = Identity.from_bytes(me.to_bytes())
    assert again.public == me.public and again.fingerprint == me.fingerprint
    assert PublicIdentity.from_bytes(me.public.to_bytes()) == me.public
    assert len(me.to_bytes()) == 165 and len(me.public.to_bytes()) == PUBLIC_LEN == 1285
    assert len(me.fingerprint) == 32 and me.fingerprint.isalnum() and me.fingerprint.islower()
    assert me.to_bytes().hex() not in repr(me) and me.fingerprint in repr(me)
    assert len({p.fingerprint for p in pool}) == len(pool)


def test_generate_is_deterministic_under_the_rng_seam_and_random_otherwise():
    assert Identity.generate(FixedRng(b"x")).to_bytes() == Identity.generate(FixedRng(b"x")).to_bytes()
    assert Identity.generate().to_bytes() != Identity.generate().to_bytes()


def test_malformed_identity_bytes_are_rejected(pool):
    pub = pool[0].public.to_bytes()
    for bad in (b"", pub[:-1], pub + b"\x00", b"CPNX" + pub[4:], pub[:4] + b"\x02" + pub[5:], "text", None):
        with pytest.raises(InvalidIdentity):
            PublicIdentity.from_bytes(bad)  # type: ignore[arg-type]
    sec = pool[0].to_bytes()
    for bad in (b"", sec[:-1], sec + b"\x00", b"CPNP" + sec[4:]):
        with pytest.raises(InvalidIdentity):
            Identity.from_bytes(bad)
    assert issubclass(InvalidIdentity, CryptoError)


@pytest.mark.parametrize("offset", [X_AT, HX_AT], ids=["x25519", "hybrid-x25519"])
@pytest.mark.parametrize("point", X25519_LOW_ORDER + X25519_NON_CANONICAL)
def test_low_order_and_non_canonical_x25519_keys_are_rejected(pool, offset, point):
    with pytest.raises(InvalidIdentity):
        PublicIdentity.from_bytes(_with_part(pool[0].public.to_bytes(), offset, point))


@pytest.mark.parametrize("point", ED25519_SMALL_ORDER + ED25519_NON_CANONICAL + [(2).to_bytes(32, "little")])
def test_small_order_non_canonical_or_off_curve_ed25519_keys_are_rejected(pool, point):
    with pytest.raises(InvalidIdentity):
        PublicIdentity.from_bytes(_with_part(pool[0].public.to_bytes(), ED_AT, point))


@pytest.mark.parametrize("point", ED25519_SMALL_ORDER)
def test_small_order_signing_keys_would_otherwise_accept_forgeries(pool, point):
    """Why the check matters, and proof that the blocklist above holds real small-order points: under OpenSSL's
    cofactorless verification the signature (R = identity, S = 0) verifies for a share of all messages (all of
    them for the identity key, about 1/8 for a point of order 8). Companion refuses such keys when parsing."""
    forgery = (1).to_bytes(32, "little") + bytes(32)
    key = ed25519.Ed25519PublicKey.from_public_bytes(point)
    accepted = 0
    for i in range(120):
        try:
            key.verify(forgery, b"message %d" % i)
            accepted += 1
        except Exception:
            pass
    assert accepted > 0
    with pytest.raises(InvalidIdentity):
        PublicIdentity.from_bytes(_with_part(pool[0].public.to_bytes(), ED_AT, point))


def test_bad_mlkem_key_is_rejected(pool):
    bad = _with_part(pool[0].public.to_bytes(), 69, b"\xff" * 1184)  # coefficients >= q
    with pytest.raises(InvalidIdentity):
        PublicIdentity.from_bytes(bad)


@settings(max_examples=30 * TRIALS, deadline=None)
@given(st.binary(min_size=PUBLIC_LEN, max_size=PUBLIC_LEN))
def test_random_public_bytes_never_raise_anything_but_invalid_identity(data):
    try:
        PublicIdentity.from_bytes(PUBLIC_MAGIC + data[5:])
    except InvalidIdentity:
        pass


# -- signed messages -----------------------------------------------------------------------------------------------


def test_signed_messages_verify_and_are_domain_separated(pool):
    alice, bob = pool[0], pool[1]
    sig = sign_message(alice, "companion:v1:roster-op", b"add bob")
    verify_message(alice.public, "companion:v1:roster-op", b"add bob", sig)
    for public, purpose, data, s in (
        (bob.public, "companion:v1:roster-op", b"add bob", sig),
        (alice.public, "companion:v1:join-request", b"add bob", sig),
        (alice.public, "companion:v1:roster-op", b"add mallory", sig),
        (alice.public, "companion:v1:roster-op", b"add bob", sig[:-1]),
        (alice.public, "companion:v1:roster-op", b"add bob", bytes(64)),
        (alice.public, "companion:v1:roster-op", b"add bob", "sig"),
    ):
        with pytest.raises(InvalidSignature):
            verify_message(public, purpose, data, s)  # type: ignore[arg-type]
    assert issubclass(InvalidSignature, CryptoError)


def test_purpose_labels_are_enforced(pool):
    for bad in ("roster-op", "companion:v2:x", "companion:v1:", "companion:v1:Upper", "companion:v1:a b"):
        with pytest.raises(ValueError):
            sign_message(pool[0], bad, b"x")
        with pytest.raises(ValueError):
            derive_key(b"k", bad)
    with pytest.raises(ValueError):  # reserved for envelopes: a message signature can never pass as one
        sign_message(pool[0], "companion:v1:envelope", b"x")


# -- derivations ---------------------------------------------------------------------------------------------------


def _hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    out, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
    return out[:length]


@settings(max_examples=25 * TRIALS, deadline=None)
@given(
    ikm=st.binary(min_size=1, max_size=64),
    salt=st.binary(max_size=32),
    context=st.binary(max_size=32),
    length=st.integers(1, 100),
)
def test_derive_key_is_hkdf_sha256_with_the_label_as_info(ikm, salt, context, length):
    info = b"companion:v1:test" + (b"\x00" + context if context else b"")
    expected = _hkdf_sha256(ikm, salt, info, length)
    assert derive_key(ikm, "companion:v1:test", salt=salt, length=length, context=context) == expected
    assert HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info).derive(ikm) == expected


def test_derived_keys_differ_by_purpose_and_input():
    a = derive_key(b"secret", "companion:v1:a")
    assert a != derive_key(b"secret", "companion:v1:b") != derive_key(b"secret2", "companion:v1:b")
    with pytest.raises(ValueError):
        derive_key(b"", "companion:v1:a")
    with pytest.raises(ValueError):
        derive_key(b"k", "companion:v1:a", length=0)


def test_labelled_hash_is_unambiguous():
    assert labelled_hash("companion:v1:t", b"ab", b"c") != labelled_hash("companion:v1:t", b"a", b"bc")
    assert labelled_hash("companion:v1:t", b"ab") != labelled_hash("companion:v1:u", b"ab")


def test_invite_proof_binds_secret_circle_and_joiner(pool):
    secret = new_secret()
    joiner, other = pool[5].public, pool[6].public
    proof = invite_proof(secret, circle_id="circle-1", joiner=joiner)
    verify_invite_proof(secret, circle_id="circle-1", joiner=joiner, proof=proof)
    for kwargs in (
        dict(circle_id="circle-2", joiner=joiner, proof=proof),
        dict(circle_id="circle-1", joiner=other, proof=proof),
        dict(circle_id="circle-1", joiner=joiner, proof=proof[:-1]),
        dict(circle_id="circle-1", joiner=joiner, proof=bytes(32)),
    ):
        with pytest.raises(InvalidSignature):
            verify_invite_proof(secret, **kwargs)
    with pytest.raises(InvalidSignature):
        verify_invite_proof(new_secret(), circle_id="circle-1", joiner=joiner, proof=proof)
    assert invite_id(secret) == invite_id(secret) != invite_id(new_secret())
    assert secret.hex() not in invite_id(secret)


# -- encoding ------------------------------------------------------------------------------------------------------


@given(
    a=st.integers(0, 255), b=st.integers(0, 2**16 - 1), c=st.integers(0, 2**32 - 1), d=st.integers(0, 2**64 - 1),
    blob=st.binary(max_size=255), kind=st.from_regex(KIND_PATTERN, fullmatch=True),
)  # fmt: skip
@settings(max_examples=30 * TRIALS, deadline=None)
def test_encoding_round_trips_and_rejects_leftovers(a, b, c, d, blob, kind):
    data = Writer().u8(a).u16(b).u32(c).u64(d).bytes8(blob).text8(kind).getvalue()
    r = Reader(data)
    assert (r.u8(), r.u16(), r.u32(), r.u64(), r.bytes8(), r.text8(KIND_PATTERN)) == (a, b, c, d, blob, kind)
    r.end()
    r = Reader(data + b"\x00")
    r.raw(len(data))
    with pytest.raises(DecodeError):
        r.end()
    with pytest.raises(DecodeError):
        Reader(data[:-1]).raw(len(data))


def test_reader_rejects_bad_text_and_bounds():
    with pytest.raises(DecodeError):
        Reader(b"\x02\xc3\xa9").text8(KIND_PATTERN)
    with pytest.raises(DecodeError):
        Reader(b"\x02AB").text8(KIND_PATTERN)
    with pytest.raises(DecodeError):
        Reader(b"\x03abc").bytes8(max_len=2)
    with pytest.raises(DecodeError):
        Reader(b"\x05abc").bytes8()
