"""What the two database backends (SQLite FTS5, PostgreSQL) share.

- ``query_terms``: user text → normalised search terms. Only runs of letters and digits
  survive, so query syntax (quotes, ``*``, ``(``, ``NEAR``, ``-``, ``^``, ``:``) never reaches
  an engine; each backend then quotes the terms in its own dialect.
- ``hit_with_snippet``: the snippet is cut from the stored original body by the one
  highlighter every backend uses (``portal.search.highlight``); engine-side highlighters
  (``snippet()``, ``ts_headline``) could only show the folded text we index.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable

from portal.search.base import SearchHit, clean_query, is_cjk, normalize_text
from portal.search.highlight import make_snippet

MAX_TERMS = 10  # a 1,000-character query must not become a 200-clause SQL statement
_WORD = re.compile(r"\w+")
# The ranges of ``portal.search.base.is_cjk``, as a regex.
_CJK_RUN = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\u3040-\u30ff\uac00-\ud7af\uf900-\ufaff]+")


def query_terms(text: str) -> list[str]:
    """Distinct normalised words of the query, in order, at most ``MAX_TERMS``."""
    terms: list[str] = []
    for word in _WORD.findall(normalize_text(clean_query(text))):
        word = word.strip("_")
        if word and word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


VOCAB_MIN, VOCAB_MAX = 3, 60  # word lengths kept in a vocabulary (typo candidates)
MAX_CORRECTIONS = 8  # vocabulary words a misspelt term may stand for


def vocabulary_words(*texts: str) -> set[str]:
    """The words of indexed text worth keeping for typo matching: letters only (no numbers,
    no CJK: neither is typo-corrected), 3–60 characters."""
    words = {w for text_ in texts for w in _WORD.findall(text_)}
    return {
        w for w in words if VOCAB_MIN <= len(w) <= VOCAB_MAX and w.isalpha() and not is_cjk(w[0])
    }


class Vocabulary:
    """The index's words in memory, for "is this a word we know?" and "which words are within
    the typo budget of it?" — the same answers on SQLite and PostgreSQL.

    The backing table (``<t>_vocab`` on SQLite, ``<t>_words`` on PostgreSQL) only grows
    between rebuilds and numbers its rows, so a refresh reads just the rows added since the
    last one; a rebuilt table has a new ``token`` and is read again from the start. Words of
    deleted documents stay until the next rebuild: they can only add candidates whose
    documents then match nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.token: object = None
        self.last = 0
        self.sorted: list[str] = []
        self.by_length: dict[int, list[str]] = defaultdict(list)

    def refresh(
        self, token: object, last: int, fetch: Callable[[int], Iterable[tuple[int, str]]]
    ) -> None:
        """Bring the cache up to ``(token, last)``; ``fetch(after)`` yields (n, word) rows."""
        with self._lock:
            if token == self.token and last <= self.last:
                return
            if token != self.token:
                self.token, self.last = token, 0
                self.sorted, self.by_length = [], defaultdict(list)
            new = [(n, w) for n, w in fetch(self.last)]
            if not new:
                self.last = max(self.last, last)
                return
            words = [w for _n, w in new]
            if len(words) > 64 or not self.sorted:
                merged = set(self.sorted)
                merged.update(words)
                self.sorted = sorted(merged)
                self.by_length = defaultdict(list)
                for w in self.sorted:
                    self.by_length[len(w)].append(w)
            else:
                for w in words:
                    i = bisect.bisect_left(self.sorted, w)
                    if i == len(self.sorted) or self.sorted[i] != w:
                        self.sorted.insert(i, w)
                        self.by_length[len(w)].append(w)
            self.last = max(last, max(n for n, _w in new))

    def known(self, word: str) -> bool:
        """Some vocabulary word is ``word`` or begins with it."""
        i = bisect.bisect_left(self.sorted, word)
        return i < len(self.sorted) and self.sorted[i].startswith(word)

    def corrections(self, word: str, budget: int) -> list[str]:
        """Vocabulary words within ``budget`` edits of ``word``, closest first."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        found: list[tuple[int, str]] = []
        for length in range(len(word) - budget, len(word) + budget + 1):
            candidates = self.by_length.get(length)
            if not candidates:
                continue
            for match, distance, _i in process.extract(
                word, candidates, scorer=OSA.distance, score_cutoff=budget, limit=None
            ):
                found.append((distance, match))
        found.sort()
        return [w for _d, w in found[:MAX_CORRECTIONS]]


def correct_terms(vocabulary: Vocabulary, parsed) -> bool:
    """Fill ``corrections`` of the query's unknown words; True when any was corrected.

    A word is known when a vocabulary word begins with it (prefix search finds it) or its
    stem is a vocabulary word; only unknown words are corrected, so a correct word never
    pulls in look-alikes ("housing" does not also search "rousing").
    """
    from portal.search.analysis import typo_budget

    corrected = False
    for term in parsed.terms:
        if not term.is_word:
            continue
        budget = typo_budget(term.text)
        if not budget or vocabulary.known(term.text):
            continue
        if term.stem and vocabulary.known(term.stem):
            continue
        term.corrections = vocabulary.corrections(term.text, budget)
        corrected = corrected or bool(term.corrections)
    return corrected


def is_short_cjk(term: str) -> bool:
    """A 1–2 character CJK word (伙伴): too short for trigrams, looked up in ``cjk_grams``."""
    return 0 < len(term) < 3 and all(is_cjk(ch) for ch in term)


def cjk_grams(*texts: str) -> list[str]:
    """Every 1- and 2-character substring of the CJK runs of ``texts`` (already normalised).

    Chinese has no spaces, so a 2-character word (伙伴) sits inside longer ones (伙伴关系)
    where neither trigrams nor word lexemes can find it. Indexing these short grams turns
    that lookup into an index probe instead of a scan of every document's text; a short CJK
    term occurs in a text exactly when it is one of the text's grams.
    """
    grams: set[str] = set()
    for text in texts:
        for run in _CJK_RUN.findall(text):  # scanned at C speed: most documents have none
            grams.update(run)
            grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return sorted(grams)


def like_pattern(term: str) -> str:
    """``%term%`` for LIKE with ``\\`` as the escape character."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def hit_with_snippet(
    doc_id: str,
    kind: str,
    title: str,
    body: str,
    url: str,
    terms: list[str],
    score,
    labels: Iterable[str] | str | None = None,
) -> SearchHit:
    """A hit of a database backend: the snippet is cut from the stored body in Python.
    ``labels``: the stored references (a list, or one per line)."""
    if isinstance(labels, str):
        labels = labels.split("\n")
    return SearchHit(
        id=doc_id,
        kind=kind,
        title=title,
        url=url,
        snippet=make_snippet(body, terms, title),
        score=None if score is None else float(score),
        labels=[ref for ref in labels or () if ref],
    )
