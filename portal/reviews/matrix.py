"""The comment matrix: the table international secretariats work from.

One row per top-level comment of a round, in document order (whole-document comments first,
then by paragraph, then oldest first), with the columns of ISO's commenting template plus the
reviewer's organisation and region. Replies are appended to their comment's cell. It is a
staff export, so anonymous comments still name their reviewer.

Three formats from the same rows: XLSX (openpyxl), CSV (UTF-8 with a BOM so Excel reads
Chinese and Arabic correctly) and DOCX (a landscape table, python-docx).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import astuple, dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.partners.models import Organization
from portal.reviews.dispositions import (
    comment_type_label,
    decision_label,
    document_order,
    organization_region_name,
    region_names,
)
from portal.reviews.models import Comment, CommentStatus, ReviewRound


@dataclass
class MatrixRow:
    number: int
    reviewer: str
    organisation: str
    region: str
    paragraph: str
    comment_type: str
    comment: str
    proposed_change: str
    disposition: str
    response: str


def headers() -> list[str]:
    return [
        _("No."),
        _("Reviewer"),
        _("Organisation"),
        _("Region"),
        _("Paragraph"),
        _("Type"),
        _("Comment"),
        _("Proposed change"),
        _("Disposition"),
        _("Response"),
    ]


# Relative widths (characters) of the columns in XLSX, and in DOCX as a share of the page.
COLUMN_WIDTHS = (6, 22, 26, 18, 10, 12, 60, 48, 16, 48)


def paragraph_label(comment: Comment) -> str:
    paragraph = comment.paragraph
    if paragraph is None:
        return _("Whole document")
    if paragraph.number is not None:
        return str(paragraph.number)
    # Unnumbered blocks (headings' intro text, tables) are cited by position.
    return _("block %(n)d", n=paragraph.position + 1)


def _comment_cell(comment: Comment) -> str:
    text = comment.body.strip()
    if comment.quoted_text:
        text = _("On “%(quote)s”: %(text)s", quote=comment.quoted_text.strip(), text=text)
    for reply in comment.replies:
        if reply.status != CommentStatus.ACTIVE.value:
            continue
        who = reply.author.name if reply.author else _("unknown")
        text += "\n\n" + _("Reply from %(name)s: %(text)s", name=who, text=reply.body.strip())
    return text


def matrix_comments(review_round: ReviewRound) -> list[Comment]:
    stmt = select(Comment).where(
        Comment.round_id == review_round.id,
        Comment.parent_id.is_(None),
        Comment.status == CommentStatus.ACTIVE.value,
    )
    stmt = document_order(stmt).options(
        selectinload(Comment.author),
        selectinload(Comment.organization).selectinload(Organization.country),
        selectinload(Comment.paragraph),
        selectinload(Comment.disposition),
        selectinload(Comment.replies).selectinload(Comment.author),
    )
    return list(db.session.scalars(stmt))


def matrix_rows(review_round: ReviewRound) -> list[MatrixRow]:
    names = region_names()
    rows = []
    for number, comment in enumerate(matrix_comments(review_round), start=1):
        org = comment.organization
        disposition = comment.disposition
        rows.append(
            MatrixRow(
                number=number,
                reviewer=comment.author.name if comment.author else _("(deleted account)"),
                organisation=org.name if org else "",
                region=organization_region_name(org, names),
                paragraph=paragraph_label(comment),
                comment_type=comment_type_label(comment.comment_type),
                comment=_comment_cell(comment),
                proposed_change=(comment.proposed_change or "").strip(),
                disposition=decision_label(disposition.decision) if disposition else "",
                response=disposition.response if disposition else "",
            )
        )
    return rows


def matrix_filename(review_round: ReviewRound, extension: str) -> str:
    return f"comment-matrix-round-{review_round.id}.{extension}"


def _is_rtl(text: str) -> bool:
    """True when the first strongly directional character is right-to-left (Arabic, Hebrew)."""
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in ("R", "AL"):
            return True
        if direction == "L":
            return False
    return False


# --- XLSX -------------------------------------------------------------------------------------


def to_xlsx(review_round: ReviewRound, rows: list[MatrixRow] | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    rows = matrix_rows(review_round) if rows is None else rows
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Comments")[:31]
    sheet.append(headers())
    header_fill = PatternFill("solid", fgColor="DDE6EF")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        sheet.append(list(astuple(row)))
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                # Never let a comment that starts with "=" become a live formula.
                cell.data_type = "s"
                rtl = _is_rtl(cell.value)
            else:
                rtl = False
            cell.alignment = Alignment(wrap_text=True, vertical="top", readingOrder=2 if rtl else 0)
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"  # the header stays in view while scrolling
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMN_WIDTHS))}{max(1, sheet.max_row)}"
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- CSV --------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value) -> str:
    """Spreadsheet programs run cells starting with = + - @ as formulas: quote them."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(review_round: ReviewRound, rows: list[MatrixRow] | None = None) -> bytes:
    rows = matrix_rows(review_round) if rows is None else rows
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers())
    for row in rows:
        values = astuple(row)
        writer.writerow([values[0], *(_csv_safe(v) for v in values[1:])])
    # The BOM tells Excel the file is UTF-8; without it Chinese and Arabic turn to mojibake.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- DOCX -------------------------------------------------------------------------------------


def _mark_rtl(paragraph) -> None:
    """Right-to-left paragraph and runs, so Word lays Arabic out from the right."""
    from docx.oxml import OxmlElement

    paragraph._p.get_or_add_pPr().append(OxmlElement("w:bidi"))
    for run in paragraph.runs:
        run._r.get_or_add_rPr().append(OxmlElement("w:rtl"))


def _repeat_header(row) -> None:
    from docx.oxml import OxmlElement

    tr_pr = row._tr.get_or_add_trPr()
    tr_pr.append(OxmlElement("w:tblHeader"))


def _set_cell_text(cell, text: str, *, bold: bool = False, size=None) -> None:
    cell.text = ""
    paragraphs = text.split("\n") if text else [""]
    first = cell.paragraphs[0]
    for index, line in enumerate(paragraphs):
        paragraph = first if index == 0 else cell.add_paragraph()
        run = paragraph.add_run(line)
        run.bold = bold
        if size is not None:
            run.font.size = size
        if _is_rtl(line):
            _mark_rtl(paragraph)


def to_docx(review_round: ReviewRound, rows: list[MatrixRow] | None = None) -> bytes:
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm, Pt

    rows = matrix_rows(review_round) if rows is None else rows
    document = Document()
    section = document.sections[0]
    # Landscape A4 with narrow margins: ten columns need the width.
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.2))
    version = review_round.version
    title = version.document.title if version is not None else ""
    document.add_heading(_("Comment matrix"), level=1)
    subtitle = document.add_paragraph()
    subtitle.add_run(
        _(
            "%(document)s, version %(number)s — %(round)s",
            document=title,
            number=version.number if version is not None else "",
            round=review_round.title,
        )
    )
    table = document.add_table(rows=1, cols=len(COLUMN_WIDTHS))
    table.style = "Table Grid"
    usable = section.page_width - section.left_margin - section.right_margin
    total = sum(COLUMN_WIDTHS)
    widths = [int(usable * w / total) for w in COLUMN_WIDTHS]
    small = Pt(8)
    header_row = table.rows[0]
    _repeat_header(header_row)
    for cell, label, width in zip(header_row.cells, headers(), widths, strict=True):
        _set_cell_text(cell, label, bold=True, size=small)
        cell.width = width
    for row in rows:
        cells = table.add_row().cells
        for cell, value, width in zip(cells, astuple(row), widths, strict=True):
            _set_cell_text(cell, str(value), size=small)
            cell.width = width
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


EXPORTS = {
    "xlsx": (
        to_xlsx,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "csv": (to_csv, "text/csv; charset=utf-8"),
    "docx": (
        to_docx,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
}
