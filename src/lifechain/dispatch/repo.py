"""Queries on incidents, patients and assignments."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifechain.dispatch.tables import Assignment, Incident, Patient
from lifechain.errors import NotFound
from lifechain.fleet.core import UnitState, UnitStatus, UnitType
from lifechain.fleet.repo import aware
from lifechain.fleet.tables import Station, Unit
from lifechain.geo.core import LatLon

OPEN_STATUSES = ("received", "waiting", "dispatched", "on_scene", "transporting", "at_hospital")
WAITING_STATUSES = ("received", "waiting")


def get(*, session: Session, incident_id: int) -> Incident:
    """The incident with this id; raises `NotFound`."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id}", incident_id=incident_id)
    return incident


def by_idempotency_key(*, session: Session, key: str) -> Incident | None:
    """The incident created with this Idempotency-Key, or None."""
    return session.scalars(select(Incident).where(Incident.idempotency_key == key)).one_or_none()


def list_open(*, session: Session, city: str | None = None, statuses: tuple[str, ...] = OPEN_STATUSES,
              limit: int = 500) -> list[Incident]:
    """Incidents in `statuses` (open ones by default), oldest first."""
    q = select(Incident).where(Incident.status.in_(statuses)).order_by(Incident.received_at, Incident.id)
    if city is not None:
        q = q.where(Incident.city == city)
    return list(session.scalars(q.limit(limit)))


def priorities(*, session: Session, incident_ids: set[int]) -> dict[int, int | None]:
    """Priority of each incident id asked."""
    if not incident_ids:
        return {}
    rows = session.execute(select(Incident.id, Incident.priority).where(Incident.id.in_(incident_ids)))
    return {i: p for i, p in rows}


def patients(*, session: Session, incident_id: int) -> list[Patient]:
    """The incident's patients, in the order they were added."""
    return list(session.scalars(select(Patient).where(Patient.incident_id == incident_id).order_by(Patient.id)))


def active_assignments(*, session: Session, incident_id: int) -> list[Assignment]:
    """Units currently assigned to the incident."""
    q = select(Assignment).where(Assignment.incident_id == incident_id, Assignment.ended_at.is_(None))
    return list(session.scalars(q.order_by(Assignment.id)))


def assignments(*, session: Session, incident_id: int) -> list[Assignment]:
    """Every assignment the incident ever had."""
    return list(session.scalars(select(Assignment).where(Assignment.incident_id == incident_id)
                                .order_by(Assignment.id)))


def active_assignment_of_unit(*, session: Session, unit_id: int) -> Assignment | None:
    """The unit's current assignment, or None."""
    q = select(Assignment).where(Assignment.unit_id == unit_id, Assignment.ended_at.is_(None))
    return session.scalars(q.order_by(Assignment.id.desc())).first()


def bound_for(*, session: Session, hospital_id: int) -> list[Incident]:
    """Open incidents whose destination is this hospital, oldest first."""
    q = select(Incident).where(Incident.destination_hospital_id == hospital_id, Incident.status.in_(OPEN_STATUSES))
    return list(session.scalars(q.order_by(Incident.received_at, Incident.id)))


def unit_states(*, session: Session, city: str) -> list[UnitState]:
    """Every unit of `city` as dispatch sees it, with its station and the priority of the call it is on.

    One plain-row query (no ORM objects): this runs on every recommendation, over hundreds of units."""
    q = (select(Unit.id, Unit.call_sign, Unit.type, Unit.status, Unit.lat, Unit.lon, Unit.position_at,
                Unit.incident_id, Station.id, Station.lat, Station.lon, Incident.priority)
         .join(Station, Station.id == Unit.station_id)
         .outerjoin(Incident, Incident.id == Unit.incident_id)
         .where(Unit.city == city).order_by(Unit.id))
    stations: dict[int, LatLon] = {}
    out = []
    for uid, sign, typ, status, lat, lon, at, incident_id, sid, slat, slon, prio in session.execute(q):
        home = stations.get(sid) or stations.setdefault(sid, LatLon(slat, slon))
        position = LatLon(lat, lon) if lat is not None and lon is not None else None
        out.append(UnitState(uid, sign, UnitType(typ), UnitStatus(status), home, position, aware(at), incident_id,
                             prio))
    return out
