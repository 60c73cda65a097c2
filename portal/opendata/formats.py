"""CSV, XLSX and JSON writers for batches of records, all driven by the data dictionary.

Each writer consumes an iterator of record batches and never holds more than one batch: CSV and
JSON are generators of text chunks for a streamed response; XLSX is written by openpyxl's
write-only workbook (rows go straight to a temporary file) and then sent from disk.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask_babel import force_locale
from openpyxl import Workbook

from portal.opendata.dictionary import Field, flat_value, json_value
from portal.opendata.services import Licence

Batches = Iterable[list[dict[str, Any]]]

# Characters a spreadsheet would read as the start of a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Control characters XML 1.0 (so XLSX) cannot hold; openpyxl refuses them.
_ILLEGAL_XML_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def spreadsheet_text(value: Any) -> str:
    """Text as-is, except that a leading formula character is neutralised for spreadsheets."""
    if value is None:
        return ""
    text = str(value)
    if text[:1] in FORMULA_STARTS:
        return "'" + text
    return text


def _csv_cell(spec: Field, value: Any) -> str:
    value = flat_value(spec.name, value)
    if value is None:
        return ""
    if spec.type == "string":
        return spreadsheet_text(value)
    if spec.type == "number":
        return f"{value:.2f}"
    if spec.type == "date":
        return value.isoformat()
    return str(value)


def csv_chunks(fields: tuple[Field, ...], batches: Batches) -> Iterator[str]:
    """CSV text, starting with a UTF-8 BOM so Excel opens non-Latin text correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    out.write("\ufeff")
    writer.writerow([f.name for f in fields])
    yield out.getvalue()  # the header leaves before the first row is read
    out.seek(0)
    out.truncate()
    for batch in batches:
        for record in batch:
            writer.writerow([_csv_cell(f, record[f.name]) for f in fields])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


def _xlsx_cell(spec: Field, value: Any) -> Any:
    value = flat_value(spec.name, value)
    if value is None:
        return None
    if spec.type == "string" or isinstance(value, str):
        return _ILLEGAL_XML_CHARS.sub("", spreadsheet_text(value))
    return value  # dates, Decimal amounts and integers keep their spreadsheet types


def write_xlsx(
    target: Any,
    fields: tuple[Field, ...],
    batches: Batches,
    *,
    sheet: str,
    licence: Licence,
    source: str,
) -> None:
    """A workbook with the data on its first sheet and the dictionary and licence on a second,
    written to ``target`` (a path or a binary file)."""
    workbook = Workbook(write_only=True)
    data = workbook.create_sheet(sheet)
    data.append([f.name for f in fields])
    for batch in batches:
        for record in batch:
            data.append([_xlsx_cell(f, record[f.name]) for f in fields])
    about = workbook.create_sheet("dictionary")
    with force_locale("en"):
        about.append(["column", "type", "description"])
        for spec in fields:
            kind = f"list of {spec.type} (separated by ;)" if spec.is_list else spec.type
            about.append([spec.name, kind, str(spec.description)])
    about.append([])
    about.append(["licence", licence.title, licence.url])
    about.append(["source", source])
    about.append(["generated", datetime.now(UTC).replace(microsecond=0).isoformat()])
    workbook.save(target)


def json_chunks(
    name: str, fields: tuple[Field, ...], batches: Batches, *, licence: Licence, source: str
) -> Iterator[str]:
    """``{"name", "licence", "source", "generated", "data": [...]}``, one batch per chunk."""
    head = {
        "name": name,
        "licence": licence.as_dict(),
        "source": source,
        "generated": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "data": ['
    first = True
    for batch in batches:
        parts = []
        for record in batch:
            item = {f.name: _json_field(f, record[f.name]) for f in fields}
            parts.append(("" if first else ",") + "\n" + json.dumps(item, ensure_ascii=False))
            first = False
        yield "".join(parts)
    yield "\n]}\n"


def _json_field(spec: Field, value: Any) -> Any:
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return json_value(value)
