"""Domain errors shared by every domain (views map them to HTTP statuses in one place), the problems a server works
around (`/health`), and configuration read into settings dataclasses with its mistakes as `Invalid`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

if TYPE_CHECKING:
    from pydantic import BaseModel, TypeAdapter, ValidationError

T = TypeVar("T")


class DomainError(Exception):
    """A rule of the domain refused the request; the message says why in the user's terms."""

    status_code = 400
    code = "domain_error"

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def again(self, message: str | None = None) -> Self:
        """A new error of the same kind and detail (its message `message` if given), to raise a remembered error
        once more: raising the one object again would add each raise's frames to its traceback, without end."""
        return type(self)(self.message if message is None else message, **self.detail)


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


class Unavailable(DomainError):
    """What the request needs is on the server but cannot be used now (files an operator must repair)."""

    status_code = 503
    code = "unavailable"


class Forbidden(DomainError):
    """The caller's role does not allow this."""

    status_code = 403
    code = "forbidden"


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the server works around and an operator must fix (`/health`'s `problems`): `code` says what for
    monitoring, `city` where, and `text` says it in each language of the screens ({"en": ..., "zh-CN": ...}), as the
    dispatch reasons do. Public, so never a path or a file's contents: the server log has the reason."""

    code: str
    city: str | None
    text: Mapping[str, str]


def message(err: Mapping[str, Any]) -> str:
    """The message of one pydantic error, without the "Value error, " pydantic puts before a validator's own text
    (which already says what was wrong in the user's terms)."""
    msg = str(err.get("msg", ""))
    return msg.removeprefix("Value error, ") if err.get("type") == "value_error" else msg


def describe(exc: ValidationError) -> str:
    """A pydantic validation error in one line: `place: message` for each of its first ten errors."""
    parts = []
    for err in exc.errors(include_url=False)[:10]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {message(err)}" if loc else message(err))
    return "; ".join(parts)


M = TypeVar("M", bound="BaseModel")


def validated(model: type[M], data: Any, *, where: str) -> M:
    """`model` validated from plain data (a file's YAML, a request body rebuilt), its mistakes one `Invalid` line
    `where: place: message; ...` instead of pydantic's dump of the input."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(f"{where}: {describe(exc)}") from None


_ADAPTERS: dict[type, TypeAdapter[Any]] = {}  # built on first use: a few milliseconds each


def from_mapping(cls: type[T], values: Mapping[str, Any], *, what: str) -> T:
    """A settings dataclass (a dispatch or alert policy) from configuration values, each key checked against the
    field's type (lists become sets, strings enums); unknown keys, wrong types and, where the class is configured
    with `allow_inf_nan=False`, infinite or NaN numbers raise `Invalid` naming the key."""
    from pydantic import TypeAdapter, ValidationError

    adapter = _ADAPTERS.get(cls) or _ADAPTERS.setdefault(cls, TypeAdapter(cls))
    try:
        return cast("T", adapter.validate_python(dict(values)))
    except ValidationError as exc:
        raise Invalid(f"{what}: {describe(exc)}") from None
