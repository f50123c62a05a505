"""HTTP routes of the timeline: an incident's time nodes, corrections, and the live stream (SSE)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from sqlalchemy.orm import Session, sessionmaker
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from lifechain.api import ClockDep, EventStream, SessionDep, check_incident_access
from lifechain.auth.core import Principal, Role
from lifechain.auth.deps import require_roles
from lifechain.errors import NotFound
from lifechain.keys import INT64_MAX, Cursor, Key
from lifechain.timeline import flows, repo
from lifechain.timeline.core import effective
from lifechain.timeline.schemas import CorrectionIn, EventOut, NodeIn, TimelineOut
from lifechain.timeline.stream import StreamHub

router = APIRouter(tags=["timeline"])
Reader = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.CREW, Role.HOSPITAL_STAFF, Role.ANALYST))]
Recorder = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.CREW, Role.HOSPITAL_STAFF))]
Watcher = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.ANALYST))]
# Clients re-read the outbox at least this often even if no wake-up arrives (another SQLite process, lost NOTIFY).
POLL_S = 2.0


def setup(app: FastAPI) -> None:
    """Give the app a stream hub that wakes on its own commits and, on PostgreSQL, on every process's."""
    hub = StreamHub(app.state.settings.sqlalchemy_url)
    hub.attach(app.state.sessionmaker)
    app.state.stream_hub = hub

    async def start(_app: FastAPI) -> None:
        await hub.start()

    async def stop(_app: FastAPI) -> None:
        await hub.stop()

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)


@router.get("/incidents/{incident_id}/timeline", response_model=TimelineOut)
def incident_timeline(incident_id: Key, request: Request, session: SessionDep, user: Reader) -> TimelineOut:
    """Every time node of an incident, as recorded and as in force. Dispatcher, crew, hospital staff, analyst."""
    check_incident_access(request, session, incident_id, user)
    recorded = repo.list_for_incident(session=session, incident_id=incident_id)
    if not recorded:
        raise NotFound(f"no timeline for incident {incident_id}")
    return TimelineOut(incident_id=incident_id, recorded=[EventOut.of(e) for e in recorded],
                       effective=[EventOut.of(e) for e in effective(recorded)])


@router.post("/incidents/{incident_id}/timeline", response_model=EventOut, status_code=201)
def record_node(incident_id: Key, body: NodeIn, request: Request, session: SessionDep, clock: ClockDep,
                user: Recorder) -> EventOut:
    """Record a time node by hand (e.g. at patient, first CPR). Dispatcher, crew, hospital staff."""
    check_incident_access(request, session, incident_id, user)
    _must_exist(session, incident_id)
    event = flows.record_node(session=session, incident_id=incident_id, kind=body.kind, at=body.at,
                              actor=user.actor, source=body.source, now=clock.now(), patient_id=body.patient_id,
                              unit_id=body.unit_id, payload=body.payload)
    return EventOut.of(event)


@router.post("/incidents/{incident_id}/timeline/corrections", response_model=EventOut, status_code=201)
def correct(incident_id: Key, body: CorrectionIn, request: Request, session: SessionDep, clock: ClockDep,
            user: Recorder) -> EventOut:
    """Correct an earlier time node with a reason; the original stays, superseded. Dispatcher, crew, hospital."""
    check_incident_access(request, session, incident_id, user)
    event = flows.correct(session=session, incident_id=incident_id, supersedes=body.supersedes, at=body.at,
                          reason=body.reason, actor=user.actor, source=body.source, now=clock.now(), kind=body.kind,
                          payload=body.payload)
    return EventOut.of(event)


def _must_exist(session: Session, incident_id: int) -> None:
    if not repo.list_for_incident(session=session, incident_id=incident_id):
        raise NotFound(f"no incident {incident_id}")


def _read(factory: sessionmaker[Session], after: int) -> list[dict[str, Any]]:
    return [{"id": str(m.id), "event": m.kind, "data": json.dumps(m.payload, default=str)}
            for m in repo.read_stream(factory=factory, after_id=after)]


def _last(factory: sessionmaker[Session]) -> int:
    return repo.stream_head(factory=factory)


@router.get("/stream", response_class=EventStream)
async def stream(request: Request, _user: Watcher,
                 last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
                 since: Annotated[Cursor | None, Query(description="Resume after this event id.")] = None,
                 ) -> EventSourceResponse:
    """Server-sent events of incidents, units and timeline; resume with `Last-Event-ID`. Dispatcher, analyst."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    hub: StreamHub = request.app.state.stream_hub
    start = since if since is not None else _parse_id(last_event_id)
    if start is None:
        start = await run_in_threadpool(_last, factory)

    async def messages() -> AsyncIterator[dict[str, Any]]:
        after = start
        while not await request.is_disconnected():
            waiter = hub.waiter()
            rows = await run_in_threadpool(_read, factory, after)
            for row in rows:
                after = int(row["id"])
                yield row
            if not rows:
                await hub.wait(waiter, POLL_S)

    return EventSourceResponse(messages(), ping=15)


def _parse_id(raw: str | None) -> int | None:
    """The event id of a `Last-Event-ID` header; None (resume from now) when it is not one."""
    if raw is None or not raw.strip().isdigit():
        return None
    value = int(raw.strip())
    return value if value <= INT64_MAX else None
