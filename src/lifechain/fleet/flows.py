"""Stations and units: creating them, GPS fixes, and announcing every change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from lifechain import events
from lifechain.errors import Conflict, Invalid
from lifechain.fleet import repo
from lifechain.fleet.core import UnitStatus, UnitType
from lifechain.fleet.tables import Station, Unit
from lifechain.geo.core import LatLon


def unit_payload(unit: Unit) -> dict[str, Any]:
    """What the live stream shows of a unit."""
    return {"id": unit.id, "call_sign": unit.call_sign, "type": unit.type, "status": unit.status,
            "status_at": _iso(unit.status_at), "station_id": unit.station_id, "incident_id": unit.incident_id,
            "lat": unit.lat, "lon": unit.lon, "position_at": _iso(unit.position_at), "version": unit.version}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def save_unit(*, session: Session, unit: Unit, now: datetime) -> None:
    """Write the unit now, refusing with `Conflict` if someone else changed it since it was read; then announce it."""
    call_sign, unit_id = unit.call_sign, unit.id  # read before a failed flush expires them
    try:
        session.flush()
    except StaleDataError as exc:
        session.rollback()
        raise Conflict(f"unit {call_sign} was changed by someone else at the same time; reload and retry",
                       unit_id=unit_id) from exc
    events.publish(session, "unit.updated", unit_payload(unit), at=now)


def create_station(*, session: Session, city: str, name: str, location: LatLon) -> Station:
    """Add a station; raises `Conflict` when the city already has one of that name."""
    if repo.station_by_name(session=session, city=city, name=name) is not None:
        raise Conflict(f"station {name!r} already exists in {city}", field="name")
    station = Station(city=city, name=name, lat=location.lat, lon=location.lon)
    session.add(station)
    session.flush()
    return station


def create_unit(*, session: Session, call_sign: str, unit_type: UnitType, station_id: int, crew: list[str],
                now: datetime) -> Unit:
    """Add a unit, available at its station; raises `Conflict` for a taken call sign, `NotFound` for the station."""
    station = repo.get_station(session=session, station_id=station_id)
    if repo.unit_by_call_sign(session=session, call_sign=call_sign) is not None:
        raise Conflict(f"call sign {call_sign!r} is already in use", field="call_sign")
    unit = Unit(city=station.city, call_sign=call_sign, type=unit_type.value, station_id=station.id, crew=crew,
                status=UnitStatus.AVAILABLE_AT_STATION.value, status_at=now, lat=station.lat, lon=station.lon,
                position_at=now)
    session.add(unit)
    save_unit(session=session, unit=unit, now=now)
    return unit


def record_position(*, session: Session, unit_id: int, location: LatLon, at: datetime, now: datetime) -> Unit:
    """Store a GPS fix taken at `at`; an older fix than the one stored is ignored, a future one refused."""
    unit = repo.get_unit(session=session, unit_id=unit_id)
    if at > now:
        raise Invalid("a GPS fix cannot be from the future", field="at")
    last = unit.position_at
    if last is None or at >= last:
        unit.lat, unit.lon, unit.position_at = location.lat, location.lon, at
        save_unit(session=session, unit=unit, now=now)
    return unit
