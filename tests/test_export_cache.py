"""Export files kept per catalogue state (portal/opendata/cache.py): what a reader notices —
the same bytes again without rebuilding, a changed catalogue at once, 304 for a copy they
hold, and never another reader's rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import event

from portal.extensions import db
from tests import factories
from tests.conftest import login


@pytest.fixture
def statements(app):
    seen: list[str] = []

    def listen(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    yield seen
    event.remove(db.engine, "before_cursor_execute", listen)


def agreement_reads(seen: list[str]) -> list[str]:
    return [s for s in seen if "FROM agreements" in s and "catalogue_state" not in s]


def cache_files(app) -> list[Path]:
    root = Path(app.config["OPEN_DATA_CACHE_DIR"])
    return [p for p in root.rglob("*") if p.is_file()]


def csv_titles(resp) -> set[str]:
    text = resp.get_data(as_text=True).lstrip("\ufeff")
    return {row["title"] for row in csv.DictReader(io.StringIO(text))}


PUBLIC_FILES = [
    "/open-data/iati/activities.xml",
    "/open-data/iati/organisations.xml",
    "/open-data/agreements.csv",
    "/open-data/agreements.json",
    "/open-data/agreements.xlsx",
    "/open-data/partners.csv",
]


@pytest.mark.parametrize("path", PUBLIC_FILES)
def test_second_download_is_the_same_file_without_rebuilding(client, statements, path):
    org = factories.make_org("Cached partner")
    factories.make_agreement("Cached agreement", parties=[org])
    db.session.commit()
    first = client.get(path)
    assert first.status_code == 200
    body = first.get_data()  # read to the end, as a server sends it
    statements.clear()
    second = client.get(path)
    assert second.status_code == 200
    assert second.get_data() == body
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Content-Type"] == first.headers["Content-Type"]
    assert second.headers["Content-Disposition"] == first.headers["Content-Disposition"]
    assert second.headers["Cache-Control"] == "public, max-age=300"
    assert "Last-Modified" in second.headers
    # No catalogue row is read again: the file comes from disk.
    assert agreement_reads(statements) == []
    assert not [s for s in statements if "FROM organizations" in s]


def test_conditional_get_answers_304_before_building(client, statements):
    factories.make_agreement("Conditional")
    db.session.commit()
    first = client.get("/open-data/iati/activities.xml")
    first.get_data()
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    statements.clear()
    again = client.get("/open-data/iati/activities.xml", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert agreement_reads(statements) == []
    other = client.get("/open-data/iati/activities.xml", headers={"If-None-Match": 'W/"x"'})
    assert other.status_code == 200


def test_a_change_to_the_catalogue_is_in_the_next_download(client):
    factories.make_agreement("Before the change")
    db.session.commit()
    first = client.get("/open-data/agreements.csv")
    assert csv_titles(first) == {"Before the change"}
    factories.make_agreement("After the change")
    db.session.commit()
    second = client.get("/open-data/agreements.csv")
    assert csv_titles(second) == {"Before the change", "After the change"}
    assert second.headers["ETag"] != first.headers["ETag"]
    # A conditional request with the old copy's tag gets the new file, not 304.
    third = client.get(
        "/open-data/agreements.csv", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert third.status_code == 200
    assert csv_titles(third) == {"Before the change", "After the change"}


def test_a_new_document_is_in_the_next_iati_file(client, app):
    agreement = factories.make_agreement("With documents")
    db.session.commit()
    before = client.get("/open-data/iati/activities.xml").get_data()
    assert b"<document-link" not in before
    factories.make_document(agreement, title="Signed memorandum")
    db.session.commit()
    after = client.get("/open-data/iati/activities.xml").get_data()
    assert b"Signed memorandum" in after


def test_publisher_settings_are_part_of_the_file(client, app):
    factories.make_agreement("Settings")
    db.session.commit()
    assert b"XM-DAC-41120" in client.get("/open-data/iati/activities.xml").get_data()
    app.config["IATI_PUBLISHER_REF"] = "XM-EXAMPLE-1"
    try:
        body = client.get("/open-data/iati/activities.xml").get_data()
    finally:
        app.config["IATI_PUBLISHER_REF"] = "XM-DAC-41120"
    assert b"XM-EXAMPLE-1" in body and b"XM-DAC-41120" not in body


def test_list_downloads_never_serve_one_readers_rows_to_another(app):
    own = factories.make_org("Own organisation", is_public=False)
    other = factories.make_org("Other organisation")
    factories.make_agreement("Public one", parties=[other])
    factories.make_agreement("Shared with own", parties=[own], visibility="partners")
    factories.make_agreement("Shared with other", parties=[other], visibility="partners")
    factories.make_agreement("Internal one", parties=[other], visibility="internal")
    staff = factories.make_user("staff")
    member = factories.make_user("partner", organization=own)
    outsider = factories.make_user("partner", organization=other)
    db.session.commit()
    path = "/agreements/?format=csv"
    expected = {
        staff.email: {"Public one", "Shared with own", "Shared with other", "Internal one"},
        member.email: {"Public one", "Shared with own"},
        outsider.email: {"Public one", "Shared with other"},
        None: {"Public one"},
    }
    # Twice round, so every reader's second download may come from the cache.
    for _round in range(2):
        for email, titles in expected.items():
            client = app.test_client()
            if email:
                login(client, email)
            resp = client.get(path)
            assert resp.status_code == 200
            assert csv_titles(resp) == titles, email
            private = "private, no-store" if email else "public, max-age=300"
            assert resp.headers["Cache-Control"] == private
    # The member's own non-public organisation is named to the member only.
    member_client = app.test_client()
    login(member_client, member.email)
    anonymous = app.test_client()
    for _round in range(2):
        mine = member_client.get("/agreements/?format=json").get_json()["data"]
        theirs = anonymous.get("/agreements/?format=json").get_json()["data"]
        assert {p["name"] for a in mine for p in a["parties"]} == {
            "Own organisation",
            "Other organisation",
        }
        assert "Own organisation" not in {p["name"] for a in theirs for p in a["parties"]}


def test_filters_are_part_of_the_list_download(client):
    factories.make_agreement("Signed", status="signed")
    factories.make_agreement("Closed", status="closed")
    db.session.commit()
    for _round in range(2):
        assert csv_titles(client.get("/agreements/?format=csv&status=signed")) == {"Signed"}
        assert csv_titles(client.get("/agreements/?format=csv&status=closed")) == {"Closed"}


def test_a_download_stopped_halfway_leaves_no_file(app, client):
    for n in range(5):
        factories.make_agreement(f"Halfway {n}")
    db.session.commit()
    app.config["OPEN_DATA_BATCH_SIZE"] = 2
    before = set(cache_files(app))
    try:
        resp = client.get("/open-data/iati/activities.xml", buffered=False)
        chunks = iter(resp.response)
        next(chunks)
        next(chunks)
        resp.close()  # the reader went away
        assert set(cache_files(app)) - before == set()  # neither a file nor a part of one
        whole = client.get("/open-data/iati/activities.xml").get_data()
    finally:
        app.config["OPEN_DATA_BATCH_SIZE"] = 500
    assert whole.count(b"<iati-activity ") == 5
    assert whole.rstrip().endswith(b"</iati-activities>")
    assert client.get("/open-data/iati/activities.xml").get_data() == whole


def test_older_catalogue_states_are_removed(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "http://localhost")  # the test client's address
    factories.make_agreement("First state")
    db.session.commit()
    client.get("/open-data/agreements.csv").get_data()
    first_dirs = {p.parent for p in cache_files(app)}
    factories.make_agreement("Second state")
    db.session.commit()
    current = client.get("/open-data/agreements.csv").get_data()
    files = cache_files(app)
    dirs = {p.parent for p in files if p.parent.name != "latest.d"}
    assert len(dirs) == 1 and dirs.isdisjoint(first_dirs)
    # The public file's newest copy is kept apart (sent while a rebuild runs), the older gone.
    latest = [p.read_bytes() for p in files if p.parent.name == "latest.d"]
    assert [body for body in latest if b"First state" in body] == [current]


def test_cached_file_answers_a_range_request(client):
    factories.make_agreement("Ranged")
    db.session.commit()
    whole = client.get("/open-data/agreements.json").get_data()
    part = client.get("/open-data/agreements.json", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206
    assert part.get_data() == whole[:10]
