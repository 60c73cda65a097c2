"""The query model every engine shares (portal/search/analysis.py)."""

from __future__ import annotations

import pytest

from portal.search.analysis import did_you_mean, parse_query, stem, stems_of, typo_budget
from portal.search.backends.database import Vocabulary, correct_terms
from portal.search.base import normalize_text


def terms(text: str) -> list[str]:
    return [t.text for t in parse_query(text).terms]


def test_words_codes_and_phrases():
    assert terms("Water  sanitation water") == ["water", "sanitation"]
    assert terms("SDG 11.1") == ["sdg", "11 1"]
    assert terms("(11.1)") == ["11 1"]
    assert terms("UNH/2024/017") == ["unh 2024 017"]
    assert terms("procès-verbal") == ["proces verbal"]
    # Slashes and colons between plain words separate them.
    assert terms("water/sanitation title:water") == ["water", "sanitation", "title"]
    parsed = parse_query('"water points" Beirut "')
    assert parsed.phrases == [["water", "points"]]
    assert [t.text for t in parsed.terms] == ["beirut"]
    assert parse_query('"').empty
    assert terms("城市 market") == ["城市", "market"]


@pytest.mark.parametrize(
    ("word", "budget"),
    [("watr", 0), ("water", 1), ("sanitatio", 2), ("20231", 0), ("伙伴关系协议", 0)],
)
def test_typo_budget(word, budget):
    assert typo_budget(word) == budget


def test_arabic_forms_meet_at_one_stem():
    forms = ["التنمية", "تنمية", "للتنمية", "والتنمية", "بالتنمية"]
    assert len({stem(normalize_text(f)) for f in forms}) == 1
    assert stem(normalize_text("الإسكان")) == stem(normalize_text("اسكان"))
    assert stem("water") == "water"
    assert stems_of("water and sanitation") == ""


def test_russian_keeps_short_i():
    assert normalize_text("Жилищной") == "жилищной"
    assert stem("жилищной") == stem("жилищная")


def test_did_you_mean_uses_the_hits_spelling_and_the_typed_query():
    parsed = parse_query("Developement durable")
    assert did_you_mean(parsed, "Développement urbain durable", "Developement durable") == (
        "développement durable"
    )
    assert did_you_mean(parse_query("durable"), "Développement durable", "durable") is None


def test_vocabulary_corrects_unknown_words_only():
    vocabulary = Vocabulary()
    vocabulary.refresh("t1", 3, lambda after: [(1, "housing"), (2, "rousing"), (3, "water")])
    parsed = parse_query("hosuing housing wtaer")
    assert correct_terms(vocabulary, parsed)
    assert [t.corrections for t in parsed.terms] == [["housing"], [], ["water"]]
    # Rows added later are read incrementally; a new token starts over.
    vocabulary.refresh("t1", 4, lambda after: [(4, "sanitation")] if after == 3 else [])
    assert vocabulary.known("sanit")
    vocabulary.refresh("t2", 1, lambda after: [(1, "climate")])
    assert not vocabulary.known("water")
    assert vocabulary.corrections("cliamte", 1) == ["climate"]
