"""A seeded generator of journal-like entries: ~200 words each, Zipf-distributed vocabulary, tags and moods.

Used by the benchmarks; the same seed gives the same corpus on every machine.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate

COMMON = (
    "the and i to a of it was my in that me but so with for today felt just about what had have not be at "
    "this they we when time like really all again group walk sleep work friend call talk tired better"
).split()
TAGS = ["work", "family", "group", "health", "sleep", "gratitude", "boundaries", "meds", "walk", "music"]
SYLLABLES = ["ka", "lo", "mi", "ne", "ra", "su", "to", "vi", "en", "or", "al", "is", "um", "ek", "ba", "do"]


@dataclass(frozen=True)
class Generated:
    title: str
    body: str
    tags: list[str]
    mood: int | None
    created_at: datetime


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    words = list(COMMON)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def entries(count: int, seed: int = 42, words_per_entry: int = 200) -> Iterator[Generated]:
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    weights = list(accumulate(1.0 / (rank + 1) ** 1.07 for rank in range(len(vocab))))
    start = datetime(2016, 1, 1, 8, 0, tzinfo=UTC)
    step = timedelta(days=3650) / max(count, 1)
    for i in range(count):
        n = max(20, int(rng.gauss(words_per_entry, words_per_entry / 4)))
        words = rng.choices(vocab, cum_weights=weights, k=n)
        body = " ".join(words)
        title = " ".join(rng.choices(vocab[40:2000], k=rng.randint(0, 4))).capitalize()
        tags = rng.sample(TAGS, rng.randint(0, 3))
        mood = rng.choice([None, 1, 2, 3, 4, 5])
        yield Generated(title, body, tags, mood, start + step * i + timedelta(minutes=rng.randint(0, 600)))


def rare_words(seed: int = 42, how_many: int = 50) -> list[str]:
    """Words from the far tail of the vocabulary: each appears in a handful of entries."""
    vocab = vocabulary(random.Random(seed))
    rng = random.Random(seed + 1)
    return rng.sample(vocab[8000:], how_many)


def mid_words(seed: int = 42, how_many: int = 50) -> list[str]:
    """Moderately selective words (a few hundred entries each at 100k)."""
    vocab = vocabulary(random.Random(seed))
    rng = random.Random(seed + 2)
    return rng.sample(vocab[300:1500], how_many)
