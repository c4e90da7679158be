"""The data behind a chart, as CSV or as an xlsx workbook: the table's columns and rows, and (xlsx)
a second sheet with the headline, subtitle, filters and notes. Counts only: no names.

The dashboard's figures are for managing the service and are not suppressed, so every download
says so where it travels with the data: in its file name, in the CSV's first row (a sidecar
note would be lost when the file is passed on) and first on the xlsx's About sheet."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook

from hub.reports.query import Figure

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MARKING = "Not suppressed: not for publication"
MARKING_NOTE = (MARKING + ". These figures are for managing the service: small numbers are shown as they are. "
                "The annual report suppresses small numbers for publication.")


def _safe(value):
    """A cell a spreadsheet will not run as a formula (CSV injection): labels are ours, but an
    organisation's name is typed by an administrator."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(figure: Figure) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([MARKING])
    writer.writerow(figure.columns)
    for row in figure.rows:
        writer.writerow(["" if v is None else _safe(v) for v in row])
    if figure.withheld:
        writer.writerows([[note] for note in figure.notes])
    return out.getvalue().encode("utf-8-sig")  # the BOM: Excel then reads UTF-8


def to_xlsx(figure: Figure, described_filters: list[tuple[str, str]]) -> bytes:
    book = Workbook()
    data = book.active
    data.title = "Data"
    data.append(figure.columns)
    for row in figure.rows:
        data.append([_safe(v) for v in row])
    about = book.create_sheet("About")
    for line in [("Publication", MARKING_NOTE), ("Title", figure.title), ("Subtitle", figure.subtitle),
                 *described_filters,
                 *[("Note", note) for note in figure.notes]]:
        about.append([_safe(v) for v in line])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def filename(figure: Figure, extension: str) -> str:
    return f"{figure.key}-not-suppressed-not-for-publication.{extension}"
