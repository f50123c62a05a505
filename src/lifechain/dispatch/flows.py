"""The 120 centre's work as flows: load -> core rule -> persist -> timeline -> publish.

Every flow takes the session, the clock's `now` and the acting user; the caller commits. Concurrent changes of the
same unit or incident are refused with `Conflict` (optimistic versions), and every step is on the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.exc import StaleDataError

from lifechain import events
from lifechain.auth.core import Principal
from lifechain.db import Base, StatementPool
from lifechain.dispatch import repo
from lifechain.dispatch.core import (
    DispatchPolicy,
    FreeEstimate,
    HospitalRecommendation,
    IncidentState,
    UnitRecommendation,
    divert_refusal,
    earliest_free,
    queue_order,
    recommend_hospital,
    recommend_units,
)
from lifechain.dispatch.protocol import Determinant, Protocol, next_questions, triage
from lifechain.dispatch.tables import Assignment, Incident, Patient
from lifechain.errors import Conflict, Forbidden, Invalid
from lifechain.fleet import flows as fleet_flows
from lifechain.fleet import repo as fleet_repo
from lifechain.fleet.core import UnitStatus, is_available, next_status
from lifechain.fleet.tables import Unit
from lifechain.geo.core import LatLon, Router
from lifechain.hospitals import repo as hospital_repo
from lifechain.timeline import flows as timeline
from lifechain.timeline.core import EventKind, Source, TimelineEvent

# Incident statuses in the order a call moves through them; "closed" and "cancelled" end it.
PROGRESS = ("received", "waiting", "dispatched", "on_scene", "transporting", "at_hospital")
INCIDENT_STATUS_OF_UNIT: dict[UnitStatus, str] = {
    UnitStatus.DISPATCHED: "dispatched", UnitStatus.EN_ROUTE: "dispatched", UnitStatus.ON_SCENE: "on_scene",
    UnitStatus.TRANSPORTING: "transporting", UnitStatus.AT_HOSPITAL: "at_hospital",
}
# The time node each unit status reports while the unit is on a call.
NODE_OF_STATUS: dict[UnitStatus, EventKind] = {
    UnitStatus.DISPATCHED: EventKind.UNIT_NOTIFIED, UnitStatus.EN_ROUTE: EventKind.UNIT_EN_ROUTE,
    UnitStatus.ON_SCENE: EventKind.UNIT_ON_SCENE, UnitStatus.TRANSPORTING: EventKind.LEFT_SCENE,
    UnitStatus.AT_HOSPITAL: EventKind.AT_DESTINATION, UnitStatus.AVAILABLE_RETURNING: EventKind.UNIT_BACK_IN_SERVICE,
    UnitStatus.AVAILABLE_AT_STATION: EventKind.UNIT_CANCELLED, UnitStatus.OUT_OF_SERVICE: EventKind.UNIT_CANCELLED,
}
# Leaving a call in one of these statuses frees the unit; from the others it was stood down before finishing.
FINISHED_FROM = frozenset({UnitStatus.ON_SCENE, UnitStatus.TRANSPORTING, UnitStatus.AT_HOSPITAL})


@dataclass(frozen=True, slots=True)
class NewCall:
    """What the call-taker knows when a call is created."""

    city: str
    location: LatLon
    address: str | None = None
    caller_number: str | None = None
    complaint: str | None = None
    answers: dict[str, Any] | None = None
    patients: int = 1


@dataclass(frozen=True, slots=True)
class Recommendation:
    """Units and destination recommended for one incident, and, when nobody can go, who frees up first."""

    incident: Incident
    units: UnitRecommendation
    hospital: HospitalRecommendation
    earliest_free: list[FreeEstimate]


# ---------------------------------------------------------------------------------------------------- helpers


def incident_payload(i: Incident) -> dict[str, Any]:
    """What the live stream shows of an incident (no caller number: the stream reaches more people)."""
    return {"id": i.id, "city": i.city, "lat": i.lat, "lon": i.lon, "address": i.address, "status": i.status,
            "priority": i.priority, "pathways": i.pathways, "complaint": i.complaint,
            "code": (i.determinant or {}).get("code"), "received_at": i.received_at.isoformat(),
            "destination_hospital_id": i.destination_hospital_id, "version": i.version}


def _save(session: Session, incident: Incident, now: datetime) -> None:
    incident_id = incident.id  # read before a failed flush expires it
    try:
        session.flush()
    except StaleDataError as exc:
        session.rollback()
        raise Conflict(f"incident {incident_id} was changed by someone else at the same time; reload and retry",
                       incident_id=incident_id) from exc
    events.publish(session, "incident.updated", incident_payload(incident), at=now)


def _node(session: Session, *, kind: EventKind, at: datetime, incident_id: int | None, actor: str, source: Source,
          now: datetime, unit_id: int | None = None, payload: dict[str, Any] | None = None) -> TimelineEvent:
    event = TimelineEvent(kind=kind, at=at, incident_id=incident_id, unit_id=unit_id, actor=actor, source=source,
                          payload=payload or {})
    return timeline.record(session=session, event=event, now=now)


def _open(incident: Incident) -> Incident:
    if incident.status in ("closed", "cancelled"):
        raise Conflict(f"incident {incident.id} is {incident.status}", incident_id=incident.id)
    return incident


def state_of(incident: Incident) -> IncidentState:
    """The pure view of a triaged incident; raises `Conflict` when it has not been triaged yet."""
    if incident.priority is None:
        raise Conflict(f"incident {incident.id} has no priority yet: triage it first", incident_id=incident.id)
    return IncidentState(id=incident.id, location=LatLon(incident.lat, incident.lon), priority=incident.priority,
                         pathways=frozenset(incident.pathways), received_at=incident.received_at
                         or incident.received_at)


# ---------------------------------------------------------------------------------------------------- taking calls


def create_incident(*, session: Session, call: NewCall, protocol: Protocol, actor: Principal, now: datetime,
                    idempotency_key: str | None = None) -> tuple[Incident, bool]:
    """Open an incident for a call (triaged at once when a complaint is given); returns it and whether it is new.

    The same `idempotency_key` always returns the same incident, also when two retries race (unique constraint).
    Written with one insert for the incident and one batched insert for its patients and time nodes.
    """
    incident, det = _new_incident(call, protocol, actor, now, idempotency_key)
    # No look-up first: a retry is rare, and the unique key turns it into an IntegrityError handled below.
    try:
        _insert_incident(session, incident)
    except IntegrityError:
        session.rollback()
        existing = repo.by_idempotency_key(session=session, key=idempotency_key or "")
        if existing is None:
            raise
        return existing, False
    session.connection().execute(insert(_PATIENT), [
        {"incident_id": incident.id, "label": f"P{n + 1}", "age_years": None, "sex": None, "notes": None}
        for n in range(call.patients)])
    timeline.record_many(session=session, batch=_call_nodes(incident, det, call, actor, now), now=now)
    events.publish(session, "incident.updated", incident_payload(incident), at=now)
    return incident, True


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """A new call ready to be written in one statement: the incident (no id yet), its patients, its time nodes and
    its stream messages, in the order `create_incident` publishes them (ids still missing)."""

    incident: Incident
    patients: int
    nodes: list[TimelineEvent]
    messages: list[events.DomainEvent]


def plan_direct_call(*, call: NewCall, protocol: Protocol, actor: Principal, now: datetime, bus: events.Bus,
                     idempotency_key: str | None = None) -> PlannedCall | None:
    """The call `create_incident` would write, when no event subscriber wants its events (so it can be written
    without a session, `write_direct_call`); None when one may act on them (a call for volunteers, say)."""
    incident, det = _new_incident(call, protocol, actor, now, idempotency_key)
    nodes = _call_nodes(incident, det, call, actor, now)
    meta = {"determinant": incident.determinant}
    messages = [events.DomainEvent(f"timeline.{e.kind.value}", timeline.stream_payload(e), now, meta) for e in nodes]
    messages.append(events.DomainEvent("incident.updated", incident_payload(incident), now, meta))
    if any(bus.wanted(m) for m in messages):
        return None
    return PlannedCall(incident, call.patients, nodes, messages)


def write_direct_call(*, connection: Any, planned: PlannedCall, dialect: str = "postgresql") -> Incident | None:
    """Write a planned call in its own transaction on a DB-API `connection`: on PostgreSQL one statement (no BEGIN,
    COMMIT or separate NOTIFY round trips), on SQLite a few plain statements on a connection holding the process's
    write lock (`db.sqlite_writer`). Returns the incident, or None when its Idempotency-Key is taken (then
    `create_incident` answers with the existing one)."""
    insert = repo.insert_call_sqlite if dialect == "sqlite" else repo.insert_call_pg
    return _stored(planned, insert(connection, incident=planned.incident, patients=planned.patients,
                                   nodes=planned.nodes, messages=planned.messages))


async def write_direct_call_async(*, pool: StatementPool, planned: PlannedCall) -> Incident | None:
    """`write_direct_call` awaited on the event loop through a statement pool (no thread-pool hop)."""
    return _stored(planned, await repo.insert_call_pg_async(pool, incident=planned.incident,
                                                            patients=planned.patients, nodes=planned.nodes,
                                                            messages=planned.messages))


def _stored(planned: PlannedCall, incident_id: int | None) -> Incident | None:
    """The planned incident with the id it was stored under, or None when nothing was written (key taken)."""
    if incident_id is None:
        return None
    planned.incident.id = incident_id
    return planned.incident


def _new_incident(call: NewCall, protocol: Protocol, actor: Principal, now: datetime,
                  idempotency_key: str | None) -> tuple[Incident, Determinant | None]:
    det = triage(protocol, call.complaint, call.answers or {}) if call.complaint is not None else None
    incident = Incident(city=call.city, lat=call.location.lat, lon=call.location.lon, address=call.address,
                        caller_number=call.caller_number, complaint=None, protocol_version=None, answers={},
                        determinant=None, priority=None, pathways=[], status="received", received_at=now,
                        closed_at=None, destination_hospital_id=None, idempotency_key=idempotency_key,
                        created_by=actor.actor, version=1)
    if det is not None:
        _set_determinant(incident, det)
    return incident, det


def _call_nodes(incident: Incident, det: Determinant | None, call: NewCall, actor: Principal,
                now: datetime) -> list[TimelineEvent]:
    """The time nodes of a new call: the PSAP call, then its determinant (and a recognised arrest) when triaged."""
    nodes = [_event(EventKind.PSAP_CALL, incident, actor, now, {"address": call.address})]
    if det is not None:
        nodes += _triage_nodes(incident, det, actor, now, arrest_known=False)
    return nodes


_INCIDENT, _PATIENT = Base.metadata.tables[Incident.__tablename__], Base.metadata.tables[Patient.__tablename__]
_INCIDENT_COLUMNS = tuple(c.key for c in _INCIDENT.columns if c.key != "id")


def _insert_incident(session: Session, incident: Incident) -> None:
    """INSERT the new incident with Core (RETURNING its id) and put it in the session as if loaded: the unit of work
    of one fresh object costs more CPU than the rest of taking a call; every column is set, so nothing reloads."""
    row = {key: getattr(incident, key) for key in _INCIDENT_COLUMNS}
    incident.id = session.connection().execute(insert(_INCIDENT).returning(_INCIDENT.c.id), row).scalar_one()
    make_transient_to_detached(incident)
    session.add(incident)


def _set_determinant(incident: Incident, det: Determinant) -> None:
    incident.complaint, incident.protocol_version = det.complaint, det.protocol_version
    incident.answers, incident.determinant = dict(det.answers), det.to_dict()
    incident.priority, incident.pathways = det.priority, sorted(det.pathways)
    if incident.status == "received":
        incident.status = "waiting"


def _event(kind: EventKind, incident: Incident, actor: Principal, now: datetime,
           payload: dict[str, Any]) -> TimelineEvent:
    return TimelineEvent(kind=kind, at=now, incident_id=incident.id, actor=actor.actor, source=Source.CONSOLE,
                         payload=payload)


def _triage_nodes(incident: Incident, det: Determinant, actor: Principal, now: datetime, *,
                  arrest_known: bool) -> list[TimelineEvent]:
    """The determinant node, and the arrest-recognised node the first time an arrest is suspected."""
    nodes = [_event(EventKind.DETERMINANT_SET, incident, actor, now, {
        "code": det.code, "priority": det.priority, "pathways": sorted(det.pathways), "complaint": det.complaint,
        "protocol_version": det.protocol_version, "answers": dict(det.answers)})]
    if det.suspected_arrest and not arrest_known:
        nodes.append(_event(EventKind.ARREST_RECOGNISED, incident, actor, now, {"code": det.code}))
    return nodes


def apply_triage(*, session: Session, incident: Incident, protocol: Protocol, complaint: str,
                 answers: dict[str, Any], actor: Principal, now: datetime) -> Determinant:
    """Triage with the protocol and keep its version, answers and determinant; a recognised arrest is timed once."""
    _open(incident)
    det = triage(protocol, complaint, answers)
    _set_determinant(incident, det)
    known = _has_node(session, incident.id, EventKind.ARREST_RECOGNISED)
    timeline.record_many(session=session, batch=_triage_nodes(incident, det, actor, now, arrest_known=known),
                         now=now)
    _save(session, incident, now)
    return det


def _has_node(session: Session, incident_id: int, kind: EventKind) -> bool:
    from lifechain.timeline import repo as timeline_repo

    return any(e.kind == kind for e in timeline_repo.list_for_incident(session=session, incident_id=incident_id))


def questions(*, incident: Incident, protocol: Protocol, complaint: str, answers: dict[str, Any]) -> list[str]:
    """Ids of the questions still to ask for `complaint` given `answers`."""
    return [q.id for q in next_questions(protocol, complaint, answers)]


def add_patient(*, session: Session, incident_id: int, label: str | None, age_years: int | None, sex: str | None,
                notes: str | None) -> Patient:
    """Add a patient to an open incident."""
    incident = _open(repo.get(session=session, incident_id=incident_id))
    count = len(repo.patients(session=session, incident_id=incident.id))
    patient = Patient(incident_id=incident.id, label=label or f"P{count + 1}", age_years=age_years, sex=sex,
                      notes=notes)
    session.add(patient)
    session.flush()
    return patient


# ---------------------------------------------------------------------------------------------------- recommending


def recommend(*, session: Session, incident_id: int, router: Router, policy: DispatchPolicy,
              now: datetime) -> Recommendation:
    """Rank every unit of the incident's city and choose a destination hospital, with reasons."""
    incident = repo.get(session=session, incident_id=incident_id)
    state = state_of(incident)
    units = repo.unit_states(session=session, city=incident.city)
    ranked = recommend_units(state, units, router, now=now, policy=policy)
    hospitals = [hospital_repo.to_state(h) for h in hospital_repo.list_all(session=session, city=incident.city)]
    hospital = recommend_hospital(state, hospitals, router, now=now, policy=policy)
    free = earliest_free(units, now=now, policy=policy, incident=state) if ranked.best is None else []
    return Recommendation(incident, ranked, hospital, free)


def queue(*, session: Session, city: str | None) -> tuple[list[Incident], list[Incident]]:
    """Calls waiting for a unit, in service order (priority, then arrival), and calls not yet triaged."""
    waiting = repo.list_open(session=session, city=city, statuses=repo.WAITING_STATUSES)
    by_id = {i.id: i for i in waiting}
    triaged = queue_order(state_of(i) for i in waiting if i.priority is not None)
    return [by_id[s.id] for s in triaged], [i for i in waiting if i.priority is None]


# ---------------------------------------------------------------------------------------------------- dispatching


def dispatch_unit(*, session: Session, incident_id: int, unit_id: int, actor: Principal, now: datetime,
                  policy: DispatchPolicy, divert: bool = False) -> Assignment:
    """Send a unit to an incident. A unit busy on a lower-priority call may be diverted (`divert`) when the
    redispatch table allows it; its old call goes back to the queue. Two dispatchers racing: one gets `Conflict`."""
    incident = _open(repo.get(session=session, incident_id=incident_id))
    unit = fleet_repo.get_unit(session=session, unit_id=unit_id)
    if unit.incident_id == incident.id:
        raise Conflict(f"unit {unit.call_sign} is already assigned to incident {incident.id}")
    if not is_available(unit.status):
        if not divert:
            raise Conflict(f"unit {unit.call_sign} is {unit.status}, not available; divert it explicitly if the "
                           f"redispatch rules allow", unit_id=unit.id, status=unit.status)
        _divert(session, unit, incident, actor=actor, now=now, policy=policy)
    unit.status = next_status(unit.status, UnitStatus.DISPATCHED).value
    unit.status_at, unit.incident_id = now, incident.id
    fleet_flows.save_unit(session=session, unit=unit, now=now)
    assignment = Assignment(incident_id=incident.id, unit_id=unit.id, assigned_at=now, assigned_by=actor.actor)
    session.add(assignment)
    _node(session, kind=EventKind.UNIT_NOTIFIED, at=now, incident_id=incident.id, unit_id=unit.id,
          actor=actor.actor, source=Source.CONSOLE, now=now, payload={"call_sign": unit.call_sign})
    _advance(incident, "dispatched")
    _save(session, incident, now)
    return assignment


def _divert(session: Session, unit: Unit, incident: Incident, *, actor: Principal, now: datetime,
            policy: DispatchPolicy) -> None:
    """Take a busy unit off its current call for `incident`, if the redispatch table allows; raises `Conflict`."""
    current = repo.get(session=session, incident_id=unit.incident_id) if unit.incident_id else None
    if current is None:
        raise Conflict(f"unit {unit.call_sign} ({unit.status}) is on no call to be diverted from", unit_id=unit.id)
    station = fleet_repo.get_station(session=session, station_id=unit.station_id)
    refusal = divert_refusal(fleet_repo.to_state(unit, station, incident_priority=current.priority),
                             state_of(incident), policy)
    if refusal is not None:
        raise Conflict(f"unit {unit.call_sign} may not be diverted under the redispatch rules: {refusal}",
                       unit_id=unit.id)
    _end_assignment(session, unit.id, now=now, reason="diverted")
    _node(session, kind=EventKind.UNIT_REASSIGNED, at=now, incident_id=current.id, unit_id=unit.id,
          actor=actor.actor, source=Source.CONSOLE, now=now,
          payload={"call_sign": unit.call_sign, "to_incident_id": incident.id})
    unit.status = next_status(unit.status, UnitStatus.AVAILABLE_RETURNING).value
    unit.incident_id = None
    _requeue_if_unattended(session, current, now)


def _end_assignment(session: Session, unit_id: int, *, now: datetime, reason: str) -> Assignment | None:
    assignment = repo.active_assignment_of_unit(session=session, unit_id=unit_id)
    if assignment is not None:
        assignment.ended_at, assignment.end_reason = now, reason
    return assignment


def _requeue_if_unattended(session: Session, incident: Incident, now: datetime) -> None:
    """A call left without any unit before one reached it goes back to the queue."""
    session.flush()
    if repo.active_assignments(session=session, incident_id=incident.id):
        return
    if incident.status == "dispatched":
        incident.status = "waiting"
        _save(session, incident, now)


def _advance(incident: Incident, status: str) -> None:
    """Move the incident forward to `status` (never backwards)."""
    if incident.status in PROGRESS and PROGRESS.index(status) > PROGRESS.index(incident.status):
        incident.status = status


def change_unit_status(*, session: Session, unit_id: int, target: UnitStatus, actor: Principal, now: datetime,
                       source: Source, at: datetime | None = None, hospital_id: int | None = None) -> Unit:
    """Move a unit through its call cycle (409 on an invalid move) and record the matching time node."""
    unit = fleet_repo.get_unit(session=session, unit_id=unit_id)
    if not actor.acts_for_unit(unit.id):
        raise Forbidden(f"you do not report for unit {unit.call_sign}")
    if target is UnitStatus.DISPATCHED:
        raise Conflict("units are dispatched to an incident with POST /incidents/{id}/dispatch")
    previous = UnitStatus(unit.status)
    unit.status = next_status(previous, target).value
    unit.status_at = at or now
    if hospital_id is not None:
        hospital_repo.get(session=session, hospital_id=hospital_id)
    incident = repo.get(session=session, incident_id=unit.incident_id) if unit.incident_id else None
    if incident is not None:
        _on_call_status(session, unit, incident, previous, target, actor=actor, now=now, source=source,
                        at=at or now, hospital_id=hospital_id)
    if target is UnitStatus.AVAILABLE_AT_STATION:
        station = fleet_repo.get_station(session=session, station_id=unit.station_id)
        unit.lat, unit.lon, unit.position_at = station.lat, station.lon, at or now
    fleet_flows.save_unit(session=session, unit=unit, now=now)
    return unit


def _on_call_status(session: Session, unit: Unit, incident: Incident, previous: UnitStatus, target: UnitStatus, *,
                    actor: Principal, now: datetime, source: Source, at: datetime, hospital_id: int | None) -> None:
    payload: dict[str, Any] = {"call_sign": unit.call_sign, "from": previous.value, "to": target.value}
    if hospital_id is not None:
        payload["hospital_id"] = hospital_id
        incident.destination_hospital_id = hospital_id
    _node(session, kind=NODE_OF_STATUS[target], at=at, incident_id=incident.id, unit_id=unit.id, actor=actor.actor,
          source=source, now=now, payload=payload)
    if target in INCIDENT_STATUS_OF_UNIT:
        _advance(incident, INCIDENT_STATUS_OF_UNIT[target])
        _save(session, incident, now)
        return
    finished = previous in FINISHED_FROM
    _end_assignment(session, unit.id, now=now, reason="completed" if finished else "cancelled")
    unit.incident_id = None
    if finished:
        _save(session, incident, now)
    else:
        _requeue_if_unattended(session, incident, now)


def stand_down(*, session: Session, incident_id: int, unit_id: int, actor: Principal, now: datetime,
               reason: str) -> Unit:
    """Cancel one unit's assignment (it becomes available); the call goes back to the queue if left unattended."""
    unit = fleet_repo.get_unit(session=session, unit_id=unit_id)
    if unit.incident_id != incident_id:
        raise Conflict(f"unit {unit.call_sign} is not assigned to incident {incident_id}")
    incident = repo.get(session=session, incident_id=incident_id)
    previous = UnitStatus(unit.status)
    unit.status = next_status(previous, UnitStatus.AVAILABLE_RETURNING).value
    unit.status_at = now
    _node(session, kind=EventKind.UNIT_CANCELLED, at=now, incident_id=incident.id, unit_id=unit.id,
          actor=actor.actor, source=Source.CONSOLE, now=now, payload={"call_sign": unit.call_sign, "reason": reason})
    _end_assignment(session, unit.id, now=now, reason="cancelled")
    unit.incident_id = None
    fleet_flows.save_unit(session=session, unit=unit, now=now)
    _requeue_if_unattended(session, incident, now)
    return unit


def reassign(*, session: Session, incident_id: int, from_unit_id: int, to_unit_id: int, actor: Principal,
             now: datetime, policy: DispatchPolicy) -> Assignment:
    """Replace one assigned unit by another (the first is stood down, the second dispatched)."""
    stand_down(session=session, incident_id=incident_id, unit_id=from_unit_id, actor=actor, now=now,
               reason="reassigned")
    return dispatch_unit(session=session, incident_id=incident_id, unit_id=to_unit_id, actor=actor, now=now,
                         policy=policy)


def cancel_incident(*, session: Session, incident_id: int, actor: Principal, now: datetime, reason: str) -> Incident:
    """Cancel a call: every assigned unit is stood down, and the cancellation is on the timeline with its reason."""
    incident = _open(repo.get(session=session, incident_id=incident_id))
    for assignment in repo.active_assignments(session=session, incident_id=incident.id):
        stand_down(session=session, incident_id=incident.id, unit_id=assignment.unit_id, actor=actor, now=now,
                   reason=reason)
    incident.status, incident.closed_at = "cancelled", now
    _node(session, kind=EventKind.INCIDENT_CANCELLED, at=now, incident_id=incident.id, actor=actor.actor,
          source=Source.CONSOLE, now=now, payload={"reason": reason})
    _save(session, incident, now)
    return incident


def close_incident(*, session: Session, incident_id: int, actor: Principal, now: datetime) -> Incident:
    """Close a call once no unit is on it any more; raises `Conflict` naming the units still assigned."""
    incident = _open(repo.get(session=session, incident_id=incident_id))
    active = repo.active_assignments(session=session, incident_id=incident.id)
    if active:
        raise Conflict(f"incident {incident.id} still has units assigned: "
                       f"{', '.join(str(a.unit_id) for a in active)}", incident_id=incident.id)
    incident.status, incident.closed_at = "closed", now
    _node(session, kind=EventKind.INCIDENT_CLOSED, at=now, incident_id=incident.id, actor=actor.actor,
          source=Source.CONSOLE, now=now)
    _save(session, incident, now)
    return incident


def choose_destination(*, session: Session, incident_id: int, hospital_id: int, actor: Principal, now: datetime,
                       prenotify: bool) -> Incident:
    """Set the destination hospital (and pre-notify it), on the timeline; the hospital's staff see it coming."""
    incident = _open(repo.get(session=session, incident_id=incident_id))
    hospital = hospital_repo.get(session=session, hospital_id=hospital_id)
    if hospital.city != incident.city:
        raise Invalid(f"hospital {hospital.name} is not in {incident.city}", field="hospital_id")
    incident.destination_hospital_id = hospital.id
    payload = {"hospital_id": hospital.id, "name": hospital.name}
    _node(session, kind=EventKind.DESTINATION_CHOSEN, at=now, incident_id=incident.id, actor=actor.actor,
          source=Source.CONSOLE, now=now, payload=payload)
    if prenotify:
        _node(session, kind=EventKind.HOSPITAL_PRENOTIFIED, at=now, incident_id=incident.id, actor=actor.actor,
              source=Source.CONSOLE, now=now, payload={**payload, "priority": incident.priority,
                                                       "pathways": incident.pathways})
    _save(session, incident, now)
    return incident
