"""A staff save never waits on an external search engine (issue 17 item 3): the database index
is written in the request (the author finds what they saved, and the fallback is current), the
engine after the response has been handed over — or by the worker."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from portal.accounts.models import Role
from portal.agreements.models import Agreement
from portal.extensions import db
from portal.search.base import SearchQuery
from portal.search.models import SearchOutbox
from portal.search.registry import database_backend_for
from tests.conftest import login
from tests.search.test_engine_outage import agreement_form, form_errors


class SlowEngine:
    """Stands for Elasticsearch/Meilisearch: records what it was sent, and by which thread."""

    name = "slow-engine"
    capabilities: frozenset[str] = frozenset()

    def __init__(self):
        self.upserted: list[str] = []
        self.threads: set[str] = set()

    def upsert(self, docs):
        self.threads.add(threading.current_thread().name)
        self.upserted += [d.id for d in docs]

    def delete(self, ids):
        pass


@pytest.fixture
def engine(app, monkeypatch):
    fake = SlowEngine()
    database = database_backend_for(app)
    database.ensure_ready()
    database.clear()
    monkeypatch.setattr(
        "portal.search.registry.index_targets", lambda app=None: [fake, database_backend_for(app)]
    )
    yield fake
    database.clear()


def _outbox() -> list[str]:
    db.session.expire_all()
    return [r.doc_id for r in db.session.scalars(select(SearchOutbox))]


def test_the_engine_is_written_after_the_response_the_database_index_at_once(
    app, client, factories, engine
):
    staff = factories.make_user(Role.STAFF)
    party = factories.make_org("Kabwe Municipal Council", country="ZM", regions=("202",))
    db.session.commit()
    # The party's own change is applied outside a request: everything at once.
    assert engine.upserted == [f"organization:{party.id}"]
    engine.upserted.clear()
    assert login(client, staff.email).status_code == 302

    resp = client.post("/agreements/new", data=agreement_form(party, title="Kabwe water kiosks"))
    assert resp.status_code == 302, form_errors(resp)
    agreement = db.session.scalars(select(Agreement)).one()
    doc_id = f"agreement:{agreement.id}"

    # The response is out; the engine has not been asked anything yet…
    assert engine.upserted == []
    assert doc_id in _outbox()
    # …but the author already finds the agreement (the database index, written in the request).
    hits = database_backend_for(app).search(SearchQuery(text="water kiosks")).hits
    assert [h.id for h in hits] == [doc_id]

    resp.close()  # the server hands the response over: now the engine is written
    assert doc_id in engine.upserted
    assert _outbox() == []


def test_in_request_mode_writes_the_engine_before_answering(
    app, client, factories, engine, monkeypatch
):
    """The previous behaviour, kept for the benchmark (scripts/bench_save.py)."""
    monkeypatch.setitem(app.config, "SEARCH_ENGINE_WRITES", "in-request")
    staff = factories.make_user(Role.STAFF)
    party = factories.make_org("Ndola City Council", country="ZM", regions=("202",))
    db.session.commit()
    engine.upserted.clear()
    assert login(client, staff.email).status_code == 302
    resp = client.post("/agreements/new", data=agreement_form(party, title="Ndola drainage"))
    assert resp.status_code == 302, form_errors(resp)
    agreement = db.session.scalars(select(Agreement)).one()
    assert f"agreement:{agreement.id}" in engine.upserted
    assert _outbox() == []


def test_an_engine_failure_after_the_response_leaves_the_rows_for_the_worker(
    app, client, factories, engine, monkeypatch, runner
):
    staff = factories.make_user(Role.STAFF)
    party = factories.make_org("Kitwe City Council", country="ZM", regions=("202",))
    db.session.commit()
    assert login(client, staff.email).status_code == 302

    def down(docs):
        raise ConnectionError("engine is down")

    monkeypatch.setattr(engine, "upsert", down)
    resp = client.post("/agreements/new", data=agreement_form(party, title="Kitwe markets"))
    assert resp.status_code == 302, form_errors(resp)
    resp.close()  # does not raise: the failure is recorded on the rows
    agreement = db.session.scalars(select(Agreement)).one()
    doc_id = f"agreement:{agreement.id}"
    [row] = [r for r in db.session.scalars(select(SearchOutbox)) if r.doc_id == doc_id]
    assert row.attempts == 1 and "engine is down" in row.last_error

    monkeypatch.undo()
    monkeypatch.setattr(
        "portal.search.registry.index_targets", lambda app=None: [engine, database_backend_for(app)]
    )
    result = runner.invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output
    assert doc_id in engine.upserted
    assert _outbox() == []
