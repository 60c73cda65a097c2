"""Issue 11 item 2: the docket of a public consultation — every published comment with a
stable URL, filters by paragraph, organisation type, region and decision, and CSV / JSON
downloads of the same filtered list (no hidden or withdrawn comments, anonymity respected)."""

from __future__ import annotations

import csv
import io

import pytest

from portal.extensions import db
from tests.conftest import login

KENYA_NGO = "Kenyan NGO comment on paragraph one."
BRAZIL_GOV = "Brazilian government comment on paragraph two."
ANON_NGO = "Anonymous NGO comment on paragraph one."
HIDDEN = "Abusive text the moderator hid."
WITHDRAWN = "Withdrawn by its author."


@pytest.fixture
def docket(factories):
    ngo = factories.make_org("Nairobi Housing Trust", country="KE", org_type="22")
    gov = factories.make_org(
        "Ministério das Cidades", country="BR", regions=("005",), org_type="10"
    )
    ana = factories.make_user("partner", organization=ngo, email="ana@ngo.example", name="Ana Ngo")
    gil = factories.make_user("partner", organization=gov, email="gil@gov.example", name="Gil Gov")
    staff = factories.make_user("staff", email="boss@un.example", name="Sam Staff")
    version = factories.make_review_version(["Paragraph one text.", "Paragraph two text."])
    review_round = factories.make_review_round(
        version,
        title="Open consultation",
        audience_kind="public",
        public=True,
        reviewers_see_each_other=True,
        allow_anonymous=True,
    )
    p1, p2 = version.paragraphs
    kenya = factories.make_review_comment(review_round, ana, p1, body=KENYA_NGO)
    brazil = factories.make_review_comment(review_round, gil, p2, body=BRAZIL_GOV)
    anon = factories.make_review_comment(review_round, ana, p1, body=ANON_NGO, anonymous=True)
    factories.make_review_comment(review_round, ana, p1, body=HIDDEN, status="hidden")
    factories.make_review_comment(review_round, gil, p2, body=WITHDRAWN, status="withdrawn")
    from portal.reviews.dispositions import dispose_comment

    dispose_comment(kenya, staff, decision="accepted", response="Paragraph one now says so.")
    db.session.commit()
    return {
        "round": review_round,
        "p1": p1,
        "p2": p2,
        "kenya": kenya,
        "brazil": brazil,
        "anon": anon,
        "staff": staff,
    }


def _json(client, round_id, **args):
    answer = client.get(f"/reviews/rounds/{round_id}/docket.json", query_string=args)
    assert answer.status_code == 200
    return answer.get_json()


def _bodies(data) -> set[str]:
    return {c["comment"] for c in data["comments"]}


def test_the_docket_lists_published_comments_only(client, docket):
    rid = docket["round"].id
    page = client.get(f"/reviews/rounds/{rid}/docket")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for body in (KENYA_NGO, BRAZIL_GOV, ANON_NGO):
        assert body in html
    assert HIDDEN not in html and WITHDRAWN not in html
    assert "Paragraph one now says so." in html
    assert _bodies(_json(client, rid)) == {KENYA_NGO, BRAZIL_GOV, ANON_NGO}


def test_every_comment_has_a_stable_url(client, docket):
    rid = docket["round"].id
    data = _json(client, rid)
    kenya = next(c for c in data["comments"] if c["comment"] == KENYA_NGO)
    assert kenya["url"].endswith(f"/reviews/rounds/{rid}/docket/{docket['kenya'].id}")
    page = client.get(f"/reviews/rounds/{rid}/docket/{docket['kenya'].id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert KENYA_NGO in html and "Ana Ngo" in html and "Paragraph one now says so." in html
    hidden_id = docket["anon"].id + 1  # the hidden comment
    assert client.get(f"/reviews/rounds/{rid}/docket/{hidden_id}").status_code == 404


def test_filters_by_paragraph_org_type_region_and_decision(client, docket):
    rid = docket["round"].id
    assert _bodies(_json(client, rid, paragraph=docket["p2"].anchor)) == {BRAZIL_GOV}
    # Anonymous comments never match an organisation filter for the public.
    assert _bodies(_json(client, rid, org_type="22")) == {KENYA_NGO}
    assert _bodies(_json(client, rid, org_type="10")) == {BRAZIL_GOV}
    assert _bodies(_json(client, rid, region="002")) == {KENYA_NGO}  # Africa ⊃ Eastern Africa
    assert _bodies(_json(client, rid, region="419")) == {BRAZIL_GOV}  # Latin America
    assert _bodies(_json(client, rid, decision="accepted")) == {KENYA_NGO}
    assert _bodies(_json(client, rid, decision="none")) == {BRAZIL_GOV, ANON_NGO}
    both = _json(client, rid, paragraph=docket["p1"].anchor, decision="none")
    assert _bodies(both) == {ANON_NGO}  # filters combine: on ¶1 and not answered
    html = client.get(f"/reviews/rounds/{rid}/docket", query_string={"org_type": "10"}).get_data(
        as_text=True
    )
    assert BRAZIL_GOV in html and KENYA_NGO not in html


def test_anonymity_in_the_downloads(client, docket):
    rid = docket["round"].id
    data = _json(client, rid)
    anon = next(c for c in data["comments"] if c["comment"] == ANON_NGO)
    assert anon["author"] == "Anonymous reviewer"
    assert anon["organization"] == "" and anon["organization_type"] == ""
    assert anon["region"] == ""
    answer = client.get(f"/reviews/rounds/{rid}/docket.csv", query_string={"org_type": "22"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2  # the header and the one Kenyan comment
    assert KENYA_NGO in rows[1] and "Nairobi Housing Trust" in rows[1]
    assert any("Ana Ngo" in cell for cell in rows[1])
    full = client.get(f"/reviews/rounds/{rid}/docket.csv").get_data(as_text=True)
    assert full.count("Ana Ngo") == 1  # named once: not on the anonymous row


def test_staff_see_who_wrote_the_anonymous_comment(client, docket):
    login(client, docket["staff"].email)
    data = _json(client, docket["round"].id, org_type="22")
    assert _bodies(data) == {KENYA_NGO, ANON_NGO}
    anon = next(c for c in data["comments"] if c["comment"] == ANON_NGO)
    assert "Ana Ngo" in anon["author"]


def test_private_rounds_have_no_docket(client, factories):
    version = factories.make_review_version(["Closed."])
    private = factories.make_review_round(version, reviewers_see_each_other=True)
    db.session.commit()
    for url in ("docket", "docket.csv", "docket.json"):
        assert client.get(f"/reviews/rounds/{private.id}/{url}").status_code == 404


def test_a_docket_while_reviewers_do_not_see_each_other(client, docket):
    review_round = docket["round"]
    review_round.reviewers_see_each_other = False
    db.session.commit()
    # Open round, reviewers do not see each other: nothing is published to visitors yet.
    assert _json(client, review_round.id)["total"] == 0
    assert (
        client.get(f"/reviews/rounds/{review_round.id}/docket/{docket['kenya'].id}").status_code
        == 404
    )
