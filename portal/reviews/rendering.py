"""Laying a version out for a page: headings, numbered paragraphs, lists and tables in order,
plus the per-paragraph comment counts a viewer may see.

Two queries per version (sections, paragraphs), whatever its length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup, escape
from sqlalchemy import func, select

from portal.extensions import db
from portal.reviews.models import (
    BlockKind,
    Comment,
    CommentStatus,
    DocumentVersion,
    Paragraph,
    ReviewRound,
    Section,
)
from portal.reviews.permissions import visible_comments_filter
from portal.reviews.richtext import Highlight, render_rich


@dataclass
class Item:
    kind: str  # "heading" | "paragraph" | "list" | "table"
    section: Section | None = None
    paragraph: Paragraph | None = None
    items: list[Paragraph] = field(default_factory=list)  # for lists
    ordered: bool = False


def load_version(version: DocumentVersion) -> tuple[list[Section], list[Paragraph]]:
    sections = list(
        db.session.scalars(
            select(Section).where(Section.version_id == version.id).order_by(Section.position)
        )
    )
    paragraphs = list(
        db.session.scalars(
            select(Paragraph).where(Paragraph.version_id == version.id).order_by(Paragraph.position)
        )
    )
    return sections, paragraphs


def outline(version: DocumentVersion) -> list[Item]:
    """Headings and blocks in reading order; consecutive list items become one list."""
    sections, paragraphs = load_version(version)
    by_section: dict[int | None, list[Paragraph]] = {}
    for p in paragraphs:
        by_section.setdefault(p.section_id, []).append(p)
    items: list[Item] = []

    def add_blocks(blocks: list[Paragraph]) -> None:
        for p in blocks:
            if p.kind == BlockKind.LIST_ITEM:
                ordered = bool((p.extra or {}).get("ordered"))
                if items and items[-1].kind == "list" and items[-1].section is p.section:
                    items[-1].items.append(p)
                    continue
                items.append(Item("list", section=p.section, items=[p], ordered=ordered))
            elif p.kind == BlockKind.TABLE:
                items.append(Item("table", section=p.section, paragraph=p))
            else:
                items.append(Item("paragraph", section=p.section, paragraph=p))

    add_blocks(by_section.get(None, []))
    for s in sections:
        items.append(Item("heading", section=s))
        add_blocks(by_section.get(s.id, []))
    return items


def table_rows(paragraph: Paragraph) -> list[list[str]]:
    rows = (paragraph.extra or {}).get("rows") or []
    return [[str(c) for c in row] for row in rows if isinstance(row, list)]


def paragraph_label(paragraph: Paragraph | None) -> str:
    if paragraph is None:
        return ""
    return str(paragraph.number) if paragraph.number is not None else ""


def highlight(text: str, start: int | None, end: int | None) -> Markup:
    """The paragraph text with a quoted range marked (escaped everywhere)."""
    if start is None or end is None or not 0 <= start < end <= len(text):
        return escape(text)
    return (
        escape(text[:start])
        + Markup("<mark>")
        + escape(text[start:end])
        + Markup("</mark>")
        + escape(text[end:])
    )


def comment_counts(round_: ReviewRound, user) -> dict[int, int]:
    """Active comments per paragraph that this viewer may see (one GROUP BY query)."""
    rows = db.session.execute(
        select(Comment.paragraph_id, func.count(Comment.id))
        .where(
            visible_comments_filter(user, round_),
            Comment.status == CommentStatus.ACTIVE.value,
            Comment.paragraph_id.is_not(None),
        )
        .group_by(Comment.paragraph_id)
    ).all()
    return {pid: n for pid, n in rows}


# --- Faithful rendering: marks, sub-items, notes, figures, commented passages ----------------


def _note_id(paragraph: Paragraph):
    return lambda label: f"n-{paragraph.anchor}-{label}"


def _image_url(image_id) -> str | None:
    from flask import url_for

    if isinstance(image_id, int) and not isinstance(image_id, bool):
        return url_for("reviews.review_image", image_id=image_id)
    return None


def _valid_items(items, length: int) -> list[tuple[int, int]]:
    good: list[tuple[int, int]] = []
    last = 0
    for item in items or []:
        if (
            isinstance(item, list | tuple)
            and len(item) == 2
            and all(isinstance(v, int) for v in item)
            and last <= item[0] < item[1] <= length
        ):
            good.append((item[0], item[1]))
            last = item[1]
        else:
            return []
    return good


def paragraph_html(paragraph: Paragraph, highlights=None) -> Markup:
    """The paragraph's text with its formatting, links, note references, images and lettered
    sub-items; the text nodes (outside ``[data-skip]``) add up to exactly ``paragraph.text``."""
    extra = paragraph.extra if isinstance(paragraph.extra, dict) else {}
    text = paragraph.text or ""
    marks = extra.get("marks")
    common = {
        "highlights": highlights or (),
        "note_id": _note_id(paragraph),
        "image_url": _image_url,
    }
    items = _valid_items(extra.get("items"), len(text))
    if not items:
        return render_rich(text, marks, **common)
    out = render_rich(text, marks, lo=0, hi=items[0][0], **common)
    out += Markup('<ol class="sub-items">')
    previous_end = items[0][0]
    for start, end in items:
        out += escape(text[previous_end:start])
        out += Markup("<li>") + render_rich(text, marks, lo=start, hi=end, **common)
        out += Markup("</li>")
        previous_end = end
    out += Markup("</ol>")
    if previous_end < len(text):
        out += render_rich(text, marks, lo=previous_end, hi=len(text), **common)
    return out


def paragraph_notes(paragraph: Paragraph) -> list[tuple[str, str, Markup]]:
    """(element id, label, text as HTML) of each footnote/endnote of the paragraph."""
    extra = paragraph.extra if isinstance(paragraph.extra, dict) else {}
    out = []
    for note in extra.get("notes") or []:
        if not isinstance(note, dict):
            continue
        label = str(note.get("label") or "")
        html = render_rich(str(note.get("text") or ""), note.get("marks"), image_url=_image_url)
        out.append((_note_id(paragraph)(label), label, html))
    return out


def table_cells_html(paragraph: Paragraph) -> list[list[Markup]]:
    """Each table cell as HTML (with its formatting, links and note references)."""
    extra = paragraph.extra if isinstance(paragraph.extra, dict) else {}
    cells = extra.get("cells") if isinstance(extra.get("cells"), list) else []
    note_id = _note_id(paragraph)
    out = []
    for r, row in enumerate(table_rows(paragraph)):
        marks_row = cells[r] if r < len(cells) and isinstance(cells[r], list) else []
        out.append(
            [
                render_rich(
                    cell,
                    marks_row[c] if c < len(marks_row) else None,
                    note_id=note_id,
                    image_url=_image_url,
                )
                for c, cell in enumerate(row)
            ]
        )
    return out


def figure_images(paragraph: Paragraph) -> list[tuple[str, str]]:
    """(url, alt text) of each image of a figure block."""
    extra = paragraph.extra if isinstance(paragraph.extra, dict) else {}
    out = []
    for m in extra.get("marks") or []:
        if isinstance(m, list) and len(m) > 3 and m[2] == "img":
            url = _image_url(m[3])
            if url:
                out.append((url, str(m[4]) if len(m) > 4 and m[4] else ""))
    return out


def passage_highlights(round_: ReviewRound, user) -> dict[int, list[Highlight]]:
    """The passages commented on (that this viewer may see), per paragraph, with their count."""
    from flask_babel import ngettext

    rows = db.session.execute(
        select(Comment.paragraph_id, Comment.quote_start, Comment.quote_end, func.count(Comment.id))
        .where(
            visible_comments_filter(user, round_),
            Comment.status == CommentStatus.ACTIVE.value,
            Comment.paragraph_id.is_not(None),
            Comment.quote_start.is_not(None),
            Comment.quote_end.is_not(None),
        )
        .group_by(Comment.paragraph_id, Comment.quote_start, Comment.quote_end)
    ).all()
    out: dict[int, list[Highlight]] = {}
    for pid, start, end, n in rows:
        label = ngettext("%(num)d comment on this passage", "%(num)d comments on this passage", n)
        out.setdefault(pid, []).append(Highlight(start, end, label=label, count=n))
    return out
