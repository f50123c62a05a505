"""HTTP routes of hospitals: the list, capabilities, diversion, and who is coming in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from lifechain.api import ClockDep, SessionDep
from lifechain.auth.core import Principal, Role
from lifechain.auth.deps import require_roles
from lifechain.dispatch import repo as dispatch_repo
from lifechain.dispatch.schemas import IncidentOut
from lifechain.errors import Forbidden
from lifechain.geo.core import LatLon
from lifechain.geo.views import check_on_roads
from lifechain.hospitals import flows, repo
from lifechain.hospitals.schemas import DiversionIn, HospitalIn, HospitalOut
from lifechain.keys import Key

router = APIRouter(tags=["hospitals"])
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.ANALYST, Role.CREW, Role.HOSPITAL_STAFF))]
Staff = Annotated[Principal, Depends(require_roles(Role.DISPATCHER, Role.HOSPITAL_STAFF))]


def _own(user: Principal, hospital_id: int) -> None:
    if not user.acts_for_hospital(hospital_id):
        raise Forbidden(f"you do not act for hospital {hospital_id}")


@router.get("/hospitals", response_model=list[HospitalOut])
def list_hospitals(session: SessionDep, _user: Reader, city: str | None = None) -> list[HospitalOut]:
    """Hospitals with capabilities and diversion. Dispatcher, analyst, crew, hospital staff."""
    return [HospitalOut.of(h) for h in repo.list_all(session=session, city=city)]


@router.post("/hospitals", response_model=HospitalOut, status_code=201)
def create_hospital(body: HospitalIn, request: Request, session: SessionDep, clock: ClockDep,
                    _user: Admin) -> HospitalOut:
    """Add a hospital, in an imported city and on its roads. Admin."""
    location = LatLon(body.location.lat, body.location.lon)
    check_on_roads(request, body.city, location, what="hospital")
    h = flows.create(session=session, city=body.city, name=body.name, location=location,
                     capabilities=body.capabilities, now=clock.now())
    session.commit()
    return HospitalOut.of(h)


@router.put("/hospitals/{hospital_id}/diversion", response_model=HospitalOut)
def divert(hospital_id: Key, body: DiversionIn, session: SessionDep, clock: ClockDep, user: Staff) -> HospitalOut:
    """Ask ambulances to go elsewhere until a time, with a reason. The hospital's own staff, dispatcher."""
    _own(user, hospital_id)
    h = flows.set_diversion(session=session, hospital_id=hospital_id, until=body.until, reason=body.reason,
                            now=clock.now())
    session.commit()
    return HospitalOut.of(h)


@router.delete("/hospitals/{hospital_id}/diversion", response_model=HospitalOut)
def end_diversion(hospital_id: Key, session: SessionDep, clock: ClockDep, user: Staff) -> HospitalOut:
    """Lift the diversion. The hospital's own staff, dispatcher."""
    _own(user, hospital_id)
    h = flows.set_diversion(session=session, hospital_id=hospital_id, until=None, reason=None, now=clock.now())
    session.commit()
    return HospitalOut.of(h)


@router.get("/hospitals/{hospital_id}/incoming", response_model=list[IncidentOut])
def incoming(hospital_id: Key, session: SessionDep, user: Staff) -> list[IncidentOut]:
    """Open incidents bound for this hospital. The hospital's own staff, dispatcher."""
    _own(user, hospital_id)
    repo.get(session=session, hospital_id=hospital_id)
    return [IncidentOut.of(i) for i in dispatch_repo.bound_for(session=session, hospital_id=hospital_id)]
