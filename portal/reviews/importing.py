"""Turning an uploaded draft (Markdown or DOCX) into sections and numbered blocks.

The parsers are pure: they take text or a byte stream and return a ``ParsedDocument``; nothing
touches the database, so a file that fails half-way leaves nothing behind. ``services.add_version``
stores the result.

What counts as what:

- **Sections** — Markdown ``#``/``##`` headings; DOCX paragraphs in a "Heading N" style. A leading
  "一、", "A.", "IV." or "3." is kept in the heading text and also copied to ``number``.
- **Numbered paragraphs** — the paragraphs readers cite ("12. …"): a line starting with "N."
  (Markdown, at the very start of the line, in sequence) or a DOCX paragraph that starts with
  "N." or carries automatic numbering ("List Number" style or ``w:numPr`` at level 0).
- **List items** — Markdown ``-``/``*``/``+`` bullets, indented or out-of-sequence "N." items and
  "(a)" items; DOCX "List …" styles (other than level-0 "List Number").
- **Tables** — Markdown pipe tables and DOCX tables, kept as rows of cell text.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import BinaryIO

from flask import current_app, has_app_context
from flask_babel import gettext as _

# Hard limits, independent of the request limit (MAX_CONTENT_LENGTH), so the form can explain.
DEFAULT_MAX_SOURCE_BYTES = 10 * 1024 * 1024
# A DOCX is a ZIP: refuse archives that would inflate to more than this (zip bombs).
MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_BLOCKS = 20_000


class ImportFailed(Exception):
    """The file cannot be turned into a document; ``message`` is shown beside the file field."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class ParsedSection:
    heading: str
    level: int = 1
    number: str | None = None  # "一", "A", "IV", "3" — as written


@dataclass
class ParsedBlock:
    section_index: int | None  # index into ParsedDocument.sections; None = before any heading
    kind: str  # "paragraph" | "list-item" | "table"
    number: int | None
    text: str
    extra: dict | None = None


@dataclass
class ParsedDocument:
    sections: list[ParsedSection] = field(default_factory=list)
    blocks: list[ParsedBlock] = field(default_factory=list)

    @property
    def numbered(self) -> list[ParsedBlock]:
        return [b for b in self.blocks if b.number is not None]


def max_source_bytes() -> int:
    if has_app_context():
        return int(current_app.config.get("REVIEW_MAX_SOURCE_BYTES", DEFAULT_MAX_SOURCE_BYTES))
    return DEFAULT_MAX_SOURCE_BYTES


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f}"


# --- Shared helpers ---------------------------------------------------------------------------

_HEADING_NUMBER = re.compile(
    r"^\s*(?:"
    r"(?P<cjk>[一二三四五六七八九十百零〇]+)\s*[、．.]"  # 一、
    r"|(?P<roman>[IVXLC]+)\.(?=\s)"  # IV.
    r"|(?P<letter>[A-Z])\.(?=\s)"  # A.
    r"|(?P<arabic>\d+(?:\.\d+)*)\.?(?=\s)"  # 3. / 3.1
    r")"
)
_NUMBERED_PARAGRAPH = re.compile(r"^(\d{1,4})\.\s+(\S.*)$", re.S)
_LETTER_ITEM = re.compile(r"^\(?([a-z]{1,3}|[ivx]{1,5}|\d{1,3})\)\s+\S")


def heading_number(text: str) -> str | None:
    match = _HEADING_NUMBER.match(text)
    if not match:
        return None
    return next(v for v in match.groupdict().values() if v)


def _is_cjk(ch: str) -> bool:
    return "\u2e80" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"


def _join_lines(lines: list[str]) -> str:
    """Soft line breaks become a space, except between CJK characters (no spaces in Chinese)."""
    out = ""
    for line in (ln.strip() for ln in lines):
        if not line:
            continue
        if out and not (_is_cjk(out[-1]) and _is_cjk(line[0])):
            out += " "
        out += line
    return out


def _check_size(n: int) -> None:
    limit = max_source_bytes()
    if n > limit:
        raise ImportFailed(_("The file is larger than %(mb)s MB.", mb=_mb(limit)))


def _finish(doc: ParsedDocument) -> ParsedDocument:
    if not any(b.text.strip() for b in doc.blocks):
        raise ImportFailed(
            _("No paragraphs were found in the file. Check that it is the draft's text.")
        )
    if len(doc.blocks) > MAX_BLOCKS:
        raise ImportFailed(_("The document has more than %(n)s paragraphs.", n=MAX_BLOCKS))
    return doc


class _Numbering:
    """Tells numbered paragraphs from ordered list items: paragraph numbers run in sequence."""

    def __init__(self) -> None:
        self.last = 0

    def accepts(self, n: int) -> bool:
        return n == self.last + 1 or (self.last == 0 and n >= 1)

    def take(self, n: int) -> int:
        self.last = n
        return n


# --- Markdown ---------------------------------------------------------------------------------

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_BULLET = re.compile(r"^(\s*)([-*+])\s+(.*)$")
_MD_ORDERED = re.compile(r"^(\s*)(\d{1,4})[.)]\s+(.*)$")
_MD_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_MD_ESCAPE = re.compile(r"^\\([*#+\-|>\d])")


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells = re.split(r"(?<!\\)\|", line)
    return [c.strip().replace("\\|", "|") for c in cells]


def parse_markdown(text: str | bytes) -> ParsedDocument:
    """Split Markdown into sections and blocks (see the module docstring)."""
    if isinstance(text, bytes):
        _check_size(len(text))
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportFailed(_("The Markdown file is not UTF-8 text.")) from None
    else:
        _check_size(len(text.encode("utf-8")))
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ImportFailed(_("The file is empty."))
    if "\x00" in text:
        raise ImportFailed(_("This is not a text file."))

    doc = ParsedDocument()
    numbering = _Numbering()
    section: int | None = None
    para: list[str] = []
    para_number: int | None = None
    item: dict | None = None  # the list item being read (continuation lines join it)
    lines = text.split("\n")

    def flush() -> None:
        nonlocal para, para_number, item
        if para:
            doc.blocks.append(ParsedBlock(section, "paragraph", para_number, _join_lines(para)))
        if item is not None:
            doc.blocks.append(
                ParsedBlock(section, "list-item", None, _join_lines(item["lines"]), item["extra"])
            )
        para, para_number, item = [], None, None

    i = 0
    while i < len(lines):
        raw = lines[i]
        line = raw.rstrip()
        i += 1
        if not line.strip():
            flush()
            continue
        heading = _MD_HEADING.match(line)
        if heading:
            flush()
            title = heading.group(2).strip()
            doc.sections.append(ParsedSection(title, len(heading.group(1)), heading_number(title)))
            section = len(doc.sections) - 1
            continue
        if line.lstrip().startswith("|") and i < len(lines) and _MD_TABLE_SEP.match(lines[i]):
            flush()
            rows = [_split_row(line)]
            i += 1  # the separator line
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(_split_row(lines[i]))
                i += 1
            doc.blocks.append(
                ParsedBlock(
                    section,
                    "table",
                    None,
                    "\n".join(" | ".join(r) for r in rows),
                    {"rows": rows, "header": True},
                )
            )
            continue
        escaped = _MD_ESCAPE.match(line)
        if escaped:  # "\* footnote" or "\1. not a paragraph": literal text, never structure
            if not para:
                flush()
            para.append(line[1:])
            continue
        bullet = _MD_BULLET.match(line)
        ordered = _MD_ORDERED.match(line)
        if ordered and not ordered.group(1) and line[len(ordered.group(2))] == ".":
            n = int(ordered.group(2))
            if numbering.accepts(n):
                flush()
                para_number = numbering.take(n)
                para = [ordered.group(3)]
                continue
        if bullet or ordered:
            flush()
            indent = len((bullet or ordered).group(1).expandtabs(4))
            level = indent // 2 + 1
            if bullet:
                body = bullet.group(3)
                extra = {"ordered": bool(_LETTER_ITEM.match(body)), "level": level}
            else:
                body = ordered.group(3)
                extra = {"ordered": True, "level": level, "marker": ordered.group(2)}
            item = {"lines": [body], "extra": extra}
            continue
        if para or item is not None:
            (para if para else item["lines"]).append(line)
            continue
        if _LETTER_ITEM.match(line.strip()):
            item = {"lines": [line.strip()], "extra": {"ordered": True, "level": 1}}
            continue
        para = [line]
    flush()
    return _finish(doc)


# --- DOCX -------------------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_bytes(stream: BinaryIO | bytes) -> bytes:
    if isinstance(stream, bytes | bytearray):
        data = bytes(stream)
    else:
        limit = max_source_bytes()
        data = stream.read(limit + 1)
    _check_size(len(data))
    if not data:
        raise ImportFailed(_("The file is empty."))
    return data


def _open_docx(data: bytes):
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    bad = _("The file is not a readable Word document (.docx). It may be damaged.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "word/document.xml" not in names:
                raise ImportFailed(bad)
            if sum(info.file_size for info in archive.infolist()) > MAX_DOCX_UNCOMPRESSED:
                raise ImportFailed(_("The Word document is too large once unpacked."))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ImportFailed(bad) from None
    try:
        return docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError):
        raise ImportFailed(bad) from None
    except Exception:  # lxml XMLSyntaxError and friends: a damaged document.xml
        raise ImportFailed(bad) from None


def _style_name(paragraph) -> str:
    try:
        return (paragraph.style.name or "") if paragraph.style is not None else ""
    except (KeyError, ValueError, AttributeError):
        return ""


def _num_level(paragraph) -> int | None:
    """The automatic-numbering level of a paragraph (``w:numPr``), or None if it has none."""
    ppr = paragraph._p.pPr
    if ppr is None or ppr.numPr is None:
        return None
    ilvl = ppr.numPr.ilvl
    return int(ilvl.val) if ilvl is not None and ilvl.val is not None else 0


def parse_docx(stream: BinaryIO | bytes) -> ParsedDocument:
    """Split a Word document into sections and blocks, in body order (tables included)."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph as DocxParagraph

    document = _open_docx(_docx_bytes(stream))
    doc = ParsedDocument()
    numbering = _Numbering()
    section: int | None = None

    for child in document.element.body.iterchildren():
        if child.tag == f"{_W}tbl":
            table = Table(child, document)
            rows = []
            for row in table.rows:
                cells, previous = [], None
                for cell in row.cells:
                    # Merged cells appear once per grid column; keep each once.
                    if previous is not None and cell._tc is previous:
                        continue
                    previous = cell._tc
                    cells.append(_join_lines(cell.text.split("\n")))
                rows.append(cells)
            if any(any(c for c in r) for r in rows):
                doc.blocks.append(
                    ParsedBlock(
                        section,
                        "table",
                        None,
                        "\n".join(" | ".join(r) for r in rows),
                        {"rows": rows, "header": True},
                    )
                )
            continue
        if child.tag != f"{_W}p":
            continue
        paragraph = DocxParagraph(child, document)
        text = _join_lines(paragraph.text.split("\n"))
        if not text:
            continue
        style = _style_name(paragraph)
        lowered = style.lower()
        heading_level = None
        if lowered.startswith("heading"):
            digits = re.sub(r"\D", "", style)
            heading_level = int(digits) if digits else 1
        if heading_level is not None:
            doc.sections.append(ParsedSection(text, min(heading_level, 6), heading_number(text)))
            section = len(doc.sections) - 1
            continue
        level = _num_level(paragraph)
        explicit = _NUMBERED_PARAGRAPH.match(text)
        is_list_style = lowered.startswith("list")
        if (
            explicit
            and numbering.accepts(int(explicit.group(1)))
            and not (is_list_style and "number" not in lowered)
        ):
            number = numbering.take(int(explicit.group(1)))
            doc.blocks.append(ParsedBlock(section, "paragraph", number, explicit.group(2).strip()))
            continue
        auto_numbered = (lowered in ("list number", "list number 1")) or (
            level == 0 and not is_list_style
        )
        if auto_numbered:
            number = numbering.take(numbering.last + 1)
            doc.blocks.append(ParsedBlock(section, "paragraph", number, text))
            continue
        if is_list_style or level is not None:
            digits = re.sub(r"\D", "", style)
            list_level = (level + 1) if level is not None else (int(digits) if digits else 1)
            doc.blocks.append(
                ParsedBlock(
                    section,
                    "list-item",
                    None,
                    text,
                    {
                        "ordered": "number" in lowered or bool(_LETTER_ITEM.match(text)),
                        "level": list_level,
                    },
                )
            )
            continue
        if _LETTER_ITEM.match(text):
            doc.blocks.append(
                ParsedBlock(section, "list-item", None, text, {"ordered": True, "level": 1})
            )
            continue
        doc.blocks.append(ParsedBlock(section, "paragraph", None, text))
    return _finish(doc)


def parse_upload(filename: str, stream: BinaryIO) -> tuple[ParsedDocument, str]:
    """Pick the parser from the file name; returns the parsed document and "md" or "docx"."""
    name = (filename or "").lower()
    if name.endswith(".docx"):
        return parse_docx(stream), "docx"
    if name.endswith((".md", ".markdown", ".txt")):
        limit = max_source_bytes()
        data = stream.read(limit + 1)
        if not data:
            raise ImportFailed(_("The file is empty."))
        return parse_markdown(data), "md"
    raise ImportFailed(_("Upload a Word document (.docx) or a Markdown file (.md)."))
