"""RFC 9457 problem details: the only shape of an error under /api/v1."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request

PROBLEM_TYPE = "application/problem+json"


class ApiProblem(Exception):
    """Raised anywhere in the API's request handling; the blueprint turns it into a response."""

    def __init__(self, status: int, title: str, detail: str | None = None,
                 headers: dict[str, str] | None = None, **members: Any):
        super().__init__(title)
        self.status, self.title, self.detail = status, title, detail
        self.headers = headers or {}
        self.members = members

    def response(self) -> Response:
        return problem(self.status, self.title, self.detail, headers=self.headers, **self.members)


def problem(status: int, title: str, detail: str | None = None, headers: dict[str, str] | None = None,
            **members: Any) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    body.update({k: v for k, v in members.items() if v is not None})
    response = Response(json.dumps(body), status=status, content_type=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
