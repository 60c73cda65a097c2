"""Importing drafts: the seed report as Markdown and DOCX, lists and tables, bad files.

The seed report (HSP/EB.2022/8, Chinese) has 40 numbered paragraphs. Its headings: the
introduction "引言" (paragraph 1), six numbered section headings "一、" … "六、" (paragraphs
2–40), and five lettered sub-headings "A." … "E." inside section 一 — so 12 sections in all,
7 at the top level. The tests assert exactly that.
"""

from __future__ import annotations

import io

import docx
import pytest

from portal.extensions import db
from portal.reviews.importing import ImportFailed, parse_docx, parse_markdown
from portal.reviews.models import DocumentVersion, DraftDocument, Paragraph
from tests.conftest import login
from tests.reviews.seed_fixture import to_docx

SIX = ["一", "二", "三", "四", "五", "六"]
# Paragraph numbers under each top-level heading of the seed report.
EXPECTED_RANGES = {
    "引言": range(1, 2),
    "一": range(2, 10),
    "二": range(10, 14),
    "三": range(14, 25),
    "四": range(25, 32),
    "五": range(32, 36),
    "六": range(36, 41),
}


def top_level_of(parsed, block):
    """The level-1 heading a block sits under (sub-sections A–E belong to 一)."""
    index = block.section_index
    while index is not None and parsed.sections[index].level > 1:
        index -= 1
    return parsed.sections[index]


def check_seed(parsed):
    numbered = parsed.numbered
    assert [b.number for b in numbered] == list(range(1, 41))
    top = [s for s in parsed.sections if s.level == 1]
    assert [s.number for s in top if s.number] == SIX
    assert top[0].heading == "引言"
    assert [s.number for s in parsed.sections if s.level == 2] == ["A", "B", "C", "D", "E"]
    for block in numbered:
        heading = top_level_of(parsed, block)
        key = heading.number or heading.heading
        assert block.number in EXPECTED_RANGES[key], (block.number, key)
    # Chinese text intact, character for character.
    assert numbered[38].text == (
        "在将于 2022 年 6 月 26 日至 30 日在波兰卡托维兹举行的世界城市论坛第十一届会议之前，"
        "人居署向 8 000 多个合作伙伴分发了会议的背景文件草案，以供审查和评论。"
    )
    assert numbered[2].text.startswith("由于要利用有限的资源跟踪成果框架中的 100 多项指标")
    assert top[6].heading == "六、关于向联合国人类住区规划署新治理结构过渡的安排的 第 1/3 号决定"
    # The lettered items "(a)" … are sub-items of their paragraph (1 and 22), not paragraphs.
    assert not [b for b in parsed.blocks if b.kind == "list-item"]
    first, twenty_second = numbered[0], numbered[21]
    assert len(first.extra["items"]) == 6 and len(twenty_second.extra["items"]) == 4
    start, end = first.extra["items"][0]
    assert first.text[start:end].startswith("(a) 关于联合国人类住区规划署 2020–2023 年期间战略计划")
    assert first.text[: start - 1].endswith("即：")


def test_seed_markdown_yields_40_paragraphs_under_their_headings(seed_markdown):
    check_seed(parse_markdown(seed_markdown))


def test_seed_docx_yields_40_paragraphs_under_their_headings(seed_docx):
    check_seed(parse_docx(io.BytesIO(seed_docx)))


def test_seed_docx_with_word_automatic_numbering(seed_docx):
    check_seed(parse_docx(io.BytesIO(to_docx(numbering="list-number"))))


def test_markdown_lists_and_tables_are_kept():
    text = (
        "# 1. Scope\n\n"
        "1. The first paragraph.\n\n"
        "- a bullet\n- another bullet\n  continued\n\n"
        "2. The second paragraph,\nwrapped over two lines.\n\n"
        "   1. an indented numbered item\n\n"
        "| Region | Partners |\n|---|---|\n| Africa | 120 |\n| Arab States | 45 |\n\n"
        "## 1.1 Detail\n\n"
        "3. Third.\n"
    )
    parsed = parse_markdown(text)
    assert [(s.heading, s.level, s.number) for s in parsed.sections] == [
        ("1. Scope", 1, "1"),
        ("1.1 Detail", 2, "1.1"),
    ]
    kinds = [(b.kind, b.number, b.text) for b in parsed.blocks]
    assert kinds[0] == ("paragraph", 1, "The first paragraph.")
    assert kinds[1] == ("list-item", None, "a bullet")
    assert kinds[2] == ("list-item", None, "another bullet continued")
    assert kinds[3] == ("paragraph", 2, "The second paragraph, wrapped over two lines.")
    assert kinds[4][0] == "list-item" and kinds[4][2] == "an indented numbered item"
    table = parsed.blocks[5]
    assert table.kind == "table"
    assert table.extra["rows"] == [["Region", "Partners"], ["Africa", "120"], ["Arab States", "45"]]
    assert parsed.blocks[6].number == 3 and parsed.blocks[6].section_index == 1


def test_docx_lists_and_tables_are_kept():
    document = docx.Document()
    document.add_heading("一、导言", level=1)
    document.add_paragraph("1. 第一段。")
    document.add_paragraph("要点一", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "区域", "伙伴"
    table.cell(1, 0).text, table.cell(1, 1).text = "非洲", "120"
    document.add_paragraph("2. 第二段。")
    buffer = io.BytesIO()
    document.save(buffer)
    parsed = parse_docx(io.BytesIO(buffer.getvalue()))
    assert [s.heading for s in parsed.sections] == ["一、导言"]
    assert [(b.kind, b.number) for b in parsed.blocks] == [
        ("paragraph", 1),
        ("list-item", None),
        ("table", None),
        ("paragraph", 2),
    ]
    assert parsed.blocks[2].extra["rows"] == [["区域", "伙伴"], ["非洲", "120"]]


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"PK\x03\x04 this is not really a zip", "not a readable Word document"),
        (b"", "empty"),
        (b"%PDF-1.4 a pdf renamed", "not a readable Word document"),
    ],
)
def test_bad_docx_is_rejected(payload, message):
    with pytest.raises(ImportFailed) as err:
        parse_docx(io.BytesIO(payload))
    assert message in err.value.message


def test_docx_without_text_is_rejected():
    buffer = io.BytesIO()
    docx.Document().save(buffer)
    with pytest.raises(ImportFailed, match="No paragraphs"):
        parse_docx(io.BytesIO(buffer.getvalue()))


def test_empty_markdown_is_rejected():
    with pytest.raises(ImportFailed, match="empty"):
        parse_markdown("  \n\n ")


# --- Through the web: upload, render, bad input leaves nothing behind -------------------------


def _upload(client, filename, data, title="Draft background paper"):
    return client.post(
        "/reviews/documents/new",
        data={"title": title, "lang": "zh", "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_staff_upload_docx_and_see_numbered_paragraphs_with_anchors(client, staff, seed_docx):
    db.session.commit()
    login(client, staff.email)
    resp = _upload(client, "HSP-EB.2022-8.docx", seed_docx)
    assert resp.status_code == 302
    version = db.session.query(DocumentVersion).one()
    assert version.source_format == "docx"
    paragraphs = db.session.query(Paragraph).filter(Paragraph.number.is_not(None)).all()
    assert len(paragraphs) == 40
    page = client.get(resp.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    p39 = next(p for p in paragraphs if p.number == 39)
    assert f'id="p-{p39.anchor}"' in html
    assert "人居署向 8 000 多个合作伙伴分发了会议的背景文件草案" in html
    assert "六、关于向联合国人类住区规划署新治理结构过渡的安排的 第 1/3 号决定" in html


@pytest.mark.parametrize(
    "filename, data, message",
    [
        ("broken.docx", b"PK\x03\x04garbage" * 10, "not a readable Word document"),
        ("empty.md", b"", "empty"),
        ("empty.docx", b"", "empty"),
        ("notes.pdf", b"%PDF-1.4", "Upload a Word document"),
    ],
)
def test_bad_upload_shows_a_field_error_and_writes_nothing(client, staff, filename, data, message):
    db.session.commit()
    login(client, staff.email)
    resp = _upload(client, filename, data)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert db.session.query(DraftDocument).count() == 0
    assert db.session.query(Paragraph).count() == 0


def test_50_mb_upload_is_refused_with_a_clear_error(client, staff):
    db.session.commit()
    login(client, staff.email)
    resp = _upload(client, "huge.md", b"1. x\n" * (10 * 1024 * 1024))  # 50 MB
    # Under the request cap: the form itself refuses it, beside the field, with its own limit.
    assert resp.status_code == 400
    assert "larger than 10 MB" in resp.get_data(as_text=True)
    assert db.session.query(DraftDocument).count() == 0


def test_file_over_the_review_limit_but_under_the_request_limit(client, staff, app):
    db.session.commit()
    login(client, staff.email)
    resp = _upload(client, "big.md", b"1. x\n" * (3 * 1024 * 1024))  # 15 MB > 10 MB limit
    assert resp.status_code == 400
    assert "larger than 10 MB" in resp.get_data(as_text=True)
    assert db.session.query(DraftDocument).count() == 0


def test_partners_cannot_upload(client, reviewer, seed_markdown):
    db.session.commit()
    login(client, reviewer.email)
    assert _upload(client, "seed.md", seed_markdown.encode()).status_code == 403
    assert db.session.query(DraftDocument).count() == 0


# --- Versions, changelog and the diff --------------------------------------------------------


def test_new_version_changelog_and_diff_between_versions(client, staff):
    db.session.commit()
    login(client, staff.email)
    v1 = (
        "# 一、导言\n\n1. 人居署与伙伴合作。\n\n2. Partners <b>review</b> drafts.\n\n"
        "3. 将被删除的段落。\n"
    )
    v2 = (
        "# 一、导言\n\n1. 人居署与合作伙伴密切合作。\n\n2. Partners <b>review</b> drafts.\n\n"
        "3. A new paragraph <script>alert(1)</script>.\n"
    )
    assert _upload(client, "v1.md", v1.encode()).status_code == 302
    document = db.session.query(DraftDocument).one()
    client.post(f"/reviews/documents/{document.id}/versions/1/publish")
    resp = client.post(
        f"/reviews/documents/{document.id}/versions/new",
        data={
            "file": (io.BytesIO(v2.encode()), "v2.md"),
            "changelog": "Paragraph 1 reworded; 3 replaced.",
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    page = client.get(f"/reviews/documents/{document.id}/versions/2").get_data(as_text=True)
    assert "Paragraph 1 reworded; 3 replaced." in page
    diff = client.get(f"/reviews/documents/{document.id}/diff?from=1&to=2")
    html = diff.get_data(as_text=True)
    assert diff.status_code == 200
    assert "1 changed, 1 inserted, 1 deleted, 0 moved, 1 unchanged." in html
    # Word-level (here character-level, Chinese) marks inside the changed paragraph.
    assert "<ins>合作</ins>" in html and "<ins>密切</ins>" in html
    assert "<del>将被删除的段落。</del>" in html
    # Text is escaped before the marks go in.
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert client.get(f"/reviews/documents/{document.id}/diff?from=1&to=9").status_code == 404
    assert client.get(f"/reviews/documents/{document.id}/diff?from=x&to=2").status_code == 400


def test_draft_versions_are_invisible_to_reviewers(client, review_round, reviewer, staff):
    from portal.reviews import services
    from portal.reviews.importing import parse_markdown

    document = review_round.version.document
    services.add_version(
        document,
        parse_markdown("1. Unpublished text."),
        source_format="md",
        source_filename=None,
        changelog="v2",
        actor=staff,
    )
    db.session.commit()
    login(client, reviewer.email)
    assert client.get(f"/reviews/documents/{document.id}/versions/1").status_code == 200
    assert client.get(f"/reviews/documents/{document.id}/versions/2").status_code == 404
