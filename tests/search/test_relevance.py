"""The relevance suite on every engine (tests/search/relevance.py): the same corpus and the
same judged queries; MRR and recall@10 printed per engine and language, thresholds asserted.

Run with ``-s`` to see the tables (they are also printed on failure).
"""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.search.registry import database_backend
from tests.search.engines import es_backend, meili_backend  # noqa: F401 — pytest fixtures
from tests.search.relevance import JUDGMENTS, LANGUAGES, by_language_and_kind, corpus, evaluate

MIN_MRR, MIN_RECALL, MIN_LANGUAGE_MRR = 0.85, 0.95, 0.8


def test_the_suite_covers_every_language_and_kind_of_query():
    assert len(JUDGMENTS) >= 120
    counts = by_language_and_kind()
    assert set(counts) == set(LANGUAGES)
    for lang in LANGUAGES:
        assert sum(counts[lang].values()) >= 15, lang
    kinds = {kind for per_lang in counts.values() for kind in per_lang}
    for wanted in ("name", "typo", "prefix", "arabic form", "multi-word", "code", "phrase"):
        assert wanted in kinds
    assert {"chinese 1", "chinese 2", "chinese 3"} <= kinds
    # Every judged document exists in the corpus.
    ids = {doc.id for doc in corpus()}
    for judgment in JUDGMENTS:
        assert judgment.relevant <= ids, judgment.query


def check(report) -> None:
    print()
    print(report.table())
    problems = []
    if report.mrr() < MIN_MRR:
        problems.append(f"MRR {report.mrr():.3f} < {MIN_MRR}")
    if report.recall() < MIN_RECALL:
        problems.append(f"recall@10 {report.recall():.3f} < {MIN_RECALL}")
    for lang in LANGUAGES:
        if report.mrr(lang) < MIN_LANGUAGE_MRR:
            problems.append(f"MRR[{lang}] {report.mrr(lang):.3f} < {MIN_LANGUAGE_MRR}")
    # Internal drafts in the corpus must never reach a public viewer, however well they rank.
    leaked = {d for r in report.results for d in r.found if d.startswith("agreement:9")}
    if leaked:
        problems.append(f"internal documents shown to the public: {sorted(leaked)}")
    assert not problems, "\n".join([*problems, report.table()])


def test_relevance_on_the_database_engine(app):
    backend = database_backend(db.engine, table="search_relevance")
    backend.ensure_ready()
    backend.rebuild(corpus())
    try:
        check(evaluate(backend, f"database ({backend.name})"))
    finally:
        backend.clear()


@pytest.mark.usefixtures("es_backend")
class TestRelevanceOnElasticsearch:
    def test_relevance(self, es_backend):  # noqa: F811
        es_backend.rebuild(corpus())
        check(evaluate(es_backend))


@pytest.mark.usefixtures("meili_backend")
class TestRelevanceOnMeilisearch:
    def test_relevance(self, meili_backend):  # noqa: F811
        meili_backend.rebuild(corpus())
        check(evaluate(meili_backend))
