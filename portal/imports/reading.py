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

from flask import current_app, has_app_context, has_request_context
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


@dataclass(frozen=True)
class ImportLimits:
    """What a spreadsheet may hold before we refuse it, checked before and while parsing so a
    "zip bomb" (a few hundred KB that unpack to 100 MB of XML) is refused in milliseconds."""

    unpacked_bytes: int = 20 * 1024 * 1024
    rows: int = 10_000
    columns: int = 100
    cell_chars: int = 10_000
    zip_entries: int = 1_000

    @classmethod
    def from_config(cls) -> ImportLimits:
        if not has_app_context():
            return cls()
        config = current_app.config
        default = cls()
        return cls(
            unpacked_bytes=int(config.get("IMPORT_MAX_UNPACKED_BYTES", default.unpacked_bytes)),
            rows=int(config.get("IMPORT_MAX_ROWS", default.rows)),
            columns=int(config.get("IMPORT_MAX_COLUMNS", default.columns)),
            cell_chars=int(config.get("IMPORT_MAX_CELL_CHARS", default.cell_chars)),
        )


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
    limits = ImportLimits.from_config()
    if ext == "csv":
        return _read_csv(data, limits)
    if ext == "xlsx":
        return _read_xlsx(data, limits)
    raise ImportFileError(_("Only .csv and .xlsx files can be imported."))


def _read_csv(data: bytes, limits: ImportLimits) -> Sheet:
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
        records = _limited(csv.reader(io.StringIO(text, newline=""), strict=True), limits)
    except csv.Error as err:
        raise ImportFileError(_("The CSV file is malformed: %(error)s", error=str(err))) from err
    return _build_sheet(enumerate(records, start=1))


def _limited(records, limits: ImportLimits) -> list[list]:
    """The records, read one at a time and refused as soon as one passes a limit."""
    kept: list[list] = []
    filled = 0  # blank rows (a whole column formatted in Excel) do not count
    for number, record in enumerate(records, start=1):
        filled += any(record)
        if filled > limits.rows + 1:  # the header row plus the data rows
            raise ImportFileError(
                _(
                    "The file has more than %(n)s rows. Split it into smaller files and import "
                    "them one after the other.",
                    n=limits.rows,
                )
            )
        if len(record) > limits.columns and any(record[limits.columns :]):
            raise ImportFileError(
                _("Row %(row)s has more than %(n)s columns.", row=number, n=limits.columns)
            )
        record = list(record[: limits.columns])
        for position, value in enumerate(record, start=1):
            if isinstance(value, str) and len(value) > limits.cell_chars:
                raise ImportFileError(
                    _(
                        "Row %(row)s, column %(column)s holds more than %(n)s characters.",
                        row=number,
                        column=position,
                        n=limits.cell_chars,
                    )
                )
        kept.append(record)
    return kept


def _check_archive(data: bytes, limits: ImportLimits) -> None:
    """Refuse an XLSX whose parts unpack to more than the limit, before any XML is parsed.

    The sizes are those declared in the zip directory; Python's zipfile never inflates an
    entry beyond its declared size (it fails the CRC check instead), so they cannot lie."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise ImportFileError(
            _(
                "The XLSX file could not be opened; it may be damaged or password-protected. "
                "Open it in a spreadsheet program, save it again and retry."
            )
        ) from err
    unpacked = sum(entry.file_size for entry in entries)
    if len(entries) > limits.zip_entries or unpacked > limits.unpacked_bytes:
        raise ImportFileError(
            _(
                "The spreadsheet unpacks to %(size)s MB, more than the %(limit)s MB allowed. "
                "Split it into smaller files, or save it as CSV.",
                size=max(1, round(unpacked / (1024 * 1024))),
                limit=max(1, limits.unpacked_bytes // (1024 * 1024)),
            )
        )


def _read_xlsx(data: bytes, limits: ImportLimits) -> Sheet:
    from openpyxl import load_workbook

    if not data.startswith(b"PK\x03\x04"):
        raise ImportFileError(_("This is not a valid XLSX file (it is not a zip archive)."))
    _check_archive(data, limits)
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
            rows = sheet.iter_rows(values_only=True, max_col=limits.columns + 1)
            records = _limited(([_cell_text(v) for v in row] for row in rows), limits)
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
