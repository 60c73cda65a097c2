"""The PostgreSQL search index (issue 17): narrow facts rows next to the wide document rows,
and an index written in the layout before them upgraded in place by ``ensure_ready``."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from portal.extensions import db
from portal.search.backends.postgres import PostgresBackend
from portal.search.base import SearchQuery
from portal.search.registry import get_backend
from tests.search.contract import make_doc

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture(autouse=True)
def _postgres_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the PostgreSQL index layout (this run uses SQLite)")


def write_old_layout(engine, table: str, rows: list[dict]) -> None:
    """An index as the PostgreSQL backend wrote it before the facts table (2026-12-03):
    one wide table matched with LIKE, tsvector and array columns, and ``<t>_words``."""
    with engine.begin() as conn:
        for suffix in ("", "_facts", "_fvals", "_words"):
            conn.execute(text(f"DROP TABLE IF EXISTS {table}{suffix}"))  # noqa: S608
        conn.execute(
            text(
                f"CREATE TABLE {table} (doc_id text PRIMARY KEY, kind text NOT NULL,"  # noqa: S608
                " title text NOT NULL, body text NOT NULL, url text NOT NULL,"
                " sort_date timestamptz, title_norm text NOT NULL, all_norm text NOT NULL,"
                " tsv tsvector NOT NULL, grams text[] NOT NULL DEFAULT '{}',"
                " principals text[] NOT NULL, facets text[] NOT NULL,"
                " boost real NOT NULL DEFAULT 1, labels text[])"
            )
        )
        conn.execute(
            text(
                f"CREATE TABLE {table}_words (n bigserial, word text PRIMARY KEY)"  # noqa: S608
            )
        )
        conn.execute(
            text(
                f"INSERT INTO {table} (doc_id, kind, title, body, url, title_norm,"  # noqa: S608
                " all_norm, tsv, principals, facets, labels) VALUES (:doc_id, :kind, :title,"
                " :body, :url, lower(:title), lower(:title) || chr(10) || lower(:body),"
                " to_tsvector('simple', lower(:title || ' ' || :body)), :principals,"
                " :facets, :labels)"
            ),
            rows,
        )
        conn.execute(
            text(
                f"INSERT INTO {table}_words (word) SELECT DISTINCT w FROM {table},"  # noqa: S608
                " unnest(tsvector_to_array(tsv)) AS w"
            )
        )


def old_row(doc_id, title, body, principals=("public",), facets=(), labels=()):
    return {
        "doc_id": doc_id,
        "kind": doc_id.split(":")[0],
        "title": title,
        "body": body,
        "url": f"/{doc_id.replace(':', '/')}",
        "principals": list(principals),
        "facets": list(facets),
        "labels": None if labels is None else list(labels),
    }


def test_an_index_of_the_old_layout_is_upgraded_in_place():
    write_old_layout(
        db.engine,
        "search_upgrade",
        [
            old_row(
                "agreement:1",
                "Water kiosks programme",
                "Kiosks in every ward of the city.",
                facets=["kind:agreement", "countries:KE", "status:active"],
                labels=["agreement_type:mou"],
            ),
            old_row(
                "agreement:2",
                "Sanitation internal note",
                "Water tanks for the staff only.",
                principals=["staff"],
                facets=["kind:agreement", "countries:TZ"],
            ),
            old_row("organization:3", "Ward Water Trust", "Taps.", facets=["kind:organization"]),
            old_row("agreement:4", "Old snippet", "Indexed before labels.", labels=None),
        ],
    )
    backend = PostgresBackend(db.engine, table="search_upgrade")
    backend.ensure_ready()

    with db.engine.connect() as conn:
        tables = set(
            conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = current_schema() AND table_name LIKE 'search_upgrade%'"
                )
            ).scalars()
        )
        columns = set(
            conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = 'search_upgrade'"
                )
            ).scalars()
        )
    assert tables == {
        "search_upgrade",
        "search_upgrade_facts",
        "search_upgrade_fvals",
        "search_upgrade_words",
    }
    assert "facets" not in columns and "rid" in columns  # the old table is gone
    assert sorted(backend.ids()) == ["agreement:1", "agreement:2", "agreement:4", "organization:3"]

    public = backend.search(SearchQuery(text="water"))
    assert [h.id for h in public.hits] == ["agreement:1", "organization:3"]  # kind boost
    assert public.total == 2
    assert public.facets["countries"] == {"KE": 1}
    assert public.hits[0].labels == ["agreement_type:mou"]
    staff = backend.search(SearchQuery(text="water", principals={"public", "staff"}))
    assert staff.total == 3
    assert staff.facets["countries"] == {"KE": 1, "TZ": 1}
    filtered = backend.search(
        SearchQuery(text="water", filters={"countries": ["TZ"]}, principals={"staff"})
    )
    assert [h.id for h in filtered.hits] == ["agreement:2"]
    # Typos are corrected from the upgraded vocabulary; the row written before labels is
    # still reported as outdated until `search rebuild`.
    assert [h.id for h in backend.search(SearchQuery(text="kiosk programe")).hits][0] == (
        "agreement:1"
    )
    assert backend.outdated_count() == 1

    # Writes after the upgrade use the new tables.
    backend.upsert([make_doc("agreement:5", "Water points", countries=["KE"])])
    backend.delete(["agreement:1"])
    after = backend.search(SearchQuery(text="water"))
    assert [h.id for h in after.hits] == ["agreement:5", "organization:3"]
    assert after.facets["countries"] == {"KE": 1}
    backend.clear()


def test_search_check_agrees_after_the_portal_index_is_upgraded(app, factories, runner):
    backend = get_backend(app)
    backend.ensure_ready()
    backend.clear()
    org = factories.make_org("Upgraded Water Trust")
    agreement = factories.make_agreement("Upgraded water kiosks", parties=[org])
    db.session.commit()
    ids = sorted(backend.ids())
    assert ids == sorted([f"organization:{org.id}", f"agreement:{agreement.id}"])
    # The same documents, written as the old layout held them.
    docs = {hit.id: hit for hit in backend.search(SearchQuery(text="upgraded")).hits}
    write_old_layout(
        db.engine,
        backend.table,
        [old_row(doc_id, docs[doc_id].title, "Body.", facets=["kind:x"]) for doc_id in ids],
    )
    backend._ready = False  # a new process after the deploy
    check = runner.invoke(args=["search", "check"])
    assert check.exit_code == 0, check.output
    assert "Index and database agree" in check.output
    assert sorted(h.id for h in backend.search(SearchQuery(text="upgraded")).hits) == ids


def test_facet_counts_and_filters_hold_beyond_the_one_byte_codes(app):
    """Facet values are numbered; the first ~190 are one-byte characters in the facts row,
    later ones wider characters — counts and filters must not care which."""
    backend = PostgresBackend(db.engine, table="search_codes")
    backend.ensure_ready()
    backend.clear()
    docs = [
        make_doc(f"agreement:{n}", f"Harbour works {n}", countries=[f"C{n:03d}"], year=2000 + n % 3)
        for n in range(1, 261)
    ]
    backend.rebuild(docs[:200])  # bulk load: values numbered in Python
    backend.upsert(docs[200:])  # later values numbered by the database
    results = backend.search(SearchQuery(text="harbour", per_page=5))
    assert results.total == 260
    assert len(results.facets["countries"]) == 260
    assert set(results.facets["countries"].values()) == {1}
    assert results.facets["year"] == {"2001": 87, "2002": 87, "2000": 86}
    for wanted in ("C007", "C199", "C250"):
        hits = backend.search(SearchQuery(text="harbour", filters={"countries": [wanted]})).hits
        assert [h.id for h in hits] == [f"agreement:{int(wanted[1:])}"]
    both = backend.search(SearchQuery(text="harbour", filters={"countries": ["C001", "C255"]}))
    assert both.total == 2
    assert both.facets["countries"] == {"C001": 1, "C255": 1}
    backend.clear()


def test_words_indexed_by_another_process_are_found_and_typo_corrected(app):
    """Each process holds the term dictionary in memory; words another process indexed since
    are read on the next search (and a rebuild, with new tables, starts the cache over)."""
    web = PostgresBackend(db.engine, table="search_terms")
    worker = PostgresBackend(db.engine, table="search_terms")
    web.ensure_ready()
    web.clear()
    worker.upsert([make_doc("agreement:1", "Water kiosks")])
    assert [h.id for h in web.search(SearchQuery(text="kiosk")).hits] == ["agreement:1"]
    worker.upsert([make_doc("agreement:2", "Desalination plant")])
    assert [h.id for h in web.search(SearchQuery(text="desal")).hits] == ["agreement:2"]
    typo = web.search(SearchQuery(text="desalinaton"))
    assert [h.id for h in typo.hits] == ["agreement:2"]
    assert typo.did_you_mean == "desalination"
    worker.rebuild([make_doc("agreement:3", "Rainwater harvesting")])
    assert web.search(SearchQuery(text="desal")).hits == []
    assert [h.id for h in web.search(SearchQuery(text="rainw")).hits] == ["agreement:3"]
    web.clear()


def test_search_tables_are_created_with_tight_autovacuum_settings(app):
    backend = PostgresBackend(db.engine, table="search_vacuum")
    backend.ensure_ready()
    backend.rebuild([make_doc("agreement:1", "Water")])  # new tables get them too

    def options(name: str) -> set[str]:
        with db.engine.connect() as conn:
            found = conn.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = :n"), {"n": name}
            ).scalar()
        return set(found or ())

    assert "autovacuum_vacuum_scale_factor=0.02" in options("search_vacuum_facts")
    assert "autovacuum_analyze_scale_factor=0.05" in options("search_vacuum")
    assert "gin_pending_list_limit=1024" in options("ix_search_vacuum_facts_words")
    backend.clear()


def test_rebuild_keeps_every_character_of_the_documents(app):
    """``rebuild`` writes COPY's text format itself: backslashes, tabs, line breaks, quotes
    and braces must arrive as they were."""
    backend = PostgresBackend(db.engine, table="search_copy")
    backend.ensure_ready()
    title = 'Tab\there, back\\slash, "quotes" {braces}'
    body = "Line one\nline two\r\nC:\\path\\N and \\N alone"
    doc = make_doc(
        "agreement:1",
        title,
        body,
        labels=['type:"mou"', "country:a,b", "x\\y"],
        principals=["public", 'org:"1"'],
    )
    backend.rebuild([doc])
    hit = backend.search(SearchQuery(text="slash")).hits[0]
    assert hit.title == title
    assert hit.labels == ['type:"mou"', "country:a,b", "x\\y"]
    assert backend.search(SearchQuery(text="alone", principals={'org:"1"'})).total == 1
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT body FROM search_copy")).scalar_one()
    assert stored == body
    backend.clear()
