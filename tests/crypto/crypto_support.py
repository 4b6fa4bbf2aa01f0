"""Helpers shared by the crypto tests and the vector generator: a deterministic rng and a fixed clock."""

from __future__ import annotations

import hashlib
import os

# Hypothesis example counts scale with COMPANION_TRIALS (1 in CI).
TRIALS = max(1, int(os.environ.get("COMPANION_TRIALS", "1")))


class FixedRng:
    """``rng(n)``: SHAKE-256(seed || u64 call index), ``n`` bytes — the rng used for every known-answer vector."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.calls = 0

    def __call__(self, n: int) -> bytes:
        out = hashlib.shake_256(self.seed + self.calls.to_bytes(8, "big")).digest(n)
        self.calls += 1
        return out


def fixed_clock() -> float:
    return 1_790_000_000.0
