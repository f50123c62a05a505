"""API models of the volunteers domain. A volunteer's models carry place, nature, role and route, nothing medical."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from lifechain.geo.core import Latitude, Longitude
from lifechain.geo.schemas import Point
from lifechain.keys import Key
from lifechain.volunteers import core
from lifechain.volunteers.tables import AedRow, AlertRow, Facility, Volunteer


class QualificationIn(BaseModel):
    """A certificate with its validity."""

    kind: core.QualificationKind
    issued: date
    expires: date


class QualificationOut(QualificationIn):
    """A certificate and whether it is in force today."""

    valid: bool


class VolunteerIn(BaseModel):
    """A volunteer to register."""

    city: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)
    affiliation: str | None = Field(default=None, max_length=200)
    facility_id: Key | None = None
    channels: list[str] = ["app"]
    qualifications: list[QualificationIn] = Field(min_length=1)


class VolunteerOut(BaseModel):
    """A volunteer as the registry (and the volunteer themself) sees them."""

    id: int
    city: str
    name: str
    affiliation: str | None
    facility_id: int | None
    on_duty: bool
    alertable_qualification: bool
    position: Point | None
    last_heartbeat: datetime | None
    channels: list[str]
    qualifications: list[QualificationOut]

    @classmethod
    def of(cls, row: Volunteer, *, today: date) -> VolunteerOut:
        """The API view of a volunteer row."""
        quals = [QualificationOut(kind=core.QualificationKind(q.kind), issued=q.issued, expires=q.expires,
                                  valid=q.issued <= today <= q.expires) for q in row.qualifications]
        pos = Point(lat=row.lat, lon=row.lon) if row.lat is not None and row.lon is not None else None
        return cls(id=row.id, city=row.city, name=row.name, affiliation=row.affiliation, facility_id=row.facility_id,
                   on_duty=row.on_duty, alertable_qualification=any(q.valid for q in quals), position=pos,
                   last_heartbeat=row.last_heartbeat, channels=list(row.channels or []), qualifications=quals)


class DutyIn(BaseModel):
    """Going on or off duty."""

    on_duty: bool


class PushSubscriptionIn(BaseModel):
    """The browser's `PushSubscription.toJSON()`."""

    endpoint: str = Field(min_length=8)
    keys: dict[str, str]


class FacilityIn(BaseModel):
    """A level-2 facility to register."""

    city: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    kind: str
    lat: Latitude
    lon: Longitude
    opening_hours: str = Field(default="24/7", max_length=2000)
    timezone: str = Field(default="UTC", max_length=64)
    staff_on_duty: int = Field(default=1, ge=0, le=10_000)
    has_aed: bool = False
    phone: str | None = Field(default=None, max_length=40)


class FacilityOut(FacilityIn):
    """A level-2 facility."""

    id: int

    @classmethod
    def of(cls, row: Facility) -> FacilityOut:
        """The API view of a facility row."""
        return cls(id=row.id, city=row.city, name=row.name, kind=row.kind, lat=row.lat, lon=row.lon,
                   opening_hours=row.opening_hours, timezone=row.timezone, staff_on_duty=row.staff_on_duty,
                   has_aed=row.has_aed, phone=row.phone)


class AedIn(BaseModel):
    """An AED to register by hand."""

    city: str = Field(min_length=1, max_length=64)
    lat: Latitude
    lon: Longitude
    indoor: str = Field(default="", max_length=2000)
    opening_hours: str = Field(default="24/7", max_length=2000)
    timezone: str = Field(default="UTC", max_length=64)
    status: core.AedStatus = core.AedStatus.READY
    last_check: date | None = None


class AedOut(AedIn):
    """An AED and whether it can be used right now."""

    id: int
    source: str
    accessible_now: bool

    @classmethod
    def of(cls, row: AedRow, *, now: datetime) -> AedOut:
        """The API view of an AED row."""
        from lifechain.volunteers.repo import to_aed

        return cls(id=row.id, city=row.city, lat=row.lat, lon=row.lon, indoor=row.indoor,
                   opening_hours=row.opening_hours, timezone=row.timezone, status=core.AedStatus(row.status),
                   last_check=row.last_check, source=row.source, accessible_now=to_aed(row).is_accessible(now))


class ResponseIn(BaseModel):
    """A dispatcher's request to alert first responders for an incident."""

    city: str = Field(min_length=1, max_length=64)
    lat: Latitude
    lon: Longitude
    nature: str = "cardiac_arrest"
    address: str | None = Field(default=None, max_length=300)
    ambulance_eta_s: float | None = Field(default=None, ge=0, le=86_400)
    exclusions: list[str] = []


class StandDownIn(BaseModel):
    """Why the volunteers are stood down."""

    reason: str = Field(default="dispatcher", min_length=1, max_length=64)


class ResponderOut(BaseModel):
    """One alerted responder as the dispatcher sees them: who, role, state, ETA, AED."""

    responder_id: int
    kind: str
    name: str | None
    role: core.ResponderRole
    accepted_role: core.ResponderRole | None
    state: core.AlertState
    state_label: str
    eta_s: float
    aed_id: int | None
    phase: int
    alerted_at: datetime
    updated_at: datetime | None
    position: Point | None = Field(default=None, description=(
        "Last known position, dispatcher and admin only: while alerted and on duty or after accepting, never "
        "after stand-down."))
    route: list[list[float]] = Field(default=[], description=(
        "Walking route of a responder on the way (to the patient, or via the AED) as [lon, lat] pairs; "
        "dispatcher and admin only."))

    @classmethod
    def of(cls, row: AlertRow, name: str | None, *, position: Point | None = None,
           route: list[list[float]] | None = None) -> ResponderOut:
        """The dispatcher's view of an alert row (position and route only when the caller may see them)."""
        state = core.AlertState(row.state)
        return cls(responder_id=row.responder_id, kind=row.kind, name=name, role=core.ResponderRole(row.role),
                   accepted_role=core.ResponderRole(row.accepted_role) if row.accepted_role else None,
                   state=state, state_label=core.ALERT_STATE_META[state]["label"], eta_s=round(row.eta_s, 1),
                   aed_id=row.aed_id, phase=row.phase, alerted_at=row.alerted_at, updated_at=row.updated_at,
                   position=position, route=route or [])


class ResponseOut(BaseModel):
    """The first response of an incident: phase, whether it runs, every alerted responder."""

    incident_id: int
    nature: str
    phase: int
    active: bool
    blocked_by: list[str]
    stood_down_at: datetime | None
    stand_down_reason: str | None
    ambulance_eta_at: datetime | None = Field(description="When the first ambulance is expected, if known.")
    responders: list[ResponderOut]


class AedBrief(BaseModel):
    """The AED a volunteer is sent to fetch."""

    id: int
    lat: float
    lon: float
    indoor: str


class MyAlertOut(BaseModel):
    """What a volunteer sees of a call: the place, the nature, their role, route and ETA. Nothing medical."""

    incident_id: int
    nature: str
    nature_label: str
    location: Point
    address: str | None
    role: core.ResponderRole
    state: core.AlertState
    eta_s: float
    aed: AedBrief | None
    route: list[list[float]] = Field(default=[], description="Walking route as [lon, lat] pairs.")

    @classmethod
    def of(cls, body: dict[str, Any], state: core.AlertState, route: list[list[float]]) -> MyAlertOut:
        """From the privacy-filtered alert body the flows build."""
        aed = body.get("aed")
        return cls(incident_id=body["incident_id"], nature=body["nature"], nature_label=body["nature_label"],
                   location=Point(**body["location"]), address=body.get("address"), role=body["role"], state=state,
                   eta_s=body["eta_s"], aed=AedBrief(**aed) if aed else None, route=route)


class ActionIn(BaseModel):
    """A responder's report: accept, decline, aed_collected, arrived, cpr_started, aed_attached, shock_delivered,
    handed_over."""

    action: core.Action


class CountsOut(BaseModel):
    """Alerts sent, accepted, arrived."""

    alerted: int
    accepted: int
    arrived: int


class MeasuresOut(BaseModel):
    """First-response measures computed from the timeline."""

    incidents: int
    arrests: int
    median_first_responder_on_scene_s: float | None
    share_volunteer_before_ems: float | None
    median_first_compression_s: float | None
    median_first_shock_s: float | None
    per_responder: dict[int, CountsOut]
    per_area: dict[str, CountsOut]
