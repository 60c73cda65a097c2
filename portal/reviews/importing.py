"""Turning an uploaded draft (Markdown or DOCX) into sections and numbered blocks — faithfully.

The parsers are pure: they take text or a byte stream and return a ``ParsedDocument``; nothing
touches the database, so a file that fails half-way leaves nothing behind. ``services.add_version``
stores the result (and the images it carries).

What counts as what:

- **Sections** — Markdown ``#``/``##`` headings; DOCX paragraphs in a "Heading N" style. A leading
  "一、", "A.", "IV." or "3." is kept in the heading text and also copied to ``number``.
- **Numbered paragraphs** — the paragraphs readers cite ("12. …"): a line starting with "N."
  (Markdown, at the very start of the line, in sequence) or a DOCX paragraph that starts with
  "N." or carries automatic decimal numbering ("List Number" style or ``w:numPr`` at level 0).
- **Sub-items** — lettered or roman items "(a)", "(iv)" right after a paragraph belong to it:
  they are kept in its text (one line each) and listed in ``extra["items"]``, so "1 (c)" is
  cited as paragraph 1, not as a paragraph of its own. Word's automatic lettering ("a)",
  "(a)") is written out as the label the reader sees.
- **List items** — other bullets and ordered items.
- **Tables** — Markdown pipe tables and DOCX tables, rows of cell text (with their formatting).
- **Figures** — a paragraph that is only an image.

Inline content is kept as marks over the plain text (``portal/reviews/richtext.py``): bold,
italic, strike-through, superscript/subscript, links (http, https and mailto only), footnote and
endnote references (the notes travel with their paragraph) and images (PNG, JPEG). Markdown
inline syntax is parsed by markdown-it-py (CommonMark). Whatever cannot be kept — embedded
objects, charts, equations, tracked changes, comments in the file, unsafe links, images in
other formats — is listed in ``ParsedDocument.report`` and shown on the version page before
publishing; nothing is dropped silently.
"""

from __future__ import annotations

import base64
import binascii
import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import unquote

from flask import current_app, has_app_context
from flask_babel import gettext as _
from flask_babel import ngettext

from portal.reviews.richtext import Rich, RichBuilder, safe_href

# Hard limits, independent of the request limit (MAX_CONTENT_LENGTH), so the form can explain.
DEFAULT_MAX_SOURCE_BYTES = 10 * 1024 * 1024
# A DOCX is a ZIP: refuse archives that would inflate to more than this (zip bombs).
MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_BLOCKS = 20_000
MAX_IMAGES = 500
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg"}


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
    kind: str  # "paragraph" | "list-item" | "table" | "figure"
    number: int | None
    text: str
    extra: dict | None = None


@dataclass
class ParsedImage:
    key: str  # referenced by "img" marks until the image is stored (then: its id)
    data: bytes
    content_type: str
    alt: str = ""


@dataclass
class ParsedDocument:
    sections: list[ParsedSection] = field(default_factory=list)
    blocks: list[ParsedBlock] = field(default_factory=list)
    images: list[ParsedImage] = field(default_factory=list)
    # What could not be kept: [{"code": …, "count": n, "examples": […]}] (see describe_report).
    report: list[dict] = field(default_factory=list)

    @property
    def numbered(self) -> list[ParsedBlock]:
        return [b for b in self.blocks if b.number is not None]


class _Report:
    """Collects what could not be kept, grouped by kind, with a few examples each."""

    def __init__(self) -> None:
        self.entries: dict[str, dict] = {}

    def add(self, code: str, example: str | None = None, count: int = 1) -> None:
        entry = self.entries.setdefault(code, {"code": code, "count": 0, "examples": []})
        entry["count"] += count
        if example and len(entry["examples"]) < 5 and example not in entry["examples"]:
            entry["examples"].append(example[:200])

    def as_list(self) -> list[dict]:
        return list(self.entries.values())


def describe_report(entry: dict) -> str:
    """The sentence shown on the version page for one report entry, in the reader's language."""
    n = int(entry.get("count") or 0)
    code = entry.get("code")
    messages = {
        "tracked-changes": lambda: ngettext(
            "%(num)d tracked change: imported as if accepted (insertions kept, deletions "
            "removed); who changed what is not kept.",
            "%(num)d tracked changes: imported as if accepted (insertions kept, deletions "
            "removed); who changed what is not kept.",
            n,
        ),
        "file-comments": lambda: ngettext(
            "%(num)d comment written in the file was not imported.",
            "%(num)d comments written in the file were not imported.",
            n,
        ),
        "embedded-object": lambda: ngettext(
            "%(num)d embedded object (chart, diagram, OLE object or shape) could not be kept.",
            "%(num)d embedded objects (charts, diagrams, OLE objects or shapes) could not be kept.",
            n,
        ),
        "text-box": lambda: ngettext(
            "%(num)d text box could not be kept.", "%(num)d text boxes could not be kept.", n
        ),
        "equation": lambda: ngettext(
            "%(num)d equation could not be kept.", "%(num)d equations could not be kept.", n
        ),
        "image-format": lambda: ngettext(
            "%(num)d image is in a format that cannot be shown (only PNG and JPEG can).",
            "%(num)d images are in a format that cannot be shown (only PNG and JPEG can).",
            n,
        ),
        "image-missing": lambda: ngettext(
            "%(num)d image file was not in the upload (upload a .zip with the Markdown file "
            "and its images).",
            "%(num)d image files were not in the upload (upload a .zip with the Markdown file "
            "and its images).",
            n,
        ),
        "image-remote": lambda: ngettext(
            "%(num)d image on another site was not copied; it is kept as a link.",
            "%(num)d images on other sites were not copied; they are kept as links.",
            n,
        ),
        "image-too-large": lambda: ngettext(
            "%(num)d image is too large to keep.", "%(num)d images are too large to keep.", n
        ),
        "unsafe-link": lambda: ngettext(
            "%(num)d link target was not kept (only http, https and mailto links are); its "
            "text is kept.",
            "%(num)d link targets were not kept (only http, https and mailto links are); "
            "their text is kept.",
            n,
        ),
        "footnote-undefined": lambda: ngettext(
            "%(num)d footnote reference has no footnote text; it is shown as written.",
            "%(num)d footnote references have no footnote text; they are shown as written.",
            n,
        ),
        "footnote-unused": lambda: ngettext(
            "%(num)d footnote is never referred to in the text and was not imported.",
            "%(num)d footnotes are never referred to in the text and were not imported.",
            n,
        ),
        "edited-formatting": lambda: ngettext(
            "%(num)d edited paragraph lost its formatting and links (the text was retyped).",
            "%(num)d edited paragraphs lost their formatting and links (the text was retyped).",
            n,
        ),
        "headers-footers": lambda: _("Page headers and footers were not imported."),
        "table-of-contents": lambda: _(
            "The file's table of contents was not imported (the portal makes its own)."
        ),
        "nested-table": lambda: ngettext(
            "%(num)d table inside a table cell could not be kept.",
            "%(num)d tables inside table cells could not be kept.",
            n,
        ),
    }
    make = messages.get(code)
    return make() if make else _("Something in the file could not be kept (%(code)s).", code=code)


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
# A sub-item of the paragraph before it: "(a) …", "(iv) …", "a) …".
_SUB_ITEM = re.compile(r"^\(?(?:[a-z]{1,2}|[ivxl]{1,6})\)\s+\S")


def heading_number(text: str) -> str | None:
    match = _HEADING_NUMBER.match(text)
    if not match:
        return None
    return next(v for v in match.groupdict().values() if v)


def _check_size(n: int) -> None:
    limit = max_source_bytes()
    if n > limit:
        raise ImportFailed(_("The file is larger than %(mb)s MB.", mb=_mb(limit)))


def _image_type(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def _block_extra(rich: Rich, notes: list[dict], extra: dict | None = None) -> dict | None:
    out = dict(extra or {})
    if rich.marks:
        out["marks"] = rich.marks
    if notes:
        out["notes"] = notes
    return out or None


def _fold_sub_items(doc: ParsedDocument) -> None:
    """Lettered items right after a paragraph become sub-items of that paragraph."""
    blocks: list[ParsedBlock] = []
    host: ParsedBlock | None = None
    for block in doc.blocks:
        if (
            host is not None
            and block.kind == "list-item"
            and block.section_index == host.section_index
            and _SUB_ITEM.match(block.text)
        ):
            extra = host.extra or {}
            rich = Rich(host.text, list(extra.get("marks") or []))
            other = Rich(block.text, list((block.extra or {}).get("marks") or []))
            start, end = rich.extend(other, "\n")
            extra["marks"] = rich.marks
            if not extra["marks"]:
                del extra["marks"]
            extra.setdefault("items", []).append([start, end])
            notes = (block.extra or {}).get("notes")
            if notes:
                extra.setdefault("notes", []).extend(notes)
            host.text, host.extra = rich.text, extra
            continue
        host = block if block.kind == "paragraph" else None
        blocks.append(block)
    doc.blocks = blocks


def _finish(doc: ParsedDocument, report: _Report) -> ParsedDocument:
    _fold_sub_items(doc)
    if not any(b.text.strip() or b.kind == "figure" for b in doc.blocks):
        raise ImportFailed(
            _("No paragraphs were found in the file. Check that it is the draft's text.")
        )
    if len(doc.blocks) > MAX_BLOCKS:
        raise ImportFailed(_("The document has more than %(n)s paragraphs.", n=MAX_BLOCKS))
    doc.report = report.as_list()
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


class _Images:
    """Images found while parsing, kept in memory until add_version stores them."""

    def __init__(self, doc: ParsedDocument, report: _Report) -> None:
        self.doc = doc
        self.report = report
        self.total = 0

    def add(self, data: bytes, alt: str, where: str = "") -> str | None:
        content_type = _image_type(data)
        if content_type is None:
            self.report.add("image-format", where or alt)
            return None
        if len(data) > max_source_bytes() or len(self.doc.images) >= MAX_IMAGES:
            self.report.add("image-too-large", where or alt)
            return None
        self.total += len(data)
        if self.total > MAX_DOCX_UNCOMPRESSED:
            self.report.add("image-too-large", where or alt)
            return None
        key = f"k{len(self.doc.images)}"
        self.doc.images.append(ParsedImage(key, data, content_type, alt.strip()[:1000]))
        return key


def _figure_or_paragraph(rich: Rich) -> str:
    """A block that is only images (no text) is a figure; its text becomes the alt text."""
    return "figure" if not rich.text.strip() and any(m[2] == "img" for m in rich.marks) else ""


def _as_figure(section: int | None, rich: Rich, notes: list[dict]) -> ParsedBlock:
    alts = [str(m[4]) for m in rich.marks if m[2] == "img" and len(m) > 4 and m[4]]
    text = " ".join(alts)
    marks = [[0, 0, *m[2:]] for m in rich.marks if m[2] == "img"]
    return ParsedBlock(section, "figure", None, text, _block_extra(Rich(text, marks), notes))


# --- Markdown ---------------------------------------------------------------------------------

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_BULLET = re.compile(r"^(\s*)([-*+])\s+(.*)$")
_MD_ORDERED = re.compile(r"^(\s*)(\d{1,4})[.)]\s+(.*)$")
_MD_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_MD_ESCAPE = re.compile(r"^\\([*#+\-|>\d])")
_MD_FOOTNOTE_DEF = re.compile(r"^\[\^([^\]\s]{1,50})\]:\s?(.*)$")
_MD_FOOTNOTE_REF = re.compile(r"\[\^([^\]\s]{1,50})\]")
_DATA_IMAGE = re.compile(r"^data:(image/(?:png|jpeg|jpg));base64,(.*)$", re.S | re.I)


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells = re.split(r"(?<!\\)\|", line)
    return [c.strip().replace("\\|", "|") for c in cells]


def _markdown_it():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("strikethrough")
    # Every target reaches our own check (safe_href), which reports what it refuses instead of
    # leaving "[text](javascript:…)" in the text.
    md.validateLink = lambda url: True
    return md


class _MarkdownInline:
    """Inline Markdown (markdown-it-py tokens) → rich text; footnotes, images and links checked."""

    def __init__(self, doc, report, footnotes: dict[str, str], bundle: dict[str, bytes] | None):
        self.md = _markdown_it()
        self.report = report
        self.images = _Images(doc, report)
        self.footnotes = footnotes  # label → raw Markdown text of the note
        self.bundle = bundle  # other files of an uploaded .zip: normalised path → bytes
        self.labels: dict[str, str] = {}  # footnote label as written → number shown
        self.used: set[str] = set()

    def convert(self, text: str, notes: list[dict] | None = None, *, in_note=False) -> Rich:
        builder = RichBuilder()
        tokens = self.md.parseInline(text, {})
        children = tokens[0].children if tokens else []
        fmt: list[tuple] = []
        link_stack: list[tuple | None] = []
        for token in children or []:
            kind = token.type
            if kind in ("text", "text_special"):
                self._text(builder, token.content, fmt, notes, in_note)
            elif kind == "code_inline":
                builder.add(token.content, fmt)
            elif kind in ("softbreak", "hardbreak"):
                builder.add("\n", fmt)
            elif kind in ("strong_open", "em_open", "s_open"):
                fmt.append({"strong_open": ("b",), "em_open": ("i",), "s_open": ("s",)}[kind])
            elif kind in ("strong_close", "em_close", "s_close"):
                want = {"strong_close": ("b",), "em_close": ("i",), "s_close": ("s",)}[kind]
                if want in fmt:
                    fmt.remove(want)
            elif kind == "link_open":
                href = str(token.attrs.get("href") or "")
                safe = safe_href(href)
                if safe is None:
                    self.report.add("unsafe-link", href)
                    link_stack.append(None)
                else:
                    mark = ("a", safe)
                    fmt.append(mark)
                    link_stack.append(mark)
            elif kind == "link_close":
                mark = link_stack.pop() if link_stack else None
                if mark is not None and mark in fmt:
                    fmt.remove(mark)
            elif kind == "image":
                self._image(builder, token, fmt)
            elif kind == "html_inline":
                builder.add(token.content, fmt)
        return builder.build()

    def _text(self, builder, content, fmt, notes, in_note) -> None:
        pos = 0
        for match in _MD_FOOTNOTE_REF.finditer(content):
            label = match.group(1)
            if in_note or notes is None or label not in self.footnotes:
                if label not in self.footnotes:
                    self.report.add("footnote-undefined", match.group(0))
                continue
            builder.add(content[pos : match.start()], fmt)
            pos = match.end()
            number = self.labels.setdefault(label, str(len(self.labels) + 1))
            builder.insert("note", number)
            if label not in self.used:
                self.used.add(label)
                note = self.convert(self.footnotes[label], in_note=True)
                notes.append(
                    {"label": number, "kind": "footnote", "text": note.text, "marks": note.marks}
                )
        builder.add(content[pos:], fmt)

    def _image(self, builder, token, fmt) -> None:
        src = str(token.attrs.get("src") or "").strip()
        alt = "".join(
            c.content for c in (token.children or []) if c.type in ("text", "code_inline")
        )
        data = None
        data_match = _DATA_IMAGE.match(src)
        if data_match:
            try:
                data = base64.b64decode(re.sub(r"\s+", "", data_match.group(2)), validate=True)
            except (binascii.Error, ValueError):
                self.report.add("image-format", alt or src[:40])
                return
        elif re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I):
            safe = safe_href(src)
            if safe is None:
                self.report.add("unsafe-link", src[:200])
                builder.add(alt, fmt)
                return
            self.report.add("image-remote", src)
            builder.add(alt or src, (*fmt, ("a", safe)))
            return
        else:
            path = posixpath.normpath(unquote(src.split("#", 1)[0].split("?", 1)[0])).lstrip("/")
            data = (self.bundle or {}).get(path)
            if data is None:
                self.report.add("image-missing", src)
                builder.add(alt, fmt)
                return
        key = self.images.add(data, alt, alt or src[:60])
        if key is None:
            builder.add(alt, fmt)
            return
        builder.insert("img", key, alt)


def _extract_footnotes(lines: list[str]) -> tuple[list[str], dict[str, str]]:
    """Remove ``[^label]: text`` definitions (with indented continuation lines) from the text."""
    kept: list[str] = []
    notes: dict[str, str] = {}
    current: str | None = None
    for line in lines:
        definition = _MD_FOOTNOTE_DEF.match(line)
        if definition:
            current = definition.group(1)
            notes[current] = definition.group(2)
            continue
        if current is not None and line.startswith(("    ", "\t")) and line.strip():
            notes[current] += "\n" + line.strip()
            continue
        if current is not None and not line.strip():
            kept.append(line)
            continue
        current = None
        kept.append(line)
    return kept, notes


def parse_markdown(text: str | bytes, bundle: dict[str, bytes] | None = None) -> ParsedDocument:
    """Split Markdown into sections and blocks (see the module docstring).

    ``bundle``: the other files of an uploaded .zip (path → bytes), where images are looked up.
    """
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
    report = _Report()
    lines, footnotes = _extract_footnotes(text.split("\n"))
    inline = _MarkdownInline(doc, report, footnotes, bundle)
    numbering = _Numbering()
    section: int | None = None
    para: list[str] = []
    para_number: int | None = None
    item: dict | None = None  # the list item being read (continuation lines join it)

    def block(kind: str, number: int | None, raw_lines: list[str], extra=None) -> None:
        notes: list[dict] = []
        rich = inline.convert("\n".join(raw_lines), notes)
        if kind == "paragraph" and _figure_or_paragraph(rich):
            doc.blocks.append(_as_figure(section, rich, notes))
            return
        doc.blocks.append(
            ParsedBlock(section, kind, number, rich.text, _block_extra(rich, notes, extra))
        )

    def flush() -> None:
        nonlocal para, para_number, item
        if para:
            block("paragraph", para_number, para)
        if item is not None:
            block("list-item", None, item["lines"], item["extra"])
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
            title = inline.convert(heading.group(2).strip()).text
            doc.sections.append(ParsedSection(title, len(heading.group(1)), heading_number(title)))
            section = len(doc.sections) - 1
            continue
        if line.lstrip().startswith("|") and i < len(lines) and _MD_TABLE_SEP.match(lines[i]):
            flush()
            raw_rows = [_split_row(line)]
            i += 1  # the separator line
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                raw_rows.append(_split_row(lines[i]))
                i += 1
            notes: list[dict] = []
            rows, cells = [], []
            for raw_row in raw_rows:
                converted = [inline.convert(cell, notes) for cell in raw_row]
                rows.append([c.text for c in converted])
                cells.append([c.marks for c in converted])
            extra: dict = {"rows": rows, "header": True}
            if any(any(m) for m in cells):
                extra["cells"] = cells
            if notes:
                extra["notes"] = notes
            doc.blocks.append(
                ParsedBlock(section, "table", None, "\n".join(" | ".join(r) for r in rows), extra)
            )
            continue
        escaped = _MD_ESCAPE.match(line)
        if escaped:  # "\* footnote" or "\1. not a paragraph": literal text, never structure
            if not para:
                flush()
            # Keep the backslash: the inline parser turns "\*" into "*" (and "\1" stays "\1"
            # in CommonMark, so digits lose theirs here).
            para.append(line[1:] if line[1].isdigit() else line)
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
        if para and _SUB_ITEM.match(line.strip()):
            # "(a) …" on the line after a paragraph starts its first sub-item.
            flush()
            item = {"lines": [line.strip()], "extra": {"ordered": True, "level": 1}}
            continue
        if para or item is not None:
            (para if para else item["lines"]).append(line)
            continue
        if _LETTER_ITEM.match(line.strip()):
            item = {"lines": [line.strip()], "extra": {"ordered": True, "level": 1}}
            continue
        para = [line]
    flush()
    for label in footnotes:
        if label not in inline.used:
            report.add("footnote-unused", f"[^{label}]")
    return _finish(doc, report)


def _markdown_bundle(data: bytes) -> ParsedDocument:
    """A .zip holding one Markdown file and the images it refers to (relative paths)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
            if sum(i.file_size for i in infos) > MAX_DOCX_UNCOMPRESSED:
                raise ImportFailed(_("The archive is too large once unpacked."))
            texts = [
                i
                for i in infos
                if i.filename.lower().endswith((".md", ".markdown"))
                and not posixpath.basename(i.filename).startswith(".")
                and "__MACOSX" not in i.filename
            ]
            if len(texts) != 1:
                raise ImportFailed(
                    _("The .zip must contain exactly one Markdown file (.md) and its images.")
                )
            main = texts[0]
            base = posixpath.dirname(main.filename)
            bundle: dict[str, bytes] = {}
            for info in infos:
                if info is main or info.file_size > max_source_bytes():
                    continue
                name = info.filename
                rel = posixpath.relpath(name, base) if base else name
                bundle[posixpath.normpath(rel)] = archive.read(info)
            return parse_markdown(archive.read(main), bundle)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ImportFailed(_("The file is not a readable .zip archive.")) from None


# --- DOCX -------------------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_WP = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
_M = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_HYPERLINK_FIELD = re.compile(r'^\s*HYPERLINK\s+"([^"]+)"', re.I)


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


def _num_props(paragraph) -> tuple[int | None, str | None]:
    """The automatic-numbering level and list id of a paragraph (``w:numPr``), or None."""
    ppr = paragraph._p.pPr
    if ppr is None or ppr.numPr is None:
        return None, None
    ilvl = ppr.numPr.ilvl
    num_id = ppr.numPr.numId
    level = int(ilvl.val) if ilvl is not None and ilvl.val is not None else 0
    return level, (str(num_id.val) if num_id is not None and num_id.val is not None else None)


def _on(rpr, name: str) -> bool | None:
    if rpr is None:
        return None
    el = rpr.find(_W + name)
    if el is None:
        return None
    return el.get(_W + "val", "true").lower() not in ("0", "false", "off", "none")


def _roman(n: int) -> str:
    out = ""
    for value, letters in (
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ):
        while n >= value:
            out += letters
            n -= value
    return out


def _letters(n: int) -> str:
    # Word repeats the letter after z: aa, bb …
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)


class _WordLists:
    """Word's automatic numbering (numbering.xml): the format and label of each list level, and
    counters, so "(a)" items Word numbers itself come out with the label the reader sees."""

    def __init__(self, document) -> None:
        self.levels: dict[tuple[str, int], tuple[str, str, int]] = {}
        self.counters: dict[tuple[str, int], int] = {}
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        abstract: dict[str, dict[int, tuple[str, str, int]]] = {}
        for an in root.findall(_W + "abstractNum"):
            levels = {}
            for lvl in an.findall(_W + "lvl"):
                fmt = lvl.find(_W + "numFmt")
                text = lvl.find(_W + "lvlText")
                start = lvl.find(_W + "start")
                levels[int(lvl.get(_W + "ilvl", "0"))] = (
                    fmt.get(_W + "val", "decimal") if fmt is not None else "decimal",
                    text.get(_W + "val", "") if text is not None else "",
                    int(start.get(_W + "val", "1")) if start is not None else 1,
                )
            abstract[an.get(_W + "abstractNumId")] = levels
        for num in root.findall(_W + "num"):
            ref = num.find(_W + "abstractNumId")
            if ref is None:
                continue
            for level, spec in abstract.get(ref.get(_W + "val"), {}).items():
                self.levels[(num.get(_W + "numId"), level)] = spec

    def format_of(self, num_id: str | None, level: int) -> str | None:
        spec = self.levels.get((num_id, level)) if num_id else None
        return spec[0] if spec else None

    def label(self, num_id: str, level: int) -> str:
        fmt, text, start = self.levels[(num_id, level)]
        key = (num_id, level)
        self.counters[key] = self.counters.get(key, start - 1) + 1
        for deeper in [k for k in self.counters if k[0] == num_id and k[1] > level]:
            del self.counters[deeper]
        n = self.counters[key]
        value = {
            "lowerLetter": _letters(n),
            "upperLetter": _letters(n).upper(),
            "lowerRoman": _roman(n),
            "upperRoman": _roman(n).upper(),
        }.get(fmt, str(n))
        return (text or "%1.").replace(f"%{level + 1}", value)


class _DocxReader:
    """Reads paragraphs (runs, links, notes, images) of one Word document into rich text."""

    def __init__(self, document, doc: ParsedDocument, report: _Report) -> None:
        self.document = document
        self.report = report
        self.images = _Images(doc, report)
        self.notes_xml: dict[str, dict[str, object]] = {}  # kind → {id: w:footnote element}
        self.note_parts: dict[str, object] = {}
        self.labels: dict[tuple[str, str], str] = {}
        self.char_styles: dict[str, tuple[bool | None, bool | None]] = {}
        self.field_href: str | None = None
        self.in_field_code = False
        self.field_code = ""
        self._load_parts()

    def _load_parts(self) -> None:
        from docx.oxml import parse_xml

        part = self.document.part
        for rel in part.rels.values():
            if rel.is_external:
                continue
            kind = rel.reltype.rsplit("/", 1)[-1]
            if kind in ("footnotes", "endnotes"):
                try:
                    root = parse_xml(rel.target_part.blob)
                except Exception:  # a damaged notes part: its references are reported missing
                    root = None
                if root is None:
                    continue
                tag = _W + kind[:-1]
                self.notes_xml[kind[:-1]] = {
                    el.get(_W + "id"): el
                    for el in root.findall(tag)
                    if el.get(_W + "type") not in ("separator", "continuationSeparator")
                }
                self.note_parts[kind[:-1]] = rel.target_part
            elif kind == "comments":
                try:
                    root = parse_xml(rel.target_part.blob)
                    count = len(root.findall(_W + "comment"))
                except Exception:
                    count = 1
                if count:
                    self.report.add("file-comments", count=count)
        try:
            for style in self.document.styles:
                if getattr(style, "type", None) is not None and style.type == 2:  # character
                    self.char_styles[style.style_id] = (style.font.bold, style.font.italic)
        except (KeyError, ValueError, AttributeError):
            pass

    # -- runs ----------------------------------------------------------------------------------

    def rich(self, p_element, part, notes: list[dict] | None) -> Rich:
        builder = RichBuilder()
        self.field_href, self.in_field_code, self.field_code = None, False, ""
        self._children(p_element, part, builder, (), notes)
        return builder.build()

    def _children(self, element, part, builder, fmt: tuple, notes) -> None:
        for child in element.iterchildren():
            tag = child.tag
            if tag == _W + "r":
                self._run(child, part, builder, fmt, notes)
            elif tag == _W + "hyperlink":
                rid = child.get(_R + "id")
                link_fmt = fmt
                if rid:
                    rel = part.rels.get(rid)
                    target = rel.target_ref if rel is not None and rel.is_external else None
                    safe = safe_href(target)
                    if safe:
                        link_fmt = (*fmt, ("a", safe))
                    elif target:
                        self.report.add("unsafe-link", target)
                self._children(child, part, builder, link_fmt, notes)
            elif tag in (_W + "ins", _W + "moveTo"):
                self._children(child, part, builder, fmt, notes)
            elif tag in (_W + "del", _W + "moveFrom"):
                continue
            elif tag in (
                _W + "smartTag",
                _W + "customXml",
                _W + "fldSimple",
                _W + "dir",
                _W + "bdo",
            ):
                simple = child.get(_W + "instr") if tag == _W + "fldSimple" else None
                match = _HYPERLINK_FIELD.match(simple or "")
                inner = fmt
                if match:
                    safe = safe_href(match.group(1))
                    if safe:
                        inner = (*fmt, ("a", safe))
                    else:
                        self.report.add("unsafe-link", match.group(1))
                self._children(child, part, builder, inner, notes)
            elif tag == _W + "sdt":
                content = child.find(_W + "sdtContent")
                if content is not None:
                    self._children(content, part, builder, fmt, notes)
            elif tag in (_M + "oMath", _M + "oMathPara"):
                self.report.add("equation")
            elif tag == _MC + "AlternateContent":
                choice = child.find(_MC + "Choice")
                if choice is not None:
                    self._children(choice, part, builder, fmt, notes)

    def _run(self, r, part, builder, fmt: tuple, notes) -> None:
        rpr = r.find(_W + "rPr")
        marks = set(fmt)
        style = rpr.find(_W + "rStyle") if rpr is not None else None
        if style is not None:
            bold, italic = self.char_styles.get(style.get(_W + "val"), (None, None))
            if bold:
                marks.add(("b",))
            if italic:
                marks.add(("i",))
        for name, mark in (("b", ("b",)), ("i", ("i",)), ("strike", ("s",)), ("dstrike", ("s",))):
            value = _on(rpr, name)
            if value is True:
                marks.add(mark)
            elif value is False:
                marks.discard(mark)
        vert = rpr.find(_W + "vertAlign") if rpr is not None else None
        if vert is not None and vert.get(_W + "val") in ("superscript", "subscript"):
            marks.add(("sup",) if vert.get(_W + "val") == "superscript" else ("sub",))
        if self.field_href:
            marks.add(("a", self.field_href))
        for el in r.iterchildren():
            tag = el.tag
            if tag == _W + "fldChar":
                kind = el.get(_W + "fldCharType")
                if kind == "begin":
                    self.in_field_code, self.field_code = True, ""
                elif kind == "separate":
                    self.in_field_code = False
                    match = _HYPERLINK_FIELD.match(self.field_code)
                    if match:
                        self.field_href = safe_href(match.group(1))
                        if self.field_href is None:
                            self.report.add("unsafe-link", match.group(1))
                elif kind == "end":
                    self.in_field_code, self.field_href = False, None
                continue
            if tag == _W + "instrText":
                self.field_code += el.text or ""
                continue
            if self.in_field_code:
                continue
            if tag == _W + "t":
                builder.add(el.text or "", marks)
            elif tag in (_W + "tab", _W + "ptab"):
                builder.add(" ", marks)
            elif tag in (_W + "br", _W + "cr"):
                if el.get(_W + "type") != "page":
                    builder.add("\n", marks)
            elif tag == _W + "noBreakHyphen":
                builder.add("\u2011", marks)
            elif tag in (_W + "footnoteReference", _W + "endnoteReference"):
                self._note(
                    el, "footnote" if tag == _W + "footnoteReference" else "endnote", builder, notes
                )
            elif tag == _W + "drawing":
                self._drawing(el, part, builder)
            elif tag in (_W + "object", _W + "pict", _W + "embeddedObject"):
                self.report.add("embedded-object")
            elif tag == _MC + "AlternateContent":
                choice = el.find(_MC + "Choice")
                drawing = choice.find(".//" + _W + "drawing") if choice is not None else None
                if drawing is not None:
                    self._drawing(drawing, part, builder)
                else:
                    self.report.add("embedded-object")

    def _note(self, el, kind: str, builder, notes) -> None:
        note_id = el.get(_W + "id")
        body = self.notes_xml.get(kind, {}).get(note_id)
        if notes is None or body is None:
            self.report.add("footnote-undefined", f"{kind} {note_id}")
            return
        key = (kind, note_id)
        if key not in self.labels:
            count = sum(1 for k in self.labels if k[0] == kind) + 1
            self.labels[key] = str(count) if kind == "footnote" else _roman(count)
        label = self.labels[key]
        builder.insert("note", label)
        note = RichBuilder()
        saved = (self.field_href, self.in_field_code, self.field_code)
        for p in body.findall(_W + "p"):
            inner = RichBuilder()
            self._children(p, self.note_parts[kind], inner, (), None)
            rich = inner.build()
            if rich.text or rich.marks:
                if note.has_content():
                    note.add("\n")
                for _pos, piece in _pieces(rich):
                    if piece[0] is None:
                        note.insert(*piece[1])
                    else:
                        note.add(piece[0], piece[1])
        self.field_href, self.in_field_code, self.field_code = saved
        built = note.build()
        notes.append({"label": label, "kind": kind, "text": built.text, "marks": built.marks})

    def _drawing(self, drawing, part, builder) -> None:
        doc_pr = drawing.find(".//" + _WP + "docPr")
        alt = ""
        if doc_pr is not None:
            alt = doc_pr.get("descr") or doc_pr.get("title") or ""
        blip = drawing.find(".//" + _A + "blip")
        if blip is None:
            if drawing.find(".//" + _W + "txbxContent") is not None:
                self.report.add("text-box", alt)
            else:
                self.report.add("embedded-object", alt)
            return
        rid = blip.get(_R + "embed")
        try:
            image_part = part.related_parts[rid] if rid else None
        except KeyError:
            image_part = None
        if image_part is None:
            self.report.add("image-missing", alt or (blip.get(_R + "link") or ""))
            return
        key = self.images.add(image_part.blob, alt, alt or str(image_part.partname))
        if key is not None:
            builder.insert("img", key, alt)


def _pieces(rich: Rich):
    """Rich text back into (char, fmt) pieces, to append one rich text to a builder."""
    inserts: dict[int, list] = {}
    ranges = []
    for m in rich.marks:
        if m[0] == m[1] and m[2] in ("note", "img"):
            inserts.setdefault(m[0], []).append(tuple(m[2:]))
        else:
            ranges.append(m)
    for pos in range(len(rich.text) + 1):
        for ins in inserts.get(pos, []):
            yield pos, (None, ins)
        if pos < len(rich.text):
            fmt = tuple(tuple(m[2:]) for m in ranges if m[0] <= pos < m[1])
            yield pos, (rich.text[pos], fmt)


def parse_docx(stream: BinaryIO | bytes) -> ParsedDocument:
    """Split a Word document into sections and blocks, in body order (tables included)."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph as DocxParagraph

    document = _open_docx(_docx_bytes(stream))
    doc = ParsedDocument()
    report = _Report()
    reader = _DocxReader(document, doc, report)
    lists = _WordLists(document)
    numbering = _Numbering()
    section: int | None = None
    body = document.element.body

    changes = body.xpath(
        ".//w:ins | .//w:del | .//w:moveFrom | .//w:moveTo | .//w:rPrChange | .//w:pPrChange"
    )
    if changes:
        report.add("tracked-changes", count=len(changes))
    _report_headers_footers(document, report)

    def table_block(child) -> None:
        table = Table(child, document)
        notes: list[dict] = []
        rows, cells_marks = [], []
        for row in table.rows:
            cells, marks, previous = [], [], None
            for cell in row.cells:
                # Merged cells appear once per grid column; keep each once.
                if previous is not None and cell._tc is previous:
                    continue
                previous = cell._tc
                if cell._tc.find(".//" + _W + "tbl") is not None:
                    report.add("nested-table")
                builder = RichBuilder()
                for p in cell._tc.findall(_W + "p"):
                    rich = reader.rich(p, document.part, notes)
                    if builder.has_content():
                        builder.add("\n")
                    for _pos, piece in _pieces(rich):
                        if piece[0] is None:
                            builder.insert(*piece[1])
                        else:
                            builder.add(piece[0], piece[1])
                built = builder.build()
                cells.append(built.text)
                marks.append(built.marks)
            rows.append(cells)
            cells_marks.append(marks)
        if any(any(c for c in r) for r in rows) or any(any(m) for m in cells_marks):
            extra: dict = {"rows": rows, "header": True}
            if any(any(m) for m in cells_marks):
                extra["cells"] = cells_marks
            if notes:
                extra["notes"] = notes
            doc.blocks.append(
                ParsedBlock(section, "table", None, "\n".join(" | ".join(r) for r in rows), extra)
            )

    def children(container):
        for child in container.iterchildren():
            if child.tag == _W + "sdt":
                gallery = child.find(f".//{_W}docPartGallery")
                if gallery is not None and "contents" in (gallery.get(_W + "val") or "").lower():
                    report.add("table-of-contents")
                    continue
                content = child.find(_W + "sdtContent")
                if content is not None:
                    yield from children(content)
                continue
            yield child

    for child in children(body):
        if child.tag == _W + "tbl":
            table_block(child)
            continue
        if child.tag != _W + "p":
            continue
        paragraph = DocxParagraph(child, document)
        notes: list[dict] = []
        rich = reader.rich(child, document.part, notes)
        style = _style_name(paragraph)
        lowered = style.lower()
        if lowered.startswith("toc"):
            report.add("table-of-contents")
            continue
        if _figure_or_paragraph(rich):
            doc.blocks.append(_as_figure(section, rich, notes))
            continue
        text = rich.text
        if not text:
            continue
        heading_level = None
        if lowered.startswith("heading"):
            digits = re.sub(r"\D", "", style)
            heading_level = int(digits) if digits else 1
        if heading_level is not None:
            doc.sections.append(ParsedSection(text, min(heading_level, 6), heading_number(text)))
            section = len(doc.sections) - 1
            continue
        level, num_id = _num_props(paragraph)
        word_format = lists.format_of(num_id, level or 0) if level is not None else None
        if word_format in ("lowerLetter", "upperLetter", "lowerRoman", "upperRoman"):
            # Word writes the "(a)" itself: spell it out so the reader sees the same label.
            label = lists.label(num_id, level)
            labelled = Rich(label + " ", [])
            labelled.extend(rich)
            doc.blocks.append(
                ParsedBlock(
                    section,
                    "list-item",
                    None,
                    labelled.text,
                    _block_extra(labelled, notes, {"ordered": True, "level": level + 1}),
                )
            )
            continue
        if word_format is not None and num_id is not None:
            lists.label(num_id, level)  # keep Word's counters in step
        explicit = _NUMBERED_PARAGRAPH.match(text)
        is_list_style = lowered.startswith("list")
        if (
            explicit
            and numbering.accepts(int(explicit.group(1)))
            and not (is_list_style and "number" not in lowered)
            and word_format != "bullet"
        ):
            number = numbering.take(int(explicit.group(1)))
            stripped = rich.strip_prefix(explicit.start(2))
            doc.blocks.append(
                ParsedBlock(
                    section, "paragraph", number, stripped.text, _block_extra(stripped, notes)
                )
            )
            continue
        auto_numbered = (lowered in ("list number", "list number 1")) or (
            level == 0 and not is_list_style and word_format != "bullet"
        )
        if auto_numbered:
            number = numbering.take(numbering.last + 1)
            doc.blocks.append(
                ParsedBlock(section, "paragraph", number, text, _block_extra(rich, notes))
            )
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
                    _block_extra(
                        rich,
                        notes,
                        {
                            "ordered": "number" in lowered or bool(_LETTER_ITEM.match(text)),
                            "level": list_level,
                        },
                    ),
                )
            )
            continue
        if _LETTER_ITEM.match(text):
            doc.blocks.append(
                ParsedBlock(
                    section,
                    "list-item",
                    None,
                    text,
                    _block_extra(rich, notes, {"ordered": True, "level": 1}),
                )
            )
            continue
        doc.blocks.append(ParsedBlock(section, "paragraph", None, text, _block_extra(rich, notes)))
    for kind, found in reader.notes_xml.items():
        unused = [k for k in found if (kind, k) not in reader.labels]
        if unused:
            report.add("footnote-unused", count=len(unused))
    return _finish(doc, report)


def _report_headers_footers(document, report: _Report) -> None:
    try:
        for sec in document.sections:
            for part in (
                sec.header,
                sec.footer,
                sec.first_page_header,
                sec.first_page_footer,
                sec.even_page_header,
                sec.even_page_footer,
            ):
                if part.is_linked_to_previous:
                    continue
                if any(p.text.strip() for p in part.paragraphs):
                    report.add("headers-footers")
                    return
    except (KeyError, ValueError, AttributeError, NotImplementedError):
        return


def parse_upload(filename: str, stream: BinaryIO) -> tuple[ParsedDocument, str]:
    """Pick the parser from the file name; returns the parsed document and "md" or "docx"."""
    name = (filename or "").lower()
    if name.endswith(".docx"):
        return parse_docx(stream), "docx"
    if name.endswith((".md", ".markdown", ".txt", ".zip")):
        limit = max_source_bytes()
        data = stream.read(limit + 1)
        if not data:
            raise ImportFailed(_("The file is empty."))
        if name.endswith(".zip"):
            _check_size(len(data))
            return _markdown_bundle(data), "md"
        return parse_markdown(data), "md"
    raise ImportFailed(
        _(
            "Upload a Word document (.docx), a Markdown file (.md) or a .zip with a Markdown "
            "file and its images."
        )
    )
