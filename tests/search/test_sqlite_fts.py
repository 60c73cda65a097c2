"""What only the SQLite FTS5 backend does: title-first ranking tiers and upgrading an index
built by an earlier version in place.

These run on a scratch SQLite file of their own, so they run (identically) in the SQLite and
the PostgreSQL pass of the suite.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from portal.search.backends.sqlite_fts import SqliteFtsBackend, facet_code
from tests.search.contract import make_doc, search


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'index.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def backend(engine):
    backend = SqliteFtsBackend(engine)
    backend.ensure_ready()
    return backend


def ids(results) -> list[str]:
    return [hit.id for hit in results.hits]


@pytest.fixture
def tiered(backend):
    """5 documents with "drainage" in the title, 25 that say it (often) only in the body."""
    docs = [
        make_doc(f"agreement:{n}", f"Drainage works {n}", "A short note.", year=2000 + n)
        for n in range(1, 6)
    ] + [
        make_doc(
            f"agreement:{n}",
            f"Works programme {n}",
            "drainage " * (n % 4 + 1) + "storm water and sewers",
            year=2000 + n,
        )
        for n in range(6, 31)
    ]
    backend.upsert(docs)
    return docs


@pytest.mark.parametrize("query", ["drainage", "drainage works"])
def test_title_matches_fill_the_first_places_and_pages_cover_every_match_once(
    tiered, backend, query
):
    first = search(backend, query, per_page=10, page=1)
    assert first.total == 30
    assert set(ids(first)[:5]) == {f"agreement:{n}" for n in range(1, 6)}
    seen = [
        hit for page in (1, 2, 3) for hit in ids(search(backend, query, per_page=10, page=page))
    ]
    assert len(seen) == len(set(seen)) == 30
    assert search(backend, query, per_page=10, page=4).hits == []
    # Exact counts over the whole match set, not just the ranked tier.
    assert sum(first.facets["year"].values()) == 30


def test_body_only_matches_rank_by_how_often_they_say_it(tiered, backend):
    body_only = [
        i for i in ids(search(backend, "drainage", per_page=30)) if int(i.split(":")[1]) > 5
    ]
    counts = [int(i.split(":")[1]) % 4 + 1 for i in body_only]
    assert counts == sorted(counts, reverse=True)


def test_a_page_deep_in_the_body_tier_matches_the_full_ranking(tiered, backend):
    everything = ids(search(backend, "drainage", per_page=30))
    assert ids(search(backend, "drainage", per_page=7, page=3)) == everything[14:21]
    together = ids(search(backend, "drainage works", per_page=30))
    assert ids(search(backend, "drainage works", per_page=7, page=3)) == together[14:21]


def test_an_index_from_the_previous_layout_is_upgraded_in_place(engine, backend):
    backend.upsert(
        [
            make_doc("agreement:1", "城市伙伴关系", "合作", status="active"),
            make_doc("agreement:2", "Housing finance", "internal", principals=["staff"]),
            make_doc("agreement:3", "Housing policy", "public", status="closed"),
        ]
    )
    # The layouts before: a trigram table instead of words, one CJK column, no facts table.
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE VIRTUAL TABLE search_index_fts USING fts5(title_norm, body_norm,"
                " tokenize='trigram')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO search_index_fts (rowid, title_norm, body_norm)"
                " SELECT rowid, title_norm, body_norm FROM search_index_words"
            )
        )
        conn.execute(text("DROP TABLE search_index_words"))
        conn.execute(text("DROP TABLE search_index_facts"))
        conn.execute(text("DROP TABLE search_index_cjk"))
        conn.execute(
            text("CREATE VIRTUAL TABLE search_index_cjk USING fts5(cjk, tokenize='trigram')")
        )
    upgraded = SqliteFtsBackend(engine)
    upgraded.ensure_ready()
    assert ids(search(upgraded, "伙伴")) == ["agreement:1"]
    housing = search(upgraded, "housing")
    assert ids(housing) == ["agreement:3"]
    assert housing.facets["status"] == {"closed": 1}
    assert search(upgraded, "housing", principals={"public", "staff"}).total == 2
    assert ids(search(upgraded, "hous")) == ["agreement:3"]
    with engine.connect() as conn:
        names = set(conn.execute(text("SELECT name FROM sqlite_master")).scalars())
    assert "search_index_fts" not in names and "search_index_words" in names


def test_chinese_words_of_any_length_and_mixed_terms(backend):
    backend.upsert(
        [
            make_doc("agreement:1", "城市伙伴关系协议", "与地方政府合作"),
            make_doc("agreement:2", "A股 market", "城市"),
            make_doc("agreement:3", "Housing", "no chinese here"),
        ]
    )
    assert ids(search(backend, "伙伴关系")) == ["agreement:1"]
    assert ids(search(backend, "城")) == ["agreement:1", "agreement:2"]  # title first
    assert ids(search(backend, "a股")) == ["agreement:2"]
    # Both words first, then the document with one of them (never nothing).
    assert ids(search(backend, "城市 market")) == ["agreement:2", "agreement:1"]
    assert ids(search(backend, '"城市" market')) == ["agreement:2", "agreement:1"]
    assert ids(search(backend, '城市 "market"')) == ["agreement:2"]


def test_facet_codes_are_storable_characters():
    codes = [facet_code(v) for v in (0, 1, 0xD6FF, 0xD700, 0xE000, 500_000)]
    assert len(set(codes)) == len(codes)
    assert all(not 0xD800 <= ord(c) <= 0xDFFF for c in codes)
    "".join(codes).encode("utf-8")  # would raise on a surrogate


def test_facet_counts_stay_exact_with_hundreds_of_values(backend):
    """Facet characters are counted in one pass whatever the number of values: 300 years
    and 300 countries, each value on its own number of matching documents."""
    docs = []
    for n in range(1, 301):
        for copy in range(n % 3 + 1):
            docs.append(
                make_doc(
                    f"agreement:{n}-{copy}",
                    f"Sanitation plan {n}",
                    "housing" if copy else "",
                    year=1700 + n,
                    countries=[f"C{n:03d}", "ZZ"],
                    principals=["public"] if n % 10 else ["staff"],
                )
            )
    backend.upsert(docs)
    visible = [d for d in docs if d.principals == ["public"]]
    results = search(backend, "sanitation housing", per_page=5)
    assert results.total == len(visible)
    expected_years: dict[str, int] = {}
    for d in visible:
        expected_years[str(d.year)] = expected_years.get(str(d.year), 0) + 1
    assert results.facets["year"] == expected_years
    assert results.facets["countries"]["ZZ"] == len(visible)
    assert results.facets["countries"]["C002"] == 3
    assert "C010" not in results.facets["countries"]  # staff only
    # Largest first, as the page lists them.
    assert list(results.facets["countries"])[0] == "ZZ"
