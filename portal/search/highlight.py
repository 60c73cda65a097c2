"""One highlighter for every search backend and every page that shows search results.

Each engine decides *which* documents match (and, for Elasticsearch and Meilisearch, which
words it matched, typos included); this module alone decides *what is marked* in the snippet,
so a reader sees the same marks whichever engine answered:

* Matching happens on folded text (``normalize_text``: case, Latin accents, Arabic diacritics
  and alef forms) and the marks are mapped back to the original characters, so a reader sees
  "<mark>Université</mark>", never the folded "universite".
* A CJK term matches anywhere: Chinese and Japanese have no spaces, so 伙伴 is marked inside
  伙伴关系.
* Any other term matches at the start of a word and the mark covers the whole word, because
  the engines match prefixes, stems and typo corrections: "hous" marks "housing", the Russian
  stem "жилищ" marks "жилищный". A term inside a word is not marked ("using" in "housing").
* An Arabic term also matches after an attached article or prefix (و، ف، ب، ك، ل، ال، وال،
  بال، كال، فال، لل — what the analyser strips, ``portal.search.analysis``), and the mark
  covers the whole word: "تنمية" marks "والتنمية".
* A lone Latin letter or digit is not marked: it would mark half the words of the text.

Everything returned is HTML-safe (text escaped, matches in ``<mark>``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

from markupsafe import escape

from portal.search.base import is_cjk, normalize_text

SNIPPET_CHARS = 220  # characters of the original text in a snippet
# Folding is per character; past this many characters matches are not looked for (the
# snippet then shows the beginning), which bounds the work for a very long body.
SOURCE_LIMIT = 20_000
# Attached prefixes an Arabic word may carry before the term; longest first.
ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال", "و", "ف", "ب", "ك", "ل")
_ARABIC = re.compile("[\u0600-\u06ff]")


@lru_cache(maxsize=65_536)
def _norm_char(ch: str) -> str:
    return normalize_text(ch)


def folded_with_offsets(text: str) -> tuple[str, Sequence[int]]:
    """``normalize_text`` character by character, with each output character's original index."""
    text = text[:SOURCE_LIMIT]
    if text.isascii():  # folding ASCII is lower-casing, one character for one
        return text.lower(), range(len(text))
    pieces = [_norm_char(ch) for ch in text]
    origin = [i for i, piece in enumerate(pieces) for _ in piece]
    return "".join(pieces), origin


def _is_word_char(ch: str) -> bool:
    """Part of a spaced word: a letter or digit that is not CJK (CJK characters stand alone)."""
    return (ch.isalnum() or ch == "_" or _is_mark(ch)) and not is_cjk(ch)


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def _word_start(folded: str, pos: int) -> int:
    while pos > 0 and _is_word_char(folded[pos - 1]):
        pos -= 1
    return pos


def _word_end(folded: str, pos: int) -> int:
    while pos < len(folded) and _is_word_char(folded[pos]):
        pos += 1
    return pos


def _term_spans(folded: str, term: str) -> Iterable[tuple[int, int]]:
    """Spans of ``folded`` (folded indices) that ``term`` marks."""
    cjk = any(is_cjk(ch) for ch in term)
    arabic = bool(_ARABIC.search(term))
    start = folded.find(term)
    while start != -1:
        end = start + len(term)
        if cjk:
            yield start, end
        else:
            word_start = _word_start(folded, start)
            if word_start == start or (arabic and folded[word_start:start] in ARABIC_PREFIXES):
                yield word_start, _word_end(folded, end)
        start = folded.find(term, start + 1)


def _markable(terms: Iterable[str]) -> list[str]:
    found = []
    for term in terms:
        term = normalize_text(term or "").strip()
        if not term or (len(term) == 1 and not is_cjk(term)):
            continue
        found.append(term)
    return list(dict.fromkeys(found))


def match_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Spans of ``text`` (original indices, end exclusive) to mark: sorted, merged."""
    terms = _markable(terms)
    if not text or not terms:
        return []
    folded, origin = folded_with_offsets(text)
    spans = []
    for term in terms:
        for start, end in _term_spans(folded, term):
            end = origin[end - 1] + 1
            # Characters folding has dropped (a combining accent, an Arabic vowel mark)
            # belong to the letter before them: keep them inside the mark.
            while end < len(text) and not _norm_char(text[end]):
                end += 1
            spans.append((origin[start], end))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(
    text: str,
    terms: Iterable[str],
    start: int = 0,
    end: int | None = None,
    *,
    spans: list[tuple[int, int]] | None = None,
) -> str:
    """``text[start:end]`` HTML-escaped, with what ``terms`` match wrapped in ``<mark>``."""
    text = text or ""
    end = len(text) if end is None else end
    out: list[str] = []
    pos = start
    for s, e in match_spans(text, terms) if spans is None else spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(str(escape(text[pos:s])))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        pos = e
    out.append(str(escape(text[pos:end])))
    return "".join(out)


def make_snippet(
    body: str, terms: Iterable[str], title: str = "", width: int = SNIPPET_CHARS
) -> str:
    """A short, escaped extract of ``body`` around the first match (else its beginning).

    With no body, the title highlighted (a hit matched by its title alone still shows why).
    """
    terms = _markable(terms)
    body = " ".join((body or "").split())
    if not body:
        return highlight(title, terms) if title else ""
    spans = match_spans(body, terms)
    if not spans:
        cut = min(len(body), width)
        if cut < len(body):
            space = body.rfind(" ", width // 2, cut)
            cut = space if space > 0 else cut
        return str(escape(body[:cut])) + ("…" if cut < len(body) else "")
    first, first_end = spans[0]
    start = max(0, first - width // 4)
    if start > 0:  # begin at a word boundary
        space = body.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    end = min(len(body), max(start + width, first_end))
    if end < len(body):  # end at a word boundary, never inside the first mark
        space = body.rfind(" ", first_end, end)
        end = space if space > 0 else end
    return (
        ("…" if start > 0 else "")
        + highlight(body, terms, start, end, spans=spans)
        + ("…" if end < len(body) else "")
    )
