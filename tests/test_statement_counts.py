"""Pages cost a bounded number of SQL statements, whatever the amount of data (no N+1).

Counts the statements one request runs with a small and a larger catalogue; the numbers must
be equal. ``/partners/<id>`` once ran one `countries` query per agreement (723 statements)."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from portal.extensions import db


@contextmanager
def counting():
    statements: list[str] = []

    def _count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def statements_for(client, url: str) -> int:
    db.session.expire_all()  # requests share the test's session: start from an empty map
    with counting() as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_partner_page_statements_do_not_grow_with_its_agreements(client, factories):
    org = factories.make_org("Habitat Alliance Kenya")
    factories.make_agreement(parties=[org], countries=("KE",))
    db.session.commit()
    url = f"/partners/{org.id}"
    client.get(url)  # warm-up: reference data, sessions
    few = statements_for(client, url)
    for n in range(25):
        factories.make_agreement(parties=[org], countries=("KE", "TZ") if n % 2 else ("UG",))
    db.session.commit()
    many = statements_for(client, url)
    assert many == few, f"{few} statements with 1 agreement, {many} with 26"


def test_agreement_list_statements_do_not_grow_with_the_catalogue(client, factories):
    org = factories.make_org()
    factories.make_agreement(parties=[org])
    db.session.commit()
    client.get("/agreements/")
    few = statements_for(client, "/agreements/")
    for _ in range(25):
        factories.make_agreement(parties=[factories.make_org()], countries=("KE", "TZ"))
    db.session.commit()
    many = statements_for(client, "/agreements/")
    assert many == few, f"{few} statements with 1 agreement, {many} with 26"
