"""Reading aids for review pages, as template globals: the faithful rendering of paragraphs
(formatting, notes, sub-items, figures, tables), commented passages with their count, names
that tell one paragraph's links from another's, and the import report's sentences.

Template globals rather than a context processor: the document macros are imported
(``{% from "reviews/_document.html" import … %}``) and imported macros see only globals.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from portal.reviews.importing import describe_report
from portal.reviews.models import BlockKind, Paragraph, ReviewRound
from portal.reviews.rendering import (
    figure_images,
    paragraph_html,
    paragraph_notes,
    passage_highlights,
    table_cells_html,
)
from portal.reviews.web import bp

EXCERPT_CHARS = 40


def block_ref(paragraph: Paragraph, html: bool = False) -> str:
    """How links about a block name it, so each "Comment on this paragraph" link has its own
    accessible name: "paragraph 12", or the first words of an unnumbered block.

    ``html``: the excerpt (the document's words, not the interface's) isolated in ``<bdi>``, so
    it keeps its own direction and is not read as interface text; attributes take the plain
    form."""
    if paragraph.number is not None:
        return _("paragraph %(n)s", n=paragraph.number)
    text = " ".join((paragraph.text or "").split())
    excerpt = text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rstrip() + "…"
    if paragraph.kind == BlockKind.TABLE:
        message = _("table “%(start)s”", start="\0")
    elif paragraph.kind == BlockKind.FIGURE:
        message = _("figure “%(start)s”", start="\0")
    else:
        message = _("text “%(start)s”", start="\0")
    if not html:
        return message.replace("\0", excerpt)
    before, _sep, after = message.partition("\0")
    return Markup("{}<bdi>{}</bdi>{}").format(before, excerpt, after)


def passage_strings() -> dict[str, str]:
    """What the keyboard passage selection says (static/js/review-quote.js), translated."""
    return {
        "passage": _("Passage selection in %(ref)s"),
        "started": _(
            "Selecting a passage. Left and right arrows: by word (in Chinese, by character); "
            "up and down: by sentence; hold Shift to extend; Enter: comment on the selection; "
            "Escape: stop."
        ),
        "stopped": _("Stopped selecting."),
        "selected": _("Selected: %(text)s (%(n)s characters)"),
        "at": _("At: %(text)s"),
        "start": _("Start of the paragraph."),
        "end": _("End of the paragraph."),
        "empty": _("Nothing is selected yet: hold Shift and press the arrow keys."),
    }


LONG_DRAFT_PARAGRAPHS = 10


@dataclass
class TocEntry:
    heading: str
    level: int
    target: str  # element id of the heading
    first: int | None  # numbered paragraphs under it (sub-sections included)
    last: int | None


def table_of_contents(items) -> list[TocEntry]:
    """The headings of a long draft (10+ numbered paragraphs, 2+ headings) with the paragraph
    numbers under each; empty for short drafts, which need no table of contents."""
    numbers = [
        p.number
        for item in items
        for p in (item.items if item.kind == "list" else [item.paragraph] if item.paragraph else [])
        if p.number is not None
    ]
    headings = [i for i in items if i.kind == "heading"]
    if len(numbers) < LONG_DRAFT_PARAGRAPHS or len(headings) < 2:
        return []
    entries: list[TocEntry] = []
    open_entries: list[TocEntry] = []
    for item in items:
        if item.kind == "heading":
            level = item.section.level
            open_entries = [e for e in open_entries if e.level < level]
            entry = TocEntry(item.section.heading, level, f"s-{item.section.position}", None, None)
            entries.append(entry)
            open_entries.append(entry)
            continue
        blocks = item.items if item.kind == "list" else [item.paragraph]
        for p in blocks:
            if p is None or p.number is None:
                continue
            for e in open_entries:
                e.first = p.number if e.first is None else e.first
                e.last = p.number
    return entries


def round_highlights(round_: ReviewRound):
    return passage_highlights(round_, current_user)


@bp.record_once
def _reading_helpers(state):
    state.app.jinja_env.globals.update(
        review_paragraph_html=paragraph_html,
        review_notes=paragraph_notes,
        review_table_cells=table_cells_html,
        review_figure_images=figure_images,
        review_block_ref=block_ref,
        review_passage_highlights=round_highlights,
        review_describe_import=describe_report,
        review_passage_strings=passage_strings,
        review_toc=table_of_contents,
    )
