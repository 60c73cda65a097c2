"""The seed report (UN-Habitat Executive Board report HSP/EB.2022/8, Chinese) as Markdown or DOCX.

Used by the demo data set (``flask seed-demo`` imports it as a draft document under review) and
by the review tests (tests/reviews/seed_fixture.py re-exports it), so both read the report the
same way. A copy of shared/seed/HSP-EB.2022-8-zh.txt ships in this package, so a fresh checkout
seeds without the shared folder beside it.

The seed file is plain text laid out like the printed report: a cover block, the heading
"引言" (introduction), six numbered section headings "一、" … "六、", lettered sub-headings
"A." … "E." under section 一, and 40 numbered paragraphs "1." … "40.". Lettered items "(a)"
are list items and the two footnotes start with "*"/"**". ``outline`` reads that layout once;
``to_markdown`` and ``to_docx`` write it out the way a secretariat would have prepared it.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

SEED_PATH = Path(__file__).resolve().parent / "HSP-EB.2022-8-zh.txt"

_SECTION = re.compile(r"^[一二三四五六七八九十]+、")
_SUBSECTION = re.compile(r"^[A-Z]\.\s")
_PARAGRAPH = re.compile(r"^(\d{1,3})\.\s+(.*)$")
_ITEM = re.compile(r"^(?:-\s+)?(\([a-z]\)\s*.*)$")


@dataclass
class Line:
    kind: str  # "heading1" | "heading2" | "paragraph" | "item" | "text"
    text: str
    number: int | None = None


def seed_text() -> str:
    return SEED_PATH.read_text(encoding="utf-8")


def outline(text: str | None = None) -> list[Line]:
    text = seed_text() if text is None else text
    lines: list[Line] = []
    seen_intro = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line == "引言":
            seen_intro = True
            lines.append(Line("heading1", line))
        elif not seen_intro:
            lines.append(Line("text", line))  # cover block: document symbol, date, title …
        elif _SECTION.match(line):
            lines.append(Line("heading1", line))
        elif _SUBSECTION.match(line):
            lines.append(Line("heading2", line))
        elif match := _PARAGRAPH.match(line):
            lines.append(Line("paragraph", match.group(2), int(match.group(1))))
        elif match := _ITEM.match(line):
            lines.append(Line("item", match.group(1)))
        else:
            lines.append(Line("text", line))  # footnotes
    return lines


def to_markdown(text: str | None = None) -> str:
    out: list[str] = []
    for line in outline(text):
        if line.kind == "heading1":
            out.append(f"# {line.text}")
        elif line.kind == "heading2":
            out.append(f"## {line.text}")
        elif line.kind == "paragraph":
            out.append(f"{line.number}. {line.text}")
        elif line.kind == "item":
            out.append(f"- {line.text}")
        else:
            # A backslash keeps "* footnote" from becoming a bullet, "2022." from a number.
            needs_escape = line.text[:1] in "*#+-|>" or re.match(r"^\d+\.", line.text)
            out.append(("\\" if needs_escape else "") + line.text)
        out.append("")
    return "\n".join(out)


def to_docx(text: str | None = None, *, numbering: str = "typed") -> bytes:
    """``numbering="typed"``: paragraphs start with "N." as typed text (the common case);
    ``"list-number"``: Word's automatic numbering (List Number style, no typed number)."""
    import docx

    document = docx.Document()
    for line in outline(text):
        if line.kind == "heading1":
            document.add_heading(line.text, level=1)
        elif line.kind == "heading2":
            document.add_heading(line.text, level=2)
        elif line.kind == "paragraph":
            if numbering == "list-number":
                document.add_paragraph(line.text, style="List Number")
            else:
                document.add_paragraph(f"{line.number}. {line.text}")
        elif line.kind == "item":
            document.add_paragraph(line.text, style="List Bullet")
        else:
            document.add_paragraph(line.text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
