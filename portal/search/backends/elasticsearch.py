"""Elasticsearch 9 backend.

Built for the minimal (integ-test) distribution too: it has only the ``standard`` tokenizer
and the ``lowercase``/``stop``/``shingle`` filters — no asciifolding, ICU, cjk or ngram. So:

- text is folded in Python (``normalize_text``) before indexing and querying;
- Chinese works with the standard tokenizer, which emits one token per ideograph: a CJK run
  in the query is a *phrase* of unigrams, so 伙伴 finds 伙伴关系 (and not 伙…伴 apart);
- prefix search uses ``match_bool_prefix``; typo tolerance ``fuzziness: AUTO`` on the combined
  text field;
- the live index is an alias ``<prefix>-docs`` over ``<prefix>-docs-<timestamp>``; ``rebuild``
  loads a new concrete index and swaps the alias in one ``_aliases`` call.

User input only ever reaches ES inside ``match``-family queries (analysed text, no syntax) and
``terms`` filters (exact values): never ``query_string``.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import islice

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError

from portal.search.analysis import (
    FIELD_WEIGHTS,
    KIND_BOOSTS,
    ParsedQuery,
    Term,
    did_you_mean,
    parse_query,
    stems_of,
    typo_budget,
)
from portal.search.backends._engine import (
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

REQUEST_TIMEOUT = 5.0  # seconds; an engine slower than this is treated as down (DB fallback)
BULK_CHUNK = 1000
BULK_THREADS = 2
BULK_TIMEOUT = 120.0  # seconds for one bulk request of a rebuild
# Facets with many distinct values (M49 regions, countries) need a bigger bucket list.
_FACET_SIZES = {"regions": 300, "countries": 300}

MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "kind": {"type": "keyword"},
        # Raw values for display only: kept in _source, not indexed.
        "raw": {"type": "object", "enabled": False},
        # Folded text (normalize_text). all_norm = title + body, for matching across both.
        "title_norm": {"type": "text", "analyzer": "standard", "copy_to": "all_norm"},
        # Only matched through all_norm: not indexed a second time on its own.
        "body_norm": {"type": "text", "index": False, "copy_to": "all_norm"},
        "all_norm": {"type": "text", "analyzer": "standard", "index_options": "offsets"},
        # Arabic and Russian stems (portal.search.analysis.stems_of), title and body apart.
        "title_stems": {"type": "text", "analyzer": "standard"},
        "body_stems": {"type": "text", "analyzer": "standard"},
        "boost": {"type": "float"},  # KIND_BOOSTS
        "lang": {"type": "keyword"},
        "principals": {"type": "keyword"},
        **{name: {"type": "keyword"} for name in FACET_FIELDS if name != "kind"},
        # Every facet value as ``<facet>=<value>`` (``kind=agreement``, ``regions=002``): one
        # terms aggregation over it counts every facet at once, half the cost of eight at
        # 1,000,000 documents. Filters still use the fields above.
        "facet_keys": {"type": "keyword"},
        "sort_date": {"type": "date"},
        "updated_at": {"type": "date"},
    },
}


_ADDED_FIELDS = ("title_stems", "body_stems", "boost", "facet_keys")
# Written into the mapping's ``_meta`` of every index created by this code. An index without
# it was filled before ``facet_keys`` existed (its documents may lack the field), so its facets
# are counted field by field until the next ``search rebuild``.
LAYOUT = 2
# A process that saw an older index looks again after this many seconds (another process
# may have rebuilt it).
_LAYOUT_RECHECK = 60.0
# Buckets of the combined aggregation: more than every facet's distinct values together, so
# each facet's own top-N (``_FACET_SIZES``, else 50) is exact.
_COMBINED_BUCKETS = 5_000
# Score layers: every matched term outweighs any title match, which outweighs any text score.
_TERM_WEIGHT, _TITLE_WEIGHT = 10_000.0, 1_000.0
# Up to this many terms the layers hold whatever the text scores (BM25 at most ~30 a field
# per term at 1,000,000 documents, the title ×10, its stems, the kind boost ×1.5: < 1,000 a
# term): a page inside the first layer can be found in that layer alone (``_search_by_layers``).
_LAYERED_TERMS = 8


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _to_source(doc: SearchDoc) -> dict:
    title_norm, body_norm = normalize_text(doc.title), normalize_text(doc.matched_body)
    source = {
        "id": doc.id,
        "kind": doc.kind,
        # ``labels`` is always present (``[]`` for none): its absence marks a document written
        # before labels were kept apart from the body (``outdated_count``).
        "raw": {"title": doc.title, "body": doc.body, "url": doc.url, "labels": doc.labels},
        "title_norm": title_norm,
        "body_norm": body_norm,
        "title_stems": stems_of(title_norm, unchanged=True),
        "body_stems": stems_of(body_norm, unchanged=True),
        "boost": KIND_BOOSTS.get(doc.kind, 1.0),
        "lang": doc.lang,
        "principals": list(doc.principals),
        "sort_date": _iso(doc.sort_date),
        "updated_at": _iso(doc.updated_at),
    }
    keys = [f"kind={doc.kind}"]
    for name in FACET_FIELDS:
        if name != "kind":
            values = doc.facet_values(name)
            source[name] = values
            keys.extend(f"{name}={value}" for value in values)
    source["facet_keys"] = keys
    return source


class ElasticsearchBackend(SearchBackend):
    name = "elasticsearch"
    capabilities = frozenset(
        {
            "typo",
            "facets",
            "highlight",
            "prefix",
            "atomic_rebuild",
            "stemming",
            "phrase",
            "did_you_mean",
            "any_word",
            "kind_boost",
        }
    )

    def __init__(self, url: str, index_prefix: str = "portal", *, timeout: float = REQUEST_TIMEOUT):
        self.url = url
        self.alias = f"{index_prefix}-docs"
        # No retries: a dead engine must fail fast so the page falls back to the database.
        self.es = Elasticsearch(url, request_timeout=timeout, max_retries=0, retry_on_timeout=False)
        self._ready = False  # ensure_ready succeeded once in this process
        # Whether the live index has ``facet_keys`` in every document, and when that was read.
        self._combined_facets: bool | None = None
        self._layout_read_at = 0.0

    def __repr__(self) -> str:
        return f"<ElasticsearchBackend {self.url} alias={self.alias}>"

    # --- errors -----------------------------------------------------------------------

    def _unavailable(self, exc: Exception, action: str) -> SearchUnavailable:
        log.warning("elasticsearch %s failed: %s", action, exc)
        return SearchUnavailable(f"Elasticsearch at {self.url}: {action} failed: {exc}")

    def _call(self, action: str, fn, *args, **kwargs):
        """Run one client call; engine-side failures become SearchUnavailable.

        Connection errors, timeouts, 5xx and a missing index all mean "this engine cannot
        answer right now" for the portal. Other 4xx are our bugs and propagate.
        """
        try:
            return fn(*args, **kwargs)
        except NotFoundError as exc:
            raise self._unavailable(exc, action) from exc
        except ApiError as exc:
            if exc.meta.status >= 500 or exc.meta.status == 429:
                raise self._unavailable(exc, action) from exc
            raise
        except (TransportConnectionError, TransportError) as exc:
            raise self._unavailable(exc, action) from exc

    # --- index management ---------------------------------------------------------------

    def _new_index_name(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        return f"{self.alias}-{stamp}-{secrets.token_hex(2)}"

    def _create_index(self, name: str, *, loading: bool = False, aliased: bool = False) -> None:
        settings = {
            "number_of_shards": 1,
            "number_of_replicas": 0,  # single node in dev/CI; production overrides in ES
            # During a bulk load, refreshes are wasted work and so is an fsync of the
            # translog per bulk request (a failed load is thrown away and redone): both are
            # set back to the defaults before the swap.
            "refresh_interval": "-1" if loading else "1s",
            "translog.durability": "async" if loading else "request",
        }
        body = {"settings": settings, "mappings": {**MAPPINGS, "_meta": {"layout": LAYOUT}}}
        if aliased:
            body["aliases"] = {self.alias: {}}
        self._call("create index", self.es.indices.create, index=name, **body)

    def _alias_targets(self) -> list[str]:
        try:
            found = self.es.indices.get_alias(name=self.alias)
        except NotFoundError:
            return []
        except (ApiError, TransportError) as exc:
            raise self._unavailable(exc, "read alias") from exc
        return sorted(found.keys())

    def ensure_ready(self) -> None:
        if targets := self._alias_targets():
            if not self._ready:
                # Fields added since the index was created (stems, boost); documents indexed
                # before get them at the next ``search rebuild``.
                self._call(
                    "update mapping",
                    self.es.indices.put_mapping,
                    index=",".join(targets),
                    properties={k: MAPPINGS["properties"][k] for k in _ADDED_FIELDS},
                )
            self._ready = True
            return
        self._create_index(self._new_index_name(), aliased=True)
        self._call(
            "wait for health",
            self.es.cluster.health,
            index=self.alias,
            wait_for_status="yellow",
            timeout="10s",
        )
        self._ready = True

    def rebuild(self, docs: Iterable[SearchDoc], progress=None) -> int:
        old = self._alias_targets()
        new = self._new_index_name()
        self._create_index(new, loading=True)
        count = 0
        try:
            count = self._load(new, docs, progress)
            self._call(
                "settings",
                self.es.indices.put_settings,
                index=new,
                settings={"refresh_interval": "1s", "translog.durability": "request"},
            )
            self._call("refresh", self.es.indices.refresh, index=new)
            actions = [{"remove": {"index": i, "alias": self.alias}} for i in old]
            actions.append({"add": {"index": new, "alias": self.alias}})
            # One request: readers see either the old index or the new one, never neither.
            self._call("swap alias", self.es.indices.update_aliases, actions=actions)
        except BaseException as exc:
            # Leave the live alias untouched and drop the half-built index.
            try:
                self.es.indices.delete(index=new, ignore_unavailable=True)
            except Exception:  # noqa: S110 — the original error matters more
                pass
            if isinstance(exc, TransportError | ApiError):
                raise self._unavailable(exc, "rebuild") from exc
            raise
        # The alias now points at an index of this code's layout alone.
        self._combined_facets, self._layout_read_at = True, time.monotonic()
        if old:
            self._call("delete old index", self.es.indices.delete, index=",".join(old))
        return count

    def _load(self, index: str, docs: Iterable[SearchDoc], progress=None) -> int:
        """Bulk-load ``docs`` into ``index`` with two requests in flight: the engine indexes
        one chunk while this thread prepares the next (a thread waiting on its socket frees
        the GIL). Documents are made here, in the caller's thread — their loaders need its
        database session and app context; the pool threads only send."""
        client = self.es.options(request_timeout=BULK_TIMEOUT)  # 1,000 docs on a busy engine
        count = 0
        iterator = iter(docs)
        in_flight: deque[Future] = deque()
        with ThreadPoolExecutor(BULK_THREADS, thread_name_prefix="es-bulk") as pool:
            try:
                while chunk := list(islice(iterator, BULK_CHUNK)):
                    operations: list[dict] = []
                    for d in chunk:
                        operations.append({"index": {"_index": index, "_id": d.id}})
                        operations.append(_to_source(d))
                    in_flight.append(pool.submit(self._send_bulk, client, operations))
                    while len(in_flight) >= BULK_THREADS:
                        count += self._sent(in_flight.popleft(), progress)
                while in_flight:
                    count += self._sent(in_flight.popleft(), progress)
            finally:
                for future in in_flight:
                    future.cancel()
        return count

    @staticmethod
    def _sent(future: Future, progress) -> int:
        done = future.result()
        if progress:
            progress(done)
        return done

    def _send_bulk(self, client, operations: list[dict]) -> int:
        resp = client.bulk(operations=operations)
        if resp.get("errors"):
            failed = [
                item
                for entry in resp["items"]
                for item in entry.values()
                if item.get("status", 200) >= 300
            ]
            if failed:
                raise self._unavailable(RuntimeError(str(failed[:3])), "rebuild")
        return len(operations) // 2

    def clear(self) -> None:
        # The minimal distribution has no delete_by_query (reindex module): swap in an empty index.
        self.rebuild([])

    # --- writes -------------------------------------------------------------------------

    def _bulk(self, actions: list[dict], action: str) -> None:
        if not actions:
            return
        if not self._ready:
            # The outbox may write before anyone ran ensure_ready (e.g. after an outage).
            self.ensure_ready()
        try:
            # refresh=True: a user who saves and then searches sees the change at once.
            # require_alias: never let a write auto-create a mapping-less index named like
            # the alias (that would block ensure_ready for good).
            resp = self.es.bulk(operations=actions, refresh=True, require_alias=True)
        except ApiError as exc:
            raise self._unavailable(exc, action) from exc
        except TransportError as exc:
            raise self._unavailable(exc, action) from exc
        if resp.get("errors"):
            # Deleting what is already gone (404) is success: deletes are idempotent.
            failed = [
                item
                for entry in resp["items"]
                for op, item in entry.items()
                if item.get("status", 200) >= 300 and not (op == "delete" and item["status"] == 404)
            ]
            if failed:
                raise self._unavailable(RuntimeError(str(failed[:3])), action)

    def upsert(self, docs: list[SearchDoc]) -> None:
        ops: list[dict] = []
        for d in docs:
            ops.append({"index": {"_index": self.alias, "_id": d.id}})
            ops.append(_to_source(d))
        self._bulk(ops, "upsert")

    def delete(self, ids: list[str]) -> None:
        # A 404 per item (already gone) is success: deletes are idempotent.
        self._bulk([{"delete": {"_index": self.alias, "_id": i}} for i in ids], "delete")

    # --- reads --------------------------------------------------------------------------

    @staticmethod
    def _term_clause(
        term: Term, prefix: bool, field: str, stems_field: str, fuzzy: bool = True
    ) -> dict:
        """A document matches ``term`` in ``field``: the word (with the typo budget unless
        ``fuzzy`` is off), as a prefix, or by its stem; a CJK run or a punctuation-joined
        token as a phrase."""
        if term.cjk:
            return {"match_phrase": {field: {"query": term.text}}}
        if len(term.parts) > 1:
            return {"match_phrase": {field: {"query": term.raw or term.text}}}
        word = term.text
        should: list[dict] = [
            {
                "match": {
                    field: {
                        "query": word,
                        "fuzziness": typo_budget(word) if fuzzy else 0,
                        "prefix_length": 1,  # first letter right: far fewer expansions
                        "max_expansions": 30,
                    }
                }
            }
        ]
        if prefix:
            should.append({"prefix": {field: {"value": word}}})
        if term.stem or any(ch.isalpha() and not ch.isascii() for ch in word):
            should.append({"term": {stems_field: {"value": term.stem or word}}})
        return {"bool": {"should": should, "minimum_should_match": 1}}

    def _text_query(self, parsed: ParsedQuery, prefix: bool) -> dict | None:
        """Optional terms (each matched one adds a fixed layer, so documents with all words
        come first, then most words), title layer, then the text score × kind boost; quoted
        phrases are required."""
        if parsed.empty:
            return None
        terms = [self._term_clause(term, prefix, "all_norm", "body_stems") for term in parsed.terms]
        in_title = [
            self._term_clause(term, prefix, "title_norm", "title_stems") for term in parsed.terms
        ]
        must = [
            {"match_phrase": {"all_norm": {"query": " ".join(phrase)}}} for phrase in parsed.phrases
        ]
        should: list[dict] = [
            {"constant_score": {"filter": clause, "boost": _TERM_WEIGHT}} for clause in terms
        ]
        # The title is copied into all_norm, its stems are not: a word found only through a
        # title stem counts too (one cheap term query, not a second fuzzy clause).
        for n, term in enumerate(parsed.terms):
            if term.is_word and (term.stem or not term.text.isascii()):
                should[n]["constant_score"]["filter"] = {
                    "bool": {
                        "should": [
                            terms[n],
                            {"term": {"title_stems": {"value": term.stem or term.text}}},
                        ],
                        "minimum_should_match": 1,
                    }
                }
        if in_title:
            should.append(
                {
                    "constant_score": {
                        "filter": {"bool": {"should": in_title, "minimum_should_match": 1}},
                        "boost": _TITLE_WEIGHT,
                    }
                }
            )
            # The text score orders documents within a layer; it does not decide what
            # matches, so it skips the fuzzy and the prefix expansions (the layers already
            # found typos and prefixes): at 1,000,000 documents the prefix clauses were a
            # tenth to a fifth of a query's time.
            exact_title = [
                self._term_clause(term, False, "title_norm", "title_stems", fuzzy=False)
                for term in parsed.terms
            ]
            exact_text = [
                self._term_clause(term, False, "all_norm", "body_stems", fuzzy=False)
                for term in parsed.terms
            ]
            text_score = {
                "bool": {
                    "should": [
                        *(
                            {"bool": {**c["bool"], "boost": FIELD_WEIGHTS["title"]}}
                            if "bool" in c
                            else c
                            for c in exact_title
                        ),
                        *exact_text,
                    ]
                }
            }
            should.append(
                {
                    "function_score": {
                        "query": text_score,
                        "field_value_factor": {"field": "boost", "missing": 1.0},
                        "boost_mode": "multiply",
                    }
                }
            )
        query: dict = {"should": should}
        if must:
            query["must"] = must
        else:
            query["minimum_should_match"] = 1
        return query

    def _filters(self, q: SearchQuery) -> list[dict]:
        filters: list[dict] = [{"terms": {"principals": sorted(q.principals)}}]
        for name, values in q.filters.items():
            if name in FACET_FIELDS and values:
                filters.append({"terms": {name: [str(v) for v in values]}})
        return filters

    def search(self, q: SearchQuery) -> SearchResults:
        text = prepare_query(q.text)
        parsed = parse_query(q.text)
        per_page = max(1, min(q.per_page, 100))
        page = max(1, q.page)
        bool_query: dict = {"filter": self._filters(q)}
        text_query = self._text_query(parsed, q.prefix)
        if text_query:
            bool_query.update(text_query)
        elif text.strip():
            # Only punctuation/syntax was typed: nothing can match it.
            bool_query["must"] = [{"match_none": {}}]
        if q.sort == "date" or not text_query:
            sort = [{"sort_date": {"order": "desc", "missing": "_last"}}, "_score", {"id": "asc"}]
        else:
            sort = ["_score", {"sort_date": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
        # Aggregations run inside the filtered query, so counts never include what the
        # viewer may not see.
        wanted = [name for name in dict.fromkeys(q.facets) if name in FACET_FIELDS]
        combined = bool(wanted) and self._facets_combined()
        if combined:
            terms: dict = {"field": "facet_keys", "size": _COMBINED_BUCKETS}
            if len(wanted) < len(FACET_FIELDS):  # (no duplicates in ``wanted``)
                # Facet names are plain words: nothing in them needs escaping in the regex.
                terms["include"] = f"({'|'.join(wanted)})=.*"
            aggs = {"facet_keys": {"terms": terms}}
        else:
            aggs = {
                name: {"terms": {"field": name, "size": _FACET_SIZES.get(name, 50)}}
                for name in wanted
            }
        body = {
            "query": {"bool": bool_query},
            "sort": sort,
            "from": (page - 1) * per_page,
            "size": per_page,
            "track_total_hits": True,
            "_source": ["id", "kind", "raw"],
            "aggs": aggs,
        }
        if (page - 1) * per_page + per_page > 10_000:
            # index.max_result_window: deep pages are refused by ES; return an empty page.
            body["from"], body["size"] = 0, 0
        top_layer = self._top_layer(text_query) if text_query else []
        layered = len(parsed.terms) <= _LAYERED_TERMS and sort[0] == "_score" and body["size"]
        if top_layer and layered:
            resp = self._search_by_layers(body, top_layer)
        else:
            resp = self._call("search", self.es.search, index=self.alias, **body)
        hits = []
        for h in resp["hits"]["hits"]:
            src = h["_source"]
            raw = src.get("raw") or {}
            # No engine highlighting: it only ever marked the query's words and the words
            # they begin (typo matches were not marked), which the portal's highlighter
            # marks from the query itself; at 1,000,000 documents it cost ~10 ms a query.
            snippet = make_snippet(raw.get("body", ""), highlight_terms(text, parsed.words()))
            hits.append(
                SearchHit(
                    id=src["id"],
                    kind=src["kind"],
                    title=raw.get("title", ""),
                    url=raw.get("url", ""),
                    snippet=snippet,
                    score=h.get("_score"),
                    labels=list(raw.get("labels") or ()),
                )
            )
        aggregations = resp.get("aggregations", {})
        if combined:
            facets = self._split_facet_keys(wanted, aggregations["facet_keys"])
        else:
            facets = {
                name: {str(b["key"]): b["doc_count"] for b in agg["buckets"]}
                for name, agg in aggregations.items()
            }
        results = SearchResults(
            total=resp["hits"]["total"]["value"], hits=hits, facets=facets, backend=self.name
        )
        first = resp["hits"]["hits"][0]["_source"].get("raw") if hits and page == 1 else None
        if first and any(typo_budget(t.text) for t in parsed.terms if t.is_word):
            results.did_you_mean = did_you_mean(
                parsed, f"{first.get('title', '')}\n{first.get('body', '')}", q.text
            )
        return results

    @staticmethod
    def _top_layer(text_query: dict) -> list[dict]:
        """What a document in the first score layer matches: every term and, when there is
        one, the title layer (``_text_query``'s constant-score clauses, all of them)."""
        return [
            clause["constant_score"]["filter"]
            for clause in text_query["should"]
            if "constant_score" in clause
        ]

    def _search_by_layers(self, body: dict, top_layer: list[dict]) -> dict:
        """The answer to ``body`` (sorted by score), found in two cheaper requests.

        Every matched term adds 10,000 to a score and a title match 1,000, so a document that
        has every term, one of them in its title, outscores any other. When the page asked
        for lies within that first layer, it is the first layer's own page: the same
        documents, scores and order. So one request counts the matches and their facets
        without scoring them (what costs most at 1,000,000 documents: every match scored
        to order a page of 20), and another scores only the first layer; Elasticsearch runs
        the two side by side. A page that reaches past the first layer (a rare word seldom
        in titles, the last page) is scored over every match, without counting again.
        """
        count = {"query": body["query"], "size": 0, "track_total_hits": True}
        if body.get("aggs"):
            count["aggs"] = body["aggs"]
        bool_query = body["query"]["bool"]
        first_layer = {
            **{k: v for k, v in bool_query.items() if k != "minimum_should_match"},
            "filter": [*bool_query["filter"], *top_layer],
        }
        page = {
            **{k: body[k] for k in ("sort", "from", "size", "_source")},
            "query": {"bool": first_layer},
            "track_total_hits": False,
        }
        header = {"index": self.alias}
        answer = self._call("search", self.es.msearch, searches=[header, count, header, page])
        counted, found = answer["responses"]
        if "error" in counted or "error" in found:
            return self._call("search", self.es.search, index=self.alias, **body)
        total = counted["hits"]["total"]["value"]
        hits = found["hits"]["hits"]
        start, size = body["from"], body["size"]
        if len(hits) < size and start + len(hits) < total:
            # The first layer ends before the page does: score every match for this page.
            rest = {**page, "query": body["query"]}
            hits = self._call("search", self.es.search, index=self.alias, **rest)["hits"]["hits"]
        return {
            "hits": {"hits": hits, "total": counted["hits"]["total"]},
            "aggregations": counted.get("aggregations", {}),
        }

    def _facets_combined(self) -> bool:
        """Whether every index behind the alias has ``facet_keys`` in all its documents
        (created with ``LAYOUT``). Read once, and again now and then while it is not."""
        now = time.monotonic()
        stale = not self._combined_facets and now - self._layout_read_at > _LAYOUT_RECHECK
        if self._combined_facets is None or stale:
            found = self._call("read mapping", self.es.indices.get_mapping, index=self.alias)
            self._combined_facets = bool(found) and all(
                (entry.get("mappings", {}).get("_meta") or {}).get("layout", 1) >= LAYOUT
                for entry in found.values()
            )
            self._layout_read_at = now
        return self._combined_facets

    @staticmethod
    def _split_facet_keys(wanted: list[str], aggregation: dict) -> dict[str, dict[str, int]]:
        """The combined buckets back into one dict per facet, each cut to the size a facet
        of its own would have had. Buckets come most frequent first, then by key, which is
        the order within each facet too."""
        facets: dict[str, dict[str, int]] = {name: {} for name in wanted}
        if aggregation.get("sum_other_doc_count"):
            log.warning("facet_keys: more than %d facet values, counts cut", _COMBINED_BUCKETS)
        for bucket in aggregation["buckets"]:
            name, _, value = bucket["key"].partition("=")
            values = facets.get(name)
            if values is not None and len(values) < _FACET_SIZES.get(name, 50):
                values[value] = bucket["doc_count"]
        return facets

    def _scan(self, fields: list[str]) -> Iterator[dict]:
        """Every document's ``fields`` of ``_source``, in id order."""
        after = None
        while True:
            body = {
                "query": {"match_all": {}},
                "sort": [{"id": "asc"}],
                "size": 1000,
                "_source": fields,
            }
            if after is not None:
                body["search_after"] = after
            resp = self._call("list ids", self.es.search, index=self.alias, **body)
            batch = resp["hits"]["hits"]
            if not batch:
                return
            for h in batch:
                yield h["_source"]
            after = batch[-1]["sort"]

    def ids(self) -> Iterator[str]:
        for source in self._scan(["id"]):
            yield source["id"]

    def outdated_count(self) -> int:
        scanned = self._scan(["id", "raw.labels"])
        return sum(1 for source in scanned if "labels" not in source.get("raw", {}))
