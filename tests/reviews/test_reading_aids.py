"""Reading and commenting aids (issue 11, item 4): a table of contents and paragraph jumps for
long drafts, commented passages highlighted with their count, a distinct accessible name for
each paragraph's links, and comments made only of invisible characters refused."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from portal.extensions import db
from portal.reviews import services
from portal.reviews.models import Comment, Paragraph
from tests.conftest import login


def _page(client, review_round) -> str:
    return client.get(f"/reviews/rounds/{review_round.id}").get_data(as_text=True)


def test_long_draft_has_contents_with_paragraph_ranges_and_jumps(client, review_round, reviewer):
    login(client, reviewer.email)
    page = _page(client, review_round)
    toc = page.split('class="card doc-toc"')[1].split("</nav>")[0]
    entries = re.findall(r'<a href="#(s-\d+)"><bdi>(.*?)</bdi></a>(.*?)</li>', toc)
    assert len(entries) == 12  # every heading of the seed report
    by_heading = {heading: rest for _target, heading, rest in entries}
    assert "paragraph 1<" in by_heading["引言"]
    first_section = next(h for h in by_heading if h.startswith("一、"))
    assert "paragraphs 2–9" in by_heading[first_section]
    # Each entry points at a heading on the page.
    for target, _heading, _rest in entries:
        assert f'id="{target}"' in page
    # The jumps (shown by review-reading.js) and the script itself.
    assert "data-doc-jumps hidden" in page and "Next paragraph" in page
    assert "js/review-reading.js" in page


def test_every_comment_link_has_its_own_accessible_name(client, review_round, reviewer):
    login(client, reviewer.email)
    page = _page(client, review_round)
    names = [
        re.sub(r"<[^>]+>", "", m)
        for m in re.findall(r'<a class="comment-link"[^>]*>(.*?)</a>', page, re.S)
    ]
    assert len(names) == db.session.scalar(
        db.select(db.func.count(Paragraph.id)).where(
            Paragraph.version_id == review_round.version_id
        )
    )
    duplicates = [n for n, count in Counter(names).items() if count > 1]
    assert not duplicates, duplicates
    assert "Comment on this paragraph (paragraph 3)" in names


@pytest.mark.parametrize(
    "body",
    ["\u200b\u200c\u200d", "\ufeff \u2060\u00ad", "\u200e\u200f\u202a\u202c", "\u3164\u115f"],
)
def test_comment_of_invisible_characters_is_refused(client, review_round, reviewer, body):
    p3 = db.session.scalar(
        db.select(Paragraph).where(
            Paragraph.version_id == review_round.version_id, Paragraph.number == 3
        )
    )
    login(client, reviewer.email)
    response = client.post(
        f"/reviews/rounds/{review_round.id}/comment",
        data={"paragraph": p3.anchor, "body": body, "comment_type": "general"},
    )
    assert response.status_code == 400
    assert "Write your comment." in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Comment.id))) == 0


def test_commented_passage_is_highlighted_with_its_count(
    client, review_round, reviewer, other_reviewer
):
    p39 = db.session.scalar(
        db.select(Paragraph).where(
            Paragraph.version_id == review_round.version_id, Paragraph.number == 39
        )
    )
    for who in (reviewer, other_reviewer):
        services.post_comment(
            review_round, who, paragraph=p39, body="来源？", quote="世界城市论坛第十一届会议"
        )
    db.session.commit()
    login(client, reviewer.email)
    # Reviewers who do not see each other see only their own comment on the passage.
    page = _page(client, review_round)
    mark = re.search(r'<mark class="commented" data-count="(\d)"[^>]*>(.*?)</mark>', page)
    assert mark.group(1) == "1" and mark.group(2).startswith("世界城市论坛第十一届会议")
    login(client, "staff@unhabitat.example")
    page = _page(client, review_round)
    assert '<mark class="commented" data-count="2" title="2 comments on this passage">' in page
