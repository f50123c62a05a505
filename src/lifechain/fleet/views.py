"""HTTP routes of the fleet: stations, units, unit status and GPS fixes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from lifechain.api import ClockDep, SessionDep
from lifechain.auth.core import Principal, Role
from lifechain.auth.deps import require_roles
from lifechain.dispatch import flows as dispatch_flows
from lifechain.errors import Forbidden
from lifechain.fleet import flows, repo
from lifechain.fleet.schemas import PositionIn, StationIn, StationOut, StatusIn, UnitIn, UnitOut
from lifechain.geo.core import LatLon
from lifechain.geo.views import check_on_roads
from lifechain.keys import Key

router = APIRouter(tags=["fleet"])
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.ANALYST, Role.CREW))]
Reporter = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.CREW))]


@router.get("/stations", response_model=list[StationOut])
def list_stations(session: SessionDep, _user: Reader, city: str | None = None) -> list[StationOut]:
    """Ambulance stations. Dispatcher, analyst, crew."""
    return [StationOut.of(s) for s in repo.list_stations(session=session, city=city)]


@router.post("/stations", response_model=StationOut, status_code=201)
def create_station(body: StationIn, request: Request, session: SessionDep, _user: Admin) -> StationOut:
    """Add a station, in an imported city and on its roads. Admin."""
    location = LatLon(body.location.lat, body.location.lon)
    check_on_roads(request, body.city, location, what="station")
    station = flows.create_station(session=session, city=body.city, name=body.name, location=location)
    session.commit()
    return StationOut.of(station)


@router.get("/units", response_model=list[UnitOut])
def list_units(session: SessionDep, _user: Reader, city: str | None = None) -> list[UnitOut]:
    """Every unit with its status and last fix. Dispatcher, analyst, crew."""
    return [UnitOut.of(u) for u in repo.list_units(session=session, city=city)]


@router.get("/units/{unit_id}", response_model=UnitOut)
def get_unit(unit_id: Key, session: SessionDep, _user: Reader) -> UnitOut:
    """One unit. Dispatcher, analyst, crew."""
    return UnitOut.of(repo.get_unit(session=session, unit_id=unit_id))


@router.post("/units", response_model=UnitOut, status_code=201)
def create_unit(body: UnitIn, session: SessionDep, clock: ClockDep, _user: Admin) -> UnitOut:
    """Add a unit, available at its station. Admin."""
    unit = flows.create_unit(session=session, call_sign=body.call_sign, unit_type=body.type,
                             station_id=body.station_id, crew=body.crew, now=clock.now())
    session.commit()
    return UnitOut.of(unit)


@router.post("/units/{unit_id}/status", response_model=UnitOut)
def change_status(unit_id: Key, body: StatusIn, session: SessionDep, clock: ClockDep, user: Reporter) -> UnitOut:
    """Move the unit through its call cycle (409 with the allowed moves when invalid). Dispatcher, own crew."""
    unit = dispatch_flows.change_unit_status(session=session, unit_id=unit_id, target=body.status, actor=user,
                                             now=clock.now(), source=body.source, at=body.at,
                                             hospital_id=body.hospital_id)
    session.commit()
    return UnitOut.of(unit)


@router.post("/units/{unit_id}/position", response_model=UnitOut)
def record_position(unit_id: Key, body: PositionIn, session: SessionDep, clock: ClockDep,
                    user: Reporter) -> UnitOut:
    """Store a GPS fix of the unit. Dispatcher, own crew."""
    if not user.acts_for_unit(unit_id):
        raise Forbidden(f"you do not report for unit {unit_id}")
    now = clock.now()
    unit = flows.record_position(session=session, unit_id=unit_id, location=LatLon(body.lat, body.lon),
                                 at=body.at or now, now=now)
    session.commit()
    return UnitOut.of(unit)
