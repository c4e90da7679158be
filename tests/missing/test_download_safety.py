"""Malicious and broken spreadsheets: each is refused with a clear reason, before openpyxl opens
it where the zip alone gives it away, and an import of it stores nothing but its failed batch."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import openpyxl
import pytest
from openpyxl import Workbook, xml
from sqlalchemy import func, select

from hub import db
from hub.missing.imports import batches as import_batches
from hub.missing.imports import download
from hub.missing.imports.download import (
    COLUMNS,
    Limits,
    UnreadableFile,
    _moment,
    check_archive,
    iter_sheet,
    read_download,
)
from hub.models.missing import ImportBatch, ImportReviewItem, ImportStatus, MissingEpisode
from hub.models.roles import OrgKind, Role
from tests.factories import make_org, make_user

SHEET = "xl/worksheets/sheet1.xml"
SHEET_OPEN = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_CLOSE = "</sheetData></worksheet>"


def workbook_bytes(rows: int = 1) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([c.heading for c in COLUMNS])
    for n in range(rows):
        sheet.append([f"REF/{n}", "2026-01-10 09:30", "Missing", "Low", "Home", None, None, "NB-P-1"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def with_sheet(xml: bytes, base: bytes | None = None, extra: dict[str, bytes] | None = None) -> bytes:
    """A copy of a real workbook with its first sheet's XML replaced (and entries added)."""
    source = zipfile.ZipFile(io.BytesIO(base or workbook_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry.filename, xml if entry.filename == SHEET else source.read(entry.filename))
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def refused(data: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(UnreadableFile) as caught:
        read_download(data, limits=limits or Limits())
    return caught.value.reason


@pytest.fixture
def never_opened(monkeypatch):
    """Fails the test if openpyxl is asked to open the file."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("openpyxl was asked to open a file the zip checks should have refused")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


def test_openpyxl_parses_with_defusedxml():
    assert xml.DEFUSEDXML is True


def test_the_hub_refuses_to_read_without_defusedxml(monkeypatch):
    monkeypatch.setattr(xml, "DEFUSEDXML", False)
    with pytest.raises(RuntimeError, match="defusedxml"):
        list(iter_sheet(workbook_bytes(), Limits()))


def test_a_good_workbook_reads(app):
    result = read_download(workbook_bytes(3))
    assert [r.reference for r in result.rows] == ["REF/0", "REF/1", "REF/2"] and result.errors == []


@pytest.mark.parametrize("data, reason", [
    (b"\x00\x01random bytes that are not a zip" * 50, "not an Excel workbook"),
    (b"", "empty"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "older Excel workbook (.xls)"),
    (b"name,date of birth\nAva,2012-01-01\n", "not an Excel workbook"),
])
def test_a_file_that_is_not_a_workbook_is_refused_before_openpyxl(never_opened, data, reason):
    assert reason in refused(data)


def test_a_zip_without_a_workbook_is_refused_before_openpyxl(never_opened):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
        archive.writestr("xl/worksheets/sheet1.xml", SHEET_OPEN + SHEET_CLOSE)
    assert "zip archive but not an Excel workbook" in refused(out.getvalue())


def test_a_spreadsheet_bomb_is_refused_before_openpyxl(never_opened):
    # 40 MB of one repeated row inflates from about 40 KB: the ratio gives it away.
    rows = '<row><c t="inlineStr"><is><t>x</t></is></c></row>' * (40 * 1024 * 1024 // 48)
    bomb = with_sheet((SHEET_OPEN + rows + SHEET_CLOSE).encode())
    assert len(bomb) < 1024 * 1024
    assert "zip bomb" in refused(bomb)


def test_the_total_uncompressed_size_is_limited(never_opened):
    # Many moderately compressible entries: each passes the ratio check, together they are too big.
    noise = bytes(range(256)) * 4096  # 1 MB that compresses poorly
    data = with_sheet(SHEET_OPEN.encode() + SHEET_CLOSE.encode(),
                      extra={f"xl/media/image{n}.bin": noise for n in range(6)})
    assert "would be more than 5 MB" in refused(data, Limits(max_uncompressed=5 * 1024 * 1024))


def test_the_number_of_entries_is_limited(never_opened):
    data = with_sheet(SHEET_OPEN.encode() + SHEET_CLOSE.encode(), extra={f"xl/x{n}.xml": b"<a/>" for n in range(30)})
    assert "more than 20 parts" in refused(data, Limits(max_entries=20))


def test_the_file_size_is_limited(never_opened):
    assert "larger than 1 MB" in refused(b"PK" + b"\x00" * (1024 * 1024 + 10), Limits(max_bytes=1024 * 1024))


def test_an_encrypted_zip_entry_is_refused(never_opened):
    data = bytearray(workbook_bytes())
    # Set the "encrypted" flag of every central directory entry.
    position = data.find(b"PK\x01\x02")
    while position != -1:
        data[position + 8] |= 0x1
        position = data.find(b"PK\x01\x02", position + 4)
    assert "encrypted" in refused(bytes(data))


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>
</sheetData></worksheet>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE worksheet [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&secret;</t></is></c></row>
</sheetData></worksheet>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_xml_entities_in_a_sheet_are_refused(xml):
    reason = refused(with_sheet(xml.encode()))
    assert "entity declarations" in reason


def test_the_number_of_rows_is_limited():
    assert "more than 5 rows" in refused(workbook_bytes(6), Limits(max_rows=5))
    assert len(read_download(workbook_bytes(5), limits=Limits(max_rows=5)).rows) == 5


def test_a_sheet_claiming_a_row_a_billion_rows_down_is_refused_quickly():
    headings = "".join(f'<c t="inlineStr"><is><t>{c.heading}</t></is></c>' for c in COLUMNS)
    xml = (SHEET_OPEN + f'<row r="1">{headings}</row>'
           '<row r="1000000000"><c r="A1000000000" t="inlineStr"><is><t>x</t></is></c></row>' + SHEET_CLOSE)
    assert "more than 50,000 rows" in refused(with_sheet(xml.encode()))


def test_a_cell_in_the_last_column_does_not_widen_every_row():
    xml = (SHEET_OPEN + '<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c>'
           '<c r="XFD1" t="inlineStr"><is><t>y</t></is></c></row>' + SHEET_CLOSE)
    rows = list(iter_sheet(with_sheet(xml.encode()), Limits()))
    assert rows and all(len(values) <= Limits().max_columns for _, values in rows)


def test_a_sheet_whose_declared_dimension_is_too_small_is_read_to_its_end():
    base = workbook_bytes(4)
    sheet = zipfile.ZipFile(io.BytesIO(base)).read(SHEET).decode()
    lying = sheet.replace('<dimension ref="A1:L5" />', '<dimension ref="A1:L2" />')
    assert lying != sheet
    assert len(read_download(with_sheet(lying.encode(), base)).rows) == 4


def test_a_damaged_sheet_fails_as_a_whole(app):
    xml = SHEET_OPEN + '<row r="1"><c r="A1" t="inlineStr"><is><t>unclosed'
    assert "could not be read" in refused(with_sheet(xml.encode()))


@pytest.mark.parametrize("kind", ["bomb", "laughs", "random", "no-workbook"])
def test_importing_a_malicious_file_stores_only_its_failed_batch(app, kind):
    force = make_org(OrgKind.police)
    officer, _ = make_user(force, Role.police_officer)
    rows = '<row><c t="inlineStr"><is><t>x</t></is></c></row>' * (8 * 1024 * 1024 // 48)
    no_workbook = io.BytesIO()
    with zipfile.ZipFile(no_workbook, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    data = {"bomb": with_sheet((SHEET_OPEN + rows + SHEET_CLOSE).encode()),
            "laughs": with_sheet(BILLION_LAUGHS.encode()),
            "random": bytes(range(256)) * 10,
            "no-workbook": no_workbook.getvalue()}[kind]
    batch = import_batches.import_file(officer, data, "evil.xlsx")
    assert batch.status == ImportStatus.failed and import_batches.summary_of(batch)["failure"]
    assert db.session().scalar(select(func.count()).select_from(MissingEpisode)) == 0
    assert db.session().scalar(select(func.count()).select_from(ImportReviewItem)) == 0
    assert db.session().scalar(select(func.count()).select_from(ImportBatch)) == 1


def test_limits_can_be_set_from_the_environment(monkeypatch):
    monkeypatch.setenv("HUB_IMPORT_MAX_ROWS", "10")
    monkeypatch.setenv("HUB_IMPORT_MAX_RATIO", "50")
    limits = download.Limits.from_env()
    assert limits.max_rows == 10 and limits.max_ratio == 50 and limits.max_entries == Limits().max_entries


def test_check_archive_accepts_a_real_workbook_and_refuses_one_over_its_limits():
    assert check_archive(workbook_bytes(100), Limits()) is None  # no UnreadableFile raised
    with pytest.raises(UnreadableFile, match="larger than"):
        check_archive(workbook_bytes(100), Limits(max_bytes=1000))


def test_wall_clock_times_across_the_clock_changes():
    # The hour repeated when the clocks go back reads as its first (BST) occurrence.
    assert _moment(datetime(2026, 10, 25, 1, 30)) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert _moment("25/10/2026 02:30") == datetime(2026, 10, 25, 2, 30, tzinfo=UTC)
    assert _moment("2026-03-29 03:30") == datetime(2026, 3, 29, 2, 30, tzinfo=UTC)
    assert _moment("2026-03-29T03:30:00+01:00") == datetime(2026, 3, 29, 2, 30, tzinfo=UTC)
    for bad in ("2026-03-29", "29/03/2026", "yesterday", 46000.5):
        with pytest.raises(ValueError):
            _moment(bad)
