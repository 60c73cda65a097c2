"""The comment matrix in XLSX, CSV and DOCX: one row per comment in document order, the ISO-style
columns, Chinese and Arabic intact, reviewers named even when anonymous (a staff export)."""

from __future__ import annotations

import csv
import io

import pytest
from docx import Document
from openpyxl import load_workbook

from portal.accounts.models import Role
from portal.extensions import db
from portal.reviews.models import Disposition
from tests.conftest import login

HEADERS = [
    "No.",
    "Reviewer",
    "Organisation",
    "Region",
    "Paragraph",
    "Type",
    "Comment",
    "Proposed change",
    "Disposition",
    "Response",
    "Anonymous to other reviewers",
    "Endorsements",
]
ZH_COMMENT = "建议在第3段中加入关于非正规住区的数据。"
ZH_CHANGE = "增加“非正规住区改造”一词。"
AR_COMMENT = "نقترح إضافة إشارة إلى الحكومات المحلية والإقليمية."
AR_RESPONSE = "تمت إضافة الإشارة في الفقرة ٣."


@pytest.fixture
def matrix_round(factories):
    factories.make_user(Role.STAFF, email="staff@example.org")
    cn = factories.make_org("中国城市规划设计研究院", country="CN", regions=("030",), org_type="80")
    eg = factories.make_org("المعهد العربي لإنماء المدن", country="EG", regions=("015",))
    wang = factories.make_user(Role.PARTNER, organization=cn, name="王芳", email="wang@example.org")
    amal = factories.make_user(
        Role.PARTNER, organization=eg, name="أمل حسن", email="amal@example.org"
    )
    version = factories.make_review_version(
        ["伙伴关系至关重要。", "利益攸关方咨询小组每月开会。", "世界城市论坛的背景文件。"],
        title="背景文件",
    )
    review_round = factories.make_review_round(version, invited=[wang, amal], allow_anonymous=True)
    p1, _p2, p3 = version.paragraphs
    later_on_p3 = factories.make_review_comment(
        review_round, wang, p3, body=ZH_COMMENT, proposed_change=ZH_CHANGE, comment_type="technical"
    )
    on_p1 = factories.make_review_comment(
        review_round, amal, p1, body=AR_COMMENT, anonymous=True, comment_type="editorial"
    )
    whole = factories.make_review_comment(review_round, wang, None, body="=1+1 总体意见")
    factories.make_review_comment(review_round, amal, p1, body="Withdrawn", status="withdrawn")
    factories.make_review_comment(
        review_round, amal, p3, body="同意", parent_id=later_on_p3.id
    )  # a reply: part of its comment's cell, not a row
    db.session.add(Disposition(comment=on_p1, decision="accepted", response=AR_RESPONSE))
    db.session.add(Disposition(comment=later_on_p3, decision="rejected", response="超出范围。"))
    db.session.commit()
    return review_round, {"whole": whole, "p1": on_p1, "p3": later_on_p3}


def _download(client, review_round, fmt):
    login(client, "staff@example.org")
    resp = client.get(f"/reviews/rounds/{review_round.id}/matrix.{fmt}")
    assert resp.status_code == 200
    assert f"comment-matrix-round-{review_round.id}.{fmt}" in resp.headers["Content-Disposition"]
    return resp


def _check_rows(rows):
    assert rows[0] == HEADERS
    body = rows[1:]
    assert len(body) == 3  # withdrawn comment and the reply are not rows
    # Document order: whole document first, then ¶1, then ¶3.
    assert [r[0] for r in body] == ["1", "2", "3"]
    assert [r[4] for r in body] == ["Whole document", "1", "3"]
    whole, p1, p3 = body
    assert whole[6].lstrip("'") == "=1+1 总体意见"
    assert p1[1] == "أمل حسن"  # anonymous to reviewers, never to staff …
    assert p1[10] == "Yes" and p3[10] == "" and whole[10] == ""  # … and marked so
    assert p1[2] == "المعهد العربي لإنماء المدن"
    assert p1[3] == "Northern Africa"
    assert p1[5] == "Editorial"
    assert p1[6] == AR_COMMENT
    assert p1[8] == "Accepted" and p1[9] == AR_RESPONSE
    assert p3[1] == "王芳" and p3[2] == "中国城市规划设计研究院" and p3[3] == "Eastern Asia"
    assert p3[5] == "Technical"
    assert p3[6].startswith(ZH_COMMENT) and "同意" in p3[6]  # the reply is appended
    assert p3[7] == ZH_CHANGE
    assert p3[8] == "Rejected" and p3[9] == "超出范围。"
    assert [r[11] for r in body] == ["0", "0", "0"]  # nobody endorsed (test_endorsements.py)


def test_xlsx_round_trips_chinese_and_arabic(client, matrix_round):
    review_round, _ = matrix_round
    resp = _download(client, review_round, "xlsx")
    sheet = load_workbook(io.BytesIO(resp.data)).active
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    _check_rows(rows)
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"
    assert sheet["G3"].alignment.wrap_text
    assert sheet.column_dimensions["G"].width >= 40
    # A comment starting with "=" is text, never a formula.
    assert sheet["G2"].data_type == "s"
    # Arabic cells read right to left.
    assert sheet["G3"].alignment.readingOrder == 2


def test_csv_is_utf8_with_bom(client, matrix_round):
    review_round, _ = matrix_round
    resp = _download(client, review_round, "csv")
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"  # once, not twice
    assert resp.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    _check_rows(rows)
    assert rows[1][6].startswith("'=")  # neutralised for spreadsheet programs


def test_docx_is_a_landscape_table(client, matrix_round):
    from docx.enum.section import WD_ORIENT

    review_round, _ = matrix_round
    resp = _download(client, review_round, "docx")
    document = Document(io.BytesIO(resp.data))
    assert document.sections[0].orientation == WD_ORIENT.LANDSCAPE
    assert document.sections[0].page_width > document.sections[0].page_height
    table = document.tables[0]
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    _check_rows(rows)
    assert "背景文件" in "\n".join(p.text for p in document.paragraphs)


def test_matrix_of_a_round_without_comments_has_only_the_header(client, factories):
    factories.make_user(Role.STAFF, email="staff@example.org")
    version = factories.make_review_version(["Only."])
    review_round = factories.make_review_round(version)
    db.session.commit()
    resp = _download(client, review_round, "xlsx")
    rows = list(load_workbook(io.BytesIO(resp.data)).active.iter_rows(values_only=True))
    assert [list(r) for r in rows] == [HEADERS]


def test_unknown_format_is_404(client, matrix_round):
    review_round, _ = matrix_round
    login(client, "staff@example.org")
    assert client.get(f"/reviews/rounds/{review_round.id}/matrix.pdf").status_code == 404


def test_control_characters_pasted_into_a_comment_do_not_break_the_exports(client, factories):
    factories.make_user(Role.STAFF, email="staff@example.org")
    author = factories.make_user(Role.PARTNER, name="Paste\x0bUser")
    version = factories.make_review_version(["Only paragraph."])
    review_round = factories.make_review_round(version, invited=[author])
    factories.make_review_comment(
        review_round, author, version.paragraphs[0], body="Bad\x01\x1fchars"
    )
    db.session.commit()
    sheet = load_workbook(io.BytesIO(_download(client, review_round, "xlsx").data)).active
    assert sheet["G2"].value == "Badchars" and sheet["B2"].value == "PasteUser"
    table = Document(io.BytesIO(_download(client, review_round, "docx").data)).tables[0]
    assert table.rows[1].cells[6].text == "Badchars"


def test_docx_marks_arabic_cells_right_to_left(client, matrix_round):
    review_round, _ = matrix_round
    document = Document(io.BytesIO(_download(client, review_round, "docx").data))
    cell = document.tables[0].rows[2].cells[6]  # the Arabic comment
    assert cell.text == AR_COMMENT
    assert (
        cell.paragraphs[0]._p.pPr.find(
            "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}bidi"
        )
        is not None
    )
