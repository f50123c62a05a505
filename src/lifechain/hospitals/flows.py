"""Hospitals: adding them and setting or lifting ambulance diversion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from lifechain import events
from lifechain.errors import Conflict, Invalid
from lifechain.geo.core import LatLon
from lifechain.hospitals import repo
from lifechain.hospitals.core import Capability
from lifechain.hospitals.tables import Hospital


def hospital_payload(h: Hospital) -> dict[str, Any]:
    """What the live stream shows of a hospital."""
    until = h.diverted_until
    return {"id": h.id, "name": h.name, "capabilities": h.capabilities,
            "diverted_until": until.isoformat() if until else None, "diversion_reason": h.diversion_reason}


def create(*, session: Session, city: str, name: str, location: LatLon, capabilities: list[Capability],
           now: datetime) -> Hospital:
    """Add a hospital; raises `Conflict` when the city already has one of that name."""
    if repo.by_name(session=session, city=city, name=name) is not None:
        raise Conflict(f"hospital {name!r} already exists in {city}", field="name")
    h = Hospital(city=city, name=name, lat=location.lat, lon=location.lon,
                 capabilities=sorted(c.value for c in set(capabilities)))
    session.add(h)
    session.flush()
    events.publish(session, "hospital.updated", hospital_payload(h), at=now)
    return h


def set_diversion(*, session: Session, hospital_id: int, until: datetime | None, reason: str | None,
                  now: datetime) -> Hospital:
    """Divert ambulances away until `until` for `reason`, or lift the diversion when `until` is None."""
    h = repo.get(session=session, hospital_id=hospital_id)
    if until is not None:
        if until <= now:
            raise Invalid("a diversion must end in the future", field="until")
        if not reason:
            raise Invalid("a diversion needs a reason", field="reason")
    h.diverted_until, h.diversion_reason = until, (reason if until is not None else None)
    name = h.name
    try:
        session.flush()
    except StaleDataError as exc:
        session.rollback()
        raise Conflict(f"hospital {name} was changed at the same time; reload and retry") from exc
    events.publish(session, "hospital.updated", hospital_payload(h), at=now)
    return h
