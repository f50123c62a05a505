"""HTTP routes of the volunteers domain: the volunteer's own app, the dispatcher's view of responders, the registry
of volunteers, facilities and AEDs, and the first-response measures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from sqlalchemy.orm import Session, sessionmaker
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from lifechain.api import ClockDep, CsvResponse, EventStream, SessionDep, SettingsDep, check_incident_access
from lifechain.auth.core import Principal, Role
from lifechain.auth.deps import require_roles
from lifechain.db import transaction
from lifechain.errors import Forbidden, Invalid
from lifechain.geo.core import LatLon, Router, check_on_network
from lifechain.geo.schemas import Point
from lifechain.geo.views import check_city
from lifechain.keys import Cursor, Key
from lifechain.settings import Settings
from lifechain.timeline import repo as timeline_repo
from lifechain.volunteers import core, flows, repo
from lifechain.volunteers.schemas import (
    ActionIn,
    AedIn,
    AedOut,
    CountsOut,
    DutyIn,
    FacilityIn,
    FacilityOut,
    MeasuresOut,
    MyAlertOut,
    PushSubscriptionIn,
    QualificationIn,
    ResponderOut,
    ResponseIn,
    ResponseOut,
    StandDownIn,
    VolunteerIn,
    VolunteerOut,
)
from lifechain.volunteers.tables import ResponseRow, Volunteer

log = logging.getLogger(__name__)
router = APIRouter(tags=["volunteers"])
Me = Annotated[Principal, Depends(require_roles(Role.VOLUNTEER))]
Dispatcher = Annotated[Principal, Depends(require_roles(Role.DISPATCHER))]
Registrar = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.ANALYST))]
Analyst = Annotated[Principal, Depends(require_roles(Role.ANALYST, Role.DISPATCHER))]
TICK_S = 5.0
POLL_S = 2.0


def setup(app: FastAPI) -> None:
    """Subscribe the stand-down to the event bus, choose the channels, and run the phase ticker while serving."""
    app.state.volunteer_wiring = flows.Wiring()
    flows.subscribe(app.state.bus, app.state.volunteer_wiring)
    app.state.volunteer_notifier = _notifier(app.state.settings)
    app.state.volunteer_router_for = _city_router_factory(app)
    settings: Settings = app.state.settings
    app.state.volunteer_policies = flows.PolicyBook(data_dir=settings.data_dir,
                                                    heartbeat_timeout_s=settings.volunteer_heartbeat_timeout_s)
    app.state.health_problems.append(app.state.volunteer_policies.problems)
    app.state.volunteer_tick_s = TICK_S

    async def start(app: FastAPI) -> None:
        with_files = flows.cities_with_policy_files(app.state.settings.data_dir)
        await run_in_threadpool(app.state.volunteer_policies.load, {*app.state.cities.names(), *with_files})
        flows.configure(app.state.volunteer_wiring, router_for=lambda city: app.state.volunteer_router_for(city),
                        policy_for=app.state.volunteer_policies, notifier=app.state.volunteer_notifier,
                        gps_stale_after_s=app.state.settings.gps_stale_after_s)
        app.state.volunteer_ticker = asyncio.create_task(_ticker(app))

    async def stop(app: FastAPI) -> None:
        task = app.state.volunteer_ticker
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)


def _notifier(settings: Settings) -> flows.Notifier:
    """The live stream always; Web Push too when VAPID keys are configured. (No SMS provider is bundled.)"""
    channels: list[flows.Notifier] = [flows.LiveStreamNotifier()]
    if settings.vapid_private_key:
        channels.append(flows.WebPushNotifier(vapid_private_key=settings.vapid_private_key,
                                              subject=settings.vapid_subject))
    return flows.Fanout(channels)


def _city_router_factory(app: FastAPI) -> Callable[[str], Router]:
    """Walking routers from geo's store of compiled cities (`app.state.cities`)."""

    def router_for(city: str) -> Router:
        result: Router = app.state.cities.router(city)
        return result

    return router_for


async def _ticker(app: FastAPI) -> None:
    """Advance every running response (widen, replace refusals) on the app's clock."""
    while True:
        await asyncio.sleep(app.state.volunteer_tick_s)
        try:
            await run_in_threadpool(tick, app)
        except Exception:  # keep ticking: one bad response must not stop the others
            log.exception("volunteer phase tick failed")


def tick(app: FastAPI) -> int:
    """One pass of the phase ticker; returns the number of new alerts sent."""
    with transaction(app.state.sessionmaker) as session:
        return flows.advance_all(session=session, router_for=app.state.volunteer_router_for,
                                 now=app.state.clock.now(), policy_for_city=app.state.volunteer_policies,
                                 notifier=app.state.volunteer_notifier)


def _policy(request: Request, city: str) -> core.AlertPolicy:
    policies: flows.PolicyBook = request.app.state.volunteer_policies
    return policies(city)


def _router(request: Request, city: str) -> Router:
    router_for: Callable[[str], Router] = request.app.state.volunteer_router_for
    return router_for(city)


def _check_walkable(request: Request, city: str, location: LatLon, *, what: str) -> None:
    """Refuse (422) a place volunteers walk to or from, an AED or a facility, in a city not imported or farther from
    its walking network than the snapping distance (a typo, latitude and longitude swapped): stored, it was never
    offered to a volunteer, without a word. The walking router is the one alerts use."""
    check_city(request, city)
    check_on_network(_router(request, city), location, mode="walk", what=what, field="lat")


def _my_id(user: Principal) -> int:
    if user.volunteer_id is None:
        raise Forbidden("this user is not bound to a volunteer record")
    return user.volunteer_id


# --- The volunteer's own app ---------------------------------------------------------------------------------------


@router.get("/volunteers/me", response_model=VolunteerOut)
def my_profile(session: SessionDep, clock: ClockDep, user: Me) -> VolunteerOut:
    """My registration, duty state and certificates. Volunteer."""
    row = repo.get_volunteer(session=session, volunteer_id=_my_id(user))
    return VolunteerOut.of(row, today=clock.now().date())


@router.put("/volunteers/me/duty", response_model=VolunteerOut)
def my_duty(body: DutyIn, session: SessionDep, clock: ClockDep, user: Me) -> VolunteerOut:
    """Go on or off duty (off duty forgets my position). Volunteer."""
    row = flows.set_on_duty(session=session, volunteer_id=_my_id(user), on_duty=body.on_duty, now=clock.now())
    return VolunteerOut.of(row, today=clock.now().date())


@router.put("/volunteers/me/location", response_model=VolunteerOut)
def my_location(body: Point, session: SessionDep, clock: ClockDep, user: Me) -> VolunteerOut:
    """Report my position; accepted only while on duty or responding (409 otherwise). Volunteer."""
    row = flows.update_location(session=session, volunteer_id=_my_id(user), position=LatLon(body.lat, body.lon),
                                now=clock.now())
    return VolunteerOut.of(row, today=clock.now().date())


@router.post("/volunteers/me/heartbeat", status_code=204)
def my_heartbeat(session: SessionDep, clock: ClockDep, user: Me) -> None:
    """My device is alive and reachable. Volunteer."""
    flows.heartbeat(session=session, volunteer_id=_my_id(user), now=clock.now())


@router.put("/volunteers/me/push-subscription", status_code=204)
def my_push(body: PushSubscriptionIn, session: SessionDep, user: Me) -> None:
    """Store this browser's Web Push subscription. Volunteer."""
    flows.set_push_subscription(session=session, volunteer_id=_my_id(user), subscription=body.model_dump())


@router.get("/volunteers/push-key")
def push_key(settings: SettingsDep, _user: Me) -> dict[str, str | None]:
    """The VAPID public key the browser subscribes with (null when Web Push is not configured). Volunteer."""
    return {"public_key": settings.vapid_public_key}


@router.get("/volunteers/me/alerts", response_model=list[MyAlertOut])
def my_alerts(request: Request, session: SessionDep, user: Me) -> list[MyAlertOut]:
    """My alerts that are still running (place, nature, role, ETA; no route: ask for one alert). Volunteer."""
    out = []
    for row in repo.alerts_for_responder(session=session, responder_id=_my_id(user)):
        with contextlib.suppress(Forbidden):
            out.append(_my_alert(request, session, row.incident_id, _my_id(user), with_route=False))
    return out


@router.get("/volunteers/me/alerts/{incident_id}", response_model=MyAlertOut)
def my_alert(incident_id: Key, request: Request, session: SessionDep, user: Me) -> MyAlertOut:
    """One of my alerts with the walking route; 403 once the response ended for me. Volunteer."""
    return _my_alert(request, session, incident_id, _my_id(user), with_route=True)


def _my_alert(request: Request, session: Session, incident_id: int, me: int, *, with_route: bool) -> MyAlertOut:
    response, alert = flows.visible_alert(session=session, incident_id=incident_id, responder_id=me)
    aeds = {a.id: repo.to_aed(a) for a in repo.list_aeds(session=session, city=response.city)}
    body = flows.alert_body(response, alert, aeds)
    route: list[list[float]] = []
    if with_route:
        route = flows.responder_route(session=session, router=_router(request, response.city), response=response,
                                      alert=alert, aeds=aeds)
    return MyAlertOut.of(body, alert.state, route)


@router.post("/volunteers/me/alerts/{incident_id}/actions", response_model=MyAlertOut | None)
def my_action(incident_id: Key, body: ActionIn, request: Request, session: SessionDep, clock: ClockDep,
              user: Me) -> MyAlertOut | None:
    """Accept, decline or report from the scene; each is a timeline event. Volunteer."""
    me = _my_id(user)
    flows.visible_alert(session=session, incident_id=incident_id, responder_id=me)
    response = repo.get_response(session=session, incident_id=incident_id)
    assert response is not None
    alert = flows.act(session=session, incident_id=incident_id, responder_id=me, action=body.action,
                      now=clock.now(), policy=_policy(request, response.city), actor=user.actor,
                      router=_router(request, response.city), notifier=request.app.state.volunteer_notifier)
    if alert.state in (core.AlertState.ALERTED, core.AlertState.ACCEPTED, core.AlertState.ARRIVED):
        return _my_alert(request, session, incident_id, me, with_route=False)
    return None


def _my_messages(factory: sessionmaker[Session], after: int, me: int) -> tuple[int, list[dict[str, Any]]]:
    rows = timeline_repo.read_stream(factory=factory, after_id=after)
    last = rows[-1].id if rows else after
    mine = [{"id": r.id, "body": r.payload} for r in rows
            if r.kind == flows.MESSAGE_KIND and (r.payload or {}).get("responder_id") == me]
    return last, mine


@router.get("/volunteers/me/stream", response_class=EventStream)
async def my_stream(request: Request, user: Me,
                    since: Annotated[Cursor | None, Query(description="Resume after this event id.")] = None,
                    ) -> EventSourceResponse:
    """Server-sent events addressed to me only (alert, role, not_needed, stood_down). Volunteer."""
    me = _my_id(user)
    factory = request.app.state.sessionmaker
    hub = request.app.state.stream_hub
    start = since if since is not None else await run_in_threadpool(_last_id, factory)

    async def messages() -> AsyncIterator[dict[str, Any]]:
        after = start
        while not await request.is_disconnected():
            waiter = hub.waiter()
            last, mine = await run_in_threadpool(_my_messages, factory, after, me)
            for m in mine:
                yield {"id": str(m["id"]), "event": "volunteer", "data": json.dumps(m["body"], default=str)}
            if last == after:
                await hub.wait(waiter, POLL_S)
            after = last

    return EventSourceResponse(messages(), ping=15)


def _last_id(factory: sessionmaker[Session]) -> int:
    return timeline_repo.stream_head(factory=factory)


# --- The dispatcher's view ----------------------------------------------------------------------------------------


@router.post("/incidents/{incident_id}/responders", response_model=ResponseOut, status_code=201)
def alert_responders(incident_id: Key, body: ResponseIn, request: Request, session: SessionDep, clock: ClockDep,
                     user: Dispatcher) -> ResponseOut:
    """Alert volunteers and level-2 clinics for an incident (suspected arrest or choking). Dispatcher."""
    check_incident_access(request, session, incident_id, user)  # 404 for a call that was never taken
    flows.start_response(session=session, router=_router(request, body.city), incident_id=incident_id,
                         city=body.city, location=LatLon(body.lat, body.lon), nature=body.nature, now=clock.now(),
                         ambulance_eta_s=body.ambulance_eta_s, policy=_policy(request, body.city),
                         exclusions=body.exclusions, address=body.address, actor=user.actor,
                         notifier=request.app.state.volunteer_notifier)
    return _response_out(session, incident_id)


@router.get("/incidents/{incident_id}/responders", response_model=ResponseOut)
def incident_responders(incident_id: Key, request: Request, session: SessionDep, user: Reader) -> ResponseOut:
    """Every alerted responder with role, state and ETA; for a dispatcher (or admin) also each one's last known
    position while responding and the walking route of those on the way. Dispatcher, analyst."""
    check_incident_access(request, session, incident_id, user)
    locate = user.has_any([Role.DISPATCHER])  # never analysts: positions are for the people running the call
    return _response_out(session, incident_id, router_for=request.app.state.volunteer_router_for if locate else None)


@router.post("/incidents/{incident_id}/responders/stand-down", response_model=ResponseOut)
def stand_down(incident_id: Key, body: StandDownIn, request: Request, session: SessionDep, clock: ClockDep,
               user: Dispatcher) -> ResponseOut:
    """Stand every responder down now. Dispatcher."""
    check_incident_access(request, session, incident_id, user)
    flows.stand_down(session=session, incident_id=incident_id, now=clock.now(), reason=body.reason, actor=user.actor,
                     notifier=request.app.state.volunteer_notifier)
    return _response_out(session, incident_id)


def _response_out(session: Session, incident_id: int, *,
                  router_for: Callable[[str], Router] | None = None) -> ResponseOut:
    """The response; with `router_for` (the caller is a dispatcher) positions and routes of the responders too."""
    response, plan = flows._load(session, incident_id)
    router = router_for(response.city) if router_for is not None else None
    rows = repo.alerts_of(session=session, incident_id=incident_id)
    names = _names(session, [r.responder_id for r in rows])
    aeds = {a.id: repo.to_aed(a) for a in repo.list_aeds(session=session, city=response.city)} if router else {}
    out = []
    for r in rows:
        position, route = _located(session, router, response, plan.alert_for(r.responder_id), aeds)
        out.append(ResponderOut.of(r, names.get(r.responder_id), position=position, route=route))
    return ResponseOut(incident_id=incident_id, nature=response.nature, phase=response.phase,
                       active=response.stood_down_at is None and not response.blocked_by,
                       blocked_by=list(response.blocked_by or []), stood_down_at=response.stood_down_at,
                       stand_down_reason=response.stand_down_reason,
                       ambulance_eta_at=response.ambulance_eta_at,
                       responders=out)


def _located(session: Session, router: Router | None, response: ResponseRow, alert: core.Alert,
             aeds: dict[int, core.Aed]) -> tuple[Point | None, list[list[float]] | None]:
    """A responder's position the dispatcher may see, and the walking route of one on the way (accepted)."""
    if router is None:
        return None, None
    at = flows.last_position(session=session, response=response, alert=alert)
    if at is None:
        return None, None
    route = None
    if alert.state == core.AlertState.ACCEPTED:
        route = flows.responder_route(session=session, router=router, response=response, alert=alert, aeds=aeds)
    return Point(lat=at.lat, lon=at.lon), route


def _names(session: Session, ids: list[int]) -> dict[int, str]:
    names = {v.id: v.name for v in session.query(Volunteer).filter(Volunteer.id.in_([i for i in ids if i > 0]))}
    for f in repo.list_facilities(session=session):
        names[repo.facility_responder_id(f.id)] = f.name
    return names


# --- Registry -----------------------------------------------------------------------------------------------------


@router.get("/volunteers/measures", response_model=MeasuresOut)
def measures(session: SessionDep, _user: Analyst, city: str | None = None) -> MeasuresOut:
    """Time to first responder, compression and shock, share of arrests with a volunteer before EMS, and alert
    counts per volunteer and per area (0.01-degree cell). Analyst, dispatcher."""
    m = flows.measures(session=session, city=city)
    return MeasuresOut(
        incidents=m.incidents, arrests=m.arrests,
        median_first_responder_on_scene_s=m.median_first_responder_on_scene_s,
        share_volunteer_before_ems=m.share_volunteer_before_ems,
        median_first_compression_s=m.median_first_compression_s, median_first_shock_s=m.median_first_shock_s,
        per_responder={k: CountsOut(alerted=v.alerted, accepted=v.accepted, arrived=v.arrived)
                       for k, v in m.per_responder.items()},
        per_area={k: CountsOut(alerted=v.alerted, accepted=v.accepted, arrived=v.arrived)
                  for k, v in m.per_area.items()},
    )


@router.get("/volunteers/facilities", response_model=list[FacilityOut])
def list_facilities(session: SessionDep, _user: Reader, city: str | None = None) -> list[FacilityOut]:
    """Level-2 facilities (school clinics, community health stations). Dispatcher, analyst."""
    return [FacilityOut.of(f) for f in repo.list_facilities(session=session, city=city)]


@router.post("/volunteers/facilities", response_model=FacilityOut, status_code=201)
def add_facility(body: FacilityIn, request: Request, session: SessionDep, _user: Registrar) -> FacilityOut:
    """Register a level-2 facility, in an imported city and on its walking network (its staff walk from it). Admin."""
    _check_walkable(request, body.city, LatLon(body.lat, body.lon), what="facility")
    row = flows.facilities_add(session=session, city=body.city, name=body.name, kind=body.kind,
                               location=LatLon(body.lat, body.lon), opening_hours=body.opening_hours,
                               timezone=body.timezone, staff_on_duty=body.staff_on_duty, has_aed=body.has_aed,
                               phone=body.phone)
    return FacilityOut.of(row)


@router.get("/volunteers", response_model=list[VolunteerOut])
def list_volunteers(session: SessionDep, clock: ClockDep, _user: Reader, city: str | None = None,
                    on_duty: bool | None = None) -> list[VolunteerOut]:
    """The registry of volunteers. Dispatcher, analyst."""
    today = clock.now().date()
    return [VolunteerOut.of(v, today=today) for v in repo.list_volunteers(session=session, city=city, on_duty=on_duty)]


@router.post("/volunteers", response_model=VolunteerOut, status_code=201)
def register(body: VolunteerIn, request: Request, session: SessionDep, clock: ClockDep,
             _user: Registrar) -> VolunteerOut:
    """Register a volunteer with their certificates, in an imported city. Admin."""
    check_city(request, body.city)
    row = flows.register_volunteer(
        session=session, now=clock.now(), city=body.city, name=body.name, phone=body.phone, email=body.email,
        affiliation=body.affiliation, facility_id=body.facility_id, channels=body.channels,
        qualifications=[flows.QualificationIn(q.kind.value, q.issued, q.expires) for q in body.qualifications])
    return VolunteerOut.of(row, today=clock.now().date())


@router.post("/volunteers/{volunteer_id}/qualifications", response_model=VolunteerOut, status_code=201)
def add_qualification(volunteer_id: Key, body: QualificationIn, session: SessionDep, clock: ClockDep,
                      _user: Registrar) -> VolunteerOut:
    """Add a certificate to a volunteer. Admin."""
    row = flows.add_qualification(session=session, volunteer_id=volunteer_id,
                                  qualification=flows.QualificationIn(body.kind.value, body.issued, body.expires))
    return VolunteerOut.of(row, today=clock.now().date())


@router.get("/aeds", response_model=list[AedOut])
def list_aeds(session: SessionDep, clock: ClockDep, _user: Reader, city: str = Query(min_length=1)) -> list[AedOut]:
    """The AEDs of a city, with whether each can be used right now. Dispatcher, analyst."""
    now = clock.now()
    return [AedOut.of(a, now=now) for a in repo.list_aeds(session=session, city=city)]


@router.post("/aeds", response_model=AedOut, status_code=201)
def add_aed(body: AedIn, request: Request, session: SessionDep, clock: ClockDep, _user: Registrar) -> AedOut:
    """Register an AED by hand, in an imported city and on its walking network (volunteers fetch it on foot).
    Admin."""
    _check_walkable(request, body.city, LatLon(body.lat, body.lon), what="AED")
    row = flows.upsert_aed(session=session, city=body.city, values=body.model_dump(mode="json"))
    return AedOut.of(row, now=clock.now())


@router.get("/aeds.csv", response_class=CsvResponse)
def export_aeds(session: SessionDep, _user: Reader, city: str = Query(min_length=1)) -> CsvResponse:
    """The AEDs of a city as CSV. Dispatcher, analyst."""
    return CsvResponse(flows.export_aeds_csv(session=session, city=city))


async def _csv_body(request: Request) -> str:
    """The raw request body as UTF-8 text (a CSV upload)."""
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("the CSV must be UTF-8 text") from exc
    if "\x00" in text:  # a binary file sent as CSV; PostgreSQL could not store its text either
        raise Invalid("the CSV must not contain NUL (0x00) characters")
    return text


@router.post("/aeds/import", status_code=200,
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def import_aeds(request: Request, session: SessionDep, _user: Registrar, city: str = Query(min_length=1),
                timezone: str = Query(default="UTC"),
                text: str = Depends(_csv_body)) -> dict[str, int]:
    """Import AEDs from CSV into an imported city (header: lat, lon and optionally indoor, opening_hours, timezone,
    status, last_check, external_ref). A line that cannot be read, or whose AED lies off the city's walking
    network, is refused with its number, and nothing is imported. Admin."""
    check_city(request, city)
    walking = _router(request, city)
    return {"imported": flows.import_aeds_csv(
        session=session, city=city, text=text, timezone=timezone,
        check=lambda place: check_on_network(walking, place, mode="walk", what="AED"))}
