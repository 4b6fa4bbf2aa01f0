"""Envelopes v1: round trips, and every way of tampering rejected with the one error (InvalidEnvelope)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.crypto import (
    BUCKETS,
    KINDS,
    SUITE_NAMES,
    Identity,
    envelope_id,
    new_content_key,
    open_envelope,
    seal,
    verify_envelope,
)
from companion.crypto import envelope as env
from companion.crypto.encoding import Writer
from companion.crypto.suites import suite_by_name
from companion.errors import CryptoError, InvalidEnvelope

from .crypto_support import TRIALS, FixedRng, fixed_clock

HEAD = b"\x07" * 32
SETTINGS = settings(
    max_examples=15 * TRIALS, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _seal(author, recipients, **kw):
    args = dict(
        kind="item", circle_id="circle-1", item_id="item-1", revision=1, counter=1, roster_head=HEAD,
        payload=b"a reflection", suite="x25519",
    )  # fmt: skip
    args.update(kw)
    return seal(author, [r.public for r in recipients], **args)


def _reject(data, me, directory, **kw):
    with pytest.raises(InvalidEnvelope):
        open_envelope(data, me=me, author_key=directory, **kw)


def _rebuild(author: Identity, data: bytes, *, header=None, stanzas=None, ciphertext=None, header_bytes=None):
    """Re-frame and validly re-sign an envelope with some parts replaced (tests the checks after the signature)."""
    p = env._parse(data)
    hb = header_bytes if header_bytes is not None else env._encode_header(header or p.header)
    return env._assemble(
        author, hb, list(p.stanzas if stanzas is None else stanzas), p.ciphertext if ciphertext is None else ciphertext
    )


# -- round trips ---------------------------------------------------------------------------------------------------


@SETTINGS
@given(
    suite=st.sampled_from(SUITE_NAMES),
    n=st.integers(1, 30),
    payload=st.binary(max_size=3000),
    data=st.data(),
)
def test_round_trip_every_suite_1_to_30_recipients(pool, directory, suite, n, payload, data):
    author = pool[0]
    recipients = pool[1 : 1 + n]
    blob = _seal(author, recipients, payload=payload, suite=suite)
    # Every recipient opens it (spot-check up to three, including the last stanza owner).
    for who in {recipients[0], recipients[-1], data.draw(st.sampled_from(recipients))}:
        opened = open_envelope(blob, me=who, author_key=directory)
        assert opened.payload == payload
        assert opened.header.suite == suite and opened.header.author == author.fingerprint
    # A non-recipient cannot, not even the author (not in the list).
    outsider = pool[31]
    _reject(blob, outsider, directory)
    _reject(blob, author, directory)


@pytest.mark.parametrize("n", [1, 30])
@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_every_recipient_opens_at_the_edges(pool, directory, suite, n):
    blob = _seal(pool[0], pool[1 : 1 + n], suite=suite, payload=b"edge")
    assert len(env._parse(blob).stanzas) == n
    for who in pool[1 : 1 + n]:
        assert open_envelope(blob, me=who, author_key=directory).payload == b"edge"
    _reject(blob, pool[31], directory)


@SETTINGS
@given(
    kind=st.from_regex(r"[a-z][a-z0-9_.-]{0,31}", fullmatch=True),
    circle=st.from_regex(r"[A-Za-z0-9._~:=+-]{1,128}", fullmatch=True),
    item=st.from_regex(r"[A-Za-z0-9._~:=+-]{1,128}", fullmatch=True),
    revision=st.integers(0, 2**64 - 1),
    counter=st.integers(0, 2**64 - 1),
    head=st.binary(max_size=64),
)
def test_header_fields_round_trip(pool, directory, kind, circle, item, revision, counter, head):
    blob = _seal(
        pool[0], [pool[1]], kind=kind, circle_id=circle, item_id=item, revision=revision, counter=counter,
        roster_head=head, clock=fixed_clock,
    )  # fmt: skip
    h = open_envelope(blob, me=pool[1], author_key=directory).header
    assert (h.kind, h.circle_id, h.item_id, h.revision, h.counter, h.roster_head) == (
        kind, circle, item, revision, counter, head,
    )  # fmt: skip
    assert h.created_at == 1_790_000_000_000
    assert verify_envelope(blob, directory) == h


def test_known_kinds_are_accepted(pool, directory):
    for kind in KINDS:
        blob = _seal(pool[0], [pool[1]], kind=kind)
        assert open_envelope(blob, me=pool[1], author_key=directory).header.kind == kind


def test_padding_hides_length_within_a_bucket(pool):
    sizes = {len(_seal(pool[0], [pool[1]], payload=b"x" * n)) for n in (0, 1, 100, 252)}
    assert len(sizes) == 1
    assert len(_seal(pool[0], [pool[1]], payload=b"x" * 253)) == sizes.pop() + BUCKETS[1] - BUCKETS[0]
    blob = _seal(pool[0], [pool[1]], payload=b"x", min_bucket=3)
    assert env._parse(blob).header.bucket == 3


def test_stanzas_carry_no_recipient_id_and_are_shuffled(pool, directory):
    author, recipients = pool[0], pool[1:9]
    positions = set()
    for seed in range(12):
        blob = _seal(author, recipients, rng=FixedRng(b"shuffle-%d" % seed))
        for r in recipients:
            assert r.public.to_bytes() not in blob and r.fingerprint.encode() not in blob
        p = env._parse(blob)
        suite = suite_by_name(p.header.suite)
        info = env._stanza_info(env._header_digest(p.head))
        for i, stanza in enumerate(p.stanzas):
            try:
                suite.hpke.decrypt(stanza, recipients[0].kem_private_key(suite), info=info)
                positions.add(i)
            except Exception:
                pass
    assert len(positions) > 2  # the first recipient's stanza moves around


def test_duplicate_recipients_get_one_stanza(pool, directory):
    blob = _seal(pool[0], [pool[1], pool[1], pool[2]])
    assert len(env._parse(blob).stanzas) == 2


def test_reply_reuses_content_key_without_stanzas(pool, directory):
    key = new_content_key()
    item = _seal(pool[0], pool[1:4], content_key=key)
    assert open_envelope(item, me=pool[2], author_key=directory).content_key == key
    reply = _seal(pool[2], [], kind="reply", content_key=key, payload=b"thank you", counter=7)
    assert env._parse(reply).stanzas == ()
    opened = open_envelope(reply, me=pool[3], author_key=directory, content_key=lambda h: key)
    assert opened.payload == b"thank you" and opened.header.kind == "reply"
    _reject(reply, pool[3], directory)  # no key from the caller, no stanza
    _reject(reply, pool[3], directory, content_key=lambda h: new_content_key())  # wrong key
    _reject(reply, pool[3], directory, content_key=lambda h: key[:31])  # malformed key


def test_envelope_id_is_a_stable_content_address(pool):
    a = _seal(pool[0], [], content_key=bytes(32), rng=FixedRng(b"id"), clock=fixed_clock)
    b = _seal(pool[0], [], content_key=bytes(32), rng=FixedRng(b"id"), clock=fixed_clock)
    c = _seal(pool[0], [], content_key=bytes(32), rng=FixedRng(b"id2"), clock=fixed_clock)
    assert a == b and envelope_id(a) == envelope_id(b) != envelope_id(c)
    assert len(envelope_id(a)) == 52 and envelope_id(a).isalnum() and envelope_id(a).islower()


def test_seal_rejects_misuse(pool):
    with pytest.raises(ValueError):
        _seal(pool[0], [])  # fresh key and nobody to wrap it to
    for bad in (
        dict(kind="Item"), dict(kind=""), dict(circle_id="a b"), dict(item_id="é"), dict(revision=-1),
        dict(counter=2**64), dict(roster_head=b"x" * 65), dict(suite="rsa"), dict(content_key=b"short"),
        dict(payload=b"x" * (BUCKETS[-1] - 3)), dict(min_bucket=8), dict(revision=True),
    ):  # fmt: skip
        with pytest.raises(ValueError):
            _seal(pool[0], [pool[1]], **bad)
    with pytest.raises(TypeError):
        seal(pool[0], [b"not a key"], kind="item", circle_id="c", item_id="i", revision=0, counter=0,
             roster_head=b"", payload=b"")  # fmt: skip


# -- rejections ------------------------------------------------------------------------------------------------------


def test_invalid_envelope_is_the_one_crypto_error():
    assert issubclass(InvalidEnvelope, CryptoError)


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_every_single_bit_flip_is_rejected(pool, directory, suite):
    blob = _seal(pool[0], [pool[1]], suite=suite, payload=b"")
    open_envelope(blob, me=pool[1], author_key=directory)
    for i in range(len(blob)):
        for bit in range(8):
            bad = bytearray(blob)
            bad[i] ^= 1 << bit
            _reject(bytes(bad), pool[1], directory)


@SETTINGS
@given(suite=st.sampled_from(SUITE_NAMES), data=st.data())
def test_random_bit_flips_are_rejected(pool, directory, suite, data):
    payload = data.draw(st.binary(max_size=2000))
    blob = _seal(pool[0], pool[1:4], suite=suite, payload=payload)
    bad = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4))):
        bad[data.draw(st.integers(0, len(blob) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    if bytes(bad) != blob:
        _reject(bytes(bad), pool[2], directory)
        with pytest.raises(InvalidEnvelope):
            verify_envelope(bytes(bad), directory)


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_truncated_or_extended_envelopes_are_rejected(pool, directory, suite):
    blob = _seal(pool[0], [pool[1]], suite=suite)
    for n in [0, 1, 4, 5, 7, 100, len(blob) - 65, len(blob) - 64, len(blob) - 1]:
        _reject(blob[:n], pool[1], directory)
    for extra in (b"\x00", b"\x00" * 64, blob):
        _reject(blob + extra, pool[1], directory)
    _reject(b"", pool[1], directory)


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_stanza_moved_to_another_envelope_is_rejected(pool, directory, suite):
    author, bob = pool[0], pool[1]
    key = new_content_key()  # the same content key, so only the stanza's own binding can catch the move
    a = _seal(author, [bob], suite=suite, item_id="item-a", content_key=key)
    b = _seal(author, [bob], suite=suite, item_id="item-a", counter=2, content_key=key)  # same circle/item/rev
    stanza_a = env._parse(a).stanzas[0]
    spliced = bytearray(b)
    idx = b.index(env._parse(b).stanzas[0])
    spliced[idx : idx + len(stanza_a)] = stanza_a
    _reject(bytes(spliced), bob, directory)  # the signature no longer matches
    # Even re-signed by the author, a's stanza does not open in b: HPKE info binds b's header digest.
    _reject(_rebuild(author, b, stanzas=[stanza_a]), bob, directory)
    assert open_envelope(_rebuild(author, b), me=bob, author_key=directory).content_key == key  # control


@pytest.mark.parametrize(
    "change",
    [
        dict(kind="reply"), dict(circle_id="circle-2"), dict(item_id="item-2"), dict(revision=2), dict(counter=9),
        dict(roster_head=b"\x08" * 32), dict(created_at=5), dict(salt=b"\x00" * 32), dict(bucket=0),
    ],
)  # fmt: skip
@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_changed_header_field_is_rejected_even_if_resigned(pool, directory, change, suite):
    author, bob = pool[0], pool[1]
    blob = _seal(author, [bob], suite=suite, payload=b"x" * 300)  # bucket 1, so bucket=0 is a change
    header = env._parse(blob).header
    changed = dataclasses.replace(header, **change)
    assert changed != header
    raw = bytearray(blob)
    new_header = env._encode_header(changed)
    if len(new_header) == len(env._encode_header(header)):
        raw[7 : 7 + len(new_header)] = new_header
        _reject(bytes(raw), bob, directory)  # signature fails
    _reject(_rebuild(author, blob, header=changed), bob, directory)  # stanza/AEAD binding (or bucket size) fails


def test_changed_author_is_rejected(pool, directory):
    alice, bob, mallory = pool[0], pool[1], pool[2]
    blob = _seal(alice, [bob, mallory])
    header = env._parse(blob).header
    forged = dataclasses.replace(header, author=mallory.fingerprint)
    # Mallory re-signs Alice's envelope under her own name: the binding to the header stops it...
    _reject(_rebuild(mallory, blob, header=forged), bob, directory)
    # ... even when she supplies the content key she learnt as a recipient.
    key = open_envelope(blob, me=mallory, author_key=directory).content_key
    _reject(_rebuild(mallory, blob, header=forged), bob, directory, content_key=lambda h: key)
    # And an envelope naming Alice but signed by Mallory fails the signature.
    _reject(_rebuild(mallory, blob), bob, directory)


def test_unknown_or_mismatched_author_key_is_rejected(pool, directory):
    blob = _seal(pool[0], [pool[1]])
    _reject(blob, pool[1], lambda _fp: None)
    _reject(blob, pool[1], lambda _fp: pool[3].public)  # key whose fingerprint is not the header's author
    _reject(blob, pool[1], lambda _fp: "not a key")
    with pytest.raises(InvalidEnvelope):
        verify_envelope(blob, lambda _fp: None)


def _header_fields(h) -> Writer:
    return Writer().text8(h.kind).text8(h.circle_id).text8(h.item_id).u64(h.revision).text8(h.author).u64(h.counter)


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_non_canonical_encodings_are_rejected_even_if_signed(pool, directory, suite):
    author, bob = pool[0], pool[1]
    blob = _seal(author, [bob], suite=suite)
    p = env._parse(blob)
    h = p.header
    sid = suite_by_name(suite).id
    tail = Writer().u64(h.created_at).u8(h.bucket).u8(sid).raw(h.salt)
    good = _header_fields(h).bytes8(h.roster_head).raw(tail.getvalue()).getvalue()
    assert good == env._encode_header(h)
    assert open_envelope(_rebuild(author, blob, header_bytes=good), me=bob, author_key=directory)
    bad_headers = [
        good + b"\x00",  # trailing byte inside the header
        good[:-1],  # short header
        _header_fields(h).bytes8(b"\x07" * 65).raw(tail.getvalue()).getvalue(),  # roster head too long
        _header_fields(dataclasses.replace(h, kind="ITEM")).bytes8(h.roster_head).raw(tail.getvalue()).getvalue(),
        _header_fields(dataclasses.replace(h, item_id="a/b")).bytes8(h.roster_head).raw(tail.getvalue()).getvalue(),
        good.replace(b"\x04item", b"\x04it\xc3\xa9", 1),  # non-ascii
        good.replace(b"\x04item", b"\x05item", 1),  # a length prefix that swallows the next field
    ]
    for hb in bad_headers:
        assert hb != good
        _reject(_rebuild(author, blob, header_bytes=hb), bob, directory)
    # Framing lies, each validly signed.
    body = blob[:-64]
    hl = int.from_bytes(blob[5:7], "big")
    count_at = 7 + hl
    for forged_body in (
        body[:count_at] + bytes([2]) + body[count_at + 1 :],  # stanza count says 2, there is 1
        body[:count_at] + bytes([0]) + body[count_at + 1 :],  # stanza count says 0
        body[:5] + (hl + 1).to_bytes(2, "big") + body[7:],  # header length off by one
        body[:-len(p.ciphertext) - 4] + (len(p.ciphertext) + 1).to_bytes(4, "big") + p.ciphertext + b"\x00",
        body + b"\x00",  # a byte between the ciphertext and the signature
    ):  # fmt: skip
        _reject(forged_body + author._sign_raw("companion:v1:envelope", forged_body), bob, directory)


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_unknown_version_suite_or_bucket_is_rejected(pool, directory, suite):
    author, bob = pool[0], pool[1]
    blob = _seal(author, [bob], suite=suite)
    body = blob[:-64]
    for version in (0, 2, 255):
        forged = body[:4] + bytes([version]) + body[5:]
        _reject(forged + author._sign_raw("companion:v1:envelope", forged), bob, directory)
    forged = b"XPNE" + body[4:]
    _reject(forged + author._sign_raw("companion:v1:envelope", forged), bob, directory)
    hb = env._encode_header(env._parse(blob).header)
    suite_at = len(hb) - 33
    for sid in (0, 3, 255):
        _reject(_rebuild(author, blob, header_bytes=hb[:suite_at] + bytes([sid]) + hb[suite_at + 1 :]), bob, directory)
    for bucket in (8, 255):
        hb2 = hb[: suite_at - 1] + bytes([bucket]) + hb[suite_at:]
        _reject(_rebuild(author, blob, header_bytes=hb2), bob, directory)


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_low_order_or_zero_ephemeral_key_in_stanza_is_rejected(pool, directory, suite):
    author, bob = pool[0], pool[1]
    blob = _seal(author, [bob], suite=suite)
    stanza = env._parse(blob).stanzas[0]
    # The X25519 share of enc: all of it, or (draft-ietf-hpke-pq) after the 1088-byte ML-KEM ciphertext.
    x_at = 0 if suite == "x25519" else 1088
    low_order = [bytes(32), (1).to_bytes(32, "little"), bytes.fromhex(
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")]  # fmt: skip
    for point in low_order:
        forged = stanza[:x_at] + point + stanza[x_at + 32 :]
        _reject(_rebuild(author, blob, stanzas=[forged]), bob, directory)


def test_payload_with_bad_padding_is_rejected(pool, directory):
    author, bob = pool[0], pool[1]
    key = new_content_key()
    blob = _seal(author, [], content_key=key)
    p = env._parse(blob)
    cipher, nonce = env._payload_cipher(key, env._header_digest(p.head))
    for padded in (
        (5).to_bytes(4, "big") + b"hello" + b"\x01" + bytes(BUCKETS[0] - 10),  # non-zero padding
        (BUCKETS[0]).to_bytes(4, "big") + bytes(BUCKETS[0] - 4),  # length larger than the bucket
    ):
        forged = _rebuild(author, blob, ciphertext=cipher.encrypt(nonce, padded, p.head))
        _reject(forged, bob, directory, content_key=lambda h: key)
    padded = env._pad(b"hi", 0)
    assert padded == b"\x00\x00\x00\x02hi" + bytes(BUCKETS[0] - 6)
    ok = _rebuild(author, blob, ciphertext=cipher.encrypt(nonce, padded, p.head))
    assert open_envelope(ok, me=bob, author_key=directory, content_key=lambda h: key).payload == b"hi"


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_malformed_signatures_are_rejected(pool, directory, suite):
    blob = _seal(pool[0], [pool[1]], suite=suite)
    body, sig = blob[:-64], blob[-64:]
    group_order = 2**252 + 27742317777372353535851937790883648493
    s = int.from_bytes(sig[32:], "little")
    for bad in (
        bytes(64),
        b"\xff" * 64,
        sig[:32] + (s + group_order).to_bytes(32, "little"),  # non-canonical S (malleability)
        sig[32:] + sig[:32],
        pool[0]._sign_raw("companion:v1:other", body),  # right key, wrong purpose
        pool[1]._sign_raw("companion:v1:envelope", body),  # wrong key
    ):
        _reject(body + bad, pool[1], directory)


def test_non_bytes_input_is_rejected(pool, directory):
    for junk in (None, "CPNE", 5, [1, 2]):
        with pytest.raises(InvalidEnvelope):
            open_envelope(junk, me=pool[1], author_key=directory)  # type: ignore[arg-type]


def test_envelope_id_of_a_large_envelope() -> None:
    """Envelopes above 64 KiB (a long entry, many recipients) still get a content address."""
    from companion.crypto import Identity, envelope_id, seal

    author = Identity.generate()
    big = seal(author, [author.public], kind="item", circle_id="c1", item_id="i1", revision=1, counter=1,
               roster_head=b"", payload=b"x" * 200_000)
    assert len(big) > 0x10000
    assert len(envelope_id(big)) == 52 and envelope_id(big) != envelope_id(big[:-1])
