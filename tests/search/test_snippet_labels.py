"""Snippet labels (issue 13): the vocabulary words that describe a result — agreement type,
country, stakeholder group — are shown in the reader's language, not appended to the indexed
text in English; an index written before this is reported by ``search check`` and fixed by
``search rebuild``."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from portal.extensions import db
from portal.search.registry import database_backend_for, get_backend


@pytest.fixture(autouse=True)
def index(app):
    backend = get_backend(app)
    backend.ensure_ready()
    backend.clear()
    yield backend
    database_backend_for(app).clear()


@pytest.fixture
def kiosks(factories):
    org = factories.make_org(
        "Ward Water Trust", country="KE", stakeholder_group="civil-society", description="Taps."
    )
    agreement = factories.make_agreement(
        "Water kiosks programme",
        parties=[org],
        agreement_type="mou",
        countries=("KE",),
        summary="Kiosks in every ward of the city.",
    )
    db.session.commit()
    return agreement


def hit_block(page: str, title: str) -> str:
    """The <li> of the result titled ``title``."""
    found = re.search(
        r'<li class="card search-hit">(?:(?!</li>).)*?' + title + r".*?</li>", page, re.S
    )
    assert found, page
    return found.group(0)


def labels_line(block: str) -> str:
    found = re.search(r'<p class="hit-labels">(.*?)</p>', block, re.S)
    assert found, block
    return re.sub(r"<[^>]+>", "", found.group(1))


def test_labels_in_the_readers_language_and_not_in_the_snippet(client, kiosks):
    english = hit_block(client.get("/search/?q=kiosks").get_data(as_text=True), "Water kiosks")
    assert labels_line(english) == "Memorandum of understanding · Kenya"
    snippet = re.search(r'<p class="snippet"[^>]*>(.*?)</p>', english, re.S).group(1)
    assert "Memorandum" not in snippet and "Kenya" not in snippet

    arabic = client.get("/search/?q=kiosks&lang=ar").get_data(as_text=True)
    assert labels_line(hit_block(arabic, "Water kiosks")) == "مذكرة تفاهم · كينيا"
    assert "Memorandum" not in arabic

    chinese = client.get("/search/?q=kiosks&lang=zh").get_data(as_text=True)
    assert labels_line(hit_block(chinese, "Water kiosks")) == "谅解备忘录 · 肯尼亚"


def test_partner_results_show_the_stakeholder_group_and_country(client, kiosks):
    page = client.get("/search/?q=ward+water+trust&lang=fr").get_data(as_text=True)
    line = labels_line(hit_block(page, "Ward Water Trust"))
    assert "Kenya" in line  # French for Kenya is Kenya
    assert "Organisations de la société civile" in line


def test_the_english_words_of_labels_still_find_documents(client, kiosks):
    data = client.get("/api/v1/search?q=memorandum").get_json()
    assert [hit["title"] for hit in data["hits"]] == ["Water kiosks programme"]
    # The API gives the labels in the language asked for.
    data = client.get("/api/v1/search?q=kiosks&lang=es").get_json()
    assert data["hits"][0]["labels"] == ["Memorando de entendimiento", "Kenia"]


def test_check_reports_an_index_of_the_old_layout_and_rebuild_fixes_it(app, runner, kiosks, index):
    assert runner.invoke(args=["search", "check"]).exit_code == 0
    backend = database_backend_for(app)
    table = f"{backend.table}_docs" if db.engine.dialect.name == "sqlite" else backend.table
    with backend.engine.begin() as conn:  # as an index written before labels looked
        conn.execute(text(f"UPDATE {table} SET labels = NULL"))  # noqa: S608
    check = runner.invoke(args=["search", "check"])
    assert check.exit_code == 1
    assert "in the layout before snippet labels" in check.output
    assert "flask search rebuild" in check.output
    assert runner.invoke(args=["search", "rebuild"]).exit_code == 0
    check = runner.invoke(args=["search", "check"])
    assert check.exit_code == 0, check.output
