"""Drafts imported faithfully (issue 11, item 1): inline formatting, safe links, footnotes as
numbered notes of their paragraph, images stored and served after the permission check, tables,
lettered sub-items — and whatever cannot be kept listed on the version page before publishing.

The DOCX is built with python-docx in the test (plus the parts it has no API for); the Markdown
has every element. Hostile input must come out as text, never as markup.
"""

from __future__ import annotations

import io
import re

import pytest

from portal.extensions import db
from portal.reviews.importing import parse_docx, parse_markdown
from portal.reviews.models import DocumentVersion, Paragraph, ReviewImage
from tests.conftest import login
from tests.reviews.conftest import open_emails_round
from tests.reviews.fidelity_files import (
    HOSTILE_MARKDOWN,
    MARKDOWN,
    PNG_ALT,
    fidelity_docx,
    png_bytes,
)


def _by_number(parsed):
    return {b.number: b for b in parsed.blocks if b.number is not None}


def _marked(block, kind):
    """The text under each mark of one kind (links: (text, target))."""
    out = []
    for m in (block.extra or {}).get("marks", []):
        if m[2] == kind:
            out.append((block.text[m[0] : m[1]], m[3]) if kind == "a" else block.text[m[0] : m[1]])
    return out


# --- The parsers -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "docx"])
def test_each_element_is_kept(fmt):
    parsed = parse_markdown(MARKDOWN) if fmt == "md" else parse_docx(io.BytesIO(fidelity_docx()))
    blocks = _by_number(parsed)
    first = blocks[1]
    assert first.text.startswith("The Executive Board adopted the strategic plan")
    assert _marked(first, "b") == ["Executive Board"]
    assert _marked(first, "i") == ["strategic plan"]
    assert ("the report", "https://unhabitat.org/report") in _marked(first, "a")
    # The footnote is a numbered note of its paragraph, its reference right after "report.".
    (note,) = first.extra["notes"]
    assert note["label"] == "1" and note["text"] == "Decision 1/3, adopted on 31 May 2019."
    ref = [m for m in first.extra["marks"] if m[2] == "note"]
    assert ref == [[first.text.index("report.") + len("report."), ref[0][1], "note", "1"]]

    # (a)–(d) are sub-items of paragraph 2, not paragraphs of their own.
    second = blocks[2]
    items = [second.text[s:e] for s, e in second.extra["items"]]
    assert [i[:3] for i in items] == ["(a)", "(b)", "(c)", "(d)"]
    assert items[0] == "(a) the first item;"
    assert sorted(blocks) == [1, 2, 3, 4, 5]
    assert not [b for b in parsed.blocks if b.kind == "list-item"]

    # The unsafe link keeps its text, loses its target.
    third = blocks[3]
    assert third.text.startswith("A dangerous link")
    assert not _marked(third, "a")

    # The image: a figure with its alt text and the PNG's bytes.
    (figure,) = [b for b in parsed.blocks if b.kind == "figure"]
    assert figure.text == PNG_ALT
    (image,) = parsed.images
    assert image.data == png_bytes() and image.alt == PNG_ALT
    assert figure.extra["marks"] == [[0, 0, "img", image.key, PNG_ALT]]

    # The table, with the formatting of its cells.
    (table,) = [b for b in parsed.blocks if b.kind == "table"]
    assert table.extra["rows"] == [["Region", "Partners"], ["Africa", "120"], ["Arab States", "45"]]
    assert table.extra["cells"][0][1] == [[0, 8, "b"]]

    # Chinese: bold run and the second footnote, numbered 2.
    fifth = blocks[5]
    assert _marked(fifth, "b") == ["世界城市论坛"]
    assert [n["label"] for n in fifth.extra["notes"]] == ["2"]
    assert parsed.sections[1].heading == "A. 中文部分"


def test_markdown_lists_what_it_could_not_keep():
    report = {e["code"]: e for e in parse_markdown(MARKDOWN).report}
    assert report["unsafe-link"]["count"] == 2
    assert "javascript:alert(1)" in report["unsafe-link"]["examples"]
    assert report["image-remote"]["examples"] == ["https://example.org/logo.png"]
    assert report["image-missing"]["examples"] == ["chart.png"]
    assert report["footnote-unused"]["examples"] == ["[^unused]"]


def test_docx_lists_tracked_changes_comments_and_embedded_objects():
    parsed = parse_docx(io.BytesIO(fidelity_docx()))
    report = {e["code"]: e["count"] for e in parsed.report}
    assert report == {
        "tracked-changes": 2,
        "file-comments": 1,
        "embedded-object": 1,
        "unsafe-link": 1,
    }
    # Tracked changes are imported as accepted: the insertion is there, the deletion is not.
    fourth = _by_number(parsed)[4]
    assert "inserted text" in fourth.text and "deleted text" not in fourth.text


def test_markdown_zip_bundle_keeps_relative_images():
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("draft/report.md", "1. A chart:\n\n![Partners by region](img/chart.png)\n")
        archive.writestr("draft/img/chart.png", png_bytes(8, 8))
    from portal.reviews.importing import parse_upload

    parsed, fmt = parse_upload("draft.zip", io.BytesIO(buffer.getvalue()))
    assert fmt == "md"
    assert [i.alt for i in parsed.images] == ["Partners by region"]
    assert not parsed.report


def _tags(html: str) -> list[tuple[str, list]]:
    """Every element and its attributes, as a browser's parser sees them."""
    from html.parser import HTMLParser

    found: list[tuple[str, list]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collector().feed(html)
    return found


# --- Stored, shown, served --------------------------------------------------------------------


def _upload(client, name: str, data: bytes) -> DocumentVersion:
    response = client.post(
        "/reviews/documents/new",
        data={
            "title": "Faithful draft",
            "lang": "en",
            "description": "",
            "changelog": "",
            "file": (io.BytesIO(data), name),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return db.session.scalars(
        db.select(DocumentVersion).order_by(DocumentVersion.id.desc())
    ).first()


@pytest.mark.parametrize("fmt", ["md", "docx"])
def test_version_page_shows_the_draft_as_written(client, staff, fmt):
    login(client, staff.email)
    data = MARKDOWN.encode() if fmt == "md" else fidelity_docx()
    version = _upload(client, f"draft.{fmt}", data)
    page = client.get(f"/reviews/documents/{version.document_id}/versions/1").get_data(as_text=True)
    assert "<strong>Executive Board</strong>" in page
    assert "<em>strategic plan</em>" in page
    assert '<a href="https://unhabitat.org/report" rel="nofollow noopener">the report</a>' in page
    assert "javascript:" not in page.split("<article>")[1]  # listed as refused, never a link
    # Sub-items (a)–(d) inside paragraph 2's body.
    second = db.session.scalar(
        db.select(Paragraph).where(Paragraph.version_id == version.id, Paragraph.number == 2)
    )
    body = page.split(f'id="pb-{second.anchor}"')[1].split("</ol>")[0]
    assert body.count("<li>") == 4 and "(c) the third item;" in body
    # The footnote: a reference in the text, the note under the paragraph.
    first = db.session.scalar(
        db.select(Paragraph).where(Paragraph.version_id == version.id, Paragraph.number == 1)
    )
    assert f'href="#n-{first.anchor}-1" class="note-ref">1</a>' in page
    assert re.search(
        rf'<li id="n-{first.anchor}-1"><span class="note-label">1</span>.*?Decision 1/3', page
    )
    # The image: stored like other uploads, shown with its alt text.
    image = db.session.scalar(db.select(ReviewImage).where(ReviewImage.version_id == version.id))
    assert image is not None and image.alt == PNG_ALT
    assert f'src="/reviews/images/{image.id}" alt="{PNG_ALT}"' in page
    # The table.
    assert '<th scope="col"><strong>Partners</strong></th>' in page
    # Before publishing, the version page lists what was not kept.
    report = page.split('class="card import-report"')[1].split("</section>")[0]
    assert "Not kept from the file" in report
    if fmt == "md":
        assert "was not copied; it is kept as a link" in report
        assert "image file was not in the upload" in report
        assert "never referred to in the text" in report
    else:
        assert "2 tracked changes" in report
        assert "1 comment written in the file was not imported" in report
        assert "1 embedded object" in report
    assert "2 link targets were not kept" in report or "1 link target was not kept" in report


def test_images_are_served_only_to_those_who_may_see_the_version(
    client, app, staff, reviewer, outsider
):
    login(client, staff.email)
    version = _upload(client, "draft.md", MARKDOWN.encode())
    image = db.session.scalar(db.select(ReviewImage).where(ReviewImage.version_id == version.id))
    url = f"/reviews/images/{image.id}"
    response = client.get(url)
    assert response.status_code == 200 and response.data == png_bytes()
    assert response.headers["Content-Type"] == "image/png"
    # Never cached by a shared cache: the image belongs to a draft under review.
    assert re.search(r"private|no-store", response.headers["Cache-Control"])

    client.post("/accounts/logout")
    # A draft version: nobody but staff, not even the invited reviewer.
    for who in (reviewer, outsider):
        login(client, who.email)
        assert client.get(url).status_code == 404
    client.post("/accounts/logout")
    assert client.get(url).status_code == 404

    from portal.reviews import services
    from portal.reviews.jobs import run_pending_jobs

    services.publish_version(version, staff)
    open_emails_round(version, staff, [reviewer.email])
    db.session.commit()
    run_pending_jobs()  # the invitations
    login(client, reviewer.email)
    assert client.get(url).status_code == 200
    login(client, outsider.email)
    assert client.get(url).status_code == 404
    assert client.get("/reviews/images/999999").status_code == 404


def test_hostile_markdown_is_shown_as_text(client, staff):
    login(client, staff.email)
    version = _upload(client, "hostile.md", HOSTILE_MARKDOWN.encode())
    page = client.get(f"/reviews/documents/{version.document_id}/versions/1").get_data(as_text=True)
    article = page.split("<article>")[1].split("</article>")[0]
    tags = _tags(article)
    names = {tag for tag, _attrs in tags}
    assert names <= {
        "div",
        "a",
        "span",
        "strong",
        "em",
        "s",
        "sup",
        "table",
        "tr",
        "th",
        "td",
        "h2",
        "ol",
        "ul",
        "li",
        "img",
        "figure",
        "mark",
    }, names
    for tag, attrs in tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src"):
                assert re.match(r"^(https?:|mailto:|/reviews/|#)", value or ""), (tag, value)
    # …but the reader still sees what was written.
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in article
    assert "&lt;iframe src=//evil&gt;" in article
    # Each refused target is listed.
    report = page.split('class="card import-report"')[1].split("</section>")[0]
    assert re.search(r"\d+ link targets were not kept", report)


# --- A rolled-back import leaves no image behind ----------------------------------------------


def _stored_names() -> set[str]:
    from portal.storage import get_storage

    return set(get_storage().names())


@pytest.mark.parametrize("fmt", ["md", "docx"])
def test_a_validation_error_after_the_images_were_written_leaves_no_file(
    client, staff, monkeypatch, fmt
):
    """The images are written while the version is stored; a refusal later in the same
    request (here: the audit entry of the version refused) rolls the rows back — and the
    files with them."""
    from portal.core.services import ValidationError
    from portal.reviews import services

    login(client, staff.email)
    before = _stored_names()
    written: list[str] = []
    real_store = services._store_images

    def store_then_note(version, parsed, rows):
        real_store(version, parsed, rows)
        written.extend(
            db.session.scalars(
                db.select(ReviewImage.stored_name).where(ReviewImage.version_id == version.id)
            )
        )

    def refuse_after_storing(action, obj, **kw):
        if isinstance(obj, DocumentVersion):
            raise ValidationError({"file": "Refused after the images were written."})

    monkeypatch.setattr(services, "_store_images", store_then_note)
    monkeypatch.setattr(services, "record_audit", refuse_after_storing)
    data = MARKDOWN.encode() if fmt == "md" else fidelity_docx()
    response = client.post(
        "/reviews/documents/new",
        data={"title": "Refused draft", "lang": "en", "file": (io.BytesIO(data), f"d.{fmt}")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "Refused after the images were written." in response.get_data(as_text=True)
    assert written, "the import stored no image: the test proves nothing"
    assert _stored_names() == before  # no orphan
    assert db.session.scalar(db.select(db.func.count(ReviewImage.id))) == 0


def test_an_exception_after_the_images_were_written_leaves_no_file(app, staff, monkeypatch):
    """The same in a command or worker job: an exception forcing the rollback."""
    from portal.core.transaction import committing
    from portal.reviews import services

    before = _stored_names()
    real_insert = db.session.execute
    seen_at_failure: list[set[str]] = []

    def failing_insert(statement, *args, **kw):
        if getattr(statement, "table", None) is Paragraph.__table__:
            seen_at_failure.append(_stored_names() - before)
            raise RuntimeError("database went away")
        return real_insert(statement, *args, **kw)

    document = services.create_document("Broken import", "", "en", staff)
    db.session.commit()
    monkeypatch.setattr(db.session, "execute", failing_insert)
    with pytest.raises(RuntimeError), committing():
        services.add_version(
            document,
            parse_markdown(MARKDOWN),
            source_format="md",
            source_filename="d.md",
            changelog="",
            actor=staff,
        )
    monkeypatch.undo()
    assert seen_at_failure and seen_at_failure[0], "no image was written before the failure"
    assert _stored_names() == before
    assert db.session.scalar(db.select(db.func.count(ReviewImage.id))) == 0


def test_a_committed_import_keeps_its_images(client, staff):
    login(client, staff.email)
    before = _stored_names()
    version = _upload(client, "draft.md", MARKDOWN.encode())
    stored = set(
        db.session.scalars(
            db.select(ReviewImage.stored_name).where(ReviewImage.version_id == version.id)
        )
    )
    assert stored and _stored_names() == before | stored
