"""The witness's HTTP interface (WSGI, Werkzeug):

    POST /add-checkpoint          the C2SP tlog-witness submission API
    GET  /checkpoint?origin=...   the latest checkpoint cosigned for a log, with the log's
                                  signature and this witness's cosignature (a read API under the
                                  specification's "monitoring prefix", whose shape it leaves open)
    GET  /                        the witness's name and verifier key
"""

from __future__ import annotations

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from hub.witness.core import MAX_BODY, TEXT_TYPE, Witness

_ROUTES = Map([
    Rule("/", endpoint="about", methods=["GET"]),
    Rule("/add-checkpoint", endpoint="add", methods=["POST"]),
    Rule("/checkpoint", endpoint="latest", methods=["GET"]),
])


def make_app(witness: Witness):
    def about(request: Request) -> Response:
        return Response(f"{witness.name}\n{witness.vkey}\n", content_type=TEXT_TYPE)

    def add(request: Request) -> Response:
        if (request.content_length or 0) > MAX_BODY:
            raise RequestEntityTooLarge()
        answer = witness.add_checkpoint(request.get_data(cache=False))
        return Response(answer.body, status=answer.status, content_type=answer.content_type)

    def latest(request: Request) -> Response:
        note = witness.latest_note(request.args.get("origin", ""))
        if note is None:
            return Response("no checkpoint cosigned for this log\n", status=404, content_type=TEXT_TYPE)
        return Response(note, content_type=TEXT_TYPE)

    views = {"about": about, "add": add, "latest": latest}

    def application(environ, start_response):
        request = Request(environ)
        request.max_content_length = MAX_BODY
        try:
            endpoint, _ = _ROUTES.bind_to_environ(environ).match()
            response = views[endpoint](request)
        except (NotFound, MethodNotAllowed, RequestEntityTooLarge) as exc:
            response = exc
        except HTTPException as exc:  # pragma: no cover - any other client error
            response = exc
        return response(environ, start_response)

    return application
