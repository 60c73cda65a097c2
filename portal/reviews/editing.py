"""Version N+1 made in the browser: the paragraphs of version N, edited, become a new draft
version — stored by the same ``services.add_version`` as an upload, so the diff and the
carry-over of comments on publishing work exactly as for an uploaded file.

Pure: ``edited_document`` reads the stored version and returns a ``ParsedDocument``.
"""

from __future__ import annotations

from flask_babel import gettext as _

from portal.core.services import ValidationError
from portal.reviews.importing import (
    _SUB_ITEM,
    ParsedBlock,
    ParsedDocument,
    ParsedSection,
    _Report,
)
from portal.reviews.models import BlockKind, DocumentVersion
from portal.reviews.rendering import load_version

EDITABLE = (BlockKind.PARAGRAPH.value, BlockKind.LIST_ITEM.value)
MAX_PARAGRAPH_CHARS = 50_000


def _clean(text: str) -> str:
    lines = [" ".join(line.split()) for line in (text or "").replace("\r\n", "\n").split("\n")]
    return "\n".join(line for line in lines if line)


def _sub_items(text: str) -> list[list[int]]:
    items, offset = [], 0
    for index, line in enumerate(text.split("\n")):
        if index and _SUB_ITEM.match(line):
            items.append([offset, offset + len(line)])
        offset += len(line) + 1
    return items


def edited_document(version: DocumentVersion, texts: dict[str, str]) -> ParsedDocument:
    """Version ``version`` with the paragraphs whose anchors are in ``texts`` replaced (an
    empty text removes the paragraph). Numbered paragraphs are renumbered 1, 2, 3 … when one
    is removed. An edited paragraph keeps its notes and lettered sub-items; its other
    formatting (bold, links …) is dropped and listed on the version page."""
    sections, paragraphs = load_version(version)
    doc = ParsedDocument(sections=[ParsedSection(s.heading, s.level, s.number) for s in sections])
    index_of = {s.id: i for i, s in enumerate(sections)}
    report = _Report()
    errors: dict[str, str] = {}
    changed = removed = 0
    for p in paragraphs:
        extra = dict(p.extra) if isinstance(p.extra, dict) else None
        text = p.text
        if p.anchor in texts and p.kind in EDITABLE:
            new = _clean(texts[p.anchor])
            if len(new) > MAX_PARAGRAPH_CHARS:
                errors[f"text-{p.anchor}"] = _(
                    "At most %(n)s characters.", n=f"{MAX_PARAGRAPH_CHARS:,}"
                )
                continue
            if not new:
                removed += 1
                continue
            if new != _clean(p.text):
                changed += 1
                text = new
                extra = {k: v for k, v in (extra or {}).items() if k not in ("marks", "items")}
                notes = extra.get("notes") or []
                if notes:
                    # The references go to the end of the edited text, in their order.
                    extra["marks"] = [[len(text), len(text), "note", n["label"]] for n in notes]
                if any(m[2] not in ("note",) for m in (p.extra or {}).get("marks") or []):
                    report.add("edited-formatting", f"{p.number or ''} {p.text[:40]}".strip())
                items = _sub_items(text) if p.kind == BlockKind.PARAGRAPH.value else []
                if items:
                    extra["items"] = items
                extra = extra or None
        doc.blocks.append(
            ParsedBlock(
                index_of.get(p.section_id) if p.section_id is not None else None,
                p.kind,
                p.number,
                text,
                extra,
            )
        )
    if errors:
        raise ValidationError(errors)
    if not changed and not removed:
        raise ValidationError({"_form": _("Nothing was changed: edit at least one paragraph.")})
    if removed:
        n = 0
        for block in doc.blocks:
            if block.number is not None:
                n += 1
                block.number = n
    doc.report = report.as_list()
    return doc
