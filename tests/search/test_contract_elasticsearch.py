"""The search contract on a real Elasticsearch 9 (scripts/services/elasticsearch.sh start)."""

from __future__ import annotations

import pytest

from tests.search.contract import SearchContract, ids_of, make_doc, search
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
