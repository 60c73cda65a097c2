"""The search contract on a real Meilisearch 1.21 (scripts/services/meilisearch.sh start)."""

from __future__ import annotations

import pytest

from portal.search.backends.meilisearch import engine_id, quote_filter_value
from tests.search.contract import SearchContract, ids_of, make_doc, search
from tests.search.engines import emptied, meili_backend  # noqa: F401 — pytest fixture


class TestMeilisearchBackend(SearchContract):
    @pytest.fixture
    def backend(self, meili_backend):  # noqa: F811
        meili_backend.ensure_ready()
        return emptied(meili_backend)

    def write_old_layout(self, backend, doc_id: str) -> None:
        index = backend.client.index(backend.uid)
        document = dict(index.get_document(engine_id(doc_id)))
        del document["labels"]
        task = index.add_documents([document], "pk")  # replaces the whole document
        backend.client.wait_for_task(task.task_uid, timeout_in_ms=30_000)

    def test_portal_ids_survive_the_engine_id_alphabet(self, backend):
        # ":" is not allowed in Meilisearch ids; the portal still sees its own ids.
        assert engine_id("agreement:42") == "agreement-42"
        backend.upsert([make_doc("agreement:42", "Colon id")])
        assert list(backend.ids()) == ["agreement:42"]
        assert ids_of(search(backend, "colon")) == ["agreement:42"]
        backend.delete(["agreement:42"])
        assert list(backend.ids()) == []

    def test_rebuild_swaps_indexes_and_drops_the_old_one(self, backend):
        backend.upsert([make_doc("agreement:1", "Old document")])
        backend.rebuild([make_doc("agreement:2", "New document")])
        assert list(backend.ids()) == ["agreement:2"]
        uids = {i.uid for i in backend.client.get_indexes({"limit": 1000})["results"]}
        assert backend.uid in uids
        assert f"{backend.uid}_new" not in uids

    def test_filter_values_are_quoted_and_escaped(self, backend):
        assert quote_filter_value('a"b\\c') == '"a\\"b\\\\c"'
        sneaky = 'org:"1" OR principals EXISTS'
        backend.upsert(
            [
                make_doc("agreement:1", "Escaped principal", principals=[sneaky]),
                make_doc("agreement:2", "Escaped", principals=["staff"], status='x" OR "y'),
            ]
        )
        assert search(backend, "escaped", principals={"public"}).total == 0
        assert search(backend, "escaped", principals={'"public" OR principals EXISTS'}).total == 0
        assert ids_of(search(backend, "principal", principals={sneaky})) == ["agreement:1"]
        assert ids_of(
            search(backend, "", principals={"staff"}, filters={"status": ['x" OR "y']})
        ) == ["agreement:2"]

    def test_totals_are_exact_beyond_a_thousand(self, backend):
        # Meilisearch's default caps totals at 1,000; the portal shows real counts.
        backend.rebuild(make_doc(f"agreement:{n}", f"Housing {n}") for n in range(1500))
        assert search(backend, "housing").total == 1500
        assert search(backend, "").total == 1500
