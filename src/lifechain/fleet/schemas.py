"""API models of stations and units."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from lifechain.fleet.core import UNIT_STATUS_META, UnitStatus, UnitType
from lifechain.fleet.tables import Station, Unit
from lifechain.geo.core import Latitude, Longitude
from lifechain.geo.schemas import Point
from lifechain.keys import Key
from lifechain.timeline.core import Source


class StationIn(BaseModel):
    """A new ambulance station."""

    city: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    location: Point


class StationOut(BaseModel):
    """An ambulance station."""

    id: int
    city: str
    name: str
    location: Point

    @classmethod
    def of(cls, s: Station) -> StationOut:
        """The API view of a stored station."""
        return cls(id=s.id, city=s.city, name=s.name, location=Point(lat=s.lat, lon=s.lon))


class UnitIn(BaseModel):
    """A new ambulance."""

    call_sign: str = Field(min_length=1, max_length=32)
    type: UnitType
    station_id: Key
    crew: list[str] = Field(default_factory=list, max_length=8)


class UnitOut(BaseModel):
    """An ambulance, its status (with display metadata), last GPS fix and current call."""

    id: int
    city: str
    call_sign: str
    type: UnitType
    station_id: int
    crew: list[str]
    status: UnitStatus
    status_label: dict[str, str]
    status_colour: str
    status_at: datetime
    position: Point | None
    position_at: datetime | None
    incident_id: int | None
    version: int

    @classmethod
    def of(cls, u: Unit) -> UnitOut:
        """The API view of a stored unit."""
        meta = UNIT_STATUS_META[UnitStatus(u.status)]
        pos = Point(lat=u.lat, lon=u.lon) if u.lat is not None and u.lon is not None else None
        return cls(id=u.id, city=u.city, call_sign=u.call_sign, type=UnitType(u.type), station_id=u.station_id,
                   crew=list(u.crew), status=UnitStatus(u.status), status_label=meta["label"],
                   status_colour=meta["colour"], status_at=u.status_at, position=pos,
                   position_at=u.position_at, incident_id=u.incident_id, version=u.version)


class StatusIn(BaseModel):
    """A unit's new status, as reported by its crew or the console."""

    status: UnitStatus
    at: AwareDatetime | None = Field(default=None, description="When it happened; defaults to now.")
    hospital_id: Key | None = Field(default=None, description="Destination, when leaving the scene.")
    source: Source = Source.CREW_APP


class PositionIn(BaseModel):
    """A GPS fix."""

    lat: Latitude
    lon: Longitude
    at: AwareDatetime | None = Field(default=None, description="When the fix was taken; defaults to now.")
