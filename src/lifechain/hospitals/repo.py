"""Queries on hospitals, and their conversion to the pure `HospitalState`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifechain.errors import NotFound
from lifechain.geo.core import LatLon
from lifechain.hospitals.core import Capability, HospitalState
from lifechain.hospitals.tables import Hospital


def get(*, session: Session, hospital_id: int) -> Hospital:
    """The hospital with this id; raises `NotFound`."""
    hospital = session.get(Hospital, hospital_id)
    if hospital is None:
        raise NotFound(f"no hospital {hospital_id}", hospital_id=hospital_id)
    return hospital


def by_name(*, session: Session, city: str, name: str) -> Hospital | None:
    """The hospital of `city` called `name`, or None."""
    return session.scalars(select(Hospital).where(Hospital.city == city, Hospital.name == name)).one_or_none()


def list_all(*, session: Session, city: str | None = None) -> list[Hospital]:
    """Hospitals (of one city when given), by name."""
    q = select(Hospital).order_by(Hospital.name)
    if city is not None:
        q = q.where(Hospital.city == city)
    return list(session.scalars(q))


def to_state(h: Hospital) -> HospitalState:
    """The pure view of a stored hospital."""
    return HospitalState(id=h.id, name=h.name, location=LatLon(h.lat, h.lon),
                         capabilities=frozenset(Capability(c) for c in h.capabilities),
                         diverted_until=h.diverted_until, diversion_reason=h.diversion_reason)
