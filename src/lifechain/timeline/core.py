"""The one timeline: every time node of an incident and its patients is an append-only event, recorded once.

Kinds carry their NEMSIS v3.5 element where one exists, so exports (NEMSIS, FHIR, the CPC 2.1 platform) and metrics
(NASEMSO intervals, China CPC, Utstein) are computed from the same events. A correction is a new event that
supersedes an earlier one, with a reason; nothing is edited in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from lifechain.errors import Invalid


class Source(StrEnum):
    """Where an event came from."""

    CONSOLE = "console"
    CREW_APP = "crew_app"
    VOLUNTEER_APP = "volunteer_app"
    HOSPITAL = "hospital"
    GPS = "gps"
    SYSTEM = "system"
    IMPORT = "import"
    SIMULATION = "simulation"


class EventKind(StrEnum):
    """A time node. The value is the stable name stored in the database and used in exports."""

    # Call and triage (NEMSIS eTimes.01/.02; telephone CPR per AHA)
    PSAP_CALL = "psap_call"
    DISPATCH_NOTIFIED = "dispatch_notified"
    CALL_ANSWERED = "call_answered"
    LOCATION_CONFIRMED = "location_confirmed"
    TRIAGE_ANSWERED = "triage_answered"
    DETERMINANT_SET = "determinant_set"
    ARREST_RECOGNISED = "arrest_recognised"
    FIRST_INSTRUCTED_COMPRESSION = "first_instructed_compression"
    # Unit (NEMSIS eTimes.03-.14); payload names the unit
    UNIT_NOTIFIED = "unit_notified"
    UNIT_ACKNOWLEDGED = "unit_acknowledged"
    UNIT_EN_ROUTE = "unit_en_route"
    UNIT_ON_SCENE = "unit_on_scene"
    AT_PATIENT = "at_patient"
    TRANSFER_OF_CARE = "transfer_of_care"
    LEFT_SCENE = "left_scene"
    AT_DESTINATION = "at_destination"
    DESTINATION_TRANSFER_OF_CARE = "destination_transfer_of_care"
    UNIT_BACK_IN_SERVICE = "unit_back_in_service"
    UNIT_REASSIGNED = "unit_reassigned"
    UNIT_CANCELLED = "unit_cancelled"
    INCIDENT_CANCELLED = "incident_cancelled"
    INCIDENT_CLOSED = "incident_closed"
    DESTINATION_CHOSEN = "destination_chosen"
    HOSPITAL_PRENOTIFIED = "hospital_prenotified"
    # Clinical nodes (patient level): onset, arrest care (Utstein), pre-hospital ECG
    SYMPTOM_ONSET = "symptom_onset"
    ARREST = "arrest"
    FIRST_CPR = "first_cpr"
    FIRST_DEFIBRILLATION = "first_defibrillation"
    ROSC = "rosc"
    FIRST_MEDICAL_CONTACT = "first_medical_contact"
    PREHOSPITAL_ECG = "prehospital_ecg"
    ECG_TRANSMITTED = "ecg_transmitted"
    ATTACHMENT_ADDED = "attachment_added"
    # First responders (volunteers and level-2 clinics)
    RESPONDER_ALERTED = "responder_alerted"
    RESPONDER_ACCEPTED = "responder_accepted"
    RESPONDER_DECLINED = "responder_declined"
    RESPONDER_NOT_NEEDED = "responder_not_needed"
    RESPONDER_AED_COLLECTED = "responder_aed_collected"
    RESPONDER_ARRIVED = "responder_arrived"
    RESPONDER_CPR_STARTED = "responder_cpr_started"
    RESPONDER_AED_ATTACHED = "responder_aed_attached"
    RESPONDER_SHOCK_DELIVERED = "responder_shock_delivered"
    RESPONDER_HANDED_OVER = "responder_handed_over"
    RESPONDERS_STOOD_DOWN = "responders_stood_down"
    RESPONDERS_ALERT_FAILED = "responders_alert_failed"  # the system could not alert volunteers: the reason says why
    # Bookkeeping
    NOTE = "note"
    CORRECTION = "correction"


# NEMSIS v3.5 element for the kinds that have one.
NEMSIS_ETIMES: dict[EventKind, str] = {
    EventKind.PSAP_CALL: "eTimes.01",
    EventKind.DISPATCH_NOTIFIED: "eTimes.02",
    EventKind.UNIT_NOTIFIED: "eTimes.03",
    EventKind.UNIT_ACKNOWLEDGED: "eTimes.04",
    EventKind.UNIT_EN_ROUTE: "eTimes.05",
    EventKind.UNIT_ON_SCENE: "eTimes.06",
    EventKind.AT_PATIENT: "eTimes.07",
    EventKind.TRANSFER_OF_CARE: "eTimes.08",
    EventKind.LEFT_SCENE: "eTimes.09",
    EventKind.AT_DESTINATION: "eTimes.11",
    EventKind.DESTINATION_TRANSFER_OF_CARE: "eTimes.12",
    EventKind.UNIT_BACK_IN_SERVICE: "eTimes.13",
    EventKind.UNIT_CANCELLED: "eTimes.14",
}


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One time node of an incident (and, when `patient_id` is set, of one patient), as recorded."""

    kind: EventKind
    at: datetime
    incident_id: int | None = None
    patient_id: int | None = None
    unit_id: int | None = None
    actor: str = "system"
    source: Source = Source.SYSTEM
    payload: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    supersedes: int | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise Invalid("timeline times must be timezone-aware")
        if self.kind == EventKind.CORRECTION and (self.supersedes is None or not self.reason):
            raise Invalid("a correction names the event it supersedes and a reason")


def effective(events: Iterable[TimelineEvent]) -> list[TimelineEvent]:
    """The events in force: every superseded event removed, ordered by time then id (corrections replace)."""
    items = list(events)
    superseded = {e.supersedes for e in items if e.supersedes is not None}
    alive = [e for e in items if e.id not in superseded and e.kind != EventKind.CORRECTION]
    # A correction carries the corrected node: kind and time in its payload. When an event was corrected more than
    # once, the latest correction (highest id) is the one in force.
    latest: dict[int, int] = {}
    for e in items:
        if e.kind == EventKind.CORRECTION and e.supersedes is not None and e.id is not None:
            latest[e.supersedes] = max(latest.get(e.supersedes, e.id), e.id)
    for e in items:
        if e.kind == EventKind.CORRECTION and e.supersedes is not None and latest.get(e.supersedes) == e.id:
            original = next((o for o in items if o.id == e.supersedes), None)
            if original is not None:
                alive.append(
                    TimelineEvent(
                        kind=EventKind(e.payload.get("kind", original.kind)),
                        at=e.at,
                        incident_id=original.incident_id,
                        patient_id=original.patient_id,
                        unit_id=original.unit_id,
                        actor=e.actor,
                        source=e.source,
                        payload={**original.payload, **e.payload.get("payload", {})},
                        id=e.id,
                        supersedes=original.id,
                        reason=e.reason,
                    )
                )
    return sorted(alive, key=lambda e: (e.at, e.id or 0))


def first(events: Sequence[TimelineEvent], kind: EventKind, *, unit_id: int | None = None) -> datetime | None:
    """Time of the first effective event of `kind` (optionally for one unit), or None."""
    times = [e.at for e in effective(events) if e.kind == kind and (unit_id is None or e.unit_id == unit_id)]
    return min(times) if times else None


def interval_s(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from `start` to `end` (later minus earlier), None when either is missing."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()
