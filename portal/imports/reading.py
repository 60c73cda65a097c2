"""Turn an uploaded CSV or XLSX file into rows of text, numbered as the user sees them.

Row numbers follow the spreadsheet: the header is row 1, the first data row is row 2. For CSV a
quoted field may contain line breaks, so we count *records*, not lines — that is the number the
user sees when the file is opened in a spreadsheet program.

Every cell becomes a string here (dates as ``YYYY-MM-DD``, whole numbers without ``.0``), so the
validation rules are written once for both formats.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import PurePath

from flask import has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _

ALLOWED_EXTENSIONS = ("csv", "xlsx")


class ImportFileError(ValueError):
    """The file cannot be read at all (wrong type, broken XLSX, not UTF-8)."""


@dataclass
class Sheet:
    headers: list[str]
    # (row number as the user sees it, raw header → text value); blank rows are left out.
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # Cells found under a column without a header, reported by validation as (row, position).
    stray_cells: list[tuple[int, int]] = field(default_factory=list)


def file_extension(filename: str) -> str:
    return PurePath(filename or "").suffix.lower().lstrip(".")


@contextmanager
def default_locale_outside_requests() -> Iterator[None]:
    """Messages are translated, but the portal's locale selector reads the request; CLI runs
    and tests call us without one, so they get the default language."""
    if has_request_context():
        yield
    else:
        with force_locale("en"):
            yield


def read_sheet(data: bytes, filename: str) -> Sheet:
    with default_locale_outside_requests():
        return _read_sheet(data, filename)


def _read_sheet(data: bytes, filename: str) -> Sheet:
    ext = file_extension(filename)
    if ext == "csv":
        return _read_csv(data)
    if ext == "xlsx":
        return _read_xlsx(data)
    raise ImportFileError(_("Only .csv and .xlsx files can be imported."))


def _read_csv(data: bytes) -> Sheet:
    if data.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            _("This file looks like a spreadsheet (XLSX), not CSV. Rename it to .xlsx.")
        )
    if b"\x00" in data[:4096]:
        raise ImportFileError(
            _("This file is not a text CSV file. Save it as “CSV UTF-8” and try again.")
        )
    try:
        text = data.decode("utf-8-sig")  # a BOM (Excel's “CSV UTF-8”) is accepted
    except UnicodeDecodeError as err:
        raise ImportFileError(
            _(
                "The file is not UTF-8 text (first bad byte at position %(pos)s). Save it as "
                "“CSV UTF-8” and try again.",
                pos=err.start,
            )
        ) from err
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as err:
        raise ImportFileError(_("The CSV file is malformed: %(error)s", error=str(err))) from err
    return _build_sheet(enumerate(records, start=1))


def _read_xlsx(data: bytes) -> Sheet:
    from openpyxl import load_workbook

    if not data.startswith(b"PK\x03\x04"):
        raise ImportFileError(_("This is not a valid XLSX file (it is not a zip archive)."))
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as err:
        raise ImportFileError(
            _(
                "The XLSX file could not be opened; it may be damaged or password-protected. "
                "Open it in a spreadsheet program, save it again and retry."
            )
        ) from err
    except Exception as err:  # openpyxl raises many XML/parser errors for broken files
        raise ImportFileError(
            _("The XLSX file could not be opened; it may be damaged. Save it again and retry.")
        ) from err
    try:
        if not workbook.worksheets:
            raise ImportFileError(_("The XLSX file has no worksheet."))
        sheet = workbook.worksheets[0]
        try:
            records = [
                [_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)
            ]
        except ImportFileError:
            raise
        except Exception as err:  # broken sheet XML inside a valid zip
            raise ImportFileError(
                _("The first worksheet of the XLSX file could not be read; it may be damaged.")
            ) from err
    finally:
        workbook.close()
    return _build_sheet(enumerate(records, start=1))


def _cell_text(value) -> str:
    """A spreadsheet cell as the text the user typed, as far as that can be recovered."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # 250000.0 → "250000"; 1234.5 → "1234.5". repr() is the shortest exact round-trip, so
        # Decimal(text) later never sees binary noise such as 1234.4999999.
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    return str(value).strip()


def _build_sheet(numbered_records) -> Sheet:
    headers: list[str] | None = None
    sheet = Sheet(headers=[])
    for number, record in numbered_records:
        cells = [c.strip() if isinstance(c, str) else _cell_text(c) for c in record]
        if headers is None:
            while cells and not cells[-1]:
                cells.pop()
            headers = cells
            sheet.headers = headers
            continue
        if not any(cells):
            continue  # blank rows are skipped but still counted, like in the spreadsheet
        values = {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(headers)}
        for extra in range(len(headers), len(cells)):
            if cells[extra]:
                sheet.stray_cells.append((number, extra + 1))
        sheet.rows.append((number, values))
    return sheet
