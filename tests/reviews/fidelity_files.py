"""Realistic drafts built in the tests: a DOCX (python-docx, plus the parts it has no API for —
footnotes, hyperlinks, lettered numbering, tracked changes, an embedded object) and Markdown,
each with every element the faithful import must keep or list."""

from __future__ import annotations

import base64
import io
import struct
import zlib

PNG_ALT = "Map of the 2021 pilot cities"


def png_bytes(width: int = 24, height: int = 16, rgb=(0, 95, 158)) -> bytes:
    """A real PNG (solid colour), small enough to inline."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    raw = row * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


MARKDOWN = f"""# 一、Introduction

1. The **Executive Board** adopted the *strategic plan* and asked for
[the report](https://unhabitat.org/report "Report").[^board] See also
<https://example.org/annex>.

2. The Board considered the following:

(a) the **first** item;

(b) the second item, with a [mail link](mailto:secretariat@example.org);

(c) the third item;

(d) the fourth item.

3. A dangerous [link](javascript:alert(1)) and a relative one [here](../secret) keep their text.

![{PNG_ALT}](data:image/png;base64,{base64.b64encode(png_bytes()).decode()})

4. A remote image ![Logo](https://example.org/logo.png) and a missing one ![Chart](chart.png).

| Region | **Partners** |
|---|---|
| Africa | *120* |
| Arab States | [45](https://example.org/arab) |

## A. 中文部分

5. 在将于 2022 年 6 月举行的**世界城市论坛**之前，人居署分发了背景文件草案。[^zh]

[^board]: Decision 1/3, adopted on *31 May 2019*.
[^zh]: 见 [人居署网站](https://unhabitat.org/zh)。
[^unused]: Never referred to.
"""

HOSTILE_MARKDOWN = """# <script>alert('h')</script>

1. Click [me](javascript:alert(1)) or [me too](JaVaScRiPt:alert(2)) or
[data](data:text/html,<script>alert(3)</script>).

2. Raw <img src=x onerror=alert(4)> and <script>alert(5)</script> stay text.

3. Quotes [q](https://example.org/" onmouseover="alert(6)) and
![x" onerror="alert(7)](javascript:alert(8)).

| <b onclick=alert(9)>cell</b> | [c](vbscript:msgbox) |
|---|---|
| <iframe src=//evil> | ok |
"""

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
RT_FOOTNOTES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes"
CT_FOOTNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
RT_HYPERLINK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"


def _w(tag: str) -> str:
    return f"{{{_W_NS}}}{tag}"


def _add_hyperlink(paragraph, url: str, text: str, part) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rid = part.relate_to(url, RT_HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rid)
    run = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = text
    run.append(t)
    link.append(run)
    paragraph._p.append(link)


def _add_footnotes_part(document, notes: dict[int, str]):
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    body = "".join(
        f'<w:footnote w:id="{i}"><w:p><w:r><w:footnoteRef/></w:r>'
        f'<w:r><w:t xml:space="preserve"> {text}</w:t></w:r></w:p></w:footnote>'
        for i, text in notes.items()
    )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:footnotes xmlns:w="{_W_NS}" xmlns:r="{_R_NS}">'
        f'<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
        f"</w:footnote>{body}</w:footnotes>"
    ).encode()
    part = Part(PackURI("/word/footnotes.xml"), CT_FOOTNOTES, xml, document.part.package)
    document.part.relate_to(part, RT_FOOTNOTES)


def _footnote_reference(paragraph, note_id: int) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    run = OxmlElement("w:r")
    ref = OxmlElement("w:footnoteReference")
    ref.set(qn("w:id"), str(note_id))
    run.append(ref)
    paragraph._p.append(run)


def _lettered_numbering(document) -> str:
    """Add a Word list whose level 0 is lettered "(a)"; returns its numId."""
    from docx.oxml import parse_xml

    numbering = document.part.numbering_part.element
    abstract = parse_xml(
        f'<w:abstractNum xmlns:w="{_W_NS}" w:abstractNumId="90">'
        f'<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/>'
        f'<w:lvlText w:val="(%1)"/></w:lvl></w:abstractNum>'
    )
    num = parse_xml(f'<w:num xmlns:w="{_W_NS}" w:numId="90"><w:abstractNumId w:val="90"/></w:num>')
    first_num = numbering.find(_w("num"))
    if first_num is not None:
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)
    numbering.append(num)
    return "90"


def _number(paragraph, num_id: str, level: int = 0) -> None:
    from docx.oxml import parse_xml

    ppr = paragraph._p.get_or_add_pPr()
    ppr.append(
        parse_xml(
            f'<w:numPr xmlns:w="{_W_NS}"><w:ilvl w:val="{level}"/>'
            f'<w:numId w:val="{num_id}"/></w:numPr>'
        )
    )


def fidelity_docx() -> bytes:
    import docx
    from docx.oxml import parse_xml

    document = docx.Document()
    document.add_heading("一、Introduction", level=1)

    p1 = document.add_paragraph("1. The ")
    p1.add_run("Executive Board").bold = True
    p1.add_run(" adopted the ")
    p1.add_run("strategic plan").italic = True
    p1.add_run(" and asked for ")
    _add_hyperlink(p1, "https://unhabitat.org/report", "the report", document.part)
    p1.add_run(".")
    _footnote_reference(p1, 1)

    document.add_paragraph("2. The Board considered the following:")
    num_id = _lettered_numbering(document)
    for text in ("the first item;", "the second item;", "the third item;", "the fourth item."):
        _number(document.add_paragraph(text), num_id)

    p3 = document.add_paragraph("3. A dangerous ")
    _add_hyperlink(p3, "javascript:alert(1)", "link", document.part)
    p3.add_run(" keeps its text.")

    document.add_picture(io.BytesIO(png_bytes()))
    doc_pr = document.paragraphs[-1]._p.find(".//{*}docPr")
    doc_pr.set("descr", PNG_ALT)

    p4 = document.add_paragraph("4. Tracked: ")
    p4._p.append(
        parse_xml(
            f'<w:ins xmlns:w="{_W_NS}" w:id="11" w:author="A" w:date="2026-01-01T00:00:00Z">'
            f"<w:r><w:t>inserted text</w:t></w:r></w:ins>"
        )
    )
    p4._p.append(
        parse_xml(
            f'<w:del xmlns:w="{_W_NS}" w:id="12" w:author="A" w:date="2026-01-01T00:00:00Z">'
            f"<w:r><w:delText>deleted text</w:delText></w:r></w:del>"
        )
    )
    p4.add_run(" and an object: ")
    run = p4.add_run()
    run._r.append(
        parse_xml(f'<w:object xmlns:w="{_W_NS}" w:dxaOrig="100" w:dyaOrig="100"></w:object>')
    )
    commented = p4.add_run(" (commented).")
    document.add_comment(commented, text="Is this right?", author="Reviewer")

    table = document.add_table(rows=3, cols=2)
    table.cell(0, 0).text = "Region"
    table.cell(0, 1).paragraphs[0].add_run("Partners").bold = True
    table.cell(1, 0).text, table.cell(1, 1).text = "Africa", "120"
    table.cell(2, 0).text = "Arab States"
    table.cell(2, 1).paragraphs[0].add_run("45").italic = True

    document.add_heading("A. 中文部分", level=2)
    p5 = document.add_paragraph("5. 在将于 2022 年 6 月举行的")
    p5.add_run("世界城市论坛").bold = True
    p5.add_run("之前，人居署分发了背景文件草案。")
    _footnote_reference(p5, 2)

    _add_footnotes_part(document, {1: "Decision 1/3, adopted on 31 May 2019.", 2: "见人居署网站。"})
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
