"""Helpers shared by the external-engine backends (Elasticsearch, Meilisearch).

Both engines index *normalised* text (``normalize_text``), because the minimal Elasticsearch
distribution has no folding analysers at all and we want accents, Arabic diacritics and alef
forms to fold identically everywhere. Normalised text is ugly to show, so snippets are cut
from the raw body here, in Python, by mapping matches found in the normalised form back to
raw character offsets. The engine still decides *which* terms matched (typos included): the
backend passes the terms the engine highlighted plus the query's own words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from html import escape

from portal.search.base import clean_query, is_cjk, normalize_text

SNIPPET_WIDTH = 180  # characters of raw text around the first match
_SNIPPET_SOURCE_LIMIT = 20_000  # longer bodies: matches past this point are not highlighted
_WORD = re.compile(r"\w+")
# Characters that are query syntax on some engine; words are rebuilt without them.
_SYNTAX = re.compile(r"[\"'`*()\[\]{}:^~!|&\\/+=<>?-]")


@lru_cache(maxsize=65_536)
def _norm_char(ch: str) -> str:
    return normalize_text(ch)


def normalized_with_offsets(raw: str) -> tuple[str, list[int]]:
    """``normalize_text`` character by character, remembering each output char's raw index."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(raw[:_SNIPPET_SOURCE_LIMIT]):
        folded = _norm_char(ch)
        out.append(folded)
        index.extend([i] * len(folded))
    return "".join(out), index


def cjk_runs(text: str) -> list[str]:
    """Maximal runs of CJK characters, in order (each run is searched as a phrase)."""
    runs: list[str] = []
    current: list[str] = []
    for ch in text:
        if is_cjk(ch):
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def non_cjk_words(text: str) -> list[str]:
    """Word tokens outside CJK runs, with every engine's syntax characters removed."""
    text = "".join(" " if is_cjk(ch) else ch for ch in text)
    return _WORD.findall(_SYNTAX.sub(" ", text))


def prepare_query(text: str) -> str:
    """Clean (length, control characters) then fold the user's query like the documents."""
    return normalize_text(clean_query(text))


def cjk_spaced(text: str) -> str:
    """CJK characters of ``text`` as space-separated unigrams; runs separated by a full stop.

    A fallback field for engines whose word segmentation would hide a 1–2 character word
    inside a longer one (伙伴 inside 伙伴关系).
    """
    return " . ".join(" ".join(run) for run in cjk_runs(text))


def highlight_terms(query_norm: str, engine_terms: Iterable[str] = ()) -> list[str]:
    """Normalised strings to mark: what the engine matched plus the query's own words."""
    terms = {normalize_text(t).strip() for t in engine_terms}
    terms.update(non_cjk_words(query_norm))
    terms.update(cjk_runs(query_norm))
    return sorted((t for t in terms if t), key=len, reverse=True)


def make_snippet(raw: str, terms: Iterable[str], width: int = SNIPPET_WIDTH) -> str:
    """An HTML-safe excerpt of ``raw`` around the first match, matches in ``<mark>``.

    Latin terms match at a word start and the mark extends to the end of that word (prefix
    search and typo matches highlight the whole word); CJK terms match anywhere.
    """
    raw = raw or ""
    norm, index = normalized_with_offsets(raw)
    spans: list[tuple[int, int]] = []
    for term in terms:
        if not term:
            continue
        if any(is_cjk(ch) for ch in term):
            pattern = re.escape(term)
        else:
            pattern = r"(?<!\w)" + re.escape(term) + r"\w*"
        for m in re.finditer(pattern, norm):
            if m.end() > m.start():
                spans.append((index[m.start()], index[m.end() - 1] + 1))
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])

    if merged:
        first = merged[0][0]
        start = max(0, first - width // 3)
        if start:
            # Start on a word boundary when one is near, so the excerpt does not open mid-word.
            space = raw.rfind(" ", max(0, start - 20), first)
            start = space + 1 if space >= 0 else start
    else:
        start = 0
    end = min(len(raw), start + width)
    if end < len(raw):
        space = raw.rfind(" ", start + width // 2, end)
        end = space if space > 0 else end

    parts: list[str] = ["…" if start > 0 else ""]
    pos = start
    for m_start, m_end in merged:
        if m_end <= start or m_start >= end:
            continue
        m_start, m_end = max(m_start, start), min(m_end, end)
        parts.append(escape(raw[pos:m_start]))
        parts.append("<mark>" + escape(raw[m_start:m_end]) + "</mark>")
        pos = m_end
    parts.append(escape(raw[pos:end]))
    if end < len(raw):
        parts.append("…")
    return "".join(parts)
