"""API models of hospitals."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from lifechain.geo.schemas import Point
from lifechain.hospitals.core import CAPABILITY_LABELS, Capability
from lifechain.hospitals.tables import Hospital


class HospitalIn(BaseModel):
    """A new receiving hospital."""

    city: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    location: Point
    capabilities: list[Capability] = Field(min_length=1)


class HospitalOut(BaseModel):
    """A receiving hospital, its capabilities (with labels) and any diversion."""

    id: int
    city: str
    name: str
    location: Point
    capabilities: list[Capability]
    capability_labels: dict[str, dict[str, str]]
    diverted_until: datetime | None
    diversion_reason: str | None

    @classmethod
    def of(cls, h: Hospital) -> HospitalOut:
        """The API view of a stored hospital."""
        caps = [Capability(c) for c in h.capabilities]
        return cls(id=h.id, city=h.city, name=h.name, location=Point(lat=h.lat, lon=h.lon), capabilities=caps,
                   capability_labels={c.value: CAPABILITY_LABELS[c] for c in caps},
                   diverted_until=h.diverted_until, diversion_reason=h.diversion_reason)


class DiversionIn(BaseModel):
    """Ask ambulances to go elsewhere until a time, for a reason."""

    until: AwareDatetime
    reason: str = Field(min_length=3, max_length=500)
