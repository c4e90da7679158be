"""Errors services raise; the web layer turns each into the right page, the API into problem details."""

from __future__ import annotations


class HubError(Exception):
    status = 400


class NotFound(HubError):
    """The object does not exist, or the actor has no legitimate relationship to it: the two look
    the same from outside, so nobody learns that a child they may not see is recorded here."""

    status = 404


class Forbidden(HubError):
    status = 403


class Invalid(HubError):
    """Bad input: `errors` maps a field name (or "" for the whole form) to a message."""

    status = 400

    def __init__(self, errors: dict[str, str] | str):
        if isinstance(errors, str):
            errors = {"": errors}
        self.errors = errors
        super().__init__("; ".join(errors.values()))
