"""The one spreadsheet writer makes formulas and control characters inert."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from hub.exports import write_xlsx


def _sheet_xml(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return z.read("xl/worksheets/sheet1.xml").decode()


@pytest.mark.parametrize("value", ["=1+1", "+44 20", "-2+3", "@SUM(A1)", "\tTab", "\rCR", "\x00NUL",
                                   "=HYPERLINK(\"http://x\")"])
def test_a_value_that_could_run_as_a_formula_is_written_as_inert_text(value):
    content = write_xlsx("Test", ["Value"], [[value]])
    cell = load_workbook(io.BytesIO(content))["Test"]["A2"]
    assert cell.data_type == "s"
    assert cell.value.startswith("'") and cell.value[2:] == value[1:]  # XML reads a lone CR back as LF
    assert "<f>" not in _sheet_xml(content)


def test_numbers_and_dates_stay_typed_and_plain_text_is_unchanged():
    content = write_xlsx("Test", ["n", "d", "t"], [[42, date(2026, 1, 2), "Hillside Primary"]])
    sheet = load_workbook(io.BytesIO(content))["Test"]
    assert sheet["A2"].value == 42
    assert sheet["B2"].value == datetime(2026, 1, 2)
    assert sheet["C2"].value == "Hillside Primary"


def test_characters_xml_cannot_hold_are_replaced_not_fatal():
    content = write_xlsx("Test", ["v"], [["a\x00b\x07c"], ["\x00=1"]])
    sheet = load_workbook(io.BytesIO(content))["Test"]
    assert sheet["A2"].value == "a\ufffdb\ufffdc"
    assert sheet["A3"].value.startswith("'")
