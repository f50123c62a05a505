"""HTTP routes of dispatch: calls, triage, recommendation, dispatch / reassign / cancel, the queue, the protocol."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lifechain.api import ClockDep, SessionDep, SettingsDep
from lifechain.auth.core import Principal, Role
from lifechain.auth.deps import require_roles
from lifechain.db import StatementPool, make_statement_engine, sqlite_writer
from lifechain.dispatch import flows, repo
from lifechain.dispatch.core import DispatchPolicy
from lifechain.dispatch.protocol import Protocol, default_protocol
from lifechain.dispatch.schemas import (
    DestinationIn,
    DispatchIn,
    IncidentIn,
    IncidentOut,
    PatientIn,
    PatientOut,
    QueueOut,
    ReasonIn,
    ReassignIn,
    RecommendationOut,
    TriageIn,
    TriageOut,
)
from lifechain.dispatch.tables import Incident
from lifechain.errors import DomainError
from lifechain.geo.core import LatLon, Router
from lifechain.keys import Key

router = APIRouter(tags=["dispatch"])
T = TypeVar("T")
# Short hot-path writes running at once per process: more threads only fight for the GIL.
_HOT_WRITES = threading.BoundedSemaphore(3)
Dispatcher = Annotated[Principal, Depends(require_roles(Role.DISPATCHER))]
Reader = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.ANALYST, Role.CREW, Role.HOSPITAL_STAFF))]
Crew = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.CREW))]
ProtocolReader = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.TRAINER, Role.ANALYST))]


class NoCities(DomainError):
    """The server has no road network loaded, so it cannot estimate travel times."""

    status_code = 503
    code = "no_road_network"


def setup(app: FastAPI) -> None:
    """The dispatch policy and call-taking protocol the app uses."""
    app.state.dispatch_policy = DispatchPolicy(gps_stale_after_s=app.state.settings.gps_stale_after_s)
    app.state.protocol = None  # loaded on first use: default_protocol()
    app.state.incident_guard = _incident_guard
    # Calls are created on PostgreSQL with one statement on connections of their own: awaited on the server's event
    # loop (`db.StatementPool`), or in the thread pool (`db.make_statement_engine`) on other loops (test clients).
    app.state.call_engine = app.state.call_pool = None
    if (app.state.engine.dialect.name, app.state.engine.dialect.driver) == ("postgresql", "psycopg"):
        app.state.call_engine = make_statement_engine(app.state.settings.sqlalchemy_url)
        app.state.call_pool = StatementPool(app.state.settings.sqlalchemy_url)

        async def start(app: FastAPI) -> None:
            app.state.call_pool.start()

        async def stop(app: FastAPI) -> None:
            await app.state.call_pool.close()
            app.state.call_engine.dispose()

        app.state.startup_hooks.append(start)
        app.state.shutdown_hooks.append(stop)


def _incident_guard(session: Session, incident_id: int, user: Principal) -> None:
    """The incident exists (404 otherwise: nothing is recorded on, attached to or alerted for a call that was never
    taken), and crew and hospital staff reach only their own incidents (the timeline's, attachments' and
    volunteers' check too)."""
    repo.get_readable(session=session, incident_id=incident_id, user=user)


async def get_policy(request: Request) -> DispatchPolicy:
    """The app's dispatch policy."""
    policy: DispatchPolicy = request.app.state.dispatch_policy
    return policy


async def get_protocol(request: Request) -> Protocol:
    """The app's call-taking protocol (the shipped default unless another was installed)."""
    if request.app.state.protocol is None:
        request.app.state.protocol = default_protocol()
    protocol: Protocol = request.app.state.protocol
    return protocol


def router_of(request: Request, city: str) -> Router:
    """The travel-time router of `city`, from the app's city store."""
    cities = getattr(request.app.state, "cities", None)
    if cities is None:
        raise NoCities("no city store on this server: import a city first (lifechain city import)")
    router: Router = cities.router(city)
    return router


PolicyDep = Annotated[DispatchPolicy, Depends(get_policy)]
ProtocolDep = Annotated[Protocol, Depends(get_protocol)]


def _full(session: Session, incident: Incident) -> IncidentOut:
    return IncidentOut.of(incident, repo.patients(session=session, incident_id=incident.id),
                          repo.assignments(session=session, incident_id=incident.id))


async def in_session(request: Request, work: Callable[[Session], T], *, inline: bool = False) -> T:
    """Run `work(session)` and commit, in one thread-pool hop (the hot paths: a sync dependency chain costs several
    hops per request, each more than the work itself). `inline` marks a short write: on SQLite it runs on the event
    loop (writers queue on one lock anyway); elsewhere at most 3 run at once per process (fewer threads fighting
    for the GIL cost less CPU per request)."""
    factory = request.app.state.sessionmaker
    on_loop = inline and request.app.state.engine.dialect.name == "sqlite"
    limit = _HOT_WRITES if inline and not on_loop else nullcontext()

    def run() -> T:
        with limit, factory() as session:
            try:
                out = work(session)
                session.commit()
                return out
            except Exception:
                session.rollback()
                raise

    return run() if on_loop else await run_in_threadpool(run)


@router.post("/incidents", response_model=IncidentOut, status_code=201, responses={
    200: {"model": IncidentOut, "description": "The call already taken with this Idempotency-Key (a retry)"}})
async def create_incident(body: IncidentIn, request: Request, clock: ClockDep, settings: SettingsDep,
                          protocol: ProtocolDep, user: Dispatcher,
                          idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]
                          = None) -> Response:
    """Take a call (triaged at once when a complaint is given); the same Idempotency-Key returns the same
    incident (200 instead of 201). Dispatcher."""
    call = flows.NewCall(city=body.city or settings.default_city, location=LatLon(body.location.lat,
                         body.location.lon), address=body.address, caller_number=body.caller_number,
                         complaint=body.complaint, answers=body.answers, patients=body.patients)

    now = clock.now()
    engine = request.app.state.engine
    sqlite = engine.dialect.name == "sqlite"
    if sqlite or request.app.state.call_engine is not None:
        planned = flows.plan_direct_call(call=call, protocol=protocol, actor=user, now=now, bus=request.app.state.bus,
                                         idempotency_key=idempotency_key)
        if planned is not None:
            incident = await _write_direct(request, planned, sqlite=sqlite)
            if incident is not None:
                return Response(IncidentOut.of(incident).model_dump_json(), status_code=201,
                                media_type="application/json")
            # The key is taken: the session path answers with the existing incident.

    def work(session: Session) -> tuple[IncidentOut, bool]:
        incident, created = flows.create_incident(session=session, call=call, protocol=protocol, actor=user,
                                                  now=now, idempotency_key=idempotency_key)
        return IncidentOut.of(incident), created

    out, created = await in_session(request, work, inline=True)
    # Already a validated model: answer its JSON directly instead of having FastAPI validate it a second time.
    return Response(out.model_dump_json(), status_code=201 if created else 200, media_type="application/json")


async def _write_direct(request: Request, planned: flows.PlannedCall, *, sqlite: bool) -> Incident | None:
    """Write a planned call without a session: on SQLite inline on the event loop (writers queue on one lock
    anyway), then wake this process's stream clients (no NOTIFY there); on PostgreSQL through the statement pool on
    the server's loop, or in the thread pool on other loops."""
    if sqlite:
        with sqlite_writer(request.app.state.engine) as conn:
            incident = flows.write_direct_call(connection=conn, planned=planned, dialect="sqlite")
        hub = getattr(request.app.state, "stream_hub", None)
        if incident is not None and hub is not None:
            hub.wake_threadsafe()
        return incident
    pool: StatementPool = request.app.state.call_pool
    if pool.serves_this_loop():
        return await flows.write_direct_call_async(pool=pool, planned=planned)
    return await run_in_threadpool(_write_direct_pg, request.app.state.call_engine, planned)


def _write_direct_pg(engine: Engine, planned: flows.PlannedCall) -> Incident | None:
    """A planned call written in one statement on a pooled connection (PostgreSQL), at most 3 at once."""
    with _HOT_WRITES:
        raw = engine.raw_connection()
        try:
            return flows.write_direct_call(connection=raw.driver_connection, planned=planned)
        except engine.dialect.loaded_dbapi.OperationalError:
            raw.invalidate()  # the connection is gone: do not pool it again
            raise
        finally:
            raw.close()


@router.get("/incidents", response_model=list[IncidentOut])
def list_incidents(session: SessionDep, user: Reader, city: str | None = None,
                   status: Annotated[list[str] | None, Query()] = None) -> list[IncidentOut]:
    """Open incidents (or those in the given statuses), oldest first. Dispatcher, analyst; crew only their unit's,
    hospital staff only those bound for their hospital."""
    statuses = tuple(status) if status else repo.OPEN_STATUSES
    return [IncidentOut.of(i) for i in repo.list_open(session=session, city=city, statuses=statuses, user=user)]


@router.get("/incidents/queue", response_model=QueueOut)
def incident_queue(session: SessionDep, _user: Dispatcher, city: str | None = None) -> QueueOut:
    """Calls waiting for a unit, by priority then arrival, and calls still to triage. Dispatcher."""
    waiting, untriaged = flows.queue(session=session, city=city)
    return QueueOut(waiting=[IncidentOut.of(i) for i in waiting], untriaged=[IncidentOut.of(i) for i in untriaged])


@router.get("/incidents/{incident_id}", response_model=IncidentOut)
def get_incident(incident_id: Key, session: SessionDep, user: Reader) -> IncidentOut:
    """One incident with its patients and units. Dispatcher, analyst; crew of a unit sent to it; staff of the
    hospital it is bound for (403 otherwise)."""
    return _full(session, repo.get_readable(session=session, incident_id=incident_id, user=user))


@router.post("/incidents/{incident_id}/triage", response_model=TriageOut)
def triage_incident(incident_id: Key, body: TriageIn, session: SessionDep, clock: ClockDep, protocol: ProtocolDep,
                    user: Dispatcher) -> TriageOut:
    """Apply the protocol to the complaint and answers; returns the determinant and the questions left. Dispatcher."""
    incident = repo.get(session=session, incident_id=incident_id)
    det = flows.apply_triage(session=session, incident=incident, protocol=protocol, complaint=body.complaint,
                             answers=body.answers, actor=user, now=clock.now())
    left = flows.questions(incident=incident, protocol=protocol, complaint=body.complaint, answers=body.answers)
    session.commit()
    return TriageOut(incident=IncidentOut.of(incident), determinant=det.to_dict(), next_questions=left)


@router.post("/incidents/{incident_id}/patients", response_model=PatientOut, status_code=201)
def add_patient(incident_id: Key, body: PatientIn, session: SessionDep, user: Crew) -> PatientOut:
    """Add a patient to the incident. Dispatcher, crew of a unit sent to it."""
    repo.get_readable(session=session, incident_id=incident_id, user=user)
    patient = flows.add_patient(session=session, incident_id=incident_id, **body.model_dump())
    session.commit()
    return PatientOut.of(patient)


@router.get("/incidents/{incident_id}/recommendation", response_model=RecommendationOut)
async def recommendation(incident_id: Key, request: Request, clock: ClockDep, policy: PolicyDep,
                         _user: Dispatcher) -> Response:
    """Units ranked by road ETA with reasons, diversion options, and the destination hospital. Dispatcher."""

    def work(session: Session) -> str:
        incident = repo.get(session=session, incident_id=incident_id)
        rec = flows.recommend(session=session, incident_id=incident.id, router=router_of(request, incident.city),
                              policy=policy, now=clock.now())
        return RecommendationOut.of(rec).model_dump_json()

    return Response(await in_session(request, work), media_type="application/json")


@router.post("/incidents/{incident_id}/dispatch", response_model=IncidentOut)
def dispatch(incident_id: Key, body: DispatchIn, session: SessionDep, clock: ClockDep, policy: PolicyDep,
             user: Dispatcher) -> IncidentOut:
    """Send a unit (409 when it is no longer available, e.g. another dispatcher was faster). Dispatcher."""
    flows.dispatch_unit(session=session, incident_id=incident_id, unit_id=body.unit_id, actor=user, now=clock.now(),
                        policy=policy, divert=body.divert)
    session.commit()
    return _full(session, repo.get(session=session, incident_id=incident_id))


@router.post("/incidents/{incident_id}/reassign", response_model=IncidentOut)
def reassign(incident_id: Key, body: ReassignIn, session: SessionDep, clock: ClockDep, policy: PolicyDep,
             user: Dispatcher) -> IncidentOut:
    """Replace one assigned unit by another. Dispatcher."""
    flows.reassign(session=session, incident_id=incident_id, from_unit_id=body.from_unit_id,
                   to_unit_id=body.to_unit_id, actor=user, now=clock.now(), policy=policy)
    session.commit()
    return _full(session, repo.get(session=session, incident_id=incident_id))


@router.post("/incidents/{incident_id}/units/{unit_id}/stand-down", response_model=IncidentOut)
def stand_down(incident_id: Key, unit_id: Key, body: ReasonIn, session: SessionDep, clock: ClockDep,
               user: Dispatcher) -> IncidentOut:
    """Cancel one unit's assignment. Dispatcher."""
    flows.stand_down(session=session, incident_id=incident_id, unit_id=unit_id, actor=user, now=clock.now(),
                     reason=body.reason)
    session.commit()
    return _full(session, repo.get(session=session, incident_id=incident_id))


@router.post("/incidents/{incident_id}/cancel", response_model=IncidentOut)
def cancel(incident_id: Key, body: ReasonIn, session: SessionDep, clock: ClockDep, user: Dispatcher) -> IncidentOut:
    """Cancel the call and stand down its units, with a reason. Dispatcher."""
    incident = flows.cancel_incident(session=session, incident_id=incident_id, actor=user, now=clock.now(),
                                     reason=body.reason)
    session.commit()
    return _full(session, incident)


@router.post("/incidents/{incident_id}/close", response_model=IncidentOut)
def close(incident_id: Key, session: SessionDep, clock: ClockDep, user: Dispatcher) -> IncidentOut:
    """Close the call once no unit is on it (409 otherwise). Dispatcher."""
    incident = flows.close_incident(session=session, incident_id=incident_id, actor=user, now=clock.now())
    session.commit()
    return _full(session, incident)


@router.post("/incidents/{incident_id}/destination", response_model=IncidentOut)
def destination(incident_id: Key, body: DestinationIn, session: SessionDep, clock: ClockDep,
                user: Crew) -> IncidentOut:
    """Set (and pre-notify) the destination hospital. Dispatcher, crew of a unit sent to it."""
    repo.get_readable(session=session, incident_id=incident_id, user=user)
    incident = flows.choose_destination(session=session, incident_id=incident_id, hospital_id=body.hospital_id,
                                        actor=user, now=clock.now(), prenotify=body.prenotify)
    session.commit()
    return _full(session, incident)


@router.get("/protocol")
def protocol_spec(protocol: ProtocolDep, _user: ProtocolReader) -> dict[str, Any]:
    """The call-taking protocol in force (version, entry questions, cards, plans). Dispatcher, trainer, analyst."""
    spec: dict[str, Any] = protocol.spec.model_dump(mode="json")
    return spec
