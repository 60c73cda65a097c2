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
    client.get(url)  # the first request after a change rebuilds the catalogue index
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
    # The first request after a change rebuilds the catalogue index (a fixed number of
    # statements, whatever the size); steady state is what must not grow.
    client.get("/agreements/")
    many = statements_for(client, "/agreements/")
    assert many == few, f"{few} statements with 1 agreement, {many} with 26"


def test_partner_page_lists_its_agreements_a_page_at_a_time(client, factories):
    """A partner in thousands of agreements (the organisation itself) gets a pager, not a
    3 MB page: the newest first, page 2 continues where page 1 stopped, the count is the
    total the viewer may see."""
    from datetime import date

    org = factories.make_org("Cities Alliance")
    for n in range(30):
        factories.make_agreement(
            parties=[org], title=f"Agreement number {n:02d}", signed_on=date(2020, 1, 1 + n)
        )
    factories.make_agreement(parties=[org], title="Hidden internal one", visibility="internal")
    db.session.commit()
    first = client.get(f"/partners/{org.id}").get_data(as_text=True)
    assert "30 agreements" in first  # the internal one is not counted for the public
    assert "Agreement number 29" in first and "Agreement number 05" in first
    assert "Agreement number 04" not in first  # page size 25: the oldest five are on page 2
    assert "Page 1 of 2" in first
    second = client.get(f"/partners/{org.id}?page=2").get_data(as_text=True)
    assert "Agreement number 04" in second and "Agreement number 00" in second
    assert "Agreement number 29" not in second
    assert "Hidden internal one" not in first + second
    # Past the end: the last page, never an empty list or an error.
    assert "Agreement number 00" in client.get(f"/partners/{org.id}?page=99").get_data(as_text=True)
