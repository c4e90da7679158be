"""Parsing Python source in the tests that read the code (what it imports, defines, calls).

CPython 3.11 keeps the AST converter's recursion depth in interpreter-wide state, so a parse in one
thread while another thread of the same long-lived test process converts an AST can fail with
"SystemError: AST constructor recursion depth mismatch" (gh-106905, fixed in later releases),
whatever the source. The failure says nothing about the file: the parse is made again, a moment
later."""

from __future__ import annotations

import ast
import time
from pathlib import Path

ATTEMPTS = 5


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    for attempt in range(ATTEMPTS):
        try:
            return ast.parse(source, filename=filename)
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc) or attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))  # let the other thread's conversion finish
    raise AssertionError("unreachable")  # the loop returns or raises


def parse_file(path: Path) -> ast.Module:
    return parse(path.read_text(encoding="utf-8"), filename=str(path))
