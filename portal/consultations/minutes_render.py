"""Minutes text: Markdown to safe HTML, to simple blocks (for DOCX), and diffs between revisions.

Minutes are written by staff but read by the public once published, so the rendered HTML is
sanitised with an allow-list (nh3): raw HTML in the Markdown survives only as far as the list
allows — no scripts, no styles, no event handlers, no ``javascript:`` links; every link gets
``rel="noopener nofollow"``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import markdown
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
    "strong", "em", "b", "i", "u", "s", "del", "ins", "sub", "sup", "code", "pre", "blockquote",
    "ul", "ol", "li", "dl", "dt", "dd",
    "table", "thead", "tbody", "tr", "th", "td",
    "a", "abbr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(text: str) -> Markup:
    """Markdown → sanitised HTML, safe to put in a page as is."""
    html = markdown.markdown(text or "", extensions=["extra", "sane_lists"], output_format="html")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener nofollow",
        strip_comments=True,
    )
    return Markup(clean)  # noqa: S704 - sanitised just above with an allow-list


# --- Markdown to plain blocks (DOCX) ----------------------------------------------------------


@dataclass(frozen=True)
class Block:
    kind: str  # "heading", "bullet", "number", "paragraph"
    text: str
    level: int = 0  # heading level (1–6)


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBER = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_TAG = re.compile(r"<[^>]+>")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~|`)(?=\S)(.+?)(?<=\S)\1")


def inline_text(text: str) -> str:
    """Strip inline Markdown (emphasis, code, links → "text (url)", raw tags) to plain text."""

    def _link(match: re.Match) -> str:
        label, url = match.group(1), match.group(2)
        return f"{label} ({url})" if label and label != url else url

    text = _LINK.sub(_link, text)
    text = _TAG.sub("", text)
    previous = None
    while previous != text:  # nested emphasis (**_x_**) needs more than one pass
        previous, text = text, _EMPHASIS.sub(r"\2", text)
    return text.strip()


def markdown_blocks(text: str) -> list[Block]:
    """Headings, list items and paragraphs — enough structure for a Word document."""
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            joined = inline_text(" ".join(line.strip() for line in paragraph))
            if joined:
                blocks.append(Block("paragraph", joined))
            paragraph.clear()

    in_fence = False
    for raw in (text or "").splitlines():
        line = raw.rstrip()
        if line.strip().startswith("```"):
            flush()
            in_fence = not in_fence
            continue
        if in_fence:
            blocks.append(Block("paragraph", line))
            continue
        if not line.strip():
            flush()
            continue
        if m := _HEADING.match(line):
            flush()
            blocks.append(Block("heading", inline_text(m.group(2)), len(m.group(1))))
        elif m := _BULLET.match(line):
            flush()
            blocks.append(Block("bullet", inline_text(m.group(1))))
        elif m := _NUMBER.match(line):
            flush()
            blocks.append(Block("number", inline_text(m.group(1))))
        elif re.fullmatch(r"\s*([-*_])(\s*\1){2,}\s*", line):
            flush()
        else:
            paragraph.append(line.lstrip("> ") if line.lstrip().startswith(">") else line)
    flush()
    return blocks


# --- diffs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side diff; the template escapes the text."""

    change: str  # "equal", "replace", "delete", "insert"
    left_no: int | None
    left: str | None
    right_no: int | None
    right: str | None


def side_by_side(old: str, new: str) -> list[DiffRow]:
    a, b = (old or "").splitlines(), (new or "").splitlines()
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                rows.append(DiffRow("equal", i1 + k + 1, a[i1 + k], j1 + k + 1, b[j1 + k]))
        else:
            span = max(i2 - i1, j2 - j1)
            for k in range(span):
                left = a[i1 + k] if i1 + k < i2 else None
                right = b[j1 + k] if j1 + k < j2 else None
                change = (
                    tag
                    if tag != "replace"
                    else (
                        "replace"
                        if left is not None and right is not None
                        else ("delete" if right is None else "insert")
                    )
                )
                rows.append(
                    DiffRow(
                        change,
                        i1 + k + 1 if left is not None else None,
                        left,
                        j1 + k + 1 if right is not None else None,
                        right,
                    )
                )
    return rows


def unified(old: str, new: str, old_label: str, new_label: str) -> list[tuple[str, str]]:
    """Lines of a unified diff, each with a CSS class (add/del/hunk/meta/context)."""
    lines = difflib.unified_diff(
        (old or "").splitlines(), (new or "").splitlines(), old_label, new_label, lineterm="", n=3
    )
    out: list[tuple[str, str]] = []
    for line in lines:
        if line.startswith(("---", "+++")):
            css = "meta"
        elif line.startswith("@@"):
            css = "hunk"
        elif line.startswith("+"):
            css = "add"
        elif line.startswith("-"):
            css = "del"
        else:
            css = "context"
        out.append((css, line))
    return out
