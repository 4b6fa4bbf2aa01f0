"""Full-text search on a generated corpus: matches, ranking, filters, snippets and hostile query strings."""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.journal.search import HIGHLIGHT_END, HIGHLIGHT_START, Filters, compile_query
from companion.services import Companion

WORDS = (
    "morning walk river tired grateful group meeting sleep anxious calm friend phone call kitchen garden rain "
    "quiet listen boundary helped coffee train work evening letter sister breathing"
).split()


@pytest.fixture
def corpus(app: Companion) -> dict[int, dict]:
    rng = random.Random(7)
    truth: dict[int, dict] = {}
    with app.vault.transaction():
        for i in range(400):
            words = [rng.choice(WORDS) for _ in range(rng.randint(5, 40))]
            tags = rng.sample(["work", "family", "group", "health"], rng.randint(0, 2))
            mood = rng.choice([None, 1, 2, 3, 4, 5])
            day = date(2025, 1 + i % 12, 1 + i % 28)
            title = rng.choice(["", "Note", "A day", "Thoughts"])
            entry = app.journal.add_entry(
                " ".join(words), title=title, tags=tags, mood=mood, created_at=day.isoformat()
            ).value
            truth[entry.id] = {"words": set(words), "tags": set(tags), "mood": mood, "day": day, "title": title}
    return truth


def ids(hits) -> set[int]:
    return {h.id for h in hits}


def test_words_are_all_required(app: Companion, corpus: dict[int, dict]) -> None:
    expected = {i for i, e in corpus.items() if {"river", "grateful"} <= e["words"]}
    assert expected
    assert ids(app.journal.search("river grateful ", limit=1000)) == expected


def test_exclusion_and_phrase(app: Companion, corpus: dict[int, dict]) -> None:
    expected = {i for i, e in corpus.items() if "garden" in e["words"] and "rain" not in e["words"]}
    assert ids(app.journal.search("garden -rain ", limit=1000)) == expected
    app.journal.add_entry("we sat in the quiet garden of stones")
    assert len(app.journal.search('"garden of stones"')) == 1


def test_prefix_matching_as_you_type(app: Companion, corpus: dict[int, dict]) -> None:
    expected = {i for i, e in corpus.items() if "breathing" in e["words"]}
    assert ids(app.journal.search("breat", limit=1000)) == expected  # last word typed is a prefix
    assert app.journal.search("breat ", limit=1000) == []  # a finished word is a word
    assert ids(app.journal.search("breat* ", limit=1000)) == expected


def test_newest_first_and_ranked(app: Companion, corpus: dict[int, dict]) -> None:
    hits = app.journal.search("walk", limit=1000)
    assert [h.created_at for h in hits] == sorted((h.created_at for h in hits), reverse=True)
    target = app.journal.add_entry("plain body", title="Sister", created_at="2020-01-01").value
    ranked = app.journal.search("sister", order="relevance", limit=5)
    assert ranked[0].id == target.id  # a title match outranks body mentions, however old


def test_filters(app: Companion, corpus: dict[int, dict]) -> None:
    f = Filters(tags=("work",), moods=(4, 5), date_from=date(2025, 3, 1), date_to=date(2025, 6, 30))
    expected = {
        i for i, e in corpus.items()
        if "work" in e["tags"] and e["mood"] in (4, 5) and date(2025, 3, 1) <= e["day"] <= date(2025, 6, 30)
    }
    assert expected
    assert ids(app.journal.search("", f, limit=1000)) == expected
    with_words = {i for i in expected if "calm" in corpus[i]["words"]}
    assert ids(app.journal.search("calm ", f, limit=1000)) == with_words
    assert app.journal.search_count("calm ", f) == len(with_words)


def test_snippets_highlight_every_match_and_only_matches(app: Companion) -> None:
    app.journal.add_entry("Before the meeting I was anxious. After the meeting I felt calm and heard.")
    [hit] = app.journal.search("meeting ")
    marked = hit.snippet
    assert marked.count(HIGHLIGHT_START) == marked.count(HIGHLIGHT_END) == 2
    inside = [part.split(HIGHLIGHT_END)[0] for part in marked.split(HIGHLIGHT_START)[1:]]
    assert inside == ["meeting", "meeting"]


def test_title_and_tag_matches(app: Companion) -> None:
    entry = app.journal.add_entry("nothing here", title="Letter to myself", tags=["reflection"]).value
    assert ids(app.journal.search("letter ")) == {entry.id}
    assert HIGHLIGHT_START in app.journal.search("letter ")[0].snippet
    assert ids(app.journal.search("reflection ")) == {entry.id}


HOSTILE = [
    '"', '""', '"unbalanced', "NEAR(", 'NEAR("a" "b")', "*", "**", "a*b", "AND", "OR NOT", "title:river", "^river",
    "(", ")", "{col}:x", "'", "';--", "\\", "-", "--", "- -river", "river -", "🙂", "ـ", "\u200b", "%", "_",
    "NOT river", "river OR", "col1 : col2", "+", "a:b:c", "\x00", "-\"river\"", "\"\"\"\"",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise(app: Companion, corpus: dict[int, dict], query: str) -> None:
    hits = app.journal.search(query, limit=10)
    assert isinstance(hits, list)
    app.journal.search(query, order="relevance", limit=10)
    app.journal.search_count(query)


def test_operators_in_user_text_are_plain_words(app: Companion) -> None:
    entry = app.journal.add_entry("I said NOT today and NEAR the door, OR so I thought").value
    assert ids(app.journal.search("NOT today ")) == {entry.id}
    assert ids(app.journal.search("near door ")) == {entry.id}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=40))
def test_any_text_compiles_to_a_query_sqlite_accepts(app: Companion, text: str) -> None:
    compile_query(text)  # never raises
    app.journal.search(text, limit=5)
