"""An independent implementation of docs/protocol.md, written from the spec with hashlib/hmac and bare primitives
(no companion.crypto internals, no `cryptography.hpke`): it must open what Companion seals, and Companion must open
what it seals — including its own hand-written RFC 9180 HPKE with a chosen ephemeral key, which gives a fully
reproducible envelope *with* stanzas."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from companion.crypto import Identity, envelope_id, open_envelope, seal
from companion.errors import InvalidEnvelope

from .crypto_support import FixedRng, fixed_clock

BUCKETS = [256 * 4**i for i in range(8)]
REFERENCE_ENVELOPE_ID = "olae4ixz4vhqh2jq7ajklw7g3mgqlaujgt6f3yj2ae7ekayirgma"  # pinned: a known answer


def lp(x: bytes) -> bytes:
    return struct.pack(">H", len(x)) + x


def labelled_hash(label: bytes, *parts: bytes) -> bytes:
    return hashlib.sha256(lp(label) + b"".join(lp(p) for p in parts)).digest()


def reference_envelope_id(envelope: bytes) -> str:
    digest = hashlib.sha256(lp(b"companion:v1:envelope-id") + envelope).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()


def hkdf(ikm: bytes, info: bytes, length: int, salt: bytes = b"") -> bytes:
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out, i = out + block, i + 1
    return out[:length]


# -- RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305 -----------------------------

KEM_ID, KDF_ID, AEAD_ID = 0x0020, 0x0001, 0x0003


def _extract(salt: bytes, label: bytes, ikm: bytes, suite_id: bytes) -> bytes:
    return hmac.new(salt or bytes(32), b"HPKE-v1" + suite_id + label + ikm, hashlib.sha256).digest()


def _expand(prk: bytes, label: bytes, info: bytes, n: int, suite_id: bytes) -> bytes:
    labeled = struct.pack(">H", n) + b"HPKE-v1" + suite_id + label + info
    out, block, i = b"", b"", 1
    while len(out) < n:
        block = hmac.new(prk, block + labeled + bytes([i]), hashlib.sha256).digest()
        out, i = out + block, i + 1
    return out[:n]


def _key_schedule(dh: bytes, enc: bytes, pk_r: bytes, info: bytes) -> tuple[bytes, bytes]:
    kem_suite = b"KEM" + struct.pack(">H", KEM_ID)
    eae_prk = _extract(b"", b"eae_prk", dh, kem_suite)
    shared = _expand(eae_prk, b"shared_secret", enc + pk_r, 32, kem_suite)
    suite = b"HPKE" + struct.pack(">HHH", KEM_ID, KDF_ID, AEAD_ID)
    ctx = b"\x00" + _extract(b"", b"psk_id_hash", b"", suite) + _extract(b"", b"info_hash", info, suite)
    secret = _extract(shared, b"secret", b"", suite)
    return _expand(secret, b"key", ctx, 32, suite), _expand(secret, b"base_nonce", ctx, 12, suite)


def hpke_open(sk_r: x25519.X25519PrivateKey, stanza: bytes, info: bytes) -> bytes:
    enc, ct = stanza[:32], stanza[32:]
    dh = sk_r.exchange(x25519.X25519PublicKey.from_public_bytes(enc))
    key, nonce = _key_schedule(dh, enc, sk_r.public_key().public_bytes_raw(), info)
    return ChaCha20Poly1305(key).decrypt(nonce, ct, b"")


def hpke_seal(pk_r: bytes, ephemeral: x25519.X25519PrivateKey, info: bytes, pt: bytes) -> bytes:
    enc = ephemeral.public_key().public_bytes_raw()
    dh = ephemeral.exchange(x25519.X25519PublicKey.from_public_bytes(pk_r))
    key, nonce = _key_schedule(dh, enc, pk_r, info)
    return enc + ChaCha20Poly1305(key).encrypt(nonce, pt, b"")


# -- the envelope, from docs/protocol.md § 6 ------------------------------------------------------------------------


def signed_input(purpose: bytes, body: bytes) -> bytes:
    return lp(b"companion:v1:signed-message") + lp(purpose) + body


def reference_open(data: bytes, ed_pk: bytes, x_sk: x25519.X25519PrivateKey) -> bytes:
    assert data[:5] == b"CPNE\x01"
    hlen = struct.unpack(">H", data[5:7])[0]
    head, header, pos = data[: 7 + hlen], data[7 : 7 + hlen], 7 + hlen
    bucket, suite = header[-34], header[-33]
    assert suite == 0x01
    count = data[pos]
    pos += 1
    stanzas = [data[pos + 80 * i : pos + 80 * (i + 1)] for i in range(count)]
    pos += 80 * count
    ct_len = struct.unpack(">I", data[pos : pos + 4])[0]
    assert ct_len == BUCKETS[bucket] + 16
    ciphertext, pos = data[pos + 4 : pos + 4 + ct_len], pos + 4 + ct_len
    body, signature = data[:pos], data[pos:]
    assert len(signature) == 64
    ed25519.Ed25519PublicKey.from_public_bytes(ed_pk).verify(signature, signed_input(b"companion:v1:envelope", body))
    digest = labelled_hash(b"companion:v1:envelope-header", head)
    info = lp(b"companion:v1:stanza") + digest
    content_key = None
    for stanza in stanzas:
        try:
            content_key = hpke_open(x_sk, stanza, info)
            break
        except Exception:
            continue
    assert content_key is not None
    okm = hkdf(content_key, b"companion:v1:payload\x00" + digest, 44)
    padded = ChaCha20Poly1305(okm[:32]).decrypt(okm[32:], ciphertext, head)
    n = struct.unpack(">I", padded[:4])[0]
    assert not any(padded[4 + n :])
    return padded[4 : 4 + n]


def _keys(identity: Identity) -> tuple[bytes, x25519.X25519PrivateKey]:
    pub = identity.public.to_bytes()
    secret = identity.to_bytes()
    return pub[5:37], x25519.X25519PrivateKey.from_private_bytes(secret[37:69])


def test_reference_opens_what_companion_seals(pool):
    author, readers = pool[0], pool[1:6]
    for payload in (b"", b"hello", b"x" * 5000):
        blob = seal(
            author, [r.public for r in readers], kind="item", circle_id="c-1", item_id="i-1", revision=4,
            counter=2, roster_head=b"\x05" * 32, payload=payload,
        )  # fmt: skip
        ed_pk, _ = _keys(author)
        for reader in readers:
            assert reference_open(blob, ed_pk, _keys(reader)[1]) == payload


def test_reference_identity_digest_and_fingerprint(pool):
    import base64

    pub = pool[3].public.to_bytes()
    digest = labelled_hash(b"companion:v1:fingerprint", pub)
    assert base64.b32encode(digest[:20]).decode().lower() == pool[3].fingerprint


def test_companion_opens_a_reference_envelope_with_a_chosen_ephemeral_key(pool):
    """Hand-built from the spec with every random value fixed: a reproducible envelope with stanzas."""
    author, bob, carol = pool[0], pool[1], pool[2]
    rng = FixedRng(b"reference-envelope")
    content_key, salt = rng(32), rng(32)
    header = (
        b"\x04item" + b"\x03c-1" + b"\x03i-9" + struct.pack(">Q", 1) + bytes([32]) + author.fingerprint.encode()
        + struct.pack(">Q", 5) + b"\x20" + b"\x09" * 32 + struct.pack(">Q", 1_790_000_000_000) + b"\x00\x01" + salt
    )  # fmt: skip
    head = b"CPNE\x01" + struct.pack(">H", len(header)) + header
    digest = labelled_hash(b"companion:v1:envelope-header", head)
    info = lp(b"companion:v1:stanza") + digest
    stanzas = [
        hpke_seal(r.public.to_bytes()[37:69], x25519.X25519PrivateKey.from_private_bytes(rng(32)), info, content_key)
        for r in (carol, bob)
    ]
    payload = b"written from the spec"
    okm = hkdf(content_key, b"companion:v1:payload\x00" + digest, 44)
    padded = struct.pack(">I", len(payload)) + payload + bytes(256 - 4 - len(payload))
    ciphertext = ChaCha20Poly1305(okm[:32]).encrypt(okm[32:], padded, head)
    body = head + bytes([2]) + b"".join(stanzas) + struct.pack(">I", len(ciphertext)) + ciphertext
    ed_sk = author.to_bytes()[5:37]
    envelope = body + ed25519.Ed25519PrivateKey.from_private_bytes(ed_sk).sign(
        signed_input(b"companion:v1:envelope", body)
    )
    directory = {author.fingerprint: author.public}.get
    for reader in (bob, carol):
        opened = open_envelope(envelope, me=reader, author_key=directory)
        assert opened.payload == payload and opened.content_key == content_key
        assert opened.header.counter == 5 and opened.header.roster_head == b"\x09" * 32
    with pytest.raises(InvalidEnvelope):
        open_envelope(envelope, me=pool[3], author_key=directory)
    # Everything above is deterministic, so the envelope is a reproducible known answer.
    assert envelope_id(envelope) == reference_envelope_id(envelope) == REFERENCE_ENVELOPE_ID
    assert len(envelope) == 5 + 2 + len(header) + 1 + 2 * 80 + 4 + 256 + 16 + 64
    # And the same header fields through seal() give the same header bytes (with the same salt from the rng).
    sealed = seal(
        author, [bob.public], kind="item", circle_id="c-1", item_id="i-9", revision=1, counter=5,
        roster_head=b"\x09" * 32, payload=payload, content_key=content_key, rng=_salt_then_random(salt),
        clock=fixed_clock,
    )  # fmt: skip
    assert sealed[: len(head)] == head


def _salt_then_random(salt: bytes):
    rest = FixedRng(b"shuffle")
    calls = iter([salt])

    def rng(n: int) -> bytes:
        return next(calls, None) or rest(n)

    return rng
