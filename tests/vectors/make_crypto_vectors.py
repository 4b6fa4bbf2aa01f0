"""Regenerate ``tests/vectors/crypto_v1.json`` (known-answer vectors for docs/protocol.md).

    PYTHONPATH=. .venv/bin/python tests/vectors/make_crypto_vectors.py

Only regenerate on purpose (a format change is a new protocol version); ``tests/crypto/test_crypto_vectors.py``
checks the stored file byte for byte. What is fixed and what is not:

* Fully deterministic, checked by recomputing: identities from a fixed rng, HKDF derivations, labelled hashes,
  Ed25519 signatures (deterministic by design), safety numbers, invite proofs, and whole envelopes *without*
  stanzas (content key supplied), where every random byte comes from the rng seam.
* Envelopes *with* stanzas: ``cryptography``'s HPKE draws its ephemeral keys internally and has no seam, so those
  bytes cannot be reproduced. For them the vectors fix the envelope and check the opening path byte for byte
  (header, content key, payload for every recipient), and check that the deterministic parts (header bytes and
  payload ciphertext, both derived only from the rng seam) are reproduced by ``seal`` with the same rng.
* Invalid envelopes: each must be rejected with InvalidEnvelope.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from companion.crypto import (
    Identity,
    derive_key,
    envelope_id,
    invite_id,
    invite_proof,
    open_envelope,
    safety_number,
    safety_number_qr,
    seal,
    sign_message,
)
from companion.crypto import envelope as env
from companion.crypto.derive import labelled_hash

OUT = Path(__file__).with_name("crypto_v1.json")
CLOCK_S = 1_790_000_000.0
RNG_DOC = "rng(n) = SHAKE-256(seed || u64be(i))[:n], i = 0, 1, 2 ... counting calls made with that seed"


class FixedRng:
    def __init__(self, seed: bytes) -> None:
        self.seed, self.calls = seed, 0

    def __call__(self, n: int) -> bytes:
        out = hashlib.shake_256(self.seed + self.calls.to_bytes(8, "big")).digest(n)
        self.calls += 1
        return out


def clock() -> float:
    return CLOCK_S


NAMES = ("alice", "bob", "carol", "dave")


def identities() -> dict[str, Identity]:
    return {n: Identity.generate(FixedRng(f"identity-{n}".encode())) for n in NAMES}


ENVELOPE_INPUTS = [
    dict(
        name="reply-without-stanzas", author="bob", recipients=[], rng_seed="envelope-reply", content_key="11" * 32,
        kind="reply", circle_id="circle-7f3a", item_id="item-0001", revision=1, counter=42, roster_head="ab" * 32,
        payload="Thank you for sharing this.", suite="x25519",
    ),
    dict(
        name="status-hybrid-without-stanzas", author="alice", recipients=[], rng_seed="envelope-status",
        content_key="22" * 32, kind="status", circle_id="circle-7f3a", item_id="status-1", revision=0, counter=0,
        roster_head="", payload="", suite="mlkem768-x25519",
    ),
    dict(
        name="item-x25519", author="alice", recipients=["bob", "carol"], rng_seed="envelope-item-x25519",
        content_key=None, kind="item", circle_id="circle-7f3a", item_id="item-0001", revision=2, counter=7,
        roster_head="cd" * 32, payload="A quiet week. Walked every morning.", suite="x25519",
    ),
    dict(
        name="item-hybrid", author="alice", recipients=["bob", "carol", "dave"], rng_seed="envelope-item-hybrid",
        content_key=None, kind="item", circle_id="circle-7f3a", item_id="item-0002", revision=1, counter=8,
        roster_head="cd" * 32, payload="x" * 300, suite="mlkem768-x25519",
    ),
]  # fmt: skip


def seal_inputs(ids: dict[str, Identity], v: dict) -> bytes:
    return seal(
        ids[v["author"]], [ids[r].public for r in v["recipients"]], kind=v["kind"], circle_id=v["circle_id"],
        item_id=v["item_id"], revision=v["revision"], counter=v["counter"],
        roster_head=bytes.fromhex(v["roster_head"]), payload=v["payload"].encode(), suite=v["suite"],
        content_key=bytes.fromhex(v["content_key"]) if v["content_key"] else None,
        rng=FixedRng(v["rng_seed"].encode()), clock=clock,
    )


def header_json(h: env.Header) -> dict:
    return dict(
        kind=h.kind, circle_id=h.circle_id, item_id=h.item_id, revision=h.revision, author=h.author,
        counter=h.counter, roster_head=h.roster_head.hex(), created_at=h.created_at, bucket=h.bucket, suite=h.suite,
        salt=h.salt.hex(),
    )


def build() -> dict:
    ids = identities()
    out: dict = {
        "description": __doc__.split("\n\n", 2)[2].strip(),
        "rng": RNG_DOC,
        "clock_seconds": CLOCK_S,
        "identities": [
            dict(name=n, rng_seed=f"identity-{n}", secret=i.to_bytes().hex(), public=i.public.to_bytes().hex(),
                 fingerprint=i.fingerprint)
            for n, i in ids.items()
        ],
    }
    out["derive_key"] = [
        dict(ikm=ikm.hex(), purpose=p, salt=s.hex(), context=c.hex(), length=n,
             okm=derive_key(ikm, p, salt=s, context=c, length=n).hex())
        for ikm, p, s, c, n in [
            (b"\x0b" * 22, "companion:v1:example", b"", b"", 32),
            (b"\x0b" * 22, "companion:v1:example", bytes(range(13)), b"context", 42),
            (b"\x11" * 32, "companion:v1:payload", b"", b"\x00" * 32, 44),
        ]
    ]
    out["labelled_hash"] = [
        dict(purpose=p, parts=[x.hex() for x in parts], digest=labelled_hash(p, *parts).hex())
        for p, parts in [("companion:v1:envelope-id", [b""]), ("companion:v1:example", [b"ab", b"c"])]
    ]
    out["signed_messages"] = [
        dict(signer=s, purpose=p, data=d.hex(), signature=sign_message(ids[s], p, d).hex())
        for s, p, d in [("alice", "companion:v1:roster-op", b"add bob"), ("bob", "companion:v1:join-request", b"")]
    ]
    out["safety_numbers"] = [
        dict(a=a, b=b, number=safety_number(ids[a].public, ids[b].public),
             qr=safety_number_qr(ids[a].public, ids[b].public))
        for a, b in [("alice", "bob"), ("bob", "carol")]
    ]
    secret = bytes(range(32))
    out["invites"] = [
        dict(secret=secret.hex(), circle_id="circle-7f3a", joiner="dave", invite_id=invite_id(secret),
             proof=invite_proof(secret, circle_id="circle-7f3a", joiner=ids["dave"].public).hex())
    ]
    envelopes = []
    for v in ENVELOPE_INPUTS:
        blob = seal_inputs(ids, v)
        p = env._parse(blob)
        reader = v["recipients"][0] if v["recipients"] else "carol"
        key = bytes.fromhex(v["content_key"]) if v["content_key"] else None
        opened = open_envelope(blob, me=ids[reader], author_key={i.fingerprint: i.public for i in ids.values()}.get,
                               content_key=(lambda h, k=key: k) if key else None)
        envelopes.append(
            dict(
                **v,
                deterministic=not v["recipients"],
                envelope=blob.hex(),
                envelope_id=envelope_id(blob),
                header=header_json(p.header),
                header_bytes=env._encode_header(p.header).hex(),
                header_digest=env._header_digest(p.head).hex(),
                ciphertext=p.ciphertext.hex(),
                opened_content_key=opened.content_key.hex(),
            )
        )
    out["envelopes"] = envelopes
    out["invalid_envelopes"] = invalid_envelopes(ids, envelopes)
    return out


def invalid_envelopes(ids: dict[str, Identity], envelopes: list[dict]) -> list[dict]:
    good = bytes.fromhex(envelopes[2]["envelope"])  # item-x25519, readable by bob
    alice = ids["alice"]
    body = good[:-64]

    def resign(b: bytes) -> str:
        return (b + alice._sign_raw("companion:v1:envelope", b)).hex()

    hl = int.from_bytes(good[5:7], "big")
    p = env._parse(good)
    counter_8 = env._encode_header(dataclasses.replace(p.header, counter=8))
    zero_enc = [bytes(32) + s[32:] for s in p.stanzas]
    return [
        dict(description="last bit of the signature flipped", open_as="bob",
             envelope=(good[:-1] + bytes([good[-1] ^ 1])).hex()),
        dict(description="one byte of the payload ciphertext flipped", open_as="bob",
             envelope=(body[:-5] + bytes([body[-5] ^ 0x80]) + body[-4:] + good[-64:]).hex()),
        dict(description="truncated by one byte", open_as="bob", envelope=good[:-1].hex()),
        dict(description="one trailing byte", open_as="bob", envelope=(good + b"\x00").hex()),
        dict(description="version 2 (re-signed)", open_as="bob", envelope=resign(body[:4] + b"\x02" + body[5:])),
        dict(description="unknown suite 0x03 (re-signed)", open_as="bob",
             envelope=resign(body[: 7 + hl - 33] + b"\x03" + body[7 + hl - 32 :])),
        dict(description="header says counter 8, content encrypted for counter 7 (re-signed)", open_as="bob",
             envelope=env._assemble(alice, counter_8, list(p.stanzas), p.ciphertext).hex()),
        dict(description="X25519 ephemeral key of every stanza set to zero (re-signed)", open_as="bob",
             envelope=env._assemble(alice, env._encode_header(p.header), zero_enc, p.ciphertext).hex()),
        dict(description="valid envelope, but dave is not a recipient", open_as="dave", envelope=good.hex()),
    ]


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=1) + "\n")
    print(f"wrote {OUT}")
