"""Publishing the next version carries every comment to its paragraph (exact, then fuzzy), or
into the "needs placing" queue; none is lost. Staff place queued comments; reviewers see what
became of theirs on "what we heard, what we did"."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.accounts.models import Role
from portal.core.services import PermissionDenied, ValidationError
from portal.extensions import db
from portal.reviews.carryover import (
    carry_comments,
    heard,
    match_paragraphs,
    needs_placing,
    place_comment,
)
from portal.reviews.models import Comment, Disposition, Paragraph, Placement
from tests.conftest import login

V1 = [
    "Partnerships are central to the delivery of the New Urban Agenda and the SDGs.",  # 1
    "The Stakeholder Advisory Group meets monthly to advise the Executive Director.",  # 2
    "Partners were consulted on the draft strategic plan through regional meetings.",  # 3
    "Resource mobilisation depends on a diversified base of public and private donors.",  # 4
    "The World Cities Report is prepared with research institutions in every region.",  # 5
    "Monitoring of global commitments uses the urban monitoring framework.",  # 6
    "The background paper of the World Urban Forum went to more than 8,000 partners.",  # 7
    "Advocacy relies on events such as the World Urban Forum and Urban October.",  # 8
    "Local and regional governments are key partners in localising the SDGs.",  # 9
    "The secretariat will report on partnerships to the Executive Board annually.",  # 10
]

# Version 2: ¶2, ¶5 and ¶9 edited a little; ¶6 deleted; two new paragraphs inserted; ¶10 moved
# to the top and ¶3/¶4 swapped.
V2 = [
    "The secretariat will report on partnerships to the Executive Board annually.",  # was 10
    "Partnerships are central to the delivery of the New Urban Agenda and the SDGs.",  # was 1
    "The Stakeholder Advisory Group meets every month to advise the Executive Director.",  # 2*
    "Youth organisations are now represented in the advisory group by two seats.",  # new
    "Resource mobilisation depends on a diversified base of public and private donors.",  # was 4
    "Partners were consulted on the draft strategic plan through regional meetings.",  # was 3
    "The World Cities Report is prepared with research institutes in every region of the world.",
    "The background paper of the World Urban Forum went to more than 8,000 partners.",  # was 7
    "A digital platform will collect comments on draft documents from all partners.",  # new
    "Advocacy relies on events such as the World Urban Forum and Urban October.",  # was 8
    "Local and regional governments are essential partners in localising the SDGs.",  # 9*
]
# v1 paragraph number → v2 paragraph number (None: deleted, so its comments need placing).
EXPECTED = {1: 2, 2: 3, 3: 6, 4: 5, 5: 7, 6: None, 7: 8, 8: 10, 9: 11, 10: 1}


def _by_number(version) -> dict[int, Paragraph]:
    return {p.number: p for p in version.paragraphs}


@pytest.fixture
def reviewers(factories):
    org = factories.make_org("Slum Dwellers International", country="ZA", regions=("018",))
    return [
        factories.make_user(Role.PARTNER, organization=org, name="Ayo Reviewer"),
        factories.make_user(Role.PARTNER, organization=org, name="Bea Reviewer"),
    ]


def test_acceptance_edited_deleted_inserted_and_reordered(factories, reviewers):
    v1 = factories.make_review_version(V1)
    round1 = factories.make_review_round(v1, invited=reviewers)
    old = _by_number(v1)
    comments = {}
    for number, paragraph in old.items():
        for reviewer in reviewers:
            comments[(number, reviewer.id)] = factories.make_review_comment(
                round1, reviewer, paragraph, body=f"On ¶{number} by {reviewer.name}"
            )
    whole = factories.make_review_comment(round1, reviewers[0], None, body="Overall: good.")
    withdrawn = factories.make_review_comment(
        round1, reviewers[1], old[4], body="Never mind", status="withdrawn"
    )
    v2 = factories.make_review_version(V2, document=v1.document, number=2)

    report = carry_comments(v1, v2)
    db.session.commit()

    new = _by_number(v2)
    for (number, _reviewer_id), comment in comments.items():
        db.session.refresh(comment)
        assert comment.carried_to_version_id == v2.id
        expected = EXPECTED[number]
        if expected is None:
            assert comment.placement == Placement.NEEDS_PLACING.value, number
            assert comment.current_paragraph_id is None
        else:
            assert comment.placement == Placement.PLACED.value, number
            assert comment.current_paragraph_id == new[expected].id, (number, expected)
    db.session.refresh(whole)
    assert (whole.placement, whole.current_paragraph_id) == (Placement.PLACED.value, None)
    assert whole.carried_to_version_id == v2.id
    # None is lost: every live comment of v1 now lives in v2 or waits in its queue.
    live = db.session.scalar(
        select(func.count(Comment.id)).where(
            Comment.status == "active", Comment.round_id == round1.id
        )
    )
    carried = db.session.scalar(
        select(func.count(Comment.id)).where(Comment.carried_to_version_id == v2.id)
    )
    assert live == carried == 21
    assert report.carried == 18 and report.needs_placing == 2 and report.whole_document == 1
    assert {c.body for c in needs_placing(v2)} == {
        "On ¶6 by Ayo Reviewer",
        "On ¶6 by Bea Reviewer",
    }
    db.session.refresh(withdrawn)
    assert withdrawn.carried_to_version_id is None  # a withdrawn comment stays where it was

    # Matched paragraphs continue their predecessor: previous_id and the same anchor.
    for number, target in EXPECTED.items():
        if target is None:
            continue
        assert new[target].previous_id == old[number].id
        assert new[target].anchor == old[number].anchor
    assert new[4].previous_id is None and new[9].previous_id is None
    anchors = [p.anchor for p in v2.paragraphs]
    assert len(anchors) == len(set(anchors))


def test_exact_match_ignores_whitespace_case_and_unicode_forms(factories):
    v1 = factories.make_review_version(["Ｕｒｂａｎ  Agenda\nfor  all", "Second paragraph."])
    v2 = factories.make_review_version(
        ["Second paragraph.", "urban agenda for all"], document=v1.document, number=2
    )
    match = match_paragraphs(v1.paragraphs, v2.paragraphs)
    assert match.new_for(v1.paragraphs[0].id) is v2.paragraphs[1]
    assert match.how(v1.paragraphs[0].id) == "exact"


def test_fuzzy_match_works_on_chinese_text(factories, reviewers):
    v1 = factories.make_review_version(
        [
            "伙伴关系对于执行《新城市议程》至关重要。",
            "利益攸关方咨询小组每月举行一次会议，向执行主任提供咨询意见。",
            "世界城市论坛的背景文件发给了8000多个合作伙伴征求意见。",
        ]
    )
    round1 = factories.make_review_round(v1, invited=reviewers)
    comment = factories.make_review_comment(round1, reviewers[0], v1.paragraphs[1], body="请说明。")
    v2 = factories.make_review_version(
        [
            "伙伴关系对于执行《新城市议程》至关重要。",
            "世界城市论坛的背景文件发给了8000多个合作伙伴征求意见。",
            "利益攸关方咨询小组每两个月举行一次会议，向执行主任提供咨询意见。",
        ],
        document=v1.document,
        number=2,
    )
    carry_comments(v1, v2)
    assert comment.current_paragraph_id == v2.paragraphs[2].id
    assert comment.placement == Placement.PLACED.value


def test_rewritten_paragraph_goes_to_the_queue_not_to_a_wrong_guess(factories, reviewers):
    v1 = factories.make_review_version(
        ["Housing is a human right.", "Informal settlements need upgrading with residents."]
    )
    round1 = factories.make_review_round(v1, invited=reviewers)
    comment = factories.make_review_comment(round1, reviewers[0], v1.paragraphs[1])
    v2 = factories.make_review_version(
        ["Housing is a human right.", "Financing comes from blended public sources."],
        document=v1.document,
        number=2,
    )
    carry_comments(v1, v2)
    assert comment.placement == Placement.NEEDS_PLACING.value
    assert comment.current_paragraph_id is None


def test_ambiguous_fuzzy_candidates_are_left_to_staff(factories, reviewers):
    """Two new paragraphs equally like the old one: guessing would be wrong half the time."""
    v1 = factories.make_review_version(["Intro.", "Cities in Africa grow fastest.", "End."])
    round1 = factories.make_review_round(v1, invited=reviewers)
    comment = factories.make_review_comment(round1, reviewers[0], v1.paragraphs[1])
    v2 = factories.make_review_version(
        ["Intro.", "End.", "Cities in Africa grow fastest!", "Cities in Africa grow fastest?"],
        document=v1.document,
        number=2,
    )
    carry_comments(v1, v2)
    assert comment.placement == Placement.NEEDS_PLACING.value


def test_neighbours_break_a_tie_between_identical_paragraphs(factories, reviewers):
    v1 = factories.make_review_version(
        ["Alpha section.", "To be confirmed.", "Beta section.", "To be confirmed."]
    )
    round1 = factories.make_review_round(v1, invited=reviewers)
    on_beta = factories.make_review_comment(round1, reviewers[0], v1.paragraphs[3])
    v2 = factories.make_review_version(
        ["Beta section.", "To be confirmed.", "Alpha section.", "To be confirmed."],
        document=v1.document,
        number=2,
    )
    carry_comments(v1, v2)
    # The twin after "Beta section." in v1 continues as the twin after it in v2.
    assert on_beta.current_paragraph_id == v2.paragraphs[1].id


def test_explicit_previous_id_wins(factories, reviewers):
    v1 = factories.make_review_version(["One.", "Two."])
    round1 = factories.make_review_round(v1, invited=reviewers)
    comment = factories.make_review_comment(round1, reviewers[0], v1.paragraphs[0])
    v2 = factories.make_review_version(
        ["Completely different.", "One."], document=v1.document, number=2
    )
    v2.paragraphs[0].previous_id = v1.paragraphs[0].id  # staff made v2 from v1 and said so
    carry_comments(v1, v2)
    assert comment.current_paragraph_id == v2.paragraphs[0].id


def test_comments_travel_on_through_a_third_version_and_queue_follows(factories, reviewers):
    v1 = factories.make_review_version(["Keep me.", "Delete me please."])
    round1 = factories.make_review_round(v1, invited=reviewers)
    kept = factories.make_review_comment(round1, reviewers[0], v1.paragraphs[0])
    lost = factories.make_review_comment(round1, reviewers[0], v1.paragraphs[1])
    v2 = factories.make_review_version(["Keep me."], document=v1.document, number=2)
    carry_comments(v1, v2)
    v3 = factories.make_review_version(["Intro.", "Keep me!"], document=v1.document, number=3)
    carry_comments(v2, v3)
    assert kept.carried_to_version_id == v3.id
    assert kept.current_paragraph_id == v3.paragraphs[1].id
    # Never placed in v2, so it now waits in v3's queue rather than being forgotten.
    assert lost.carried_to_version_id == v3.id
    assert lost.placement == Placement.NEEDS_PLACING.value
    assert needs_placing(v2) == [] and needs_placing(v3) == [lost]


def test_publishing_the_next_version_carries_comments(factories, reviewers):
    from portal.reviews.services import publish_version

    staff = factories.make_user(Role.STAFF)
    v1 = factories.make_review_version(["First.", "Second paragraph text."])
    round1 = factories.make_review_round(v1, invited=reviewers)
    comment = factories.make_review_comment(round1, reviewers[0], v1.paragraphs[1])
    v2 = factories.make_review_version(
        ["Second paragraph text.", "First."], document=v1.document, number=2, published=False
    )
    publish_version(v2, staff)
    db.session.commit()
    db.session.refresh(comment)
    assert comment.current_paragraph_id == v2.paragraphs[0].id


def test_place_comment_rules(factories, reviewers):
    staff = factories.make_user(Role.STAFF)
    v1 = factories.make_review_version(["Gone soon."])
    round1 = factories.make_review_round(v1, invited=reviewers)
    comment = factories.make_review_comment(round1, reviewers[0], v1.paragraphs[0])
    v2 = factories.make_review_version(["Something else entirely."], document=v1.document, number=2)
    carry_comments(v1, v2)
    with pytest.raises(PermissionDenied):
        place_comment(comment, v2, v2.paragraphs[0], reviewers[0])
    with pytest.raises(ValidationError):
        place_comment(comment, v2, v1.paragraphs[0], staff)  # not a paragraph of v2
    place_comment(comment, v2, v2.paragraphs[0], staff)
    assert comment.placement == Placement.PLACED.value
    assert comment.current_paragraph_id == v2.paragraphs[0].id
    assert needs_placing(v2) == []


# --- pages ------------------------------------------------------------------------------------


@pytest.fixture
def carried(factories, reviewers):
    staff = factories.make_user(Role.STAFF, email="staff@example.org")
    v1 = factories.make_review_version(["Keep this paragraph.", "This paragraph will be removed."])
    round1 = factories.make_review_round(
        v1, invited=reviewers, reviewers_see_each_other=True, allow_anonymous=True
    )
    kept = factories.make_review_comment(
        round1, reviewers[0], v1.paragraphs[0], body="Add data on Africa."
    )
    lost = factories.make_review_comment(
        round1, reviewers[1], v1.paragraphs[1], body="Secret worry.", anonymous=True
    )
    db.session.add(Disposition(comment=kept, decision="accepted", response="Added a table."))
    v2 = factories.make_review_version(
        ["Keep this paragraph!", "A new ending."], document=v1.document, number=2
    )
    carry_comments(v1, v2)
    db.session.commit()
    return {"staff": staff, "v1": v1, "v2": v2, "round": round1, "kept": kept, "lost": lost}


def test_needs_placing_page_lets_staff_place_a_comment(client, carried, reviewers):
    v2, lost = carried["v2"], carried["lost"]
    url = f"/reviews/documents/{v2.document_id}/versions/2/needs-placing"
    login(client, reviewers[0].email)
    assert client.get(url).status_code == 403
    client.post("/account/logout")
    login(client, "staff@example.org")
    # The staff dashboard's Reviews card lists the open round and links to the queue.
    staff_home = client.get("/staff/").get_data(as_text=True)
    assert "First review" in staff_home
    assert "1 comment waits to be placed in Draft background paper, version 2" in staff_home
    assert url in staff_home
    page = client.get(url)
    assert page.status_code == 200
    assert "Secret worry." in page.get_data(as_text=True)
    assert "This paragraph will be removed." in page.get_data(as_text=True)  # its old text
    target = v2.paragraphs[1]
    resp = client.post(url, data={"comment_id": lost.id, "paragraph": str(target.id)})
    assert resp.status_code == 302
    db.session.refresh(lost)
    assert lost.current_paragraph_id == target.id and lost.placement == "placed"
    assert "Secret worry." not in client.get(url).get_data(as_text=True)


def test_needs_placing_page_rejects_a_paragraph_of_another_version(client, carried):
    v2, lost = carried["v2"], carried["lost"]
    login(client, "staff@example.org")
    url = f"/reviews/documents/{v2.document_id}/versions/2/needs-placing"
    resp = client.post(
        url, data={"comment_id": lost.id, "paragraph": str(carried["v1"].paragraphs[0].id)}
    )
    assert resp.status_code == 400
    assert "Choose a paragraph of this version." in resp.get_data(as_text=True)
    db.session.refresh(lost)
    assert lost.placement == "needs-placing"


def test_what_we_heard_page(client, carried, reviewers, factories):
    round1 = carried["round"]
    url = f"/reviews/rounds/{round1.id}/heard"
    outsider = factories.make_user(Role.PARTNER, email="outsider@example.org")
    db.session.commit()
    login(client, outsider.email)
    assert client.get(url).status_code == 403
    client.post("/account/logout")

    login(client, reviewers[0].email)
    body = client.get(url).get_data(as_text=True)
    assert "Add data on Africa." in body and "Added a table." in body
    assert "Accepted" in body
    assert "Version 2, paragraph 1" in body  # where it landed
    assert "being placed by the secretariat" in body
    # The anonymous comment is shown without its author's name to another reviewer.
    assert "Secret worry." in body and "Bea Reviewer" not in body
    assert "You" in body


def test_heard_hides_names_when_reviewers_do_not_see_each_other(factories, reviewers):
    v1 = factories.make_review_version(["Only paragraph."])
    round1 = factories.make_review_round(v1, invited=reviewers, reviewers_see_each_other=False)
    factories.make_review_comment(round1, reviewers[1], v1.paragraphs[0], body="Mine")
    # While the round is open, another reviewer's comment is not shown at all (issue 11.5).
    assert heard(round1, reviewers[0], lambda version, paragraph: "#") == []
    groups = heard(round1, reviewers[1], lambda version, paragraph: "#")
    assert [c.who for g in groups for c in g.comments] == ["You"]
    # Once closed, "what we heard" reports it — without the name.
    round1.status = "closed"
    groups = heard(round1, reviewers[0], lambda version, paragraph: "#")
    assert [c.who for g in groups for c in g.comments] == ["A reviewer"]
