"""The search contract on a real Meilisearch 1.21 (scripts/services/meilisearch.sh start)."""

from __future__ import annotations

import pytest

from portal.search.analysis import stems_of
from portal.search.backends._engine import cjk_unigrams
from portal.search.backends.meilisearch import _to_document, engine_id, quote_filter_value
from portal.search.base import normalize_text
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

    def test_a_word_that_is_its_own_stem_is_found_from_any_form(self, backend):
        # Documents carry only the stems that differ from their word ("города" → "город");
        # "проект", "город" and "كتاب" are their own stems and are matched in the text.
        backend.upsert(
            [
                make_doc("agreement:70", "Проект", "Проект для города, проект для воды"),
                make_doc("agreement:71", "Водой и городом", "Проекты и вода"),
                make_doc("agreement:72", "شراكة", "كتاب عن الكتاب والمدن"),
            ]
        )
        stored = backend.client.index(backend.uid).get_document("agreement-70")
        assert stored.text == "проект для города, воды"  # each word once, in order
        assert stored.stems == "город вод"  # not "проект" nor "для": their own stems
        assert sorted(ids_of(search(backend, "проекты"))) == ["agreement:70", "agreement:71"]
        assert sorted(ids_of(search(backend, "проекта"))) == ["agreement:70", "agreement:71"]
        assert sorted(ids_of(search(backend, "город"))) == ["agreement:70", "agreement:71"]
        assert ids_of(search(backend, "الكتاب")) == ["agreement:72"]
        assert ids_of(search(backend, "كتاب")) == ["agreement:72"]

    def test_repeated_words_still_match_and_are_all_highlighted(self, backend):
        body = "Water supply for the city. The water network and water sanitation."
        backend.upsert([make_doc("agreement:73", "Urban services", body)])
        hits = search(backend, "water").hits
        assert [h.id for h in hits] == ["agreement:73"]
        assert (
            hits[0].snippet.count("<mark>Water</mark>")
            + hits[0].snippet.count("<mark>water</mark>")
            == 3
        )
        # A phrase needs its words in the same field (proximityPrecision byAttribute).
        assert ids_of(search(backend, '"water sanitation"')) == ["agreement:73"]
        assert ids_of(search(backend, "network sanit")) == ["agreement:73"]

    def test_documents_written_before_every_word_was_indexed_once_still_match(self, backend):
        # Until 2026-12 ``text`` held every word as often as the body did and the stems
        # fields also held the words that are their own stems: such an index keeps working
        # (the query side did not change), ``search rebuild`` only makes it smaller.
        doc = make_doc("agreement:74", "Проект города", "Проект и проект: 伙伴关系 для города")
        old = _to_document(doc)
        body_norm = normalize_text(doc.matched_body)
        old["text"] = cjk_unigrams(body_norm)
        old["stems"] = stems_of(body_norm, unchanged=True)
        old["title_stems"] = stems_of(normalize_text(doc.title), unchanged=True)
        index = backend.client.index(backend.uid)
        task = index.add_documents([old], "pk")
        backend.client.wait_for_task(task.task_uid, timeout_in_ms=30_000)
        assert index.get_document("agreement-74").stems == "проект и для город"
        for query in ("проекты", "городом", "伙伴", "город"):
            assert ids_of(search(backend, query)) == ["agreement:74"], query
        assert backend.outdated_count() == 0  # nothing is missing: no rebuild is required
