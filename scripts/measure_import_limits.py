#!/usr/bin/env python3
"""Issue 15 (S4): how long a spreadsheet import takes to refuse an XLSX "zip bomb", against
parsing an ordinary file in the same run. Prints CPU seconds and ratios; no thresholds.

    .venv/bin/python scripts/measure_import_limits.py [--bomb-mb 100]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook  # noqa: E402

from portal.imports.reading import ImportFileError, ImportLimits, _read_xlsx  # noqa: E402


def real_workbook(rows: int) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["name", "acronym", "country", "organisation type", "website", "description"])
    for n in range(rows):
        sheet.append([f"Organisation {n}", f"O{n}", "KE", "22", "https://example.org", "x" * 80])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def bomb(unpacked_mb: int) -> bytes:
    """A valid workbook whose first sheet is replaced by ``unpacked_mb`` MB of cells."""
    source = zipfile.ZipFile(io.BytesIO(real_workbook(1)))
    row = "<row>" + '<c t="inlineStr"><is><t>aaaaaaaaaaaaaaaa</t></is></c>' * 40 + "</row>"
    chunk = (row * 50).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                with archive.open(info.filename, "w") as sheet:
                    sheet.write(
                        b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats'
                        b'.org/spreadsheetml/2006/main"><sheetData>'
                    )
                    for _ in range(unpacked_mb * 1024 * 1024 // len(chunk)):
                        sheet.write(chunk)
                    sheet.write(b"</sheetData></worksheet>")
            else:
                archive.writestr(info, source.read(info.filename))
    return out.getvalue()


def cpu(fn) -> tuple[float, str]:
    start = time.process_time()
    try:
        outcome = f"{len(fn().rows)} rows read"
    except ImportFileError as err:
        outcome = f"refused: {err}"
    return time.process_time() - start, outcome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bomb-mb", type=int, default=100)
    args = parser.parse_args()
    limits = ImportLimits()
    ordinary = real_workbook(300)
    big_bomb = bomb(args.bomb_mb)
    small_bomb = bomb(10)
    base, base_outcome = cpu(lambda: _read_xlsx(ordinary, limits))
    print(
        f"baseline: 300-row workbook ({len(ordinary) // 1024} KB): {base:.3f} s CPU, {base_outcome}"
    )
    refused, outcome = cpu(lambda: _read_xlsx(big_bomb, limits))
    print(
        f"bomb: {len(big_bomb) // 1024} KB unpacking to {args.bomb_mb} MB: {refused:.3f} s CPU "
        f"({refused / base:.1f}× baseline), {outcome[:80]}"
    )
    no_limits = ImportLimits(unpacked_bytes=10**12, rows=10**9, columns=100, cell_chars=10**6)
    parsed, outcome = cpu(lambda: _read_xlsx(small_bomb, no_limits))
    print(
        f"without limits, a 10 MB sheet: {parsed:.2f} s CPU ({parsed / base:.0f}× baseline), "
        f"{outcome[:40]}; so {args.bomb_mb} MB ≈ {parsed * args.bomb_mb / 10:.0f} s"
    )
    at_limit = limits.unpacked_bytes // (1024 * 1024)
    parsed, outcome = cpu(lambda: _read_xlsx(bomb(at_limit - 1), limits))
    print(f"worst case under the limits ({at_limit - 1} MB): {parsed:.2f} s CPU, {outcome[:60]}")


if __name__ == "__main__":
    main()
