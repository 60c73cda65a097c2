"""The one highlighter (portal.search.highlight): what a reader sees marked in a snippet.

The contract suite checks that every engine's hits carry these marks; these tests pin the
rules themselves, without an engine.
"""

from __future__ import annotations

import re

import pytest

from portal.search.highlight import SNIPPET_CHARS, highlight, make_snippet, match_spans


def marked(html: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", html)


@pytest.mark.parametrize(
    ("text", "terms", "expected"),
    [
        # CJK: anywhere, no word boundaries in Chinese or Japanese.
        ("城市伙伴关系协议", ["伙伴"], ["伙伴"]),
        ("与地方政府合作，政府支持", ["政府"], ["政府", "政府"]),
        ("東京の住宅政策", ["住宅"], ["住宅"]),
        # Arabic: diacritics and alef forms fold, the original letters are marked.
        ("نشر كِتَاب عن المدن", ["كتاب"], ["كِتَاب"]),
        ("إتفاقية تعاون", ["اتفاقيه"], ["إتفاقية"]),
        # Arabic: an attached article or prefix belongs to the marked word.
        ("برامج والتنمية الحضرية وللتنمية", ["تنميه"], ["والتنمية"]),
        ("خطة للتنمية", ["تنميه"], ["للتنمية"]),
        ("دعم بالإسكان", ["اسكان"], ["بالإسكان"]),
        # Latin accents and case fold, the original is marked.
        ("Université de Genève", ["universite", "geneve"], ["Université", "Genève"]),
        ("CIUDAD AUTÓNOMA", ["autonoma"], ["AUTÓNOMA"]),
        # A prefix or stem marks its whole word; a term inside a word marks nothing.
        ("Affordable housing", ["hous"], ["housing"]),
        ("Affordable housing", ["using"], []),
        ("Жилищная политика", ["жилищ"], ["Жилищная"]),
        # Numbers stop at punctuation: SDG target 11.1 marks 11 and 1 separately.
        ("Target 11.1 and 11.2", ["11"], ["11", "11"]),
        # A lone Latin letter would mark half the text: it marks nothing.
        ("a plan and a budget", ["a"], []),
    ],
)
def test_what_is_marked(text, terms, expected):
    assert marked(highlight(text, terms)) == expected


def test_marks_map_back_to_decomposed_and_combined_characters():
    decomposed = "Unive\u0301rsite\u0301 de Gene\u0300ve"  # e + combining accent
    assert marked(highlight(decomposed, ["universite"])) == ["Unive\u0301rsite\u0301"]
    # An Arabic vowel mark at the end of the word stays inside the mark.
    assert marked(highlight("كتابٌ جديد", ["كتاب"])) == ["كتابٌ"]


def test_overlapping_terms_make_one_mark():
    assert marked(highlight("partnership agreement", ["partner", "partnership"])) == ["partnership"]


def test_latin_term_next_to_chinese_is_a_word_start():
    assert marked(highlight("联合国UN-Habitat项目", ["habitat", "un"])) == ["UN", "Habitat"]


def test_everything_is_escaped():
    html = highlight("<script>alert('housing')</script> & more", ["housing"])
    assert "<script>" not in html
    assert html.startswith("&lt;script&gt;alert(&#39;<mark>housing</mark>")
    assert "&amp; more" in html


def test_snippet_is_cut_around_the_first_match_at_word_boundaries():
    body = " ".join(["filler"] * 100) + " the housing programme " + " ".join(["tail"] * 100)
    snippet = make_snippet(body, ["housing"])
    assert snippet.startswith("…filler ") and snippet.endswith("…")
    assert marked(snippet) == ["housing"]
    inner = snippet.strip("…").replace("<mark>", "").replace("</mark>", "")
    assert len(inner) <= SNIPPET_CHARS
    assert inner in body and inner.split()[0] == "filler" and inner.split()[-1] in body.split()


def test_snippet_without_a_match_is_the_beginning():
    body = "Water and sanitation in informal settlements. " * 20
    snippet = make_snippet(body, ["nothing"])
    assert snippet.startswith("Water and sanitation") and snippet.endswith("…")
    assert not marked(snippet)


def test_snippet_of_a_title_only_hit_is_the_marked_title():
    assert make_snippet("", ["genève"], title="Université de Genève") == (
        "Université de <mark>Genève</mark>"
    )
    assert make_snippet("", ["x"]) == ""


def test_snippet_collapses_whitespace():
    assert make_snippet("line one\n\n  line   two", ["two"]) == "line one line <mark>two</mark>"


def test_spans_are_original_indices():
    text = "L’Université"
    (span,) = match_spans(text, ["universite"])
    assert text[span[0] : span[1]] == "Université"
