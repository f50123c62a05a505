"""Dependencies shared by every domain's views: settings, database session, clock.

Views declare what they need with these aliases: `def read(session: SessionDep, clock: ClockDep)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
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
