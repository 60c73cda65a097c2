"""Engine outages: fail fast, never fail a save, fall back to the database, catch up later.

The "down" engine is a closed port on loopback (nothing listens on 127.0.0.1:9), so the shared
test servers keep running for everyone else. The "back up" engine is the real server from
tests/search/engines.py.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from portal.accounts.models import Role
from portal.agreements.forms import PARTY_ROWS
from portal.agreements.models import Agreement
from portal.extensions import db
from portal.search.backends.elasticsearch import ElasticsearchBackend
from portal.search.backends.meilisearch import MeilisearchBackend
from portal.search.base import SearchQuery, SearchUnavailable
from portal.search.models import SearchOutbox
from portal.search.registry import database_backend_for, get_backend
from tests.conftest import login
from tests.search.contract import make_doc
from tests.search.engines import (
    ES_URL,
    MEILI_KEY,
    MEILI_URL,
    drop_elasticsearch_indexes,
    drop_meilisearch_indexes,
    require_elasticsearch,
    require_meilisearch,
    unique_prefix,
)

DEAD = "http://127.0.0.1:9"


def dead_backends():
    return [
        ElasticsearchBackend(url=DEAD, index_prefix="portal_test_dead"),
        MeilisearchBackend(url=DEAD, api_key=MEILI_KEY, index_prefix="portal_test_dead"),
    ]


@pytest.mark.parametrize("backend", dead_backends(), ids=["elasticsearch", "meilisearch"])
@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.search(SearchQuery(text="water")),
        lambda b: b.upsert([make_doc("agreement:1", "Saved while the engine is down")]),
        lambda b: b.delete(["agreement:1"]),
        lambda b: b.ensure_ready(),
        lambda b: list(b.ids()),
    ],
    ids=["search", "upsert", "delete", "ensure_ready", "ids"],
)
def test_dead_engine_raises_search_unavailable(backend, call):
    # No wall-clock assertion (the machine is shared and noisy): the promise is that a dead
    # engine is a SearchUnavailable the caller can handle, never a hang or another error.
    with pytest.raises(SearchUnavailable):
        call(backend)


# --- end to end through the app --------------------------------------------------------------


ENGINES = {
    "elasticsearch": (require_elasticsearch, f"elasticsearch+{ES_URL}", drop_elasticsearch_indexes),
    "meilisearch": (
        require_meilisearch,
        f"meilisearch+{MEILI_URL}?key={MEILI_KEY}",
        drop_meilisearch_indexes,
    ),
}


def agreement_form(party, **overrides) -> dict:
    data = {
        "reference": "UNH/2026/ZM/007",
        "title": "Cholera preparedness in Lusaka",
        "summary": "Water points and drainage in informal settlements.",
        "agreement_type": "project-cooperation-agreement",
        "status": "active",
        "visibility": "public",
        "signed_on": "2026-01-15",
        "start_on": "",
        "end_on": "",
        "amount": "",
        "currency": "",
        "domain_of_change": "1",
        "sdg_targets": "6.1",
        "countries": ["ZM"],
        "regions": ["202"],
    }
    for i in range(PARTY_ROWS):  # one party, then empty rows as the browser submits them
        data[f"parties-{i}-organization_id"] = str(party.id) if i == 0 else ""
        data[f"parties-{i}-role"] = "implementing" if i == 0 else ""
    data.update(overrides)
    return data


def page_text(resp) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True)))


def form_errors(resp) -> str:
    """The errors a rejected form shows, to explain a failed save in the assertion message."""
    found = re.findall(r'<ul class="errors"[^>]*>(.*?)</ul>', resp.get_data(as_text=True), re.S)
    return " | ".join(html.unescape(re.sub(r"<[^>]+>", " ", e)).strip() for e in found)


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_outage_saves_fall_back_then_sync_catches_up(
    app, client, factories, runner, monkeypatch, engine
):
    require, live_url, drop = ENGINES[engine]
    require()
    scheme = live_url.split("+", 1)[0]
    prefix = unique_prefix()
    monkeypatch.setitem(app.config, "SEARCH_INDEX_PREFIX", prefix)
    monkeypatch.setitem(app.config, "SEARCH_URL", f"{scheme}+{DEAD}")
    database_backend_for(app).clear()  # the fallback index holds only this test's documents

    staff = factories.make_user(Role.STAFF, name="Olive Outage")
    party = factories.make_org("Lusaka City Council", country="ZM", regions=("202",))
    db.session.commit()
    assert login(client, staff.email).status_code == 302

    # 1. Engine down: staff create and then edit an agreement without any error.
    resp = client.post("/agreements/new", data=agreement_form(party))
    assert resp.status_code == 302, form_errors(resp)
    agreement = db.session.scalars(
        select(Agreement).where(Agreement.reference == "UNH/2026/ZM/007")
    ).one()
    resp = client.post(
        f"/agreements/{agreement.id}/edit",
        data=agreement_form(party, title="Cholera preparedness and response in Lusaka"),
    )
    assert resp.status_code == 302, form_errors(resp)
    doc_id = f"agreement:{agreement.id}"
    db.session.expire_all()
    owed = {r.doc_id for r in db.session.scalars(select(SearchOutbox))}
    assert owed == {doc_id, f"organization:{party.id}"}

    # 2. Search still works, from the database, and says so.
    page = page_text(client.get("/search/?q=Cholera"))
    assert "Search engine unavailable" in page
    assert "Cholera preparedness and response in Lusaka" in page
    data = client.get("/api/v1/search?q=Cholera").get_json()
    assert data["fallback"] is True
    assert [h["id"] for h in data["hits"]] == [doc_id]

    # 3. Engine back: sync applies the backlog, check finds no difference.
    monkeypatch.setitem(app.config, "SEARCH_URL", live_url)
    live = get_backend(app)
    try:
        result = runner.invoke(args=["search", "sync"])
        assert result.exit_code == 0, result.output
        assert "0 outbox row(s) left" in result.output
        check = runner.invoke(args=["search", "check"])
        assert check.exit_code == 0, check.output
        assert "0 missing, 0 extra" in check.output
        hits = live.search(SearchQuery(text="response Lusaka")).hits
        # The agreement has both words; the partner, with only "Lusaka", may follow.
        assert hits[0].id == doc_id
        assert {h.id for h in hits} <= {doc_id, f"organization:{party.id}"}
        assert hits[0].title == "Cholera preparedness and response in Lusaka"
        data = client.get("/api/v1/search?q=Cholera").get_json()
        assert data["fallback"] is False
        assert [h["id"] for h in data["hits"]] == [doc_id]
    finally:
        drop(live)
