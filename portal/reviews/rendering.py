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
