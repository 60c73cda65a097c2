"""The general worker (`flask worker`) does, in one round, what no request waits for."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.notifications.services import queue_mail
from portal.search.base import SearchQuery
from portal.search.models import SearchOutbox
from portal.search.registry import get_backend

pytest_plugins = ["tests.smtp"]


def test_one_round_applies_search_updates_and_sends_mail(
    app, runner, factories, smtp_server, monkeypatch
):
    backend = get_backend(app)
    backend.ensure_ready()
    backend.clear()
    # As if the commit-time apply had not run (engine away, process killed): the worker catches up.
    monkeypatch.setitem(app.config, "SEARCH_APPLY_ON_COMMIT", False)
    monkeypatch.setitem(app.config, "MAIL_SEND_AFTER_REQUEST", False)
    agreement = factories.make_agreement("Waiting for the general worker")
    queue_mail("focal.point@example.org", "Meeting reminder", "See you on Tuesday.")
    db.session.commit()
    assert backend.search(SearchQuery(text="general worker")).hits == []

    result = runner.invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    hits = backend.search(SearchQuery(text="general worker")).hits
    assert [h.id for h in hits] == [f"agreement:{agreement.id}"]
    assert db.session.scalars(select(SearchOutbox)).all() == []
    [mail] = smtp_server.wait_for(1)
    assert str(mail["To"]) == "focal.point@example.org"
    assert "mail: Sent 1, failed 0." in result.output
    backend.clear()
