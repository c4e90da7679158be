"""What text the hub takes from a request: no NUL, no other control characters.

PostgreSQL's text types cannot hold NUL at all (psycopg refuses the statement, which was a 500
before anyone was signed in), and no field, parameter or header the hub reads has a use for the
other C0 and C1 control characters or a lone surrogate: they only hide text from the people who
read it later (an audit reviewer, a spreadsheet) or break what stores it. Tab, CR and LF are
ordinary in a multi-line form field or a JSON string value, so those allow them; single-line
places (the path, query parameters, field names, file names, JSON keys) do not.

Header values reach the application decoded as Latin-1 (PEP 3333), so 0x80 to 0x9f there are
pieces of a UTF-8 character, not C1 controls: headers refuse C0 (but tab, which RFC 9110 5.5
allows) and DEL only. File bodies are binary and never looked at here.

Pure: the web layer (hub.web) asks `refused_place` of every request before any view runs, the
API asks `json_refused` of a body it has parsed.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request

MULTI_LINE_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
SINGLE_LINE_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
HEADER_REFUSED = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def refused_place(request: Request) -> str | None:
    """Where the request holds a character no page may take ("path", "header", "query", "form",
    "file name"), or None when it holds none. Never the value: that is not for any log."""
    if SINGLE_LINE_REFUSED.search(request.path):
        return "path"
    if any(HEADER_REFUSED.search(value) for _name, value in request.headers.items()):
        return "header"
    if _pairs_refused(request.args, SINGLE_LINE_REFUSED):
        return "query"
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if _pairs_refused(request.form, MULTI_LINE_REFUSED):
            return "form"
        if _files_refused(request.files):
            return "file name"
    return None


def _pairs_refused(pairs: MultiDict, values: re.Pattern) -> bool:
    return any(SINGLE_LINE_REFUSED.search(key) or values.search(value) for key, value in pairs.items(multi=True))


def _files_refused(files: MultiDict) -> bool:
    return any(SINGLE_LINE_REFUSED.search(key) or SINGLE_LINE_REFUSED.search(stored.filename or "")
               for key, stored in files.items(multi=True))


def json_refused(value: Any) -> str | None:
    """The JSON Pointer (RFC 6901) of the first key or string in a parsed document that holds a
    refused character ("" for the document itself), or None: where, never what."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        pointer, item = pending.pop()
        if isinstance(item, str):
            if MULTI_LINE_REFUSED.search(item):
                return pointer
        elif isinstance(item, dict):
            for key, member in item.items():
                if SINGLE_LINE_REFUSED.search(key):
                    return pointer
                pending.append((f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}", member))
        elif isinstance(item, list):
            pending.extend((f"{pointer}/{index}", member) for index, member in enumerate(item))
    return None
