"""The search contract on a real Elasticsearch 9 (scripts/services/elasticsearch.sh start)."""

from __future__ import annotations

import time

import pytest

from portal.search.base import FACET_FIELDS, SearchQuery
from tests.search.contract import SearchContract, day, ids_of, make_doc, search
from tests.search.engines import emptied, es_backend  # noqa: F401 — pytest fixture


class TestElasticsearchBackend(SearchContract):
    @pytest.fixture
    def backend(self, es_backend):  # noqa: F811
        es_backend.ensure_ready()  # a test may have cleared or rebuilt the index
        return emptied(es_backend)

    def write_old_layout(self, backend, doc_id: str) -> None:
        source = backend.es.get(index=backend.alias, id=doc_id)["_source"]
        del source["raw"]["labels"]
        backend.es.index(index=backend.alias, id=doc_id, document=source, refresh=True)

    def test_live_index_is_an_alias_swapped_by_rebuild(self, backend):
        es = backend.es
        (before,) = es.indices.get_alias(name=backend.alias).keys()
        assert before.startswith(f"{backend.alias}-")
        backend.rebuild([make_doc("agreement:1", "Fresh index")])
        (after,) = es.indices.get_alias(name=backend.alias).keys()
        assert after != before
        # The previous concrete index is gone, not left to fill the disk.
        assert not es.indices.exists(index=before)
        assert ids_of(search(backend, "fresh")) == ["agreement:1"]

    def test_ensure_ready_is_idempotent(self, backend):
        backend.upsert([make_doc("agreement:1", "Kept across ensure_ready")])
        backend.ensure_ready()
        backend.ensure_ready()
        assert len(backend.es.indices.get_alias(name=backend.alias)) == 1
        assert ids_of(search(backend, "kept")) == ["agreement:1"]

    def test_principal_values_are_exact_terms(self, backend):
        # A principal that looks like query syntax is only ever compared as a whole value.
        backend.upsert([make_doc("agreement:1", "Quoted principal", principals=['org:"1" OR *'])])
        assert search(backend, "quoted", principals={"org:1"}).total == 0
        assert search(backend, "quoted", principals={"*"}).total == 0
        assert search(backend, "quoted", principals={'org:"1" OR *'}).total == 1

    def test_ids_pages_through_more_than_one_batch(self, backend):
        docs = [make_doc(f"agreement:{n}", f"Bulk {n}") for n in range(2500)]
        assert backend.rebuild(iter(docs)) == 2500
        assert sorted(backend.ids()) == sorted(d.id for d in docs)

    def test_facets_counted_in_one_aggregation_match_facets_counted_one_by_one(self, backend):
        docs = (
            [
                make_doc(
                    f"agreement:{n}",
                    f"Water {n}",
                    year=1900 + n % 61,  # 61 years: more than a facet's 50 buckets
                    countries=["KE", "LB"][: 1 + n % 2],
                    regions=["002"] if n % 3 else ["142"],
                    status="active" if n % 4 else "closed",
                )
                for n in range(244)
            ]
            + [make_doc("organization:1", "Water board", org_type="21")]
        )
        backend.rebuild(docs)
        captured: list[dict] = []  # the aggregations of every request, in order
        search_engine, msearch_engine = backend.es.search, backend.es.msearch

        def spy(**body):
            captured.append(body.get("aggs"))
            return search_engine(**body)

        def mspy(searches):
            captured.extend(entry["aggs"] for entry in searches if "aggs" in entry)
            return msearch_engine(searches=searches)

        backend.es.search, backend.es.msearch = spy, mspy
        combined = search(backend, "water")
        one_by_one = search(backend, "water", facets=tuple(FACET_FIELDS) + ("unknown",))
        backend._combined_facets = False  # as for an index filled before facet_keys
        backend._layout_read_at = time.monotonic()
        per_field = search(backend, "water")
        assert list(captured[0]) == ["facet_keys"]
        assert len(captured[2]) == len(FACET_FIELDS)
        assert combined.facets == per_field.facets == one_by_one.facets
        assert len(combined.facets["year"]) == 50  # the 50 most frequent, like a facet alone
        assert combined.facets["kind"] == {"agreement": 244, "organization": 1}
        assert combined.facets["countries"] == {"KE": 244, "LB": 122}
        assert combined.facets["org_type"] == {"21": 1}
        only_two = search(backend, "water", facets=("status", "regions"))
        assert only_two.facets == {
            "status": per_field.facets["status"],
            "regions": per_field.facets["regions"],
        }

    def test_an_index_filled_before_facet_keys_counts_facets_field_by_field(self, backend):
        backend.rebuild([make_doc("agreement:1", "Old water", countries=["KE"])])
        (index,) = backend.es.indices.get_alias(name=backend.alias)
        source = backend.es.get(index=index, id="agreement:1")["_source"]
        del source["facet_keys"]
        backend.es.index(index=index, id="agreement:1", document=source, refresh=True)
        backend.es.indices.put_mapping(index=index, meta={"layout": 1})
        # A process that starts now reads the layout from the index, not from its own rebuild.
        fresh = type(backend)(backend.url, backend.alias.removesuffix("-docs"))
        facets = fresh.search(SearchQuery(text="water", principals={"public"})).facets
        assert facets["countries"] == {"KE": 1}
        assert facets["kind"] == {"agreement": 1}
        # ``search rebuild`` brings the index to the new layout.
        fresh.rebuild([make_doc("agreement:1", "Old water", countries=["KE"])])
        assert fresh._facets_combined()
        assert search(fresh, "water").facets["countries"] == {"KE": 1}

    def test_a_page_found_in_the_first_layer_is_the_page_every_match_would_give(
        self, backend, monkeypatch
    ):
        import portal.search.backends.elasticsearch as module

        words = ["water", "housing", "land", "waste", "climate", "urban", "finance", "youth"]
        docs = []
        for n in range(90):
            title = " ".join(words[(n * k) % len(words)] for k in (1, 3)[: 1 + n % 2])
            body = " ".join(words[(n + k * k) % len(words)] for k in range(1 + n % 5))
            docs.append(
                make_doc(
                    f"{['agreement', 'organization', 'minutes'][n % 3]}:{n}",
                    f"{title} {n}",
                    f"{body} watr" if n % 7 == 0 else body,
                    countries=["KE"] if n % 2 else ["LB"],
                    year=2000 + n % 4,
                    sort_date=day(2000 + n % 9, 1 + n % 12),
                )
            )
        backend.rebuild(docs)
        requests = {"msearch": 0, "search": 0}
        search_engine, msearch_engine = backend.es.search, backend.es.msearch

        def spy(**body):
            requests["search"] += 1
            return search_engine(**body)

        def mspy(**kwargs):
            requests["msearch"] += 1
            return msearch_engine(**kwargs)

        backend.es.search, backend.es.msearch = spy, mspy
        queries = ["water", "hous", "water land", "climate urban youth", "watr", "land waste"]
        first_layer_only = 0
        for text in queries:
            for per_page in (1, 2, 3, 7):
                for page in range(1, 100):
                    asked = {"page": page, "per_page": per_page}
                    before = dict(requests)
                    layered = search(backend, text, **asked)
                    if requests["search"] == before["search"]:
                        first_layer_only += 1
                    monkeypatch.setattr(module, "_LAYERED_TERMS", 0)
                    whole = search(backend, text, **asked)
                    monkeypatch.setattr(module, "_LAYERED_TERMS", 8)
                    assert [(h.id, h.score) for h in layered.hits] == [
                        (h.id, h.score) for h in whole.hits
                    ], (text, per_page, page)
                    assert layered.total == whole.total
                    assert layered.facets == whole.facets
                    assert layered.did_you_mean == whole.did_you_mean
                    if not whole.hits:
                        break
        # Most pages came from the first layer alone; the others were scored in full.
        assert first_layer_only > 100
        assert requests["search"] > 20
