"""The public files under /open-data/ are rebuilt in the background after a catalogue change
(portal/opendata/prebuild.py): one debounced rebuild per burst of saves, built by the worker
at ``BASE_URL`` so the next reader gets the file from the cache, the previous file sent to the
public meanwhile — never to a member or staff, and never with a partners-only row."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from sqlalchemy import event, select, update

from portal.core.models import as_utc, utcnow
from portal.extensions import db
from portal.opendata import prebuild
from portal.opendata.models import OpenDataBuild
from portal.opendata.views import PUBLIC_FILES
from tests import factories
from tests.conftest import login

# A public address with a path prefix: the key a job computes must be a reader's key there.
BASE = "https://data.example.org/portal"


@pytest.fixture
def rebuilds(app, monkeypatch):
    """The background rebuild switched on (it is off in the test configuration), an empty
    cache, and the address readers use."""
    monkeypatch.setitem(app.config, "OPEN_DATA_PREBUILD", True)
    monkeypatch.setitem(app.config, "OPEN_DATA_PREBUILD_DELAY", 60.0)
    monkeypatch.setitem(app.config, "BASE_URL", BASE)
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)
    root = Path(app.config["OPEN_DATA_CACHE_DIR"])
    for path in root.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    prebuild._checked_day.clear()
    yield
    prebuild._checked_day.clear()


@pytest.fixture
def statements(app):
    seen: list[str] = []

    def listen(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    yield seen
    event.remove(db.engine, "before_cursor_execute", listen)


def catalogue_reads(seen: list[str]) -> list[str]:
    return [
        s
        for s in seen
        if ("FROM agreements" in s or "FROM organizations" in s) and "catalogue_state" not in s
    ]


def jobs() -> list[OpenDataBuild]:
    db.session.expire_all()
    return db.session.scalars(select(OpenDataBuild).order_by(OpenDataBuild.id)).all()


def make_due() -> None:
    """As if the debounce delay had passed."""
    db.session.execute(update(OpenDataBuild).values(next_attempt_at=utcnow()))
    db.session.commit()


def run_worker(runner) -> str:
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def get(client, path: str, **kw):
    return client.get(path, base_url=BASE, **kw)


def titles(resp) -> set[str]:
    text = resp.get_data(as_text=True).lstrip("\ufeff")
    return {row["title"] for row in csv.DictReader(io.StringIO(text))}


def test_ten_saves_in_a_minute_queue_one_rebuild(rebuilds):
    agreement = factories.make_agreement("Edited often")
    db.session.commit()
    for n in range(10):
        agreement.title = f"Edited often ({n})"
        db.session.commit()
    [job] = jobs()
    delay = job.next_attempt_at - job.created_at
    assert timedelta(seconds=59) < delay <= timedelta(seconds=61)
    # A change that rolls back asks for nothing.
    db.session.execute(update(OpenDataBuild).values(claimed_until=utcnow() + timedelta(hours=1)))
    db.session.commit()
    factories.make_agreement("Rolled back")
    db.session.flush()
    db.session.rollback()
    assert len(jobs()) == 1
    # While the rebuild runs (claimed), a change asks for the next one.
    agreement.title = "Changed during the rebuild"
    db.session.commit()
    assert len(jobs()) == 2


def test_a_new_document_queues_a_rebuild(rebuilds):
    agreement = factories.make_agreement("With a document later")
    db.session.commit()
    db.session.execute(OpenDataBuild.__table__.delete())
    db.session.commit()
    factories.make_document(agreement, title="Signed memorandum")
    db.session.commit()
    assert len(jobs()) == 1


def test_the_worker_builds_every_file_and_readers_get_them_from_the_cache(
    rebuilds, runner, client, statements
):
    org = factories.make_org("Prebuilt partner")
    factories.make_agreement("Prebuilt agreement", parties=[org])
    db.session.commit()
    assert len(jobs()) == 1
    assert "open data" not in run_worker(runner)  # not due yet: debounced
    make_due()
    output = run_worker(runner)
    assert f"open data: {len(PUBLIC_FILES)} of {len(PUBLIC_FILES)} public files built" in output
    assert jobs() == []
    for name, (path, _produce) in PUBLIC_FILES.items():
        statements.clear()
        resp = get(client, path)
        body = resp.get_data()
        assert resp.status_code == 200, name
        assert "Last-Modified" in resp.headers, name
        assert "X-Open-Data-State" not in resp.headers, name
        assert resp.headers["Cache-Control"] == "public, max-age=300", name
        # Sent from the file the job wrote: not one catalogue row read on the request.
        assert catalogue_reads(statements) == [], name
        if name.endswith((".csv", ".json", ".xml")):
            assert b"Prebuilt" in body, name
    # Built at the public address: its source is the address readers use.
    assert get(client, "/open-data/agreements.json").get_json()["source"] == (
        f"{BASE}/open-data/agreements.json"
    )
    # Asked at another address, the key differs: built on the request, as before.
    statements.clear()
    other = client.get("/open-data/agreements.csv", base_url="https://elsewhere.example.org")
    assert titles(other) == {"Prebuilt agreement"}
    assert catalogue_reads(statements) != []


def test_between_the_change_and_the_rebuild_the_public_get_the_previous_file(
    rebuilds, runner, client, statements
):
    org = factories.make_org("Partner")
    public = factories.make_agreement("Old title", parties=[org])
    db.session.commit()
    make_due()
    run_worker(runner)
    first = get(client, "/open-data/agreements.csv")
    assert titles(first) == {"Old title"}
    built_at = parsedate_to_datetime(first.headers["Last-Modified"])

    public.title = "New title"
    factories.make_agreement("Partners only", parties=[org], visibility="partners")
    db.session.commit()
    assert len(jobs()) == 1  # waiting: due in a minute

    statements.clear()
    stale = get(client, "/open-data/agreements.csv")
    assert stale.status_code == 200
    assert titles(stale) == {"Old title"}  # the previous file, whole
    assert stale.get_data() == first.get_data()
    assert parsedate_to_datetime(stale.headers["Last-Modified"]) == built_at
    assert stale.headers["ETag"] == first.headers["ETag"]
    assert stale.headers["X-Open-Data-State"] == "previous"
    assert stale.headers["Cache-Control"] == "public, no-cache"
    assert catalogue_reads(statements) == []
    # A reader holding that copy is told it has not changed yet.
    again = get(
        client, "/open-data/agreements.csv", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    # Every public file is answered at once the same way.
    for path, _produce in PUBLIC_FILES.values():
        resp = get(client, path)
        assert resp.headers["X-Open-Data-State"] == "previous", path
        assert b"Partners only" not in resp.get_data(), path

    make_due()
    run_worker(runner)
    fresh = get(client, "/open-data/agreements.csv")
    assert titles(fresh) == {"New title"}  # the change; the partners-only agreement never
    assert "X-Open-Data-State" not in fresh.headers
    assert fresh.headers["Cache-Control"] == "public, max-age=300"
    assert fresh.headers["ETag"] != first.headers["ETag"]


def test_without_a_rebuild_in_sight_the_file_is_built_on_the_request(rebuilds, app, client):
    agreement = factories.make_agreement("Before")
    db.session.commit()
    make_due()
    prebuild.run_due_rebuild()
    agreement.title = "After"
    db.session.commit()
    # The rebuild was asked for too long ago (the worker is down): no older file is sent.
    db.session.execute(update(OpenDataBuild).values(created_at=utcnow() - timedelta(seconds=901)))
    db.session.commit()
    resp = get(client, "/open-data/agreements.csv")
    assert titles(resp) == {"After"}
    assert "X-Open-Data-State" not in resp.headers
    # Dead letters do not count either.
    agreement.title = "After again"
    db.session.commit()
    db.session.execute(update(OpenDataBuild).values(dead_at=utcnow()))
    db.session.commit()
    assert titles(get(client, "/open-data/agreements.csv")) == {"After again"}


def test_member_and_staff_downloads_are_never_served_stale(rebuilds, app):
    own = factories.make_org("Own organisation")
    shared = factories.make_agreement("Shared v1", parties=[own], visibility="partners")
    factories.make_agreement("Internal v1", parties=[own], visibility="internal")
    staff = factories.make_user("staff")
    member = factories.make_user("partner", organization=own)
    db.session.commit()
    make_due()
    prebuild.run_due_rebuild()
    clients = {}
    for user in (staff, member):
        clients[user.email] = app.test_client()
        login(clients[user.email], user.email)
        assert "Shared v1" in titles(clients[user.email].get("/agreements/?format=csv"))
    shared.title = "Shared v2"
    db.session.commit()
    assert len(jobs()) == 1  # a rebuild is waiting: the public could be sent the previous file
    for email, client in clients.items():
        resp = client.get("/agreements/?format=csv")
        assert "Shared v2" in titles(resp), email
        assert "Shared v1" not in titles(resp), email
        assert "X-Open-Data-State" not in resp.headers
        assert resp.headers["Cache-Control"] == "private, no-store"
        # /open-data/ is the public file for everyone, signed in or not.
        assert "Shared v" not in client.get("/open-data/agreements.csv").get_data(as_text=True)


def test_cli_prebuild_builds_every_file_then_keeps_them(rebuilds, runner, client, statements):
    factories.make_agreement("Built from the command line")
    db.session.commit()
    result = runner.invoke(args=["opendata", "prebuild"])
    assert result.exit_code == 0, result.output
    for path, _produce in PUBLIC_FILES.values():
        assert f"{BASE}{path}: built in" in result.output
    again = runner.invoke(args=["opendata", "prebuild"])
    assert again.output.count("already current") == len(PUBLIC_FILES)
    statements.clear()
    assert titles(get(client, "/open-data/agreements.csv")) == {"Built from the command line"}
    assert catalogue_reads(statements) == []


def test_an_idle_worker_queues_a_rebuild_when_the_days_files_are_missing(rebuilds, runner):
    factories.make_agreement("Nothing built yet")
    db.session.commit()
    db.session.execute(OpenDataBuild.__table__.delete())
    db.session.commit()
    output = run_worker(runner)
    assert f"rebuild queued: {len(PUBLIC_FILES)} public files missing" in output
    [job] = jobs()
    assert as_utc(job.next_attempt_at) <= utcnow()
    assert "public files built" in run_worker(runner)
    assert jobs() == []
    assert "open data" not in run_worker(runner)  # checked once a day


def test_the_open_data_page_says_when_files_are_rebuilt(app, client, monkeypatch):
    sentence = "rebuilt within minutes of a change to the catalogue"
    assert sentence not in client.get("/open-data/").get_data(as_text=True)  # built on request
    monkeypatch.setitem(app.config, "OPEN_DATA_PREBUILD", True)
    assert sentence in client.get("/open-data/").get_data(as_text=True)
    french = client.get("/open-data/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "régénérés dans les minutes qui suivent une modification du catalogue" in french


@pytest.mark.parametrize("withdraw", ["partners-only", "internal", "archived", "deleted", "org"])
def test_something_leaving_the_public_catalogue_is_never_sent_in_a_previous_file(
    rebuilds, runner, client, withdraw
):
    org = factories.make_org("Withdrawn partner")
    kept = factories.make_agreement("Kept public")
    leaving = factories.make_agreement("Leaving the catalogue", parties=[org])
    db.session.commit()
    make_due()
    run_worker(runner)
    assert titles(get(client, "/open-data/agreements.csv")) == {
        "Kept public",
        "Leaving the catalogue",
    }
    if withdraw == "partners-only":
        leaving.visibility = "partners"
    elif withdraw == "internal":
        leaving.visibility = "internal"
    elif withdraw == "archived":
        leaving.archived_at = utcnow()
    elif withdraw == "deleted":
        db.session.delete(leaving)
    else:
        org.is_public = False
    db.session.commit()
    [job] = jobs()
    assert job.withdraws
    if withdraw == "org":  # the agreement stays; its partner is no longer named
        body = get(client, "/open-data/agreements.csv").get_data(as_text=True)
        assert "Withdrawn partner" not in body and "Undisclosed partner" in body
    else:
        resp = get(client, "/open-data/agreements.csv")
        assert titles(resp) == {"Kept public"}
        assert "X-Open-Data-State" not in resp.headers
    # An ordinary edit afterwards does not make the withdrawn file sendable again.
    kept.title = "Kept public, edited"
    db.session.commit()
    body = get(client, "/open-data/agreements.csv").get_data(as_text=True)
    assert "Kept public, edited" in body
    assert ("Withdrawn partner" if withdraw == "org" else "Leaving the catalogue") not in body


def test_a_rebuild_makes_the_current_file_the_previous_one_even_if_a_request_built_it(
    rebuilds, app, client
):
    import os
    import time

    factories.make_agreement("Current")
    db.session.commit()
    body = get(client, "/open-data/agreements.csv").get_data()  # built by the request
    latest = Path(app.config["OPEN_DATA_CACHE_DIR"]) / "latest.d"
    [mine] = [p for p in latest.iterdir() if p.read_bytes() == body]
    # An older build finishing later (a rebuild of the state before) left its copy, newer.
    older = latest / f"{mine.name.split('-')[0]}-{'0' * 64}.csv"
    older.write_bytes(b"reference,title\r\nX,Withdrawn meanwhile\r\n")
    later = time.time() + 60
    os.utime(older, (later, later))
    prebuild.build_public_files()
    assert not older.exists()
    assert mine.exists()
