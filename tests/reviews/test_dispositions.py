"""Staff answer comments one by one or in bulk; filters, progress and permissions work as a
secretariat would expect."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.accounts.models import Role
from portal.core.audit import AuditLog
from portal.core.services import PermissionDenied, ValidationError
from portal.extensions import db
from portal.reviews.dispositions import (
    CommentFilters,
    dispose_comment,
    dispose_comments,
    round_progress,
    staff_comments_query,
)
from portal.reviews.models import Disposition
from tests.conftest import login


@pytest.fixture
def review(factories):
    staff = factories.make_user(Role.STAFF, email="staff@example.org", name="Sara Staff")
    kenya = factories.make_org("Kounkuey Design Initiative", country="KE", regions=("014",))
    brazil = factories.make_org(
        "Instituto Pólis", country="BR", regions=("005",), stakeholder_group="research-academia"
    )
    ana = factories.make_user(
        Role.PARTNER, organization=kenya, email="ana@example.org", name="Ana Mwangi"
    )
    rui = factories.make_user(
        Role.PARTNER, organization=brazil, email="rui@example.org", name="Rui Souza"
    )
    version = factories.make_review_version(
        ["Cities are engines of growth.", "Housing is a human right.", "Data must be open."]
    )
    review_round = factories.make_review_round(version, invited=[ana, rui])
    p1, p2, p3 = version.paragraphs
    comments = {
        "ana_p1": factories.make_review_comment(
            review_round, ana, p1, body="Cite the 2022 report.", comment_type="technical"
        ),
        "rui_p2": factories.make_review_comment(
            review_round, rui, p2, body="Mention tenure security."
        ),
        "rui_doc": factories.make_review_comment(
            review_round, rui, None, body="Too long overall.", comment_type="editorial"
        ),
        "ana_p3": factories.make_review_comment(review_round, ana, p3, body="Which data?"),
        "hidden": factories.make_review_comment(
            review_round, ana, p3, body="Rude words", status="hidden", hidden_reason="Abusive"
        ),
        "withdrawn": factories.make_review_comment(
            review_round, rui, p1, body="Oops", status="withdrawn"
        ),
    }
    db.session.commit()
    return {
        "staff": staff,
        "ana": ana,
        "rui": rui,
        "round": review_round,
        "version": version,
        **comments,
    }


def _bodies(review_round, **filters) -> list[str]:
    return [
        c.body
        for c in db.session.scalars(staff_comments_query(review_round, CommentFilters(**filters)))
    ]


def test_response_is_required_for_rejected_and_accepted_in_part(review):
    comment = review["ana_p1"]
    for decision in ("rejected", "accepted-in-part"):
        with pytest.raises(ValidationError) as err:
            dispose_comment(comment, review["staff"], decision=decision, response="  ")
        assert "response" in err.value.errors
    with pytest.raises(ValidationError) as err:
        dispose_comment(comment, review["staff"], decision="maybe", response="")
    assert "decision" in err.value.errors
    assert db.session.scalar(select(func.count(Disposition.id))) == 0
    dispose_comment(comment, review["staff"], decision="noted", response="")
    dispose_comment(comment, review["staff"], decision="rejected", response="Out of scope.")
    db.session.commit()
    assert comment.disposition.decision == "rejected"
    assert comment.disposition.decided_by_id == review["staff"].id
    audit = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "dispose").order_by(AuditLog.id)
    ).all()
    assert [a.after["decision"] for a in audit] == ["noted", "rejected"]


def test_only_staff_may_answer(review):
    with pytest.raises(PermissionDenied):
        dispose_comment(review["ana_p1"], review["rui"], decision="noted", response="")


def test_withdrawn_comments_cannot_be_answered_and_bulk_is_all_or_nothing(review):
    with pytest.raises(ValidationError):
        dispose_comments(
            [review["ana_p1"], review["withdrawn"]], review["staff"], decision="noted", response=""
        )
    db.session.rollback()
    assert db.session.scalar(select(func.count(Disposition.id))) == 0


def test_filters_and_document_order(review):
    r = review["round"]
    # Whole-document comments first, then by paragraph; hidden and withdrawn left out.
    assert _bodies(r) == [
        "Too long overall.",
        "Cite the 2022 report.",
        "Mention tenure security.",
        "Which data?",
    ]
    assert _bodies(r, comment_type="technical") == ["Cite the 2022 report."]
    assert _bodies(r, paragraph="document") == ["Too long overall."]
    assert _bodies(r, paragraph=str(review["version"].paragraphs[1].id)) == [
        "Mention tenure security."
    ]
    assert _bodies(r, organization_id=review["ana"].organization_id) == [
        "Cite the 2022 report.",
        "Which data?",
    ]
    # Region: the organisation's country's M49 region and all its ancestors.
    assert _bodies(r, region="002") == ["Cite the 2022 report.", "Which data?"]  # Africa
    assert _bodies(r, region="014") == ["Cite the 2022 report.", "Which data?"]  # Eastern Africa
    assert _bodies(r, region="019") == ["Too long overall.", "Mention tenure security."]  # Americas
    assert _bodies(r, status="hidden") == ["Rude words"]
    dispose_comment(review["rui_p2"], review["staff"], decision="accepted", response="")
    assert _bodies(r, status="answered") == ["Mention tenure security."]
    assert "Mention tenure security." not in _bodies(r, status="unanswered")
    progress = round_progress(r)
    assert (progress.answered, progress.total, progress.percent) == (1, 4, 25)


# --- the page ---------------------------------------------------------------------------------


def test_staff_page_lists_filters_and_shows_progress(client, review):
    login(client, "staff@example.org")
    url = f"/reviews/rounds/{review['round'].id}/comments"
    page = client.get(url)
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "0 of 4 comments answered" in body
    assert "Cite the 2022 report." in body and "Rude words" not in body and "Oops" not in body
    assert "Kounkuey Design Initiative" in body and "Eastern Africa" in body
    filtered = client.get(url, query_string={"region": "019"}).get_data(as_text=True)
    assert "Mention tenure security." in filtered and "Cite the 2022 report." not in filtered
    hidden = client.get(url, query_string={"status": "hidden"}).get_data(as_text=True)
    assert "Rude words" in hidden and "Abusive" in hidden


def test_staff_answer_one_comment_with_errors_beside_the_field(client, review):
    login(client, "staff@example.org")
    comment = review["ana_p1"]
    url = f"/reviews/rounds/{review['round'].id}/comments/{comment.id}/disposition"
    prefix = f"c{comment.id}-"
    resp = client.post(url, data={prefix + "decision": "rejected", prefix + "response": ""})
    assert resp.status_code == 400
    assert "a response is required when a comment is rejected" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Disposition.id))) == 0
    resp = client.post(
        url,
        data={prefix + "decision": "accepted-in-part", prefix + "response": "We cite it in ¶12."},
    )
    assert resp.status_code == 302
    page = client.get(f"/reviews/rounds/{review['round'].id}/comments").get_data(as_text=True)
    assert "1 of 4 comments answered" in page and "Answer saved for comment" in page
    db.session.refresh(comment)
    assert comment.disposition.response == "We cite it in ¶12."


def test_bulk_answer(client, review):
    login(client, "staff@example.org")
    url = f"/reviews/rounds/{review['round'].id}/comments/bulk"
    ids = [review["rui_doc"].id, review["ana_p3"].id]
    resp = client.post(
        url, data={"comment_ids": ids, "bulk-decision": "rejected", "bulk-response": ""}
    )
    assert resp.status_code == 400
    assert db.session.scalar(select(func.count(Disposition.id))) == 0
    resp = client.post(url, data={"comment_ids": [], "bulk-decision": "noted", "bulk-response": ""})
    assert resp.status_code == 400 and "Select at least one comment" in resp.get_data(as_text=True)
    resp = client.post(
        url, data={"comment_ids": ids, "bulk-decision": "noted", "bulk-response": "Thank you."}
    )
    assert resp.status_code == 302
    answered = db.session.scalars(select(Disposition).order_by(Disposition.comment_id)).all()
    assert [(d.comment_id, d.decision, d.response) for d in answered] == [
        (i, "noted", "Thank you.") for i in sorted(ids)
    ]


def test_comment_of_another_round_is_not_found(client, review, factories):
    other_round = factories.make_review_round(review["version"], title="Other")
    db.session.commit()
    login(client, "staff@example.org")
    comment = review["ana_p1"]
    resp = client.post(
        f"/reviews/rounds/{other_round.id}/comments/{comment.id}/disposition",
        data={f"c{comment.id}-decision": "noted"},
    )
    assert resp.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/reviews/rounds/{id}/comments",
        "/reviews/rounds/{id}/matrix.xlsx",
        "/reviews/rounds/{id}/matrix.csv",
        "/reviews/rounds/{id}/matrix.docx",
        "/reviews/rounds/{id}/dashboard",
    ],
)
def test_non_staff_get_403_and_anonymous_must_log_in(client, review, path):
    url = path.format(id=review["round"].id)
    assert client.get(url).status_code == 302  # to the login page
    login(client, "ana@example.org")  # invited reviewer, not staff
    assert client.get(url).status_code == 403
    resp = client.post(
        f"/reviews/rounds/{review['round'].id}/comments/{review['ana_p1'].id}/disposition",
        data={f"c{review['ana_p1'].id}-decision": "accepted"},
    )
    assert resp.status_code == 403
    assert db.session.scalar(select(func.count(Disposition.id))) == 0


def test_dashboard_shows_response_rates_and_heat_strip(client, review, factories):
    # A third invited reviewer who did not comment: Kenya 1 of 1... Brazil 1 of 2.
    quiet_org = factories.make_org(
        "Quiet Org", country="AR", regions=("005",), stakeholder_group="women"
    )
    quiet = factories.make_user(Role.PARTNER, organization=quiet_org)
    from portal.reviews.models import ReviewInvitation

    db.session.add(
        ReviewInvitation(
            round_id=review["round"].id, user_id=quiet.id, email=quiet.email, token_hash="q" * 64
        )
    )
    db.session.commit()
    login(client, "staff@example.org")
    body = client.get(f"/reviews/rounds/{review['round'].id}/dashboard").get_data(as_text=True)
    assert "<svg" in body and "Response rate by region" in body
    # Americas: Rui commented, the quiet reviewer did not → 50%; Africa: 100%.
    assert '<th scope="row">Americas</th><td>2</td><td>1</td><td>50%</td>' in body
    assert '<th scope="row">Africa</th><td>1</td><td>1</td><td>100%</td>' in body
    assert '<th scope="row">Women</th><td>1</td><td>0</td><td>0%</td>' in body
    # Heat strip: ¶3 has one live comment (the hidden one does not count).
    assert "¶ 3: 1 comment<" in body
    assert "heat-cell heat-10 heat-high" in body  # full intensity, as a class (CSP: no style="")
