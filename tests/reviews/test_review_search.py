"""Draft paragraphs and comments in search (database backend): an invited reviewer finds the
paragraphs of the document under review, an outsider does not; only staff find comments; a
draft version is not searchable until it is published."""

from __future__ import annotations

import pytest

from portal.accounts.models import Role
from portal.core.principals import viewer_principals
from portal.extensions import db
from portal.search.documents import all_doc_ids
from portal.search.registry import database_backend_for, get_backend
from tests.conftest import login


@pytest.fixture(autouse=True)
def clean_index(app):
    backend = get_backend(app)
    backend.ensure_ready()
    backend.clear()
    yield
    database_backend_for(app).clear()


@pytest.fixture
def people(factories):
    org = factories.make_org("Habitat Partners Network")
    return {
        "staff": factories.make_user(Role.STAFF, email="staff@example.org"),
        "reviewer": factories.make_user(
            Role.PARTNER, organization=org, email="reviewer@example.org"
        ),
        "outsider": factories.make_user(Role.PARTNER, email="outsider@example.org"),
    }


def _search(client, email, q) -> list[str]:
    client.post("/account/logout")
    if email:
        login(client, email)
    resp = client.get("/api/v1/search", query_string={"q": q})
    assert resp.status_code == 200
    return [hit["id"] for hit in resp.get_json()["hits"]]


@pytest.fixture
def reviewed(factories, people):
    version = factories.make_review_version(
        [
            "Participatory slum upgrading programmes reach informal settlements.",
            "伙伴关系是实施新城市议程的关键。",
        ]
    )
    review_round = factories.make_review_round(version, invited=[people["reviewer"]])
    comment = factories.make_review_comment(
        review_round,
        people["reviewer"],
        version.paragraphs[0],
        body="Mention cooperatives explicitly.",
    )
    db.session.commit()
    return {"version": version, "round": review_round, "comment": comment}


def test_invited_reviewer_finds_paragraphs_outsider_does_not(client, people, reviewed):
    paragraph_id = f"paragraph:{reviewed['version'].paragraphs[0].id}"
    assert _search(client, "reviewer@example.org", "slum upgrading") == [paragraph_id]
    assert _search(client, "outsider@example.org", "slum upgrading") == []
    assert _search(client, None, "slum upgrading") == []
    assert _search(client, "staff@example.org", "slum upgrading") == [paragraph_id]
    # Two Chinese characters find a longer word (the database backend's short-query path).
    zh = f"paragraph:{reviewed['version'].paragraphs[1].id}"
    assert _search(client, "reviewer@example.org", "伙伴") == [zh]


def test_only_staff_find_comments(client, people, reviewed):
    comment_id = f"comment:{reviewed['comment'].id}"
    assert _search(client, "staff@example.org", "cooperatives") == [comment_id]
    assert _search(client, "reviewer@example.org", "cooperatives") == []  # even its author
    assert _search(client, "outsider@example.org", "cooperatives") == []


def test_draft_version_is_searchable_only_once_published(client, factories, people):
    from portal.reviews.services import publish_version

    version = factories.make_review_version(
        ["Resilient waterfront neighbourhoods."], published=False
    )
    db.session.commit()
    assert _search(client, "staff@example.org", "waterfront") == []
    publish_version(version, people["staff"])
    db.session.commit()
    assert _search(client, "staff@example.org", "waterfront") == [
        f"paragraph:{version.paragraphs[0].id}"
    ]


def test_a_new_round_opens_the_paragraphs_to_its_reviewers(client, factories, people, reviewed):
    newcomer = factories.make_user(Role.PARTNER, email="newcomer@example.org")
    db.session.commit()
    assert _search(client, "newcomer@example.org", "slum upgrading") == []
    factories.make_review_round(reviewed["version"], invited=[newcomer], title="Second round")
    db.session.commit()
    assert _search(client, "newcomer@example.org", "slum upgrading") == [
        f"paragraph:{reviewed['version'].paragraphs[0].id}"
    ]


def test_viewer_principals_include_invited_rounds_only(app, factories, people, reviewed):
    draft_round = factories.make_review_round(
        reviewed["version"], invited=[people["reviewer"]], status="draft", title="Not yet"
    )
    db.session.commit()
    principals = viewer_principals(people["reviewer"])
    assert f"round:{reviewed['round'].id}" in principals
    assert f"round:{draft_round.id}" not in principals  # not opened: nothing to see yet
    assert not any(p.startswith("round:") for p in viewer_principals(people["outsider"]))


def test_rebuild_and_check_know_the_new_kinds(reviewed):
    ids = set(all_doc_ids(db.session))
    assert f"comment:{reviewed['comment'].id}" in ids
    assert {f"paragraph:{p.id}" for p in reviewed["version"].paragraphs} <= ids


def test_search_page_shows_paragraph_hits_to_the_reviewer(client, people, reviewed):
    login(client, "reviewer@example.org")
    resp = client.get("/search/", query_string={"q": "slum upgrading"})
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert "Draft background paper" in body  # the document's title names the hit
    assert f"/versions/1#p-{reviewed['version'].paragraphs[0].anchor}" in body


def test_a_public_round_is_found_by_visitors(client, factories, people):
    """Issue 11 item 2: a public consultation's paragraphs and published comments are indexed
    for everyone (principal "public"); an anonymous comment is found without its author's name."""
    named = factories.make_user(Role.PARTNER, email="named@example.org", name="Nadia Named")
    version = factories.make_review_version(["Municipal finance for climate adaptation."])
    review_round = factories.make_review_round(
        version, audience_kind="public", public=True, reviewers_see_each_other=True
    )
    paragraph = version.paragraphs[0]
    open_comment = factories.make_review_comment(
        review_round, named, paragraph, body="Add green bonds to the finance list."
    )
    anonymous = factories.make_review_comment(
        review_round, named, paragraph, body="Landfill methane deserves a mention.", anonymous=True
    )
    withdrawn = factories.make_review_comment(
        review_round, named, paragraph, body="Withdrawn idea about tramways.", status="withdrawn"
    )
    db.session.commit()
    assert _search(client, None, "climate adaptation") == [f"paragraph:{paragraph.id}"]
    assert _search(client, None, "green bonds") == [f"comment:{open_comment.id}"]
    assert _search(client, None, "landfill methane") == [f"comment:{anonymous.id}"]
    assert _search(client, None, "Nadia") == [f"comment:{open_comment.id}"]  # not the anonymous
    assert _search(client, None, "tramways") == []
    assert withdrawn.id
    resp = client.get("/api/v1/search", query_string={"q": "green bonds"})
    url = resp.get_json()["hits"][0]["url"]
    assert url.endswith(f"/reviews/rounds/{review_round.id}/docket/{open_comment.id}")
    assert client.get(url).status_code == 200
