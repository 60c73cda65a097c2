"""Helpers shared by the external-engine backends (Elasticsearch, Meilisearch).

Both engines index *normalised* text (``normalize_text``), because the minimal Elasticsearch
distribution has no folding analysers at all and we want accents, Arabic diacritics and alef
forms to fold identically everywhere. Normalised text is ugly to show, so snippets are cut
from the raw body by the portal's one highlighter (``portal.search.highlight``), like on the
database backends. Meilisearch also says *which* terms it matched: its backend passes the
terms the engine highlighted plus the query's own words (``highlight_terms``). Elasticsearch
passes the query's words only (its highlighting marked nothing more and cost ~10 ms a query
at 1,000,000 documents).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from portal.search.base import clean_query, normalize_text

_WORD = re.compile(r"\w+")
# Characters that are query syntax on some engine; words are rebuilt without them.
_SYNTAX = re.compile(r"[\"'`*()\[\]{}:^~!|&\\/+=<>?-]")


# The ranges of ``portal.search.base.is_cjk`` as a regex: documents are scanned at C speed
# (a Python loop calling ``is_cjk`` per character was most of the time of preparing a
# Meilisearch document).
_CJK_RUN = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\u3040-\u30ff\uac00-\ud7af\uf900-\ufaff]+")


def cjk_runs(text: str) -> list[str]:
    """Maximal runs of CJK characters, in order (each run is searched as a phrase)."""
    return _CJK_RUN.findall(text)


def non_cjk_words(text: str) -> list[str]:
    """Word tokens outside CJK runs, with every engine's syntax characters removed."""
    return _WORD.findall(_SYNTAX.sub(" ", _CJK_RUN.sub(" ", text)))


def prepare_query(text: str) -> str:
    """Clean (length, control characters) then fold the user's query like the documents."""
    return normalize_text(clean_query(text))


def cjk_unigrams(text: str) -> str:
    """``text`` with every CJK run written as space-separated unigrams between full stops
    ("伙伴关系 in" → ". 伙 伴 关 系 . in"), for an engine whose own segmentation would hide a
    1–2 character word inside a longer one: a query's CJK run, sent as a phrase of unigrams,
    matches inside the words, and never across two runs (a full stop is a hard separator)."""
    return _CJK_RUN.sub(lambda m: " . " + " ".join(m.group()) + " . ", text)


def highlight_terms(query_norm: str, engine_terms: Iterable[str] = ()) -> list[str]:
    """Normalised strings to mark: what the engine matched plus the query's own words."""
    terms = {normalize_text(t).strip() for t in engine_terms}
    terms.update(non_cjk_words(query_norm))
    terms.update(cjk_runs(query_norm))
    return sorted((t for t in terms if t), key=len, reverse=True)
