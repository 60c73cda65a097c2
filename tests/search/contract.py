"""The search contract, written once and run unchanged against every backend.

A backend's test module subclasses ``SearchContract`` and provides a ``backend`` fixture that
returns a ready, empty backend (see ``test_contract_database.py``). Capability-specific
behaviour (typo tolerance) is asserted only where the backend claims the capability.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from markupsafe import escape

from portal.search.base import SearchDoc, SearchQuery

STAFF = {"public", "staff"}


def make_doc(doc_id: str, title: str, body: str = "", **fields) -> SearchDoc:
    kind, _, pk = doc_id.partition(":")
    fields.setdefault("principals", ["public"])
    return SearchDoc(id=doc_id, kind=kind, title=title, body=body, url=f"/{kind}s/{pk}", **fields)


def day(year: int, month: int = 1, d: int = 1) -> datetime:
    return datetime(year, month, d, tzinfo=UTC)


def ids_of(results) -> list[str]:
    return [hit.id for hit in results.hits]


def search(backend, text: str = "", principals=frozenset({"public"}), **kw):
    return backend.search(SearchQuery(text=text, principals=set(principals), **kw))


HOSTILE_QUERIES = [
    '"',
    '"unbalanced',
    "*",
    "water*",
    "(",
    "(water",
    "water)",
    "NEAR",
    "water NEAR/2 sanitation",
    "NEAR(water sanitation)",
    "AND OR",
    "AND",
    "OR NOT",
    "x" * 1000,
    "water " * 200,
    "\x00\x01\x02water\x7f",
    "'; DROP TABLE x; --",
    "1' OR '1'='1",
    "-",
    "-water",
    "^",
    "^water",
    ":",
    "title:water",
    "\\",
    "water\\",
    "%_%",
    "{}[]~!@#$&|<>?/",
    "<script>alert(1)</script>",
    "   ",
]


class SearchContract:
    """Every backend must pass these tests unchanged."""

    def write_old_layout(self, backend, doc_id: str) -> None:
        """Make ``doc_id`` look as an index written before ``SearchDoc.labels`` held it
        (each engine's test class knows how its documents are stored)."""
        raise NotImplementedError

    @pytest.fixture
    def corpus(self, backend):
        docs = [
            make_doc(
                "agreement:1",
                "Water and sanitation partnership in Nairobi",
                "Community-led upgrading of informal settlements.",
                regions=["014", "202", "002"],
                countries=["KE"],
                agreement_type="mou",
                status="active",
                year=2024,
                domain=1,
                sort_date=day(2024, 3, 1),
            ),
            make_doc(
                "agreement:2",
                "Public space programme",
                "Safer streets and water points for women and girls in Beirut.",
                regions=["145", "142"],
                countries=["LB"],
                agreement_type="grant",
                status="closed",
                year=2021,
                domain=2,
                sort_date=day(2021, 6, 1),
            ),
            make_doc(
                "organization:3",
                "Slum Dwellers International",
                "A network of community-based organisations of the urban poor.",
                regions=["014", "202", "002"],
                countries=["KE"],
                org_type="21",
                year=2019,
                sort_date=day(2019, 1, 1),
            ),
            make_doc(
                "agreement:4",
                "Climate resilience for coastal cities",
                "Adaptation plans with municipal partners in Mozambique.",
                regions=["014", "202", "002"],
                countries=["MZ"],
                agreement_type="mou",
                status="signed",
                year=2023,
                domain=3,
                sort_date=day(2023, 9, 1),
            ),
        ]
        backend.upsert(docs)
        return docs

    # --- basics ---------------------------------------------------------------------------

    def test_labels_are_matched_and_returned_apart_from_the_snippet(self, backend):
        backend.upsert(
            [
                make_doc(
                    "agreement:1",
                    "Water kiosks programme",
                    "Kiosks in every ward of the city.",
                    labels=["agreement_type:mou", "country:Kenya"],
                    label_text="Memorandum of understanding\nKenya",
                ),
                make_doc("agreement:2", "Water for schools", "Taps and tanks."),
            ]
        )
        # The labels' words still find the document …
        assert ids_of(search(backend, "kenya")) == ["agreement:1"]
        assert ids_of(search(backend, "memorandum")) == ["agreement:1"]
        # … but the snippet is the body alone; the labels come back as references, for the
        # page to show in its reader's language.
        by_id = {hit.id: hit for hit in search(backend, "water kiosks ward").hits}
        hit = by_id["agreement:1"]
        assert hit.labels == ["agreement_type:mou", "country:Kenya"]
        assert "Kenya" not in hit.snippet and "Memorandum" not in hit.snippet
        assert "<mark>ward</mark>" in hit.snippet
        assert by_id["agreement:2"].labels == []
        assert backend.outdated_count() == 0

    def test_outdated_count_finds_documents_of_the_layout_before_labels(self, backend):
        backend.upsert([make_doc("agreement:1", "Old layout"), make_doc("agreement:2", "New")])
        self.write_old_layout(backend, "agreement:1")
        assert backend.outdated_count() == 1
        backend.upsert([make_doc("agreement:1", "Old layout, written again")])
        assert backend.outdated_count() == 0

    def test_finds_documents_by_title_and_by_body(self, backend, corpus):
        assert ids_of(search(backend, "sanitation")) == ["agreement:1"]
        assert ids_of(search(backend, "Mozambique")) == ["agreement:4"]
        results = search(backend, "network urban poor")
        assert ids_of(results) == ["organization:3"]
        assert results.total == 1

    def test_title_match_ranks_above_body_match(self, backend, corpus):
        # "water" is in agreement 1's title and only in agreement 2's body.
        assert ids_of(search(backend, "water")) == ["agreement:1", "agreement:2"]

    def test_documents_matching_every_word_rank_first_then_most_words(self, backend, corpus):
        # Agreement 2 has both words; agreement 1 only "water".
        both = ids_of(search(backend, "water Beirut"))
        mixed = ids_of(search(backend, "water Mozambique"))
        if "any_word" in backend.capabilities:
            assert both == ["agreement:2", "agreement:1"]
            # No document has both: those with either word, never zero results.
            assert sorted(mixed) == ["agreement:1", "agreement:2", "agreement:4"]
        else:
            # Engines that drop words from the end of the query: never zero results.
            assert both[0] == "agreement:2"
            assert set(both) <= {"agreement:1", "agreement:2"}
            assert mixed
            assert set(mixed) <= {"agreement:1", "agreement:2", "agreement:4"}
            assert ids_of(search(backend, "zzzz Mozambique")) == ["agreement:4"]
        assert ids_of(search(backend, "safer water beirut"))[0] == "agreement:2"
        assert search(backend, "zzzz qqqq").total == 0

    def test_more_matched_words_beat_a_title_match(self, backend, corpus):
        # Agreement 4 has "climate" and "coastal"; agreement 1 only "partnership".
        assert ids_of(search(backend, "climate partnership coastal"))[0] == "agreement:4"
        if "any_word" in backend.capabilities:  # whatever the order of the words
            assert ids_of(search(backend, "partnership climate coastal"))[0] == "agreement:4"

    def test_quoted_phrase_must_match(self, backend, corpus):
        assert ids_of(search(backend, '"water points"')) == ["agreement:2"]
        assert ids_of(search(backend, '"urban poor" community')) == ["organization:3"]
        # A word beside a phrase only ranks: the phrase alone is enough to be found.
        assert ids_of(search(backend, '"water points" Nairobi')) == ["agreement:2"]
        assert ids_of(search(backend, '"partnership" water')) == ["agreement:1"]
        assert ids_of(search(backend, '"public space" beirut zzzz')) == ["agreement:2"]
        assert search(backend, '"urban water"').total == 0
        if "phrase" in backend.capabilities:
            # Exact: the words next to each other, in this order.
            assert search(backend, '"points water"').total == 0

    def test_empty_query_lists_everything_visible(self, backend, corpus):
        assert search(backend, "").total == 4

    def test_snippet_highlights_and_escapes(self, backend):
        backend.upsert(
            [
                make_doc(
                    "agreement:9", "Tagged", "Beware <script>alert(1)</script> of housing & land."
                )
            ]
        )
        hit = search(backend, "housing").hits[0]
        assert "<mark>housing</mark>" in hit.snippet
        assert "<script>" not in hit.snippet
        assert "&lt;script&gt;" in hit.snippet
        assert hit.url == "/agreements/9"
        assert hit.kind == "agreement"
        assert hit.title == "Tagged"

    # --- facets and filters -------------------------------------------------------------

    def test_facet_counts(self, backend, corpus):
        facets = search(backend, "").facets
        assert facets["kind"] == {"agreement": 3, "organization": 1}
        assert facets["countries"] == {"KE": 2, "LB": 1, "MZ": 1}
        assert facets["regions"]["002"] == 3
        assert facets["agreement_type"] == {"mou": 2, "grant": 1}
        assert facets["year"] == {"2024": 1, "2021": 1, "2019": 1, "2023": 1}
        assert facets["org_type"] == {"21": 1}

    def test_facet_counts_follow_the_query(self, backend, corpus):
        facets = search(backend, "water").facets
        assert facets["kind"] == {"agreement": 2}
        assert facets["status"] == {"active": 1, "closed": 1}

    def test_filters_or_within_a_facet_and_across_facets(self, backend, corpus):
        africa = search(backend, "", filters={"regions": ["002"]})
        assert sorted(ids_of(africa)) == ["agreement:1", "agreement:4", "organization:3"]
        assert africa.facets["kind"] == {"agreement": 2, "organization": 1}
        both = search(backend, "", filters={"countries": ["LB", "MZ"]})
        assert sorted(ids_of(both)) == ["agreement:2", "agreement:4"]
        narrowed = search(
            backend, "", filters={"regions": ["002"], "agreement_type": ["mou"], "year": ["2024"]}
        )
        assert ids_of(narrowed) == ["agreement:1"]
        assert search(backend, "water", filters={"kind": ["organization"]}).total == 0

    def test_unknown_filter_value_matches_nothing(self, backend, corpus):
        assert search(backend, "", filters={"status": ["no-such-status"]}).total == 0

    # --- paging and sorting -------------------------------------------------------------

    def test_pagination(self, backend):
        backend.upsert(
            [
                make_doc(f"agreement:{n}", f"Housing project {n}", sort_date=day(2000 + n))
                for n in range(1, 26)
            ]
        )
        first = search(backend, "housing", per_page=10, page=1, sort="date")
        third = search(backend, "housing", per_page=10, page=3, sort="date")
        assert first.total == third.total == 25
        assert ids_of(first)[:2] == ["agreement:25", "agreement:24"]
        assert ids_of(third) == [f"agreement:{n}" for n in range(5, 0, -1)]
        everything = {
            i for p in (1, 2, 3) for i in ids_of(search(backend, "housing", per_page=10, page=p))
        }
        assert len(everything) == 25
        assert search(backend, "housing", per_page=10, page=9).hits == []

    def test_sort_by_date_newest_first(self, backend, corpus):
        assert ids_of(search(backend, "", sort="date")) == [
            "agreement:1",
            "agreement:4",
            "agreement:2",
            "organization:3",
        ]

    def test_prefix_as_you_type(self, backend, corpus):
        # "partn" is a prefix of "partnership" (agreement 1's title) and "partners" (4's body).
        results = search(backend, "partn")
        assert ids_of(results) == ["agreement:1", "agreement:4"]
        assert "organization:3" in ids_of(search(backend, "Slum Dwel"))

    # --- index maintenance --------------------------------------------------------------

    def test_upsert_replaces_a_document(self, backend, corpus):
        backend.upsert([make_doc("agreement:1", "Solid refuse management", status="closed")])
        assert search(backend, "sanitation").total == 0
        assert ids_of(search(backend, "refuse")) == ["agreement:1"]
        assert search(backend, "").facets["status"].get("active") is None

    def test_delete(self, backend, corpus):
        backend.delete(["agreement:1", "agreement:404"])
        assert search(backend, "sanitation").total == 0
        assert "agreement:1" not in set(backend.ids())
        assert search(backend, "").total == 3

    def test_rebuild_swaps_in_a_fresh_index(self, backend, corpus):
        seen = []
        count = backend.rebuild(
            iter(
                [
                    make_doc("agreement:7", "Urban planning lab"),
                    make_doc("organization:8", "Cities Alliance"),
                ]
            ),
            progress=seen.append,
        )
        assert count == 2
        assert sum(seen) == 2
        assert sorted(backend.ids()) == ["agreement:7", "organization:8"]
        assert ids_of(search(backend, "planning")) == ["agreement:7"]
        assert search(backend, "sanitation").total == 0
        backend.upsert([make_doc("agreement:9", "After the swap")])
        assert ids_of(search(backend, "swap")) == ["agreement:9"]

    def test_clear(self, backend, corpus):
        backend.clear()
        assert list(backend.ids()) == []
        assert search(backend, "").total == 0

    # --- permissions ----------------------------------------------------------------------

    @pytest.fixture
    def restricted(self, backend):
        backend.upsert(
            [
                make_doc("agreement:20", "Housing finance public", status="active"),
                make_doc(
                    "agreement:21",
                    "Housing finance internal",
                    principals=["staff"],
                    status="draft",
                    countries=["FR"],
                ),
                make_doc(
                    "agreement:22",
                    "Housing finance partners A",
                    principals=["staff", "org:1"],
                    status="negotiation",
                ),
                make_doc(
                    "agreement:23",
                    "Housing finance partners B",
                    principals=["staff", "org:2"],
                    status="signed",
                ),
            ]
        )

    def test_public_never_sees_restricted_documents(self, backend, restricted):
        for text in ("housing", "internal", "", "partners"):
            results = search(backend, text)
            assert set(ids_of(results)) <= {"agreement:20"}
        results = search(backend, "housing")
        assert results.total == 1
        assert results.facets["status"] == {"active": 1}
        assert "FR" not in results.facets.get("countries", {})
        assert search(backend, "", filters={"status": ["draft"]}).total == 0

    def test_organisation_members_see_their_own_documents_only(self, backend, restricted):
        results = search(backend, "housing", principals={"public", "user:5", "org:1"})
        assert sorted(ids_of(results)) == ["agreement:20", "agreement:22"]
        assert results.total == 2
        assert results.facets["status"] == {"active": 1, "negotiation": 1}

    def test_staff_see_everything(self, backend, restricted):
        results = search(backend, "housing", principals=STAFF)
        assert results.total == 4
        assert results.facets["status"] == {"active": 1, "draft": 1, "negotiation": 1, "signed": 1}

    # --- languages ------------------------------------------------------------------------

    @pytest.fixture
    def multilingual(self, backend):
        backend.upsert(
            [
                make_doc("agreement:30", "城市伙伴关系协议", "与地方政府合作"),
                make_doc("agreement:31", "اتفاقية تعاون", "نشر كِتَاب عن المدن"),
                make_doc(
                    "organization:32", "Université de Genève", "Recherche urbaine et logement"
                ),
                make_doc("organization:33", "Ciudad Autónoma", "Vivienda y espacio público"),
                make_doc(
                    "organization:34", "Московский городской университет", "Жилищная политика"
                ),
            ]
        )

    def test_two_character_chinese_query_finds_longer_word(self, backend, multilingual):
        assert ids_of(search(backend, "伙伴")) == ["agreement:30"]
        assert ids_of(search(backend, "伙伴关系")) == ["agreement:30"]
        assert ids_of(search(backend, "政府")) == ["agreement:30"]

    def test_arabic_diacritics_and_alef_forms_fold(self, backend, multilingual):
        assert ids_of(search(backend, "كتاب")) == ["agreement:31"]
        assert ids_of(search(backend, "إتفاقية")) == ["agreement:31"]

    def test_latin_accents_and_case_fold(self, backend, multilingual):
        results = search(backend, "universite")
        assert ids_of(results) == ["organization:32"]
        assert (
            "<mark>Université</mark>" in results.hits[0].snippet
            or "Université" in results.hits[0].title
        )
        assert ids_of(search(backend, "AUTONOMA")) == ["organization:33"]
        assert ids_of(search(backend, "publico")) == ["organization:33"]

    def test_cyrillic(self, backend, multilingual):
        assert ids_of(search(backend, "университет")) == ["organization:34"]

    # --- one highlighter: the same marks whichever engine answered (portal.search.highlight)

    @pytest.mark.parametrize(
        ("query", "body", "marked"),
        [
            # Chinese: marked inside a longer word, no spaces needed.
            ("伙伴", "中国政府与城市伙伴关系协议的执行情况", ["伙伴"]),
            # Arabic: diacritics and alef forms fold; the original letters are shown.
            ("كتاب", "نشر كِتَاب عن المدن", ["كِتَاب"]),
            ("إتفاقية", "نص الاتفاقية الموقعة", ["الاتفاقية"]),
            # Latin accents and case fold; the accented original is shown.
            ("universite", "Accord avec Université de Genève", ["Université"]),
            # A prefix marks the whole word; a term inside a word marks nothing.
            ("hous", "Affordable housing for all", ["housing"]),
            ("университет", "Новый университет города", ["университет"]),
        ],
    )
    def test_snippet_marks_are_the_same_on_every_engine(self, backend, query, body, marked):
        backend.upsert([make_doc("agreement:40", "Highlight probe", body)])
        results = search(backend, query)
        assert ids_of(results) == ["agreement:40"]
        snippet = results.hits[0].snippet
        assert re.findall(r"<mark>(.*?)</mark>", snippet) == marked
        assert re.sub(r"</?mark>", "", snippet) == str(escape(body))

    # --- hostile input --------------------------------------------------------------------

    @pytest.mark.parametrize("text", HOSTILE_QUERIES)
    def test_hostile_queries_never_raise(self, backend, corpus, text):
        results = search(backend, text)
        assert results.total >= 0
        assert len(results.hits) <= results.total
        for hit in results.hits:
            assert "<script>" not in hit.snippet
        # The index still works afterwards (no table was dropped, no state corrupted).
        assert ids_of(search(backend, "sanitation")) == ["agreement:1"]

    def test_query_syntax_is_treated_as_words(self, backend, corpus):
        assert ids_of(search(backend, '"water" (sanitation) AND *'))[0] == "agreement:1"
        assert ids_of(search(backend, "-Beirut")) == ["agreement:2"]
        assert ids_of(search(backend, 'sanitation "unbalanced')) == ["agreement:1"]

    # --- typo tolerance, stemming, did you mean ------------------------------------------

    def test_every_engine_claims_the_relevance_capabilities(self, backend):
        assert {"typo", "stemming", "did_you_mean"} <= backend.capabilities

    def test_typo_tolerance(self, backend, corpus):
        results = search(backend, "sanitaton")  # one deletion, 9 letters
        assert ids_of(results) == ["agreement:1"]
        assert results.did_you_mean == "sanitation"
        assert search(backend, "Nairobi sanitaton").did_you_mean == "Nairobi sanitation"
        assert ids_of(search(backend, "Mozambqiue")) == ["agreement:4"]  # swapped letters
        assert ids_of(search(backend, "Nairobi")) == ["agreement:1"]
        assert search(backend, "Nairobi").did_you_mean is None  # nothing was corrected

    def test_typo_budget_grows_with_word_length(self, backend, corpus):
        # Two edits from 9 letters ("resilience" with two letters changed) …
        assert ids_of(search(backend, "resiliance coastel")) == ["agreement:4"]
        assert ids_of(search(backend, "rasiliense")) == ["agreement:4"]
        # … one for 5–8 letters, none under 5: "watr" (4) and "wtaer" is 2 edits of a 5-letter
        # word.
        assert search(backend, "watr").total == 0
        assert search(backend, "cliamte").total == 1
        assert search(backend, "cleimta").total == 0

    def test_no_typo_tolerance_for_numbers(self, backend):
        backend.upsert(
            [
                make_doc("agreement:40", "Target 11.1 adequate housing", "Reference 20231"),
                make_doc("agreement:41", "Target 11.2 transport", "Reference 20232"),
            ]
        )
        assert ids_of(search(backend, "20231")) == ["agreement:40"]
        assert ids_of(search(backend, "11.1")) == ["agreement:40"]
        assert search(backend, "20239").total == 0

    def test_arabic_article_and_prefixes(self, backend):
        backend.upsert(
            [
                make_doc("agreement:50", "برنامج التنمية الحضرية", "دعم الإسكان في المدن"),
                make_doc("agreement:51", "شراكة للتنمية", "والتنمية المستدامة"),
                make_doc("agreement:52", "اتفاقية تعاون", "مياه الشرب"),
            ]
        )
        for query in ("التنمية", "تنمية", "للتنمية", "والتنمية"):
            assert sorted(ids_of(search(backend, query))) == ["agreement:50", "agreement:51"]
        assert ids_of(search(backend, "اسكان")) == ["agreement:50"]
        assert ids_of(search(backend, "بالإسكان")) == ["agreement:50"]
        assert ids_of(search(backend, "الاتفاقية")) == ["agreement:52"]

    def test_russian_word_forms(self, backend, multilingual):
        assert ids_of(search(backend, "университета")) == ["organization:34"]
        assert ids_of(search(backend, "жилищной")) == ["organization:34"]

    def test_kind_boost_puts_agreements_above_partner_names(self, backend):
        backend.upsert(
            [
                make_doc("organization:60", "Housing Rights Network"),
                make_doc("agreement:61", "Adequate housing programme"),
                make_doc("agreement:62", "Land tenure", "Secure tenure improves housing."),
            ]
        )
        found = ids_of(search(backend, "housing"))
        assert found[-1] == "agreement:62"  # a title match first, whatever the kind
        if "kind_boost" in backend.capabilities:
            assert found == ["agreement:61", "organization:60", "agreement:62"]
