"""API models of dispatch: calls, triage, recommendations, dispatching."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from lifechain.dispatch.core import Candidate, FreeEstimate, HospitalCandidate
from lifechain.dispatch.flows import Recommendation
from lifechain.dispatch.tables import Assignment, Incident, Patient
from lifechain.fleet.core import UnitStatus, UnitType
from lifechain.geo.schemas import Point
from lifechain.keys import Key


class IncidentIn(BaseModel):
    """A new call: where, who called, and (optionally) the complaint and answers so far."""

    city: str | None = Field(default=None, max_length=64, description="Defaults to the server's default city.")
    location: Point
    address: str | None = Field(default=None, max_length=500)
    caller_number: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 ()-]{3,32}$")
    complaint: str | None = Field(default=None, max_length=64)
    answers: dict[str, Any] = Field(default_factory=dict)
    patients: int = Field(default=1, ge=1, le=100)


class PatientIn(BaseModel):
    """Another patient at the incident."""

    label: str | None = Field(default=None, max_length=64)
    age_years: int | None = Field(default=None, ge=0, le=130)
    sex: str | None = Field(default=None, pattern="^(female|male|other|unknown)$")
    notes: str | None = Field(default=None, max_length=2000)


class PatientOut(BaseModel):
    """A patient of an incident."""

    id: int
    label: str
    age_years: int | None
    sex: str | None
    notes: str | None

    @classmethod
    def of(cls, p: Patient) -> PatientOut:
        """The API view of a stored patient."""
        return cls(id=p.id, label=p.label, age_years=p.age_years, sex=p.sex, notes=p.notes)


class AssignmentOut(BaseModel):
    """A unit sent to the incident."""

    id: int
    unit_id: int
    assigned_at: datetime
    assigned_by: str
    ended_at: datetime | None
    end_reason: str | None

    @classmethod
    def of(cls, a: Assignment) -> AssignmentOut:
        """The API view of a stored assignment."""
        return cls(id=a.id, unit_id=a.unit_id, assigned_at=a.assigned_at,
                   assigned_by=a.assigned_by, ended_at=a.ended_at, end_reason=a.end_reason)


class IncidentOut(BaseModel):
    """An incident with its determinant, status, patients and units."""

    id: int
    city: str
    location: Point
    address: str | None
    caller_number: str | None
    complaint: str | None
    protocol_version: str | None
    answers: dict[str, Any]
    determinant: dict[str, Any] | None
    priority: int | None
    pathways: list[str]
    status: str
    received_at: datetime
    closed_at: datetime | None
    destination_hospital_id: int | None
    version: int
    patients: list[PatientOut] = []
    assignments: list[AssignmentOut] = []

    @classmethod
    def of(cls, i: Incident, patients: list[Patient] | None = None,
           assignments: list[Assignment] | None = None) -> IncidentOut:
        """The API view of a stored incident."""
        return cls(id=i.id, city=i.city, location=Point(lat=i.lat, lon=i.lon), address=i.address,
                   caller_number=i.caller_number, complaint=i.complaint, protocol_version=i.protocol_version,
                   answers=dict(i.answers or {}), determinant=i.determinant, priority=i.priority,
                   pathways=list(i.pathways), status=i.status, received_at=i.received_at,
                   closed_at=i.closed_at, destination_hospital_id=i.destination_hospital_id,
                   version=i.version, patients=[PatientOut.of(p) for p in patients or []],
                   assignments=[AssignmentOut.of(a) for a in assignments or []])


class TriageIn(BaseModel):
    """The chief complaint and the caller's answers so far."""

    complaint: str = Field(min_length=1, max_length=64)
    answers: dict[str, Any] = Field(default_factory=dict)


class TriageOut(BaseModel):
    """The determinant (priority, pathways, plan, telephone-CPR prompts) and the questions still to ask."""

    incident: IncidentOut
    determinant: dict[str, Any]
    next_questions: list[str]


class DispatchIn(BaseModel):
    """Send this unit; `divert` takes it off a lower-priority call when the redispatch rules allow."""

    unit_id: Key
    divert: bool = False


class ReassignIn(BaseModel):
    """Replace one assigned unit by another."""

    from_unit_id: Key
    to_unit_id: Key


class ReasonIn(BaseModel):
    """Why (cancelling a call, standing a unit down)."""

    reason: str = Field(min_length=3, max_length=500)


class DestinationIn(BaseModel):
    """The destination hospital, and whether to pre-notify it."""

    hospital_id: Key
    prenotify: bool = True


class CandidateOut(BaseModel):
    """One unit considered: ETA, distance, and why it is flagged or excluded (per language)."""

    unit_id: int
    call_sign: str
    unit_type: UnitType
    status: UnitStatus
    eligible: bool
    eta_s: float | None
    distance_m: float | None
    reason: str | None
    reason_text: dict[str, str] | None
    from_incident_id: int | None
    from_priority: int | None

    @classmethod
    def of(cls, c: Candidate) -> CandidateOut:
        """The API view of a core candidate."""
        return cls(unit_id=c.unit_id, call_sign=c.call_sign, unit_type=c.unit_type, status=c.status,
                   eligible=c.eligible, eta_s=_round(c.eta_s), distance_m=_round(c.distance_m), reason=c.reason,
                   reason_text=c.reason_text, from_incident_id=c.from_incident_id, from_priority=c.from_priority)


class HospitalCandidateOut(BaseModel):
    """One hospital considered as destination."""

    hospital_id: int
    name: str
    eta_s: float | None
    capable: bool
    diverted: bool
    diversion_reason: str | None

    @classmethod
    def of(cls, c: HospitalCandidate) -> HospitalCandidateOut:
        """The API view of a core hospital candidate."""
        return cls(hospital_id=c.hospital_id, name=c.name, eta_s=_round(c.eta_s), capable=c.capable,
                   diverted=c.diverted, diversion_reason=c.diversion_reason)


class HospitalChoiceOut(BaseModel):
    """The recommended destination and why."""

    hospital_id: int | None
    name: str | None
    eta_s: float | None
    pathway: str | None
    required: list[str]
    reasons: list[dict[str, str]]
    candidates: list[HospitalCandidateOut]


class FreeOut(BaseModel):
    """A busy unit and when it is expected to be free."""

    unit_id: int
    call_sign: str
    status: UnitStatus
    free_at: datetime

    @classmethod
    def of(cls, f: FreeEstimate) -> FreeOut:
        """The API view of a core estimate."""
        return cls(unit_id=f.unit_id, call_sign=f.call_sign, status=f.status, free_at=f.free_at)


class RecommendationOut(BaseModel):
    """Units ranked by ETA with reasons, diversion options, the destination, and who frees up first."""

    incident_id: int
    priority: int
    profile: str
    best_unit_id: int | None
    units: list[CandidateOut]
    redispatch: list[CandidateOut]
    hospital: HospitalChoiceOut
    earliest_free: list[FreeOut]

    @classmethod
    def of(cls, r: Recommendation) -> RecommendationOut:
        """The API view of a recommendation."""
        h = r.hospital
        best = r.units.best
        return cls(incident_id=r.incident.id, priority=r.incident.priority or 0, profile=r.units.profile,
                   best_unit_id=best.unit_id if best else None,
                   units=[CandidateOut.of(c) for c in r.units.candidates],
                   redispatch=[CandidateOut.of(c) for c in r.units.redispatch],
                   hospital=HospitalChoiceOut(hospital_id=h.hospital_id, name=h.name, eta_s=_round(h.eta_s),
                                              pathway=h.pathway, required=sorted(c.value for c in h.required),
                                              reasons=[dict(x) for x in h.reasons],
                                              candidates=[HospitalCandidateOut.of(c) for c in h.candidates]),
                   earliest_free=[FreeOut.of(f) for f in r.earliest_free])


class QueueOut(BaseModel):
    """Calls waiting for a unit in service order, and calls still to triage."""

    waiting: list[IncidentOut]
    untriaged: list[IncidentOut]


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)
