"""Meilisearch 1.21 backend.

- Index ``<prefix>_docs``; ``rebuild`` fills ``<prefix>_docs_new`` and swaps the two with
  ``swap_indexes`` (atomic for readers), then deletes the old one.
- Meilisearch document ids may only contain ``[A-Za-z0-9_-]``, so ``agreement:42`` is stored
  under the primary key ``agreement-42``; the portal id is kept in ``doc_id`` and returned.
- Text is folded with ``normalize_text`` like on every engine. Chinese is segmented by the
  engine (jieba via charabia), which keeps 伙伴关系 as one word so that 伙伴 would not find it;
  so ``title_norm`` and ``text`` hold CJK runs as space-separated unigrams (``cjk_unigrams``)
  and a CJK run in the query becomes a quoted phrase of unigrams, which matches them. (Until
  2026-12 the unigrams were a ``cjk`` field of their own next to the segmented text: Chinese
  indexed twice, a fifth of the indexing time. Documents written then still have it, so it
  stays searchable until ``search rebuild``.)
- Every write waits for its task, so a save that returned really is in the index (and the
  outbox only drops rows that were applied).
- Filters are built from quoted, escaped values; the query string is cleaned and stripped of
  Meilisearch's own operators (``"`` phrases, leading ``-`` negation).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice

import meilisearch
from meilisearch.errors import (
    MeilisearchApiError,
    MeilisearchCommunicationError,
    MeilisearchTimeoutError,
)
from meilisearch.models.task import TaskInfo

from portal.search.analysis import (
    KIND_BOOSTS,
    ParsedQuery,
    did_you_mean,
    parse_query,
    script_language,
    stems_of,
    typo_budget,
)
from portal.search.backends._engine import (
    cjk_runs,
    cjk_unigrams,
    highlight_terms,
    prepare_query,
)
from portal.search.base import (
    FACET_FIELDS,
    SearchBackend,
    SearchDoc,
    SearchHit,
    SearchQuery,
    SearchResults,
    SearchUnavailable,
    normalize_text,
)
from portal.search.highlight import make_snippet

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 5.0
TASK_TIMEOUT_MS = 30_000  # a write waits this long for the engine to apply it
REBUILD_TASK_TIMEOUT_MS = 30 * 60_000
# A rebuild's loads are waited for once, at the end: polled every 10 ms (as a save is), the
# engine would answer ~100 task reads a second while it indexes on the same cores.
REBUILD_POLL_MS = 200
BATCH = 5_000
# Private-use code points: cannot come from user text (normalize_text keeps them, but the
# documents never contain them in practice) and survive Meilisearch's highlighter untouched.
_PRE, _POST = "\ue000", "\ue001"
_MARKED = re.compile(f"{_PRE}(.*?){_POST}", re.S)
_ALLOWED_ID = re.compile(r"[^A-Za-z0-9_]")

SETTINGS = {
    # Order = attribute ranking: a title match beats a body match.
    # ``cjk``: only in documents written before 2026-12 (see the module docstring).
    "searchableAttributes": ["title_norm", "title_stems", "text", "stems", "cjk"],
    "filterableAttributes": ["principals", *FACET_FIELDS],
    "sortableAttributes": ["sort_ts"],
    "displayedAttributes": [
        "pk",
        "doc_id",
        "kind",
        "title",
        "body",
        "url",
        "text",
        "sort_ts",
        "labels",
    ],
    # Exhaustive totals for page/hitsPerPage pagination (the default caps them at 1,000).
    "pagination": {"maxTotalHits": 1_000_000},
    "faceting": {"maxValuesPerFacet": 300},
    # Meilisearch also allows a typo in the prefix-matched last word, so with its defaults
    # "waste" (one deletion from "wate…") finds "water". One typo from 6 letters, two from
    # 10, keeps typo tolerance close to Elasticsearch's fuzziness AUTO on whole words.
    "typoTolerance": {
        "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
        "disableOnNumbers": True,
    },
    # Meilisearch's own order, then the kind boost (portal.search.analysis.KIND_BOOSTS).
    "rankingRules": ["words", "typo", "proximity", "attribute", "sort", "exactness", "boost:desc"],
    # Indexing speed on small machines: word proximity per attribute (not per word pair)
    # roughly halves the indexer's work, and the portal never searches within facet values.
    "proximityPrecision": "byAttribute",
    "facetSearch": False,
}


_FACETS = tuple(name for name in FACET_FIELDS if name != "kind")  # ``kind`` is set above


def engine_id(doc_id: str) -> str:
    """``agreement:42`` → ``agreement-42``; other disallowed characters → ``_<hex>_``."""
    return _ALLOWED_ID.sub(lambda m: "-" if m.group() == ":" else f"_{ord(m.group()):x}_", doc_id)


def quote_filter_value(value: str) -> str:
    """A Meilisearch filter string literal: double-quoted, ``\\`` and ``"`` escaped."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _timestamp(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def distinct_words(text: str) -> str:
    """``text``'s whitespace-separated words, each once, in the order they first appear.

    Meilisearch ranks by which words match, typos, the field, the word's position and
    exactness — never by how often a word occurs — and with ``proximityPrecision:
    byAttribute`` a phrase only needs its words in the same field. A repeated word is
    tokenised, extracted and stored again for nothing (half the words of the benchmark
    corpus's bodies, with its small vocabulary; a few percent of short real bodies)."""
    return " ".join(dict.fromkeys(text.split()))


def _to_document(doc: SearchDoc) -> dict:
    title_norm, body_norm = normalize_text(doc.title), normalize_text(doc.matched_body)
    document = {
        "pk": engine_id(doc.id),
        "doc_id": doc.id,
        "kind": doc.kind,
        "title": doc.title,
        "body": doc.body,
        "url": doc.url,
        "title_norm": cjk_unigrams(title_norm),
        # Only the stems that differ from their word: a query sends an Arabic or Russian
        # word as its stem, and a word that is its own stem is found in ``title_norm`` /
        # ``text``, a field that ranks higher anyway.
        "title_stems": stems_of(title_norm),
        "text": cjk_unigrams(distinct_words(body_norm)),
        "stems": stems_of(body_norm),
        "boost": KIND_BOOSTS.get(doc.kind, 1.0),
        # Always present (``[]`` for none): its absence marks a document written before
        # labels were kept apart from the body (``outdated_count``).
        "labels": list(doc.labels),
        "principals": list(doc.principals),
        "sort_ts": _timestamp(doc.sort_date),
        "lang": doc.lang,
    }
    for name in _FACETS:
        # Strings everywhere, so filters and facet keys look the same on every backend
        # (``SearchDoc.facet_values``, inlined: 700,000 calls per 100,000 documents).
        value = getattr(doc, name)
        if value is None:
            document[name] = []
        elif isinstance(value, list):
            document[name] = [str(v) for v in value]
        else:
            document[name] = [str(value)]
    return document


class MeilisearchBackend(SearchBackend):
    name = "meilisearch"
    # Not "any_word": Meilisearch drops query words from the end, so a document with only
    # the query's last word may be missing. Not "phrase": with ``proximityPrecision:
    # byAttribute`` a quoted phrase only needs its words in the same field. Not
    # "kind_boost": the word's position in a field ranks before the kind boost.
    capabilities = frozenset(
        {
            "typo",
            "facets",
            "highlight",
            "prefix",
            "atomic_rebuild",
            "stemming",
            "did_you_mean",
        }
    )

    def __init__(self, url: str, api_key: str | None = None, index_prefix: str = "portal"):
        self.url = url
        self.uid = f"{index_prefix}_docs"
        # requests accepts a (connect, read) tuple; the client passes it through unchanged.
        self.client = meilisearch.Client(
            url,
            api_key,
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),  # type: ignore[arg-type]
        )
        self._ready = False  # ensure_ready succeeded once in this process

    def __repr__(self) -> str:
        return f"<MeilisearchBackend {self.url} index={self.uid}>"

    # --- errors and tasks -------------------------------------------------------------

    def _unavailable(self, exc: Exception, action: str) -> SearchUnavailable:
        log.warning("meilisearch %s failed: %s", action, exc)
        return SearchUnavailable(f"Meilisearch at {self.url}: {action} failed: {exc}")

    def _call(self, action: str, fn, *args, **kwargs):
        """One client call; connection errors, timeouts, 5xx and a missing index become
        SearchUnavailable (the portal falls back to the database). Other 4xx propagate."""
        try:
            return fn(*args, **kwargs)
        except (MeilisearchCommunicationError, MeilisearchTimeoutError) as exc:
            raise self._unavailable(exc, action) from exc
        except MeilisearchApiError as exc:
            status = getattr(exc, "status_code", 500) or 500
            if status >= 500 or status == 429 or exc.code == "index_not_found":
                raise self._unavailable(exc, action) from exc
            raise

    def _wait(
        self, task_info, action: str, timeout_ms: int = TASK_TIMEOUT_MS, interval_ms: int = 10
    ) -> None:
        task = self._call(
            action,
            self.client.wait_for_task,
            task_info.task_uid,
            timeout_in_ms=timeout_ms,
            interval_in_ms=interval_ms,
        )
        if task.status != "succeeded":
            failure = RuntimeError(f"task {task.uid} {task.status}: {task.error}")
            raise self._unavailable(failure, action)

    # --- index management ---------------------------------------------------------------

    def _index_exists(self, uid: str) -> bool:
        try:
            self.client.get_raw_index(uid)
        except MeilisearchApiError as exc:
            if exc.code == "index_not_found":
                return False
            raise self._unavailable(exc, "read index") from exc
        except (MeilisearchCommunicationError, MeilisearchTimeoutError) as exc:
            raise self._unavailable(exc, "read index") from exc
        return True

    def _add(self, index, documents: list[dict], action: str):
        """Send documents as UTF-8 JSON. The client's own ``add_documents`` writes ASCII
        JSON: every Arabic, Cyrillic or Chinese character as a 6-byte ``\\uXXXX`` escape the
        engine has to decode (75 % more bytes on the benchmark corpus)."""
        body = json.dumps(documents, ensure_ascii=False, separators=(",", ":")).encode()
        return self._call(action, index.add_documents_raw, body, "pk", "application/json")

    def _create_with_settings(self, uid: str) -> None:
        if not self._index_exists(uid):
            task = self._call("create index", self.client.create_index, uid, {"primaryKey": "pk"})
            self._wait(task, "create index")
        index = self.client.index(uid)
        # Settings updates are idempotent; Meilisearch skips work when nothing changed.
        self._wait(self._call("settings", index.update_settings, SETTINGS), "settings")

    def ensure_ready(self) -> None:
        self._create_with_settings(self.uid)
        self._ready = True

    def rebuild(self, docs: Iterable[SearchDoc], progress=None) -> int:
        self.ensure_ready()  # swap_indexes needs both sides to exist
        new_uid = f"{self.uid}_new"
        if self._index_exists(new_uid):  # left over from an interrupted rebuild
            self._wait(self._call("drop stale", self.client.delete_index, new_uid), "drop stale")
        self._create_with_settings(new_uid)
        index = self.client.index(new_uid)
        count = 0
        tasks = []
        iterator = iter(docs)
        try:
            while batch := [_to_document(d) for d in islice(iterator, BATCH)]:
                tasks.append(self._add(index, batch, "load"))
                count += len(batch)
                if progress:
                    progress(len(batch))
            # Tasks run in order: waiting for the last one and checking each status is enough.
            for task in tasks:
                self._wait(task, "load", REBUILD_TASK_TIMEOUT_MS, REBUILD_POLL_MS)
            swap = self._call("swap", self.client.swap_indexes, [{"indexes": [self.uid, new_uid]}])
            self._wait(swap, "swap")
        except BaseException:
            try:
                self.client.delete_index(new_uid)
            except Exception:  # noqa: S110 — the original error matters more
                pass
            raise
        # After the swap ``_new`` holds the previous documents.
        self._wait(self._call("drop old", self.client.delete_index, new_uid), "drop old")
        return count

    def clear(self) -> None:
        self.ensure_ready()
        index = self.client.index(self.uid)
        self._wait(self._call("clear", index.delete_all_documents), "clear")

    # --- writes -------------------------------------------------------------------------

    def upsert(self, docs: list[SearchDoc]) -> None:
        if not docs:
            return
        if not self._ready:
            # The outbox may write before anyone ran ensure_ready (e.g. after an outage).
            self.ensure_ready()
        index = self.client.index(self.uid)
        self._wait(self._add(index, [_to_document(d) for d in docs], "upsert"), "upsert")

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        if not self._ready:
            self.ensure_ready()  # a delete task on a missing index would fail, not no-op
        index = self.client.index(self.uid)
        # The server's delete-batch endpoint; the client's ``delete_documents(ids)`` wrapper
        # for it is deprecated in favour of filters, which would need ``pk`` filterable.
        response = self._call(
            "delete",
            index.http.post,
            f"indexes/{self.uid}/documents/delete-batch",
            [engine_id(i) for i in ids],
        )
        self._wait(TaskInfo(**response), "delete")

    # --- reads --------------------------------------------------------------------------

    @staticmethod
    def _engine_query(parsed: ParsedQuery, stems: bool = True) -> str | None:
        """Words, stems and quoted phrases only: nothing of Meilisearch's syntax gets through.

        Arabic and Russian words are sent as their stems (every document carries the stems of
        all its Arabic and Russian words); a CJK run is a phrase of the spaced characters in
        ``title_norm`` and ``text``; a punctuation-joined token ("11.1") and a quoted phrase
        are phrases.
        """
        phrases: list[str] = []
        words: list[str] = []
        for term in parsed.terms:
            if term.cjk:
                run = term.text
                phrases.append(run if len(run) == 1 else '"' + " ".join(run) + '"')
            elif len(term.parts) > 1:
                phrases.append('"' + " ".join(term.parts) + '"')
            elif stems and script_language(term.text):
                words.append(term.stem or term.text)
            else:
                words.append(term.text)
        for phrase in parsed.phrases:
            phrases.append('"' + " ".join(phrase) + '"')
        if not words and not phrases:
            return None
        # Phrases first: Meilisearch treats the *last* word as a prefix (as-you-type).
        return " ".join([*phrases, *words])

    def _filter(self, q: SearchQuery) -> list[str]:
        principals = ", ".join(quote_filter_value(p) for p in sorted(q.principals))
        filters = [f"principals IN [{principals}]"]
        for name, values in q.filters.items():
            if name in FACET_FIELDS and values:
                joined = ", ".join(quote_filter_value(v) for v in values)
                filters.append(f"{name} IN [{joined}]")
        return filters  # a list is AND-ed by Meilisearch

    def search(self, q: SearchQuery) -> SearchResults:
        text = prepare_query(q.text)
        parsed = parse_query(q.text)
        query = self._engine_query(parsed)
        per_page = max(1, min(q.per_page, 100))
        facets = [name for name in q.facets if name in FACET_FIELDS]
        if query is None and text.strip():
            # Only punctuation/syntax was typed: nothing can match it.
            return SearchResults(
                total=0, hits=[], facets={f: {} for f in facets}, backend=self.name
            )
        params: dict = {
            "filter": self._filter(q),
            "facets": facets,
            "page": max(1, q.page),
            "hitsPerPage": per_page,
            "attributesToRetrieve": ["doc_id", "kind", "title", "body", "url", "labels"],
            # Documents with every word first, then fewer (Meilisearch drops words from the
            # end); when even the first word finds nothing, the search is repeated dropping
            # the most frequent words instead (below).
            "matchingStrategy": "last",
        }
        if query is not None:
            params.update(
                {
                    "attributesToHighlight": ["text"],
                    "attributesToCrop": ["text"],
                    "cropLength": 40,
                    "highlightPreTag": _PRE,
                    "highlightPostTag": _POST,
                }
            )
        if q.sort == "date" or query is None:
            params["sort"] = ["sort_ts:desc"]
        if not q.prefix and query is not None and not query.endswith('"'):
            # Meilisearch always prefixes the last word; a trailing space turns that off.
            query += " "
        index = self.client.index(self.uid)
        resp = self._call("search", index.search, query or "", params)
        if not resp["hits"] and q.page <= 1 and query:
            # "last" keeps the first word to the end: a query whose first word matches nothing
            # would come back empty although other words match. And Meilisearch's own Arabic
            # segmentation does not find every stem ("بيروت" → "يرو"): the words as typed then.
            retry = self._engine_query(parsed, stems=False) or query
            if retry != query or len(parsed.terms) > 1:
                resp = self._call(
                    "search", index.search, retry, {**params, "matchingStrategy": "frequency"}
                )
        hits = []
        for h in resp["hits"]:
            formatted = (h.get("_formatted") or {}).get("text", "")
            # Single CJK characters marked in the unigrams are not terms of their own: the
            # query's CJK runs are highlighted whole (highlight_terms adds them).
            engine_terms = [t for t in _MARKED.findall(formatted) if not cjk_runs(t)]
            hits.append(
                SearchHit(
                    id=h["doc_id"],
                    kind=h["kind"],
                    title=h.get("title", ""),
                    url=h.get("url", ""),
                    snippet=make_snippet(
                        h.get("body", ""), highlight_terms(text, [*engine_terms, *parsed.words()])
                    ),
                    score=h.get("_rankingScore"),
                    labels=list(h.get("labels") or ()),
                )
            )
        distribution = resp.get("facetDistribution") or {}
        results = SearchResults(
            total=resp.get("totalHits", 0),
            hits=hits,
            facets={name: dict(distribution.get(name, {})) for name in facets},
            backend=self.name,
        )
        if hits and q.page <= 1 and any(typo_budget(t.text) for t in parsed.terms if t.is_word):
            first = resp["hits"][0]
            results.did_you_mean = did_you_mean(
                parsed, f"{first.get('title', '')}\n{first.get('body', '')}", q.text
            )
        return results

    def _scan(self, fields: list[str]) -> Iterator[dict]:
        """Every document's ``fields`` (as a dict), 1,000 at a time."""
        index = self.client.index(self.uid)
        offset = 0
        while True:
            page = self._call(
                "list ids",
                index.get_documents,
                {"fields": fields, "limit": 1000, "offset": offset},
            )
            if not page.results:
                return
            for document in page.results:
                yield dict(document)
            offset += len(page.results)

    def ids(self) -> Iterator[str]:
        for document in self._scan(["doc_id"]):
            yield document["doc_id"]

    def outdated_count(self) -> int:
        return sum(1 for document in self._scan(["doc_id", "labels"]) if "labels" not in document)
