"""The police daily download as a file: reading it safely, its columns, and each row's values.

Reading is defensive because the file comes from outside the hub. Before openpyxl sees a byte:
the file's size, that it is a zip at all (an old .xls gets its own message), the number of
entries, their total uncompressed size and each entry's compression ratio (a spreadsheet bomb
is a small zip of a huge, highly compressible sheet), no encrypted entries, and that it holds a
workbook. The sizes checked are those the zip declares; Python's zipfile never inflates more
than an entry declares (it stops there, and the CRC check then fails), so a lying zip cannot get
past them. openpyxl then opens it read-only (streaming, values not formulas) and parses XML with
defusedxml, which refuses entity declarations (billion laughs, external entities): without
defusedxml the hub refuses to read any file. Row and column counts are capped while streaming.

Nothing here touches the database: `read_download` turns bytes into parsed rows and per-row
errors, and the import (hub/missing/imports/rows.py) applies them. Error messages name the column
and the problem, never the value, so they can be stored and shown without personal data.

Longer than the 400 lines a module here aims at, on purpose: it is the whole of one format (the
police download's columns, checks and parsing), pure and written nowhere else, and read top to bottom.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from openpyxl import xml as openpyxl_xml

from hub import validators
from hub.exports import Sheet, write_workbook
from hub.missing.details import CLOCK_SKEW, FREE_TEXT_MAX, EpisodeDetails
from hub.models.missing import Classification, MissingFrom, RiskGrade

LONDON = ZoneInfo("Europe/London")
MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What the hub will read. Each can be set by a HUB_IMPORT_* environment variable."""

    max_bytes: int = 16 * MB            # the file itself (the web upload is also capped by MAX_CONTENT_LENGTH)
    max_uncompressed: int = 50 * MB     # all the zip's entries together, inflated
    max_entries: int = 200
    max_ratio: int = 100                # inflated / compressed, per entry over RATIO_FLOOR bytes
    max_rows: int = 50_000              # data rows (the heading row not counted)
    max_columns: int = 100

    @classmethod
    def from_env(cls) -> Limits:
        names = {"max_bytes": "MAX_BYTES", "max_uncompressed": "MAX_UNCOMPRESSED", "max_entries": "MAX_ENTRIES",
                 "max_ratio": "MAX_RATIO", "max_rows": "MAX_ROWS", "max_columns": "MAX_COLUMNS"}
        given = {name: int(os.environ[f"HUB_IMPORT_{env}"]) for name, env in names.items()
                 if os.environ.get(f"HUB_IMPORT_{env}", "").strip()}
        return cls(**given)


#: Small entries may compress very well (a sheet of one repeated value) and cannot hurt.
RATIO_FLOOR = 1 * MB
#: Blank rows tolerated after the last row before the file counts as too long: a sheet can
#: claim row 1,000,000,000 in one tag, and openpyxl would yield every empty row before it.
BLANK_ROW_SLACK = 1_000


class UnreadableFile(Exception):
    """The file as a whole cannot be imported; `reason` is safe to store and show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- the columns -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    field: str
    heading: str
    required: bool          # every row must fill it (the heading must be in the file, too)
    guidance: str
    example: str
    identifies_child: bool = False  # one of the ways a new report names its child (CHILD_KEYS)


COLUMNS: tuple[Column, ...] = (
    Column("police_reference", "Police reference", True,
           "The force's reference for the missing report: the key the hub matches on, so keep it the same in "
           "every download. Up to 40 characters.", "MP/26/001234"),
    Column("reported_start", "Reported start", True,
           "When the child was reported missing or absent: an Excel date and time, or text such as "
           "2026-11-20 14:30 or 20/11/2026 14:30. A time without a zone is UK time (Europe/London); "
           "ISO text may give its own offset (2026-11-20T14:30:00Z).", "2026-11-20 14:30"),
    Column("classification", "Classification", True, "Missing or Absent.", "Missing"),
    Column("risk_grade", "Risk grade", True, "No apparent risk, Low, Medium or High.", "Medium"),
    Column("missing_from", "Missing from", True, "Home, Care placement, School or Other.", "Care placement"),
    Column("found_at", "Found at", False,
           "When the child was found or returned, as for Reported start. Leave empty while still missing.",
           "2026-11-21 09:10"),
    Column("found_where", "Found where", False, "Where the child was found (free text, up to 2,000 characters).",
           "Northbridge bus station"),
    Column("police_id", "Child's police id", False,
           "The child's identifier on the force's system (2 to 30 letters, digits, / or -). Matched first.",
           "NB/P/77812", identifies_child=True),
    Column("nhs_number", "NHS number", False, "10 digits. Matched when the police id does not match.",
           "943 476 5919", identifies_child=True),
    Column("given_name", "Given name", False, "The child's first name. With family name and date of birth, "
           "matched when neither identifier matches.", "Alex", identifies_child=True),
    Column("family_name", "Family name", False, "The child's last name.", "Example", identifies_child=True),
    Column("date_of_birth", "Date of birth", False, "An Excel date, or text such as 2012-03-27 or 27/03/2012.",
           "2012-03-27", identifies_child=True),
)
COLUMN_BY_FIELD = {c.field: c for c in COLUMNS}
REQUIRED_FIELDS = [c.field for c in COLUMNS if c.required]
#: The import's rule for the columns that identify the child, as the Guidance sheet states it: a
#: row of a report the hub already holds needs none of them (its episode says whose it is); a
#: new report needs one of these sets (hub.missing.imports.rows refuses it otherwise).
CHILD_KEYS = (("police_id",), ("nhs_number",), ("given_name", "family_name", "date_of_birth"))
REQUIRED_FOR_NEW_REPORT = ("For a new report: the child's police id, the NHS number, or the given name, "
                           "family name and date of birth")
NEW_REPORT_NEEDS_CHILD = ("Child: give the child's police id, NHS number, or given name, family name and date of "
                          "birth (the hub holds no report with this police reference yet)")


def required_text(column: Column) -> str:
    """The Guidance sheet's "Required" for a column: exactly what the import requires."""
    if column.required:
        return "Yes"
    return REQUIRED_FOR_NEW_REPORT if column.identifies_child else "No"
DEFAULT_HEADINGS = {c.field: c.heading for c in COLUMNS}


def normalise_heading(text: object) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip().casefold()


def headings_for(mapping: dict[str, str] | None) -> dict[str, str]:
    """The heading of every field for a force: its own where it set one; "" for an optional
    column its export lacks; else the hub's template heading."""
    mapping = mapping or {}
    return {c.field: (mapping[c.field].strip() if c.field in mapping else c.heading) for c in COLUMNS}


def check_mapping(headings: dict[str, str]) -> dict[str, str]:
    """Errors (field -> message) in a force's headings: required ones given, none repeated."""
    errors: dict[str, str] = {}
    seen: dict[str, str] = {}
    for column in COLUMNS:
        heading = (headings.get(column.field) or "").strip()
        if not heading:
            if column.required:
                errors[column.field] = f"Enter the heading of the {column.heading.lower()} column"
            continue
        if len(heading) > 100:
            errors[column.field] = "Keep the heading to 100 characters or fewer"
        key = normalise_heading(heading)
        if key in seen:
            errors[column.field] = f"This heading is already used for {COLUMN_BY_FIELD[seen[key]].heading.lower()}"
        seen[key] = column.field
    return errors


# --- a parsed row ----------------------------------------------------------------------------------

@dataclass
class ParsedRow:
    """One row, checked: the episode it describes and what identifies the child."""

    row_number: int
    details: EpisodeDetails
    police_id: str | None = None
    nhs_number: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None

    @property
    def reference(self) -> str:
        return self.details.police_reference

    @property
    def identifies_child(self) -> bool:
        """The row carries one of CHILD_KEYS in full (needed only for a new report)."""
        return any(all(getattr(self, name) for name in key) for key in CHILD_KEYS)

    def to_json(self) -> dict[str, str | None]:
        """For the review queue (stored encrypted): every value as text."""
        d = self.details
        return {
            "police_reference": d.police_reference, "reported_start": d.reported_start.isoformat(),
            "classification": d.classification.value, "risk_grade": d.risk_grade.value,
            "missing_from": d.missing_from.value, "found_at": d.found_at.isoformat() if d.found_at else None,
            "found_where": d.found_where, "police_id": self.police_id, "nhs_number": self.nhs_number,
            "given_name": self.given_name, "family_name": self.family_name,
            "date_of_birth": self.date_of_birth.isoformat() if self.date_of_birth else None,
        }

    @classmethod
    def from_json(cls, row_number: int, data: dict[str, str | None]) -> ParsedRow:
        found = data.get("found_at")
        born = data.get("date_of_birth")
        return cls(
            row_number=row_number,
            details=EpisodeDetails(
                police_reference=data["police_reference"],
                reported_start=datetime.fromisoformat(data["reported_start"]),
                classification=Classification(data["classification"]), risk_grade=RiskGrade(data["risk_grade"]),
                missing_from=MissingFrom(data["missing_from"]),
                found_at=datetime.fromisoformat(found) if found else None, found_where=data.get("found_where")),
            police_id=data.get("police_id"), nhs_number=data.get("nhs_number"), given_name=data.get("given_name"),
            family_name=data.get("family_name"), date_of_birth=date.fromisoformat(born) if born else None)


@dataclass
class RowError:
    row: int
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "reason": self.reason}


@dataclass
class Download:
    """A file read and checked: its good rows, in order, and the problems of the others."""

    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows_total: int = 0                  # data rows that were not blank

    @property
    def error_rows(self) -> int:
        return len({e.row for e in self.errors})


# --- reading the file ------------------------------------------------------------------------------

def check_archive(data: bytes, limits: Limits) -> None:
    """Everything that can be checked before openpyxl opens the file."""
    if len(data) > limits.max_bytes:
        raise UnreadableFile(f"The file is larger than {limits.max_bytes // MB} MB: split it into smaller files")
    if not data:
        raise UnreadableFile("The file is empty")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UnreadableFile("The file is an older Excel workbook (.xls) or is password protected: "
                             "save it as an Excel workbook (.xlsx) without a password")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise UnreadableFile("The file is not an Excel workbook (.xlsx)") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > limits.max_entries:
            raise UnreadableFile(f"The workbook has more than {limits.max_entries} parts: it is not a "
                                 "download the hub can read")
        total = 0
        for entry in entries:
            if entry.flag_bits & 0x1:
                raise UnreadableFile("The workbook is encrypted: save it without a password")
            total += entry.file_size
            if entry.file_size > RATIO_FLOOR and entry.file_size > limits.max_ratio * max(entry.compress_size, 1):
                raise UnreadableFile("The workbook is compressed far more than a spreadsheet can be: "
                                     "it looks like a zip bomb, so the hub did not open it")
        if total > limits.max_uncompressed:
            raise UnreadableFile(f"The workbook would be more than {limits.max_uncompressed // MB} MB once "
                                 "opened: split it into smaller files")
        names = {e.filename for e in entries}
        if "[Content_Types].xml" not in names or not any(n.startswith("xl/workbook") for n in names):
            raise UnreadableFile("The file is a zip archive but not an Excel workbook (.xlsx)")


def _require_defusedxml() -> None:
    if not openpyxl_xml.DEFUSEDXML:
        # Fail closed: openpyxl silently parses with the standard library's XML parser otherwise.
        raise RuntimeError("defusedxml is not installed (or OPENPYXL_DEFUSEDXML=False): the hub will not read "
                           "spreadsheets without it")


def iter_sheet(data: bytes, limits: Limits) -> Iterator[tuple[int, tuple]]:
    """(row number, values) of the first worksheet, after the archive checks; blank rows skipped.
    Raises UnreadableFile for anything that stops the file being read."""
    check_archive(data, limits)
    _require_defusedxml()
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # noqa: BLE001 - any failure to open is the same answer for the user
        raise UnreadableFile(_open_failure(exc)) from None
    try:
        sheets = [ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")]
        if not sheets:
            raise UnreadableFile("The workbook has no worksheet")
        sheet = sheets[0]
        # The declared dimension may be wrong (openpyxl would stop at its last row), but its width
        # bounds the tuples: one cell in column XFD would otherwise make every row 16,384 wide.
        width = min(sheet.max_column or limits.max_columns, limits.max_columns)
        sheet.reset_dimensions()
        last_allowed = limits.max_rows + 1  # the heading row is row 1
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True, max_col=width), start=1):
                blank = all(v is None or (isinstance(v, str) and not v.strip()) for v in values)
                if number > last_allowed and (not blank or number > last_allowed + BLANK_ROW_SLACK):
                    raise UnreadableFile(f"The sheet has more than {limits.max_rows:,} rows: "
                                         "split it into smaller files")
                if not blank:
                    yield number, values
        except UnreadableFile:
            raise
        except Exception as exc:  # noqa: BLE001 - a sheet that breaks mid-way is unreadable as a whole
            raise UnreadableFile(_open_failure(exc)) from None
    finally:
        workbook.close()


def _open_failure(exc: Exception) -> str:
    # Class names only: an exception's message may quote the file's content. openpyxl wraps the
    # parser's error in its own ValueError, so look down the chain.
    chain, seen = [], exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if any(type(e).__module__.startswith("defusedxml") for e in chain):
        return ("The workbook contains XML the hub refuses to read (entity declarations, a known way to attack "
                "spreadsheet readers)")
    if isinstance(exc, zipfile.BadZipFile):
        return "The workbook is damaged (a part of it failed its checksum)"
    return "The workbook could not be read: open it in Excel, save it as .xlsx and try again"


def read_download(data: bytes, mapping: dict[str, str] | None = None, limits: Limits | None = None,
                  now: datetime | None = None) -> Download:
    """Read every row before anything is applied, so a file that breaks half-way changes nothing.
    Raises UnreadableFile when the file, or its heading row, cannot be used at all."""
    limits = limits or Limits.from_env()
    now = now or datetime.now(UTC)
    rows = iter_sheet(data, limits)
    try:
        first = next(rows)
    except StopIteration:
        raise UnreadableFile("The sheet is empty: the first row must hold the column headings") from None
    header_row, header_values = first
    if header_row != 1:
        raise UnreadableFile("The first row must hold the column headings")
    positions = _positions(header_values, headings_for(mapping))
    result = Download()
    seen: dict[str, int] = {}
    for number, values in rows:
        result.rows_total += 1
        parsed, problems = parse_row(number, values, positions, now)
        if parsed is not None:
            earlier = seen.get(parsed.reference)
            if earlier is not None:
                problems.append(f"Police reference: the same reference is already in row {earlier}")
            else:
                seen[parsed.reference] = number
        if problems:
            result.errors.extend(RowError(number, p) for p in problems)
        else:
            result.rows.append(parsed)
    return result


def _positions(values: tuple, headings: dict[str, str]) -> dict[str, int]:
    """Field -> column index, from the heading row; a missing required column stops the file."""
    found = {normalise_heading(v): i for i, v in reversed(list(enumerate(values))) if v is not None}
    positions: dict[str, int] = {}
    missing = []
    for column in COLUMNS:
        heading = headings.get(column.field) or ""
        index = found.get(normalise_heading(heading)) if heading else None
        if index is not None:
            positions[column.field] = index
        elif column.required:
            missing.append(heading or column.heading)
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        raise UnreadableFile(f"The heading row has no column {names}: use the hub's template, or ask an "
                             "administrator to set your force's column headings")
    return positions


# --- one row ---------------------------------------------------------------------------------------

def parse_row(number: int, values: tuple, positions: dict[str, int],
              now: datetime) -> tuple[ParsedRow | None, list[str]]:
    """The row's episode and identifiers, or the list of its problems ("Column: problem")."""
    problems: list[str] = []

    def get(name: str) -> object:
        index = positions.get(name)
        if index is None or index >= len(values):
            return None
        value = values[index]
        return value.strip() or None if isinstance(value, str) else value

    def read(name: str, parse, required: bool = False):
        value = get(name)
        if value is None:
            if required:
                problems.append(f"{COLUMN_BY_FIELD[name].heading}: this column is empty")
            return None
        try:
            return parse(value)
        except ValueError as exc:
            problems.append(f"{COLUMN_BY_FIELD[name].heading}: {exc}")
            return None

    reference = read("police_reference", _reference, required=True)
    start = read("reported_start", _moment, required=True)
    classification = read("classification", _choice(CLASSIFICATIONS, "Missing or Absent"), required=True)
    risk = read("risk_grade", _choice(RISK_GRADES, "No apparent risk, Low, Medium or High"), required=True)
    missing_from = read("missing_from", _choice(MISSING_FROM, "Home, Care placement, School or Other"),
                        required=True)
    found = read("found_at", _moment)
    found_where = read("found_where", _free_text)
    police_id = read("police_id", _police_id)
    nhs = read("nhs_number", _nhs_number)
    given = read("given_name", _name)
    family = read("family_name", _name)
    born = read("date_of_birth", _birth_date)

    latest = now + CLOCK_SKEW
    if start is not None and start > latest:
        problems.append("Reported start: the time is in the future")
    if found is not None and found > latest:
        problems.append("Found at: the time is in the future")
    if start is not None and found is not None and found < start:
        problems.append("Found at: the child cannot be found before the reported start")
    if born is not None and born > now.date():
        problems.append("Date of birth: the date is in the future")
    # Nothing identifying the child is a problem only for a new report: the import decides
    # (hub.missing.imports.rows), because only the database knows whether the reference is new.
    if problems:
        return None, problems
    details = EpisodeDetails(police_reference=reference, reported_start=start, classification=classification,
                             risk_grade=risk, missing_from=missing_from, found_at=found, found_where=found_where)
    return ParsedRow(number, details, police_id, nhs, given, family, born), []


def _text(value: object) -> str:
    """A cell as text; whole numbers typed into a text column (12345, 12345.0) read as digits."""
    if isinstance(value, bool):
        raise ValueError("expected text, found TRUE or FALSE")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (datetime, date, timedelta)):
        raise ValueError("expected text, found a date")
    return str(value).strip()


def _reference(value: object) -> str:
    text = _text(value)
    if len(text) > 40:
        raise ValueError("longer than 40 characters")
    return text


def _police_id(value: object) -> str:
    text = _text(value)
    try:
        return validators.short_reference(text, "police id")
    except ValueError:
        raise ValueError("not 2 to 30 letters, digits, / or -") from None


def _nhs_number(value: object) -> str:
    try:
        return validators.nhs_number(_text(value))
    except ValueError:
        raise ValueError("not a valid NHS number (10 digits with a correct check digit)") from None


def _name(value: object) -> str:
    text = _text(value)
    if len(text) > 100:
        raise ValueError("longer than 100 characters")
    return text


def _free_text(value: object) -> str:
    text = _text(value)
    if len(text) > FREE_TEXT_MAX:
        raise ValueError(f"longer than {FREE_TEXT_MAX:,} characters")
    return text


def _key(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text).strip().casefold()


def _choice(options: dict[str, object], allowed: str):
    def parse(value: object):
        found = options.get(_key(_text(value))) if not isinstance(value, (int, float)) else None
        if found is None:
            raise ValueError(f"not one of {allowed}")
        return found

    return parse


CLASSIFICATIONS = {"missing": Classification.missing, "absent": Classification.absent}
RISK_GRADES = {"no apparent risk": RiskGrade.no_apparent_risk, "low": RiskGrade.low,
               "medium": RiskGrade.medium, "high": RiskGrade.high}
MISSING_FROM = {"home": MissingFrom.home, "care placement": MissingFrom.care_placement,
                "care": MissingFrom.care_placement, "school": MissingFrom.school, "other": MissingFrom.other}

_UK_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _london(moment: datetime) -> datetime:
    """A wall-clock time as police exports write it: Europe/London, BST or GMT as it was. An hour
    repeated when the clocks go back reads as its first (BST) occurrence."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    return moment.replace(tzinfo=LONDON).astimezone(UTC)


def _moment(value: object) -> datetime:
    """An Excel date-time or ISO / UK text, as aware UTC."""
    if isinstance(value, datetime):
        if value.year < 1990:
            raise ValueError("not a real date and time")
        return _london(value)
    if isinstance(value, (date, int, float, timedelta)) or not isinstance(value, str):
        raise ValueError("not a date and time")
    text = value.strip()
    match = _UK_DATE.fullmatch(text)
    try:
        if match:
            day, month, year, hour, minute, second = match.groups()
            if hour is None:
                raise ValueError("give the time as well as the date")
            moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
        else:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError("give the time as well as the date")
            moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        if "time as well" in str(exc):
            raise
        raise ValueError("not a date and time (use 2026-11-20 14:30 or 20/11/2026 14:30)") from None
    if moment.year < 1990:
        raise ValueError("not a real date and time")
    return _london(moment)


def _birth_date(value: object) -> date:
    if isinstance(value, datetime):
        born = value.date()
    elif isinstance(value, date):
        born = value
    elif isinstance(value, str):
        text = value.strip()
        match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
        try:
            born = date(int(match[3]), int(match[2]), int(match[1])) if match else date.fromisoformat(text)
        except ValueError:
            raise ValueError("not a date (use 2012-03-27 or 27/03/2012)") from None
    else:
        raise ValueError("not a date")
    if born.year < 1900:
        raise ValueError("not a real date")
    return born


# --- the blank template ------------------------------------------------------------------------------

def template_bytes(headings: dict[str, str] | None = None) -> bytes:
    """A blank download with its headings, and a second sheet "Guidance" describing each column."""
    headings = headings or DEFAULT_HEADINGS
    used = [c for c in COLUMNS if headings.get(c.field)]
    guidance = [(headings[c.field], required_text(c), c.guidance, c.example) for c in used]
    notes: Iterable[tuple] = [
        ("", "", "", ""),
        ("About the file", "", "One row per missing report, headings in row 1, on the first sheet. Up to 50,000 "
         "rows. Importing the same file again changes nothing; a later file updates found times and risk grades.",
         ""),
        ("The child", "", "A row updating a report the hub already holds (the same police reference: a found "
         "time, a new risk grade) needs none of the child's columns. " + REQUIRED_FOR_NEW_REPORT + ".", ""),
        ("Rows the hub cannot match", "", "A row whose child the hub cannot find by police id, NHS number, or name "
         "and date of birth waits in the review queue for a person to match it or create the child.", ""),
    ]
    return write_workbook([Sheet("Download", [headings[c.field] for c in used], []),
                           Sheet("Guidance", ["Column", "Required", "What to enter", "Example"],
                                 [*guidance, *notes])])
