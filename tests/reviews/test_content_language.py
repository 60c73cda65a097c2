"""Language of parts on the review reading page (issue 13): the draft's text carries the
document's language; the interface around it ("Comment on this paragraph", "Paragraph 3")
keeps the reader's language; a comment carries its own detected language."""

from __future__ import annotations

import re

from portal.extensions import db
from portal.reviews.models import Comment
from tests.conftest import login


def test_draft_text_has_the_document_language_and_the_tools_keep_the_interface_language(
    client, review_round, reviewer
):
    login(client, reviewer.email)
    html = client.get(f"/reviews/rounds/{review_round.id}?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert "<article>" in html  # no lang on the whole article any more
    bodies = re.findall(r'<div class="para-body"[^>]*?( lang=[^>]*)>', html)
    assert bodies and all('lang="zh" dir="auto"' in attrs for attrs in bodies)
    # The "comment on this paragraph" links sit outside any element with lang="zh".
    tools = html.split('class="para-tools"')[1].split("</div>")[0]
    assert "lang=" not in tools and "comment-link" in tools


def test_a_comment_gets_its_language_detected_and_shown(client, review_round, reviewer):
    comment = Comment(
        round_id=review_round.id,
        author_id=reviewer.id,
        body="Nous proposons de préciser le rôle des autorités locales dans ce paragraphe.",
        comment_type="general",
    )
    db.session.add(comment)
    db.session.commit()
    assert comment.language == "fr"


def test_the_comment_form_offers_a_language_and_the_choice_is_kept(client, review_round, reviewer):
    from sqlalchemy import select

    login(client, reviewer.email)
    form_page = client.get(f"/reviews/rounds/{review_round.id}/comment").get_data(as_text=True)
    assert re.search(r'<select[^>]*name="language"', form_page)
    # Short text the detector cannot place: the reviewer says it is Russian.
    resp = client.post(
        f"/reviews/rounds/{review_round.id}/comment",
        data={"comment_type": "general", "body": "Согласны.", "language": "ru"},
    )
    assert resp.status_code in (302, 303), resp.status_code
    comment = db.session.scalar(select(Comment).where(Comment.body == "Согласны."))
    assert comment.language == "ru"
    page = client.get(f"/reviews/rounds/{review_round.id}/comment").get_data(as_text=True)
    assert '<div class="comment-body" lang="ru" dir="auto">Согласны.</div>' in page

    bad = client.post(
        f"/reviews/rounds/{review_round.id}/comment",
        data={"comment_type": "general", "body": "Another one.", "language": "??"},
    )
    assert bad.status_code == 400
    assert "Give a language code such as en, fr or zh." in bad.get_data(as_text=True)
