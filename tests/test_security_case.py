"""docs/security.md, the security case, stays true to the suite: every test it cites
(`tests/<path>::<name>`) exists as a test function in that file, so renaming a test away breaks the
build rather than the document; every OWASP ASVS 5.0 level 1 and level 2 requirement has a row;
every row gives a test, a section of the document that writes the rule down (`documented:
"<heading>"`, for the requirements that ask for a document), a reason it does not apply ("not
applicable: ...") or, starting with "gap:", says it is not met; the requirements not met are
exactly the known open ones, each listed under "Known gaps", so none is added or closed silently;
and the limits the document lists are the code's."""

from __future__ import annotations

import ast
import importlib
import re
from datetime import timedelta
from pathlib import Path

from tests.support import pysource

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"

CITATION = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
ROW = re.compile(r"^\|\s*(V\d+\.\d+\.\d+)\s*\|(.*)\|\s*$", re.M)
REASON = re.compile(r"\b(not applicable|gap):\s*\S")
DOCUMENTED = re.compile(r'documented: "([^"]+)"')
HEADING = re.compile(r"^#{2,3} (.+)$", re.M)
LIMIT = re.compile(r"^\| [^|]+ \| (\d+)(?: ([a-z]+))? \| `([\w.]+)` \|$", re.M)

#: The applicable level 1 and 2 requirements the hub does not meet yet (their rows start with
#: "gap:"), each named under "Known gaps". Closing one means a test, and removing it here.
KNOWN_OPEN = {
    "V5.4.3",   # no antivirus scan of uploads
    "V6.5.5",   # a TOTP code lives up to 90 seconds (drift window)
    "V13.2.1",  # static database and SMTP passwords
}

# The level 1 and level 2 requirements of ASVS 5.0.0 (OWASP/ASVS,
# 5.0/docs_en/OWASP_Application_Security_Verification_Standard_5.0.0_en.csv): section, then the
# requirement numbers of that section at L1 or L2 (level 3 ones are not claimed).
LEVEL_1_AND_2 = """
V1.1 1-2; V1.2 1-9; V1.3 1-11; V1.4 1-3; V1.5 1-2;
V2.1 1-3; V2.2 1-3; V2.3 1-4; V2.4 1;
V3.2 1-2; V3.3 1-4; V3.4 1-6; V3.5 1-5; V3.7 1-2;
V4.1 1-3; V4.2 1; V4.3 1-2; V4.4 1-4;
V5.1 1; V5.2 1-3; V5.3 1-2; V5.4 1-3;
V6.1 1-3; V6.2 1-12; V6.3 1-4; V6.4 1-4; V6.5 1-5; V6.6 1-3; V6.8 1-4;
V7.1 1-3; V7.2 1-4; V7.3 1-2; V7.4 1-5; V7.5 1-2; V7.6 1-2;
V8.1 1-2; V8.2 1-3; V8.3 1; V8.4 1;
V9.1 1-3; V9.2 1-4;
V10.1 1-2; V10.2 1-2; V10.3 1-4; V10.4 1-11; V10.5 1-5; V10.6 1-2; V10.7 1-3;
V11.1 1-2; V11.2 1-3; V11.3 1-3; V11.4 1-4; V11.5 1; V11.6 1;
V12.1 1-3; V12.2 1-2; V12.3 1-4;
V13.1 1; V13.2 1-5; V13.3 1-2; V13.4 1-5;
V14.1 1-2; V14.2 1-4; V14.3 1-3;
V15.1 1-3; V15.2 1-3; V15.3 1-7;
V16.1 1; V16.2 1-5; V16.3 1-4; V16.4 1-3; V16.5 1-3;
V17.1 1; V17.2 1-4; V17.3 1-2
"""


def expected_requirements(spec: str = LEVEL_1_AND_2) -> set[str]:
    ids = set()
    for part in spec.replace("\n", " ").split(";"):
        section, numbers = part.split()
        first, _, last = numbers.partition("-")
        ids |= {f"{section}.{n}" for n in range(int(first), int(last or first) + 1)}
    return ids


def defined_tests(path: Path) -> set[str]:
    """The test functions a pytest file defines, at module level or in its classes."""
    tree = pysource.parse_file(path)
    return {node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")}


def missing_citations(text: str, root: Path = ROOT) -> list[str]:
    missing = []
    for file, name in sorted(set(CITATION.findall(text))):
        path = root / file
        if not path.is_file() or name not in defined_tests(path):
            missing.append(f"{file}::{name}")
    return missing


def rows(text: str) -> list[tuple[str, str]]:
    return ROW.findall(text)


def evidence(rest: str) -> str:
    return rest.rsplit("|", 1)[-1].strip()


def unsupported_rows(text: str) -> list[str]:
    """Rows with neither a cited test, nor a documented rule, nor "not applicable: <reason>",
    nor "gap: <what>"."""
    return [req for req, rest in rows(text)
            if not CITATION.search(rest) and not DOCUMENTED.search(rest) and not REASON.search(rest)]


def open_rows(text: str) -> set[str]:
    """The requirements not met: their evidence starts with "gap:"."""
    return {req for req, rest in rows(text) if evidence(rest).startswith("gap:")}


def missing_sections(text: str) -> list[str]:
    headings = set(HEADING.findall(text))
    return sorted({name for name in DOCUMENTED.findall(text) if name not in headings})


def test_every_test_the_security_case_cites_exists():
    text = DOC.read_text(encoding="utf-8")
    assert CITATION.search(text), "the security case cites no test at all"
    missing = missing_citations(text)
    assert not missing, "docs/security.md cites tests that do not exist:\n" + "\n".join(missing)


def test_every_level_1_and_2_requirement_has_exactly_one_row():
    found = [req for req, _ in rows(DOC.read_text(encoding="utf-8"))]
    duplicated = sorted({req for req in found if found.count(req) > 1})
    assert duplicated == []
    assert sorted(expected_requirements() - set(found)) == []
    assert sorted(set(found) - expected_requirements()) == [], "rows for requirements ASVS 5.0 L1/L2 lacks"


def test_every_requirement_row_has_a_test_a_reason_or_a_gap():
    bare = unsupported_rows(DOC.read_text(encoding="utf-8"))
    assert not bare, "rows with no test, no 'not applicable: <reason>' and no 'gap: <what>': " + ", ".join(bare)


def test_the_checks_catch_a_renamed_test_and_a_bare_row(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test_kept():\n    assert True\n", encoding="utf-8")
    text = ("See `tests/test_x.py::test_kept` and `tests/test_x.py::test_renamed_away` and "
            "`tests/test_gone.py::test_any`.\n"
            "| V6.2.1 | 1 | length | `tests/test_x.py::test_kept` |\n"
            "| V6.2.2 | 1 | change | not applicable: no passwords |\n"
            "| V6.2.3 | 1 | current | gap: no change page |\n"
            "| V6.2.4 | 1 | top 3000 | checked somehow |\n"
            "| V6.2.5 | 1 | any | gap: |\n")
    assert missing_citations(text, tmp_path) == ["tests/test_gone.py::test_any", "tests/test_x.py::test_renamed_away"]
    assert unsupported_rows(text) == ["V6.2.4", "V6.2.5"]
    assert expected_requirements("V1.1 1-2; V3.4 6") == {"V1.1.1", "V1.1.2", "V3.4.6"}


def test_every_documented_rule_points_at_a_section_that_exists():
    text = DOC.read_text(encoding="utf-8")
    assert DOCUMENTED.search(text)
    assert missing_sections(text) == []


def test_the_requirements_not_met_are_exactly_the_known_open_ones_each_in_known_gaps():
    """docs/security.md lists no applicable requirement without a test, a documented rule or a
    reason it does not apply, except these open ones, which the "Known gaps" section names."""
    text = DOC.read_text(encoding="utf-8")
    assert open_rows(text) == KNOWN_OPEN
    known_gaps = text[text.index("## 4. Known gaps"):]
    assert sorted(req for req in KNOWN_OPEN if not re.search(re.escape(req) + r"\b", known_gaps)) == []


def _value(path: str, app):
    if path.startswith("HUB."):
        return getattr(app.config["HUB"], path.removeprefix("HUB."))
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError:  # a class attribute: module.Class.name
        module, _, owner = module.rpartition(".")
        return getattr(getattr(importlib.import_module(module), owner), name)


UNITS = {"minutes": timedelta(minutes=1), "hour": timedelta(hours=1), "hours": timedelta(hours=1)}


def test_the_documented_limits_are_the_codes(app):
    """Each row of the "Limits" table (V2.1.3) is the value the code uses: a constant, a class's
    default or a setting's default."""
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("### Limits"):text.index("### Rules across fields")]
    limits = LIMIT.findall(table)
    assert len(limits) >= 20
    wrong = []
    for number, unit, path in limits:
        actual = _value(path, app)
        if isinstance(actual, timedelta):
            expected = int(number) * UNITS[unit]
        else:
            expected = int(number)
            if unit in UNITS and path.startswith("HUB."):
                actual = int(actual)  # settings in minutes or hours, named so
        if actual != expected:
            wrong.append(f"{path}: documented {number} {unit}, the code has {actual}")
    assert wrong == []


def test_the_checks_catch_an_unknown_section_and_a_new_open_row():
    text = ("### Limits\n| V2.1.3 | 2 | limits | documented: \"Limits\" |\n"
            "| V2.1.2 | 2 | rules | documented: \"Rules nobody wrote\" |\n"
            "| V6.2.2 | 1 | change | gap: no change page (`tests/test_auth.py::test_a_wrong_totp_code_is_refused`) |\n"
            "| V6.2.3 | 1 | current | `tests/test_auth.py::test_a_wrong_totp_code_is_refused`. gap: partly |\n")
    assert missing_sections(text) == ["Rules nobody wrote"]
    assert open_rows(text) == {"V6.2.2"}
    assert unsupported_rows(text) == []
