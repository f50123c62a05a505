"""Queries on stations and units, and their conversion to the pure `UnitState`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifechain.errors import NotFound
from lifechain.fleet.core import UnitState, UnitStatus, UnitType
from lifechain.fleet.tables import Station, Unit
from lifechain.geo.core import LatLon


def get_unit(*, session: Session, unit_id: int) -> Unit:
    """The unit with this id; raises `NotFound`."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(f"no unit {unit_id}", unit_id=unit_id)
    return unit


def unit_by_call_sign(*, session: Session, call_sign: str) -> Unit | None:
    """The unit with this call sign, or None."""
    return session.scalars(select(Unit).where(Unit.call_sign == call_sign)).one_or_none()


def list_units(*, session: Session, city: str | None = None) -> list[Unit]:
    """Units (of one city when given), by call sign."""
    q = select(Unit).order_by(Unit.call_sign)
    if city is not None:
        q = q.where(Unit.city == city)
    return list(session.scalars(q))


def get_station(*, session: Session, station_id: int) -> Station:
    """The station with this id; raises `NotFound`."""
    station = session.get(Station, station_id)
    if station is None:
        raise NotFound(f"no station {station_id}", station_id=station_id)
    return station


def station_by_name(*, session: Session, city: str, name: str) -> Station | None:
    """The station of `city` called `name`, or None."""
    return session.scalars(select(Station).where(Station.city == city, Station.name == name)).one_or_none()


def list_stations(*, session: Session, city: str | None = None) -> list[Station]:
    """Stations (of one city when given), by name."""
    q = select(Station).order_by(Station.name)
    if city is not None:
        q = q.where(Station.city == city)
    return list(session.scalars(q))


def stations_by_id(*, session: Session, ids: set[int]) -> dict[int, Station]:
    """The stations with these ids."""
    if not ids:
        return {}
    return {s.id: s for s in session.scalars(select(Station).where(Station.id.in_(ids)))}


def to_state(unit: Unit, station: Station, *, incident_priority: int | None = None) -> UnitState:
    """The pure view of a stored unit."""
    position = LatLon(unit.lat, unit.lon) if unit.lat is not None and unit.lon is not None else None
    return UnitState(id=unit.id, call_sign=unit.call_sign, type=UnitType(unit.type), status=UnitStatus(unit.status),
                     station=LatLon(station.lat, station.lon), position=position,
                     position_at=unit.position_at, incident_id=unit.incident_id,
                     incident_priority=incident_priority)
