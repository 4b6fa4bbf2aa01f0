"""Known-answer vectors (tests/vectors/crypto_v1.json), checked byte for byte. See that file's "description" for
what is reproduced from the rng seam and what (HPKE's ephemeral keys) is fixed by the stored envelope instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.crypto import (
    Identity,
    PublicIdentity,
    derive_key,
    envelope_id,
    invite_id,
    invite_proof,
    open_envelope,
    safety_number,
    safety_number_qr,
    seal,
    sign_message,
    verify_envelope,
    verify_invite_proof,
    verify_message,
)
from companion.crypto import envelope as env
from companion.crypto.derive import labelled_hash
from companion.errors import InvalidEnvelope

from .crypto_support import FixedRng

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "crypto_v1.json").read_text())
IDS = {v["name"]: Identity.from_bytes(bytes.fromhex(v["secret"])) for v in VECTORS["identities"]}
DIRECTORY = {i.fingerprint: i.public for i in IDS.values()}.get


def _clock() -> float:
    return VECTORS["clock_seconds"]


@pytest.mark.parametrize("v", VECTORS["identities"], ids=lambda v: v["name"])
def test_identity_vectors(v):
    generated = Identity.generate(FixedRng(v["rng_seed"].encode()))
    assert generated.to_bytes().hex() == v["secret"]
    assert generated.public.to_bytes().hex() == v["public"]
    assert PublicIdentity.from_bytes(bytes.fromhex(v["public"])).fingerprint == v["fingerprint"]


def test_derivation_and_hash_vectors():
    for v in VECTORS["derive_key"]:
        okm = derive_key(
            bytes.fromhex(v["ikm"]), v["purpose"], salt=bytes.fromhex(v["salt"]),
            context=bytes.fromhex(v["context"]), length=v["length"],
        )  # fmt: skip
        assert okm.hex() == v["okm"]
    for v in VECTORS["labelled_hash"]:
        assert labelled_hash(v["purpose"], *(bytes.fromhex(p) for p in v["parts"])).hex() == v["digest"]


def test_signed_message_vectors():
    for v in VECTORS["signed_messages"]:
        data = bytes.fromhex(v["data"])
        assert sign_message(IDS[v["signer"]], v["purpose"], data).hex() == v["signature"]
        verify_message(IDS[v["signer"]].public, v["purpose"], data, bytes.fromhex(v["signature"]))


def test_safety_number_vectors():
    for v in VECTORS["safety_numbers"]:
        a, b = IDS[v["a"]].public, IDS[v["b"]].public
        assert safety_number(a, b) == safety_number(b, a) == v["number"]
        assert safety_number_qr(a, b) == v["qr"]


def test_invite_vectors():
    for v in VECTORS["invites"]:
        secret = bytes.fromhex(v["secret"])
        assert invite_id(secret) == v["invite_id"]
        proof = invite_proof(secret, circle_id=v["circle_id"], joiner=IDS[v["joiner"]].public)
        assert proof.hex() == v["proof"]
        verify_invite_proof(secret, circle_id=v["circle_id"], joiner=IDS[v["joiner"]].public, proof=proof)


def _seal(v: dict) -> bytes:
    return seal(
        IDS[v["author"]], [IDS[r].public for r in v["recipients"]], kind=v["kind"], circle_id=v["circle_id"],
        item_id=v["item_id"], revision=v["revision"], counter=v["counter"],
        roster_head=bytes.fromhex(v["roster_head"]), payload=v["payload"].encode(), suite=v["suite"],
        content_key=bytes.fromhex(v["content_key"]) if v["content_key"] else None,
        rng=FixedRng(v["rng_seed"].encode()), clock=_clock,
    )  # fmt: skip


@pytest.mark.parametrize("v", VECTORS["envelopes"], ids=lambda v: v["name"])
def test_envelope_vectors(v):
    blob = bytes.fromhex(v["envelope"])
    assert envelope_id(blob) == v["envelope_id"]
    header = verify_envelope(blob, DIRECTORY)
    expected = dict(v["header"], roster_head=bytes.fromhex(v["header"]["roster_head"]),
                    salt=bytes.fromhex(v["header"]["salt"]))  # fmt: skip
    assert header == env.Header(**expected)
    resealed = _seal(v)
    if v["deterministic"]:
        assert resealed.hex() == v["envelope"]  # the whole envelope, byte for byte
    else:
        # HPKE's ephemeral randomness has no seam: everything else is reproduced byte for byte.
        p = env._parse(resealed)
        assert env._encode_header(p.header).hex() == v["header_bytes"]
        assert env._header_digest(p.head).hex() == v["header_digest"]
        assert p.ciphertext.hex() == v["ciphertext"]
        assert len(p.stanzas) == len(v["recipients"])
    key = bytes.fromhex(v["opened_content_key"])
    readers = v["recipients"] or ["carol"]
    for name in readers:
        opened = open_envelope(
            blob, me=IDS[name], author_key=DIRECTORY, content_key=None if v["recipients"] else (lambda h: key)
        )
        assert opened.payload == v["payload"].encode()
        assert opened.content_key == key
        assert opened.header == header
    if v["recipients"]:
        outsiders = [n for n in IDS if n not in v["recipients"]]
        with pytest.raises(InvalidEnvelope):
            open_envelope(blob, me=IDS[outsiders[0]], author_key=DIRECTORY)


@pytest.mark.parametrize("v", VECTORS["invalid_envelopes"], ids=lambda v: v["description"])
def test_invalid_envelope_vectors(v):
    with pytest.raises(InvalidEnvelope):
        open_envelope(bytes.fromhex(v["envelope"]), me=IDS[v["open_as"]], author_key=DIRECTORY)
