"""The comment matrix: the table international secretariats work from.

One row per top-level comment of a round, in document order (whole-document comments first,
then by paragraph, then oldest first), with the columns of ISO's commenting template plus the
reviewer's organisation and region. Replies are appended to their comment's cell. It is a
staff export, so anonymous comments still name their reviewer — and say so in a column of their
own, the last one (so the ISO columns stay in their usual order for pasting).

Three formats from the same rows: XLSX (openpyxl), CSV (UTF-8 with a BOM so Excel reads
Chinese and Arabic correctly) and DOCX (a landscape table, python-docx).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import astuple, dataclass
from xml.sax.saxutils import escape as xml_escape

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
from portal.reviews.endorsements import endorsement_counts
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
    anonymous: str  # "Anonymous to other reviewers" or empty
    endorsements: int = 0


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
        _("Anonymous to other reviewers"),
        _("Endorsements"),
    ]


# Relative widths (characters) of the columns in XLSX, and in DOCX as a share of the page.
COLUMN_WIDTHS = (6, 22, 26, 18, 10, 12, 60, 48, 16, 48, 14, 12)


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


# Characters XML 1.0 forbids (XLSX and DOCX are XML): a pasted control character must not
# make the whole export fail.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _XML_ILLEGAL.sub("", text)


def matrix_rows(review_round: ReviewRound) -> list[MatrixRow]:
    names = region_names()
    rows = []
    comments = matrix_comments(review_round)
    endorsed = endorsement_counts(c.id for c in comments)
    for number, comment in enumerate(comments, start=1):
        org = comment.organization
        disposition = comment.disposition
        rows.append(
            MatrixRow(
                number=number,
                reviewer=_clean(comment.author.name) if comment.author else _("(deleted account)"),
                organisation=_clean(org.name) if org else "",
                region=organization_region_name(org, names),
                paragraph=paragraph_label(comment),
                comment_type=comment_type_label(comment.comment_type),
                comment=_clean(_comment_cell(comment)),
                proposed_change=_clean((comment.proposed_change or "").strip()),
                disposition=decision_label(disposition.decision) if disposition else "",
                response=_clean(disposition.response) if disposition else "",
                anonymous=_("Yes") if comment.anonymous else "",
                endorsements=endorsed.get(comment.id, 0),
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
    """Written in openpyxl's write-only mode: rows stream out, so 20,000 comments take seconds
    and little memory (the normal mode re-scans the sheet to find its last row)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    rows = matrix_rows(review_round) if rows is None else rows
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Comments")[:31])
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"  # the header stays in view while scrolling
    last_column = get_column_letter(len(COLUMN_WIDTHS))
    sheet.auto_filter.ref = f"A1:{last_column}{len(rows) + 1}"
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    # Shared style objects: one per variant, not one per cell.
    ltr = Alignment(wrap_text=True, vertical="top")
    rtl = Alignment(wrap_text=True, vertical="top", readingOrder=2)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE6EF")

    def header_cell(label: str):
        cell = WriteOnlyCell(sheet, value=label)
        cell.font, cell.fill, cell.alignment = bold, fill, ltr
        return cell

    def body_cell(value):
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            # Never let a comment that starts with "=" become a live formula.
            cell.data_type = "s"
            cell.alignment = rtl if _is_rtl(value) else ltr
        else:
            cell.alignment = ltr
        return cell

    sheet.append([header_cell(label) for label in headers()])
    for row in rows:
        sheet.append([body_cell(value) for value in astuple(row)])
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


_W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _docx_cell_xml(text: str, width_twips: int) -> str:
    paragraphs = []
    for line in text.split("\n") if text else [""]:
        rtl = _is_rtl(line)
        p_pr = "<w:pPr><w:bidi/></w:pPr>" if rtl else ""
        r_pr = '<w:rPr><w:sz w:val="16"/>' + ("<w:rtl/>" if rtl else "") + "</w:rPr>"
        run = f'<w:r>{r_pr}<w:t xml:space="preserve">{xml_escape(line)}</w:t></w:r>' if line else ""
        paragraphs.append(f"<w:p>{p_pr}{run}</w:p>")
    return (
        f'<w:tc><w:tcPr><w:tcW w:w="{width_twips}" w:type="dxa"/></w:tcPr>'
        f"{''.join(paragraphs)}</w:tc>"
    )


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
    # Body rows are written as WordprocessingML and parsed once per row: python-docx's
    # add_row()/row.cells recompute the whole table grid each time (quadratic), and its
    # element-by-element API costs ~2 ms a row — minutes for 20,000 comments.
    from docx.oxml import parse_xml

    tbl = table._tbl
    twips = [w // 635 for w in widths]  # EMU → twentieths of a point
    for row in rows:
        cells = "".join(
            _docx_cell_xml(str(value), width)
            for value, width in zip(astuple(row), twips, strict=True)
        )
        tbl.append(parse_xml(f"<w:tr {_W_NS}>{cells}</w:tr>"))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


EXPORTS = {
    "xlsx": (
        to_xlsx,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "csv": (to_csv, "text/csv"),  # Werkzeug adds "; charset=utf-8" to text/* types
    "docx": (
        to_docx,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
}
