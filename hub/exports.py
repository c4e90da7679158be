"""The one spreadsheet writer for the whole hub.

openpyxl treats any string starting with "=" as a formula, in write-only mode too, so a child's
name or a free-text note like "=HYPERLINK(...)" would run when a DPO opens the export. Every text
cell is therefore written with the string type forced; values starting with =, +, -, @, tab, CR
or NUL also get a leading apostrophe, the convention spreadsheet programs show as "this is text",
so the cell stays inert even if it is re-typed or the file is saved as CSV. Characters XML cannot
hold are replaced, never allowed to abort the export.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r", "\x00")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def inert_text(value: str) -> str:
    if value.startswith(DANGEROUS_START):
        value = "'" + value
    return _ILLEGAL_XML.sub("\ufffd", value)


def _cell(sheet, value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)  # Excel has no time zones: the hub writes UTC
    if value is None or isinstance(value, (int, float, date, datetime)) and not isinstance(value, bool):
        return WriteOnlyCell(sheet, value=value)
    cell = WriteOnlyCell(sheet, value=inert_text(str(value)))
    cell.data_type = "s"  # never a formula, whatever the text starts with
    return cell


@dataclass
class Sheet:
    """One sheet of a workbook; rows may be a generator."""

    title: str
    headers: Sequence[str]
    rows: Iterable[Sequence]


def write_xlsx(title: str, headers: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """A one-sheet workbook; rows may be a generator, so large exports stream."""
    return write_workbook([Sheet(title, headers, rows)])


def write_workbook(sheets: Sequence[Sheet]) -> bytes:
    """A workbook of one or more sheets, in order, every cell written as `_cell` writes it.
    Titles are cleaned of the characters Excel refuses and made unique."""
    workbook = Workbook(write_only=True)
    used: set[str] = set()
    for spec in sheets:
        sheet = workbook.create_sheet(title=_sheet_title(spec.title, used))
        header_cells = []
        for name in spec.headers:
            cell = _cell(sheet, name)
            cell.font = Font(bold=True)
            header_cells.append(cell)
        sheet.append(header_cells)
        for row in spec.rows:
            sheet.append([_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet_title(title: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Export"
    name, n = base, 1
    while name.lower() in used:  # Excel compares sheet names without case
        n += 1
        name = f"{base[:31 - len(str(n)) - 1]} {n}"
    used.add(name.lower())
    return name
