"""Time-bounded mutational fuzzing of the envelope parser and opener: only InvalidEnvelope may escape.

Runs for ``COMPANION_FUZZ_SECONDS`` (default 10 s) with a seed from ``COMPANION_FUZZ_SEED`` (default: random,
printed on failure). Half of the mutants are re-signed by the author so the fuzzer also reaches the code after the
signature check (stanza trial decryption, the payload AEAD, padding). An atheris (libFuzzer) harness for longer,
coverage-guided runs is in ``fuzz_envelope_atheris.py`` beside this file.
"""

from __future__ import annotations

import os
import random
import time

from companion.crypto import envelope_id, new_content_key, open_envelope, seal, verify_envelope
from companion.errors import InvalidEnvelope

SECONDS = float(os.environ.get("COMPANION_FUZZ_SECONDS", "10"))
INTERESTING = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0xFFFFFFFF]


def _corpus(pool) -> tuple[list[bytes], bytes]:
    author, recipients = pool[0], [p.public for p in pool[1:4]]
    key = new_content_key()
    out = []
    for suite in ("x25519", "mlkem768-x25519"):
        common = dict(kind="item", circle_id="c", item_id="i", revision=3, counter=9, roster_head=b"\x01" * 32)
        out.append(seal(author, recipients, payload=b"hello " * 10, suite=suite, content_key=key, **common))
        out.append(seal(author, recipients[:1], payload=b"", suite=suite, content_key=key, **common))
        out.append(seal(author, [], payload=b"x" * 300, suite=suite, content_key=key, **common))
    return out, key


def _mutate(rnd: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rnd.choice((1, 1, 1, 2, 3, 8))):
        op = rnd.randrange(9)
        pos = rnd.randrange(len(b) + 1) if b else 0
        if op == 0 and b:
            b[min(pos, len(b) - 1)] ^= 1 << rnd.randrange(8)
        elif op == 1 and b:
            b[min(pos, len(b) - 1)] = rnd.randrange(256)
        elif op == 2:
            b[pos:pos] = rnd.randbytes(rnd.choice((1, 2, 4, 32, 64)))
        elif op == 3:
            del b[pos : pos + rnd.choice((1, 2, 4, 32, 64, 1000))]
        elif op == 4:
            del b[pos:]
        elif op == 5:
            other = rnd.choice(corpus)
            cut = rnd.randrange(len(other) + 1)
            b = b[:pos] + bytearray(other[cut:])
        elif op == 6:
            width = rnd.choice((1, 2, 4, 8))
            value = rnd.choice(INTERESTING) & ((1 << (8 * width)) - 1)
            b[pos : pos + width] = value.to_bytes(width, "big")
        elif op == 7 and len(b) > 8:
            start = rnd.randrange(len(b) - 4)
            b[pos:pos] = b[start : start + rnd.randrange(1, 64)]
        else:
            b += rnd.randbytes(rnd.randrange(1, 100))
    return bytes(b)


def test_envelope_parser_survives_fuzzing(pool, directory):
    seed = int(os.environ.get("COMPANION_FUZZ_SEED", str(random.randrange(2**32))))
    rnd = random.Random(seed)
    corpus, key = _corpus(pool)
    author, me = pool[0], pool[1]
    for blob in corpus:
        assert open_envelope(blob, me=me, author_key=directory, content_key=lambda h: key).header.revision == 3
    deadline = time.monotonic() + SECONDS
    runs = 0
    opened_mutants = 0
    while time.monotonic() < deadline:
        runs += 1
        if rnd.random() < 0.05:
            candidate = rnd.randbytes(rnd.randrange(0, 3000))
            if rnd.random() < 0.5:
                candidate = b"CPNE\x01" + candidate
        else:
            candidate = _mutate(rnd, rnd.choice(corpus), corpus)
            if rnd.random() < 0.5 and len(candidate) >= 64:
                body = candidate[:-64]  # re-sign so the mutant reaches the checks after the signature
                candidate = body + author._sign_raw("companion:v1:envelope", body)
        supply_key = rnd.random() < 0.5
        try:
            envelope_id(candidate)
            verify_envelope(candidate, directory)
            open_envelope(
                candidate, me=me, author_key=directory, content_key=(lambda h: key) if supply_key else None
            )
            opened_mutants += 1  # e.g. re-signed with only another recipient's stanza changed: still valid
        except InvalidEnvelope:
            continue
        except Exception as exc:  # pragma: no cover - the point of the test
            raise AssertionError(f"uncaught {type(exc).__name__} (COMPANION_FUZZ_SEED={seed}, run {runs})") from exc
    assert runs > 100, runs
    print(f"fuzz: {runs} runs in {SECONDS:.0f} s, {opened_mutants} mutants still valid, seed {seed}")
