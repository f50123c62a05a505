"""Domain errors shared by every domain; views map them to HTTP statuses in one place."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused the request; the message says why in the user's terms."""

    status_code = 400
    code = "domain_error"

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(DomainError):
    """The thing asked for does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state (invalid transition, concurrent change)."""

    status_code = 409
    code = "conflict"


class Invalid(DomainError):
    """The request is well-formed but its values break a rule."""

    status_code = 422
    code = "invalid"


class Forbidden(DomainError):
    """The caller's role does not allow this."""

    status_code = 403
    code = "forbidden"
