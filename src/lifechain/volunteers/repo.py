"""Queries of the volunteers domain, and the translation between rows and the pure core's dataclasses."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifechain.errors import Invalid, NotFound
from lifechain.geo.core import LatLon
from lifechain.volunteers import core
from lifechain.volunteers.tables import AedRow, AlertRow, Facility, ResponseRow, Volunteer, VolunteerQualification

log = logging.getLogger(__name__)

# --- Volunteers and facilities ---------------------------------------------------------------------------------


def get_volunteer(*, session: Session, volunteer_id: int) -> Volunteer:
    """The volunteer; raises `NotFound`."""
    row = session.get(Volunteer, volunteer_id)
    if row is None:
        raise NotFound(f"volunteer {volunteer_id} does not exist")
    return row


def list_volunteers(*, session: Session, city: str | None = None, on_duty: bool | None = None) -> list[Volunteer]:
    """Volunteers, optionally of one city and on/off duty, by id."""
    q = select(Volunteer).order_by(Volunteer.id)
    if city is not None:
        q = q.where(Volunteer.city == city)
    if on_duty is not None:
        q = q.where(Volunteer.on_duty.is_(on_duty))
    return list(session.scalars(q))


def add(*, session: Session, row: Volunteer | Facility | AedRow | VolunteerQualification) -> None:
    """Stage a new row and give it its id."""
    session.add(row)
    session.flush()


def get_facility(*, session: Session, facility_id: int) -> Facility:
    """The facility; raises `NotFound`."""
    row = session.get(Facility, facility_id)
    if row is None:
        raise NotFound(f"facility {facility_id} does not exist")
    return row


def list_facilities(*, session: Session, city: str | None = None) -> list[Facility]:
    """Level-2 facilities, optionally of one city, by id."""
    q = select(Facility).order_by(Facility.id)
    if city is not None:
        q = q.where(Facility.city == city)
    return list(session.scalars(q))


def to_responder(row: Volunteer, *, responding: bool = False) -> core.Responder:
    """The core's view of a volunteer (reachable when some channel can reach them)."""
    position = LatLon(row.lat, row.lon) if row.lat is not None and row.lon is not None else None
    quals = tuple(core.Qualification(core.QualificationKind(q.kind), q.issued, q.expires) for q in row.qualifications)
    return core.Responder(id=row.id, kind="volunteer", position=position, qualifications=quals,
                          on_duty=row.on_duty and not responding, last_heartbeat=row.last_heartbeat,
                          reachable=bool(row.channels) or row.push_subscription is not None)


def facility_responder_id(facility_id: int) -> int:
    """Facilities share the responder id space with volunteers as negative numbers."""
    return -facility_id


def to_facility_responder(row: Facility, *, at: datetime) -> core.Responder:
    """The core's view of a level-2 facility: on duty while open with staff, qualified as professionals. Hours or a
    time zone that cannot be read (stored before they were checked) leave it off duty, logged, rather than failing
    every alert of its city."""
    try:
        hours = core.parse_opening_hours(row.opening_hours)
        place = core.Aed(id=0, location=LatLon(row.lat, row.lon), hours=hours, timezone=row.timezone)
        open_now = place.is_accessible(at)
    except Invalid as exc:
        log.warning("facility %s (%s) is not alerted: %s", row.id, row.name, exc.message)
        open_now = False
    qual = core.Qualification(core.QualificationKind.HEALTHCARE_PROFESSIONAL, at.date(), at.date())
    return core.Responder(id=facility_responder_id(row.id), kind="clinic", position=LatLon(row.lat, row.lon),
                          qualifications=(qual,), on_duty=open_now and row.staff_on_duty > 0,
                          last_heartbeat=row.last_heartbeat or at, has_aed=row.has_aed)


# --- AEDs -------------------------------------------------------------------------------------------------------


def list_aeds(*, session: Session, city: str) -> list[AedRow]:
    """The AEDs of a city, by id."""
    return list(session.scalars(select(AedRow).where(AedRow.city == city).order_by(AedRow.id)))


def get_aed(*, session: Session, aed_id: int) -> AedRow:
    """The AED; raises `NotFound`."""
    row = session.get(AedRow, aed_id)
    if row is None:
        raise NotFound(f"AED {aed_id} does not exist")
    return row


def aed_by_ref(*, session: Session, city: str, source: str, external_ref: str) -> AedRow | None:
    """The AED imported from `source` under `external_ref`, if any."""
    q = select(AedRow).where(AedRow.city == city, AedRow.source == source, AedRow.external_ref == external_ref)
    return session.scalars(q).first()


def to_aed(row: AedRow) -> core.Aed:
    """The core's view of an AED row."""
    return core.Aed(id=row.id, location=LatLon(row.lat, row.lon), indoor=row.indoor,
                    hours=core.parse_opening_hours(row.opening_hours), timezone=row.timezone,
                    status=core.AedStatus(row.status), last_check=row.last_check)


# --- Responses and alerts ---------------------------------------------------------------------------------------


def get_response(*, session: Session, incident_id: int) -> ResponseRow | None:
    """The first response of an incident, if one was started."""
    return session.get(ResponseRow, incident_id)


def list_open_responses(*, session: Session) -> list[ResponseRow]:
    """Responses not stood down and not blocked (the ones the phase ticker advances)."""
    q = select(ResponseRow).where(ResponseRow.stood_down_at.is_(None)).order_by(ResponseRow.incident_id)
    return [r for r in session.scalars(q) if not r.blocked_by]


def alerts_of(*, session: Session, incident_id: int) -> list[AlertRow]:
    """The alerts of one incident in the order they were sent."""
    q = select(AlertRow).where(AlertRow.incident_id == incident_id).order_by(AlertRow.id)
    return list(session.scalars(q))


def alerts_for_responder(*, session: Session, responder_id: int) -> list[AlertRow]:
    """Every alert a responder received, newest first."""
    q = select(AlertRow).where(AlertRow.responder_id == responder_id).order_by(AlertRow.id.desc())
    return list(session.scalars(q))


def responding_ids(*, session: Session, responder_ids: Iterable[int]) -> set[int]:
    """Those of `responder_ids` busy in an open response (accepted or on scene)."""
    ids = list(responder_ids)
    if not ids:
        return set()
    q = select(AlertRow.responder_id).where(AlertRow.responder_id.in_(ids),
                                            AlertRow.state.in_(("accepted", "arrived")))
    return set(session.scalars(q))


def load_plan(*, response: ResponseRow, alerts: Iterable[AlertRow]) -> core.AlertPlan:
    """The core plan stored in `response` and its alert rows."""
    items = tuple(
        core.Alert(responder_id=a.responder_id, kind=a.kind, role=core.ResponderRole(a.role),  # type: ignore[arg-type]
                   eta_s=a.eta_s, direct_eta_s=a.direct_eta_s, phase=a.phase, alerted_at=a.alerted_at or
                   response.started_at, aed_id=a.aed_id, state=core.AlertState(a.state),
                   accepted_role=core.ResponderRole(a.accepted_role) if a.accepted_role else None,
                   updated_at=a.updated_at)
        for a in alerts
    )
    return core.AlertPlan(nature=response.nature, started_at=response.started_at,
                          alerts=items, phase=response.phase, last_phase_at=response.last_phase_at,
                          replaced=frozenset(response.replaced or ()), stood_down_at=response.stood_down_at,
                          blocked_by=tuple(response.blocked_by or ()))


def save_plan(*, session: Session, response: ResponseRow, plan: core.AlertPlan) -> list[AlertRow]:
    """Write `plan` back: response fields, changed alerts updated, new alerts inserted; returns the new rows."""
    response.phase = plan.phase
    response.last_phase_at = plan.last_phase_at
    response.replaced = sorted(plan.replaced)
    response.blocked_by = list(plan.blocked_by)
    response.stood_down_at = plan.stood_down_at
    existing = {a.responder_id: a for a in alerts_of(session=session, incident_id=response.incident_id)}
    new_rows = []
    for alert in plan.alerts:
        row = existing.get(alert.responder_id)
        if row is None:
            row = AlertRow(incident_id=response.incident_id, responder_id=alert.responder_id, kind=alert.kind,
                           phase=alert.phase, alerted_at=alert.alerted_at)
            session.add(row)
            new_rows.append(row)
        row.role = alert.role.value
        row.accepted_role = alert.accepted_role.value if alert.accepted_role else None
        row.state = alert.state.value
        row.aed_id = alert.aed_id
        row.eta_s = alert.eta_s
        row.direct_eta_s = alert.direct_eta_s
        row.updated_at = alert.updated_at
    session.flush()
    return new_rows
