"""The search contract every backend implements (DESIGN §5).

Backends differ in what they can do; they say so in ``capabilities`` rather than silently
ignoring a request. The portal talks only to this interface.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

# Facet fields every backend must support (filters and counts).
FACET_FIELDS: tuple[str, ...] = (
    "kind",
    "regions",
    "countries",
    "org_type",
    "agreement_type",
    "status",
    "year",
    "domain",
)

MAX_QUERY_LENGTH = 200  # longer queries are cut: no engine needs 1,000 characters to rank


@dataclass
class SearchDoc:
    id: str  # "<kind>:<pk>", e.g. "agreement:42"
    kind: str  # organization, agreement, (later) paragraph, minutes, comment …
    title: str
    body: str
    url: str
    lang: str | None = None  # dominant language if known (ISO 639-1)
    principals: list[str] = field(default_factory=lambda: ["public"])
    regions: list[str] = field(default_factory=list)  # M49 codes incl. ancestors
    countries: list[str] = field(default_factory=list)
    org_type: str | None = None
    agreement_type: str | None = None
    status: str | None = None
    year: int | None = None
    domain: int | None = None
    updated_at: datetime | None = None
    # Date used for "sort by date" (signed_on for agreements, partner_since for orgs).
    sort_date: datetime | None = None
    # Vocabulary words that describe the document ("agreement_type:mou", "country:Kenya"):
    # shown next to the snippet in the *reader's* language (``documents.label_for``), and
    # matched through ``label_text`` (their English words), never part of ``body`` — the
    # snippet is cut from the body, and an index is shared by readers of every language.
    labels: list[str] = field(default_factory=list)
    label_text: str = ""

    @property
    def matched_body(self) -> str:
        """What an engine matches as the body: the body and the labels' words."""
        return f"{self.body}\n{self.label_text}" if self.label_text else self.body

    def facet_values(self, name: str) -> list[str]:
        value = getattr(self, name)
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        return [str(value)]


@dataclass
class SearchQuery:
    text: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)  # facet → accepted values (OR)
    facets: tuple[str, ...] = FACET_FIELDS
    principals: set[str] = field(default_factory=lambda: {"public"})
    page: int = 1
    per_page: int = 20
    sort: str = "relevance"  # or "date"
    lang: str | None = None  # the viewer's language, a hint for analysis
    prefix: bool = True  # treat the last word as a prefix (as-you-type)


@dataclass
class SearchHit:
    id: str
    kind: str
    title: str
    url: str
    snippet: str  # HTML-safe: text escaped, matches wrapped in <mark>…</mark>
    score: float | None = None
    labels: list[str] = field(default_factory=list)  # SearchDoc.labels, shown translated


@dataclass
class SearchResults:
    total: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]]
    backend: str
    # Set when the configured engine failed and the database backend answered instead.
    fallback_from: str | None = None
    # The corrected query when the best hit matched a query word only through a typo.
    did_you_mean: str | None = None


class SearchUnavailable(Exception):
    """The engine cannot be reached; callers fall back to the database backend."""


class SearchBackend:
    """One search engine behind the portal's contract.

    Conventions every backend follows (the shared contract tests check them):
    - ``search`` filters by ``q.principals`` inside the engine; totals and facet counts too.
    - Filters are OR within a facet, AND across facets; facet counts are computed over the
      matching documents with *all* filters applied (plain, not disjunctive, faceting).
    - ``SearchHit.snippet`` is HTML-safe; an engine that cannot be reached raises
      ``SearchUnavailable`` (the portal then falls back to the database backend).
    - ``portal.search.registry`` constructs engine backends as
      ``ElasticsearchBackend(url=..., index_prefix=...)`` and
      ``MeilisearchBackend(url=..., api_key=..., index_prefix=...)`` (``url`` is plain
      ``http://host:port``).
    """

    name: str = "abstract"
    capabilities: frozenset[str] = frozenset()  # e.g. {"typo", "facets", "highlight", "prefix"}

    def ensure_ready(self) -> None:
        """Create the index, settings and mappings if missing."""
        raise NotImplementedError

    def upsert(self, docs: list[SearchDoc]) -> None:
        raise NotImplementedError

    def delete(self, ids: list[str]) -> None:
        raise NotImplementedError

    def search(self, q: SearchQuery) -> SearchResults:
        raise NotImplementedError

    def rebuild(self, docs: Iterable[SearchDoc], progress=None) -> int:
        """Build a fresh index from ``docs`` and swap it in atomically; returns the count."""
        raise NotImplementedError

    def ids(self) -> Iterator[str]:
        """Every document id in the live index, for ``search check``."""
        raise NotImplementedError

    def clear(self) -> None:
        """Remove every document (tests, and ``search rebuild`` on engines without aliases)."""
        raise NotImplementedError

    def outdated_count(self) -> int:
        """How many indexed documents were written in an earlier document layout (before
        ``SearchDoc.labels``: their stored body still ends with English labels). Only
        ``search rebuild`` rewrites them; ``search check`` reports them."""
        raise NotImplementedError


# --- text normalisation shared by every backend -----------------------------------------

_ARABIC_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ALEF_FORMS = (("أ", "ا"), ("إ", "ا"), ("آ", "ا"), ("ٱ", "ا"), ("ى", "ي"), ("ة", "ه"))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SHORT_I = (("й", "\ue010"), ("Й", "\ue011"))


def normalize_text(text: str) -> str:
    """Fold what users do not type: case, Latin accents, Arabic diacritics and alef forms.

    Applied to documents at indexing time and to queries, so "universite" finds "Université"
    and "كتاب" finds "كِتَاب" on every backend, whatever its own analysers do.
    """
    text = text or ""
    if text.isascii():
        return text.casefold()
    text = _ARABIC_DIACRITICS.sub("", text)
    # Russian "й" is a letter of its own, not "и" with an accent (Snowball's Russian stemmer
    # needs it): kept apart from the accent stripping below.
    # (str.replace per character present: a C scan each, many times faster than translate
    # over a whole non-Latin text, and the same result.)
    for source, target in _ALEF_FORMS:
        if source in text:
            text = text.replace(source, target)
    for source, target in _SHORT_I:
        if source in text:
            text = text.replace(source, target)
    decomposed = unicodedata.normalize("NFKD", text)
    # Drop combining marks (accents) but keep CJK and Arabic letters intact: only the few
    # distinct characters of the text are tested.
    stripped = decomposed
    for mark in [ch for ch in set(decomposed) if unicodedata.combining(ch)]:
        stripped = stripped.replace(mark, "")
    for target, source in _SHORT_I:
        if source in stripped:
            stripped = stripped.replace(source, target)
    return unicodedata.normalize("NFKC", stripped).casefold()


def clean_query(text: str) -> str:
    """Make user input safe for any engine: no control characters, bounded length.

    Query *syntax* (quotes, *, NEAR, AND/OR, parentheses) is neutralised by each backend when
    it builds its own query — never passed through raw.
    """
    text = _CONTROL.sub(" ", text or "")
    return " ".join(text.split())[:MAX_QUERY_LENGTH]


def is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x3040 <= code <= 0x30FF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
    )
