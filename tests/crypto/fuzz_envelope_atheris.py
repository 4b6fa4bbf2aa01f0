"""Coverage-guided fuzzing of the envelope parser with atheris (libFuzzer). Not collected by pytest.

    pip install -e '.[fuzz]'
    PYTHONPATH=. python tests/crypto/fuzz_envelope_atheris.py -max_total_time=300 [corpus_dir]

Every input is tried three ways: as is, re-signed by the author (so the checks after the signature are reached),
and with a content key supplied. Anything other than InvalidEnvelope escaping is a crash.
"""

from __future__ import annotations

import hashlib
import sys

import atheris

with atheris.instrument_imports():
    from companion.crypto import Identity, new_content_key, open_envelope, seal, verify_envelope
    from companion.errors import InvalidEnvelope


def _rng(seed: bytes):
    state = {"n": 0}

    def rng(n: int) -> bytes:
        state["n"] += 1
        return hashlib.shake_256(seed + state["n"].to_bytes(8, "big")).digest(n)

    return rng


AUTHOR = Identity.generate(_rng(b"author"))
ME = Identity.generate(_rng(b"me"))
KEY = new_content_key(_rng(b"key"))
DIRECTORY = {AUTHOR.fingerprint: AUTHOR.public, ME.fingerprint: ME.public}.get


def seeds() -> list[bytes]:
    common = dict(kind="item", circle_id="c", item_id="i", revision=1, counter=1, roster_head=b"\x00" * 32)
    return [
        seal(AUTHOR, [ME.public], payload=b"hello", suite=suite, content_key=KEY, **common)
        for suite in ("x25519", "mlkem768-x25519")
    ]


def test_one_input(data: bytes) -> None:
    candidates = [data]
    if len(data) >= 64:
        body = data[:-64]
        candidates.append(body + AUTHOR._sign_raw("companion:v1:envelope", body))
    for candidate in candidates:
        for supplied in (None, lambda _h: KEY):
            try:
                verify_envelope(candidate, DIRECTORY)
                open_envelope(candidate, me=ME, author_key=DIRECTORY, content_key=supplied)
            except InvalidEnvelope:
                pass


def main() -> None:
    from pathlib import Path

    for blob in seeds():
        test_one_input(blob)
        for arg in sys.argv[1:]:  # seed an empty corpus directory with valid envelopes
            folder = Path(arg)
            if not arg.startswith("-") and folder.is_dir():
                (folder / hashlib.sha256(blob).hexdigest()).write_bytes(blob)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
