"""Version N+1 made in the browser by editing the paragraphs of version N (issue 11, item 1):
the same diff and the same carry-over of comments as an uploaded version."""

from __future__ import annotations

from portal.extensions import db
from portal.reviews import services
from portal.reviews.models import Comment, DocumentVersion, Paragraph
from tests.conftest import login

NEW_THREE = "由于资源有限，人居署优先跟踪成果框架中的 30 项核心指标。"


def _paragraph(version_id: int, number: int) -> Paragraph:
    return db.session.scalar(
        db.select(Paragraph).where(Paragraph.version_id == version_id, Paragraph.number == number)
    )


def test_staff_edit_paragraphs_into_version_2_with_diff_and_carry_over(
    client, review_round, reviewer, staff
):
    version_id = review_round.version_id
    document_id = review_round.version.document_id
    p3, p5, p40 = (_paragraph(version_id, n) for n in (3, 5, 40))
    on_five = services.post_comment(review_round, reviewer, paragraph=p5, body="第 5 段需要数据。")
    db.session.commit()
    on_five_id = on_five.id

    login(client, staff.email)
    url = f"/reviews/documents/{document_id}/versions/1/edit"
    page = client.get(url).get_data(as_text=True)
    assert f'<label for="text-{p3.anchor}">Paragraph 3</label>' in page
    # Nothing changed: refused, nothing saved.
    response = client.post(url, data={"changelog": "Nothing"})
    assert response.status_code == 400
    assert "Nothing was changed" in response.get_data(as_text=True)
    # Paragraph 3 rewritten, paragraph 40 removed.
    response = client.post(
        url,
        data={
            "changelog": "Paragraph 3 rewritten; paragraph 40 removed.",
            f"text-{p3.anchor}": NEW_THREE,
            f"text-{p40.anchor}": "",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    assert response.headers["Location"].endswith(f"/reviews/documents/{document_id}/versions/2")
    v2 = db.session.scalar(
        db.select(DocumentVersion).where(
            DocumentVersion.document_id == document_id, DocumentVersion.number == 2
        )
    )
    assert v2.source_format == "edit" and v2.status == "draft"
    numbered = db.session.scalars(
        db.select(Paragraph.number).where(
            Paragraph.version_id == v2.id, Paragraph.number.is_not(None)
        )
    ).all()
    assert sorted(numbered) == list(range(1, 40))
    assert _paragraph(v2.id, 3).text == NEW_THREE
    assert _paragraph(v2.id, 5).text == p5.text
    # Paragraph 1 keeps its sub-items (a)–(f).
    assert len(_paragraph(v2.id, 1).extra["items"]) == 6

    # The same diff as for an upload.
    diff = client.get(f"/reviews/documents/{document_id}/diff?from=1&to=2").get_data(as_text=True)
    assert "diff-deleted" in diff and "30 项核心指标" in diff

    # Publishing carries the comment on the unchanged paragraph 5 onto version 2.
    response = client.post(f"/reviews/documents/{document_id}/versions/2/publish")
    assert response.status_code in (302, 303)
    db.session.expire_all()
    carried = db.session.get(Comment, on_five_id)
    assert carried.current_paragraph_id == _paragraph(v2.id, 5).id


def test_reviewers_cannot_edit_versions(client, review_round, reviewer):
    login(client, reviewer.email)
    document_id = review_round.version.document_id
    url = f"/reviews/documents/{document_id}/versions/1/edit"
    assert client.get(url).status_code == 403
    assert client.post(url, data={"changelog": "x"}).status_code == 403
