"""The outbox keeps the index in step with the database: applied after commit, nothing on
rollback, retried by `flask search sync` when the engine fails; `check` and `rebuild` work."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.agreements.models import AgreementParty
from portal.extensions import db
from portal.search.base import SearchQuery
from portal.search.models import SearchOutbox
from portal.search.registry import get_backend


@pytest.fixture(autouse=True)
def index(app):
    backend = get_backend(app)
    backend.ensure_ready()
    backend.clear()
    yield backend
    backend.clear()


def found(backend, text, principals=("public",)) -> list[str]:
    return [h.id for h in backend.search(SearchQuery(text=text, principals=set(principals))).hits]


def outbox_rows() -> list[SearchOutbox]:
    return list(db.session.scalars(select(SearchOutbox).order_by(SearchOutbox.id)))


def test_created_agreement_and_organisation_are_findable_after_commit(index, factories):
    org = factories.make_org("Habitat for Humanity Kenya")
    agreement = factories.make_agreement("Resilient housing in Kisumu", parties=[org])
    db.session.commit()
    assert found(index, "Kisumu") == [f"agreement:{agreement.id}"]
    # Party names are part of the agreement's text; the organisation has its own document.
    assert set(found(index, "Habitat Humanity")) == {
        f"agreement:{agreement.id}",
        f"organization:{org.id}",
    }
    assert outbox_rows() == []


def test_editing_an_agreement_updates_its_document(index, factories):
    agreement = factories.make_agreement("Resilient housing in Kisumu")
    db.session.commit()
    agreement.title = "Flood protection in Mombasa"
    agreement.status = "closed"
    db.session.commit()
    assert found(index, "Kisumu") == []
    results = index.search(SearchQuery(text="Mombasa"))
    assert [h.id for h in results.hits] == [f"agreement:{agreement.id}"]
    assert results.facets["status"] == {"closed": 1}


def test_renaming_an_organisation_updates_its_agreements(index, factories):
    org = factories.make_org("Old Name Collective")
    agreement = factories.make_agreement("Street lighting", parties=[org])
    db.session.commit()
    org.name = "Brightway Foundation"
    db.session.commit()
    assert f"agreement:{agreement.id}" in found(index, "Brightway")
    assert found(index, "Collective") == []


def test_party_changes_update_who_may_see_an_agreement(index, factories):
    mine = factories.make_org("Mine Org")
    agreement = factories.make_agreement("Confidential pilot", visibility="partners")
    db.session.commit()
    principals = ("public", f"org:{mine.id}")
    assert found(index, "pilot", principals) == []
    agreement.parties.append(AgreementParty(organization=mine, role="implementing"))
    db.session.commit()
    assert found(index, "pilot", principals) == [f"agreement:{agreement.id}"]
    assert found(index, "pilot") == []  # still not public


def test_region_changes_update_the_facets(index, factories):
    from portal.partners.models import Region

    agreement = factories.make_agreement("Regional programme", regions=("014",), countries=())
    db.session.commit()
    agreement.regions = [db.session.get(Region, "419")]
    db.session.commit()
    results = index.search(SearchQuery(text="Regional programme", filters={"regions": ["019"]}))
    assert [h.id for h in results.hits] == [f"agreement:{agreement.id}"]
    assert (
        index.search(SearchQuery(text="Regional programme", filters={"regions": ["002"]})).total
        == 0
    )


def test_deleting_removes_the_document(index, factories):
    agreement = factories.make_agreement("Short-lived agreement")
    db.session.commit()
    db.session.delete(agreement)
    db.session.commit()
    assert found(index, "Short-lived") == []
    assert outbox_rows() == []


def test_rollback_leaves_nothing_in_the_index_or_the_outbox(index, factories):
    factories.make_agreement("Never committed agreement")
    # The outbox row exists inside the transaction, next to the change…
    assert db.session.scalar(select(func.count(SearchOutbox.id))) == 1
    db.session.rollback()
    # …and disappears with it.
    assert outbox_rows() == []
    assert found(index, "Never committed") == []
    assert list(index.ids()) == []


def test_engine_failure_never_fails_the_save_and_sync_catches_up(
    index, factories, runner, monkeypatch
):
    def broken(docs):
        raise ConnectionError("engine is down")

    monkeypatch.setattr(index, "upsert", broken)
    agreement = factories.make_agreement("Saved during an outage")
    db.session.commit()  # does not raise
    rows = outbox_rows()
    assert [r.doc_id for r in rows] == [f"agreement:{agreement.id}"]
    assert rows[0].attempts == 1
    assert "engine is down" in rows[0].last_error
    assert rows[0].next_attempt_at is not None
    assert found(index, "outage") == []

    failing = runner.invoke(args=["search", "sync", "--retries", "0"])
    assert failing.exit_code == 1
    assert "1 outbox row(s) left" in failing.output

    monkeypatch.undo()
    result = runner.invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output
    assert "0 outbox row(s) left" in result.output
    db.session.expire_all()
    assert outbox_rows() == []
    assert found(index, "outage") == [f"agreement:{agreement.id}"]


def test_changes_wait_in_the_outbox_when_applying_on_commit_is_off(
    app, index, factories, runner, monkeypatch
):
    monkeypatch.setitem(app.config, "SEARCH_APPLY_ON_COMMIT", False)
    agreement = factories.make_agreement("Queued for the worker")
    db.session.commit()
    assert found(index, "Queued") == []
    assert runner.invoke(args=["search", "worker", "--once"]).exit_code == 0
    assert found(index, "Queued") == [f"agreement:{agreement.id}"]
    assert outbox_rows() == []


def test_check_reports_differences_and_exit_codes(index, factories, runner):
    agreement = factories.make_agreement("Checked agreement")
    db.session.commit()
    ok = runner.invoke(args=["search", "check"])
    assert ok.exit_code == 0, ok.output
    assert "Index and database agree" in ok.output

    index.delete([f"agreement:{agreement.id}"])
    from tests.search.contract import make_doc

    index.upsert([make_doc("agreement:999999", "Ghost")])
    bad = runner.invoke(args=["search", "check"])
    assert bad.exit_code == 1
    assert f"missing: agreement:{agreement.id}" in bad.output
    assert "extra: agreement:999999" in bad.output


def test_rebuild_builds_the_index_from_the_database(index, factories, runner):
    org = factories.make_org("Rebuilt Org")
    factories.make_agreement("Rebuilt agreement", parties=[org])
    db.session.commit()
    index.clear()
    assert runner.invoke(args=["search", "check"]).exit_code == 1
    result = runner.invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "indexed 2 documents" in result.output
    assert "docs/s" in result.output
    assert runner.invoke(args=["search", "check"]).exit_code == 0
    assert len(found(index, "Rebuilt")) == 2


def test_status_shows_backend_and_backlog(index, factories, runner, app, monkeypatch):
    monkeypatch.setitem(app.config, "SEARCH_APPLY_ON_COMMIT", False)
    factories.make_agreement("Pending one")
    db.session.commit()
    result = runner.invoke(args=["search", "status"])
    assert result.exit_code == 0, result.output
    assert index.name in result.output
    assert "outbox: 1 pending" in result.output


def test_rebuild_loads_documents_without_a_query_per_row(index, factories):
    """Rebuild speed (≥ 2,000 docs/s) depends on batch loading: the number of SQL statements
    must not grow with the number of rows (no N+1)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from portal.search.documents import all_docs

    orgs = [factories.make_org(f"Speed Org {n}") for n in range(20)]
    for n in range(300):
        factories.make_agreement(
            f"Speed agreement {n}", parties=[orgs[n % 20], (orgs[(n + 1) % 20], "funding")]
        )
    db.session.commit()
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        with Session(db.engine) as session:
            docs = list(all_docs(session, batch_size=100))
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(docs) == 320
    assert all(len(d.body) > 0 for d in docs)
    party_names = next(d for d in docs if d.title == "Speed agreement 5").body
    assert "Speed Org 5" in party_names and "Speed Org 6" in party_names
    # 2 id lists + per batch (4 agreement batches, 1 org batch) a fixed handful of queries.
    assert 5 <= len(statements) < 40, len(statements)
