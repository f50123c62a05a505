"""Dependencies shared by every domain's views: settings, database session, clock.

Views declare what they need with these aliases: `def read(session: SessionDep, clock: ClockDep)`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.orm import Session

from lifechain.auth.core import Principal
from lifechain.clock import Clock
from lifechain.settings import Settings


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with (async: no thread hop for a lookup)."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; commits if the view returned normally, rolls back otherwise."""
    factory = request.app.state.sessionmaker
    with factory() as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


async def get_clock(request: Request) -> Clock:
    """The app's clock (the wall clock in production, a manual clock in tests); async: no thread hop."""
    clock: Clock = request.app.state.clock
    return clock


# `\u0000` in JSON text that is not itself an escaped backslash followed by "u0000".
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_NUL_MESSAGE = "text must not contain NUL (0x00) characters"


def _nul_places(value: Any, where: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """Where, in parsed JSON, a key or string holds a NUL character."""
    if isinstance(value, str):
        if "\x00" in value:
            yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield (*where, key)
            yield from _nul_places(item, (*where, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _nul_places(item, (*where, i))


async def refuse_nul(request: Request) -> None:
    """Refuse (422, naming the field) a path, query or JSON body text with a NUL character: PostgreSQL cannot store
    one (the driver raised, a 500) and SQLite would keep it, so both refuse it here. Multipart bodies carry files,
    where NUL is data, and are not checked."""
    params = [("path", name, value) for name, value in request.path_params.items()]
    params += [("query", name, value) for name, value in request.query_params.multi_items()]
    errors: list[dict[str, Any]] = [
        {"loc": (part, name), "msg": _NUL_MESSAGE, "type": "string_nul"}
        for part, name, value in params if "\x00" in name or "\x00" in str(value)]
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.body()  # FastAPI has read it already: this is its cached copy
        if _NUL_ESCAPE.search(body):
            try:
                parsed = json.loads(body)
            except ValueError:  # FastAPI reports the malformed body itself
                parsed = None
            errors += [{"loc": place, "msg": _NUL_MESSAGE, "type": "string_nul"}
                       for place in _nul_places(parsed, ("body",))]
    if errors:
        raise RequestValidationError(errors)


class EventStream(Response):
    """The `response_class` of a server-sent events route, so that the OpenAPI document says `text/event-stream`
    (the route itself returns sse-starlette's `EventSourceResponse`)."""

    media_type = "text/event-stream"


class CsvResponse(PlainTextResponse):
    """A CSV download (`text/csv`)."""

    media_type = "text/csv"


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
ClockDep = Annotated[Clock, Depends(get_clock)]


# Which incidents a user may touch is the dispatch domain's rule; domains below it (timeline, attachments) ask it
# through this hook, which dispatch installs in its `setup`. Without dispatch in the app every incident is open.
IncidentGuard = Callable[[Session, int, Principal], None]


def check_incident_access(request: Request, session: Session, incident_id: int, user: Principal) -> None:
    """Raise `Forbidden` (or `NotFound`) unless `user` may read and record on incident `incident_id`."""
    guard: IncidentGuard | None = getattr(request.app.state, "incident_guard", None)
    if guard is not None:
        guard(session, incident_id, user)
