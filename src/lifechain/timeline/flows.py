"""Recording on the timeline: every event is appended, then announced on the bus and the live stream."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lifechain import events
from lifechain.errors import Invalid, NotFound
from lifechain.timeline import repo
from lifechain.timeline.core import EventKind, Source, TimelineEvent

# Kinds that only the system records (through the flows of their domain), never by hand.
SYSTEM_KINDS = frozenset({EventKind.CORRECTION, EventKind.INCIDENT_CLOSED, EventKind.INCIDENT_CANCELLED,
                          EventKind.RESPONDERS_ALERT_FAILED})


def record(*, session: Session, event: TimelineEvent, now: datetime) -> TimelineEvent:
    """Append `event` and publish it as "timeline.<kind>" (stream and in-process subscribers)."""
    stored = repo.append(session=session, event=event, recorded_at=now)
    events.publish(session, f"timeline.{stored.kind.value}", stream_payload(stored), at=now)
    return stored


def record_many(*, session: Session, batch: list[TimelineEvent], now: datetime) -> list[TimelineEvent]:
    """Append several events at once (one batched insert) and publish each, in order."""
    stored = repo.append_many(session=session, events=batch, recorded_at=now)
    for e in stored:
        events.publish(session, f"timeline.{e.kind.value}", stream_payload(e), at=now)
    return stored


def stream_payload(e: TimelineEvent) -> dict[str, Any]:
    """What the live stream and subscribers see of a timeline event."""
    return {"id": e.id, "kind": e.kind.value, "at": e.at.isoformat(), "incident_id": e.incident_id,
            "patient_id": e.patient_id, "unit_id": e.unit_id, "actor": e.actor, "source": e.source.value,
            "payload": e.payload, "supersedes": e.supersedes, "reason": e.reason}


def record_node(*, session: Session, incident_id: int, kind: EventKind, at: datetime | None, actor: str,
                source: Source, now: datetime, patient_id: int | None = None, unit_id: int | None = None,
                payload: dict[str, Any] | None = None) -> TimelineEvent:
    """Record a time node by hand; kinds kept for the system (corrections, closing) are refused with `Invalid`."""
    if kind in SYSTEM_KINDS:
        raise Invalid(f"{kind.value} is recorded by the system, not by hand", field="kind")
    event = TimelineEvent(kind=kind, at=at or now, incident_id=incident_id, patient_id=patient_id, unit_id=unit_id,
                          actor=actor, source=source, payload=payload or {})
    return record(session=session, event=event, now=now)


def correct(*, session: Session, incident_id: int, supersedes: int, at: datetime, reason: str, actor: str,
            source: Source, now: datetime, kind: EventKind | None = None,
            payload: dict[str, Any] | None = None) -> TimelineEvent:
    """Record a correction of an event of this incident; the original stays, superseded (never edited)."""
    original = repo.get(session=session, event_id=supersedes)
    if original is None or original.incident_id != incident_id:
        raise NotFound(f"event {supersedes} is not on the timeline of incident {incident_id}", field="supersedes")
    if original.kind == EventKind.CORRECTION:
        raise Invalid("correct the original event, not a correction", field="supersedes")
    body = {"kind": (kind or original.kind).value, "payload": payload or {}}
    event = TimelineEvent(kind=EventKind.CORRECTION, at=at, incident_id=incident_id, patient_id=original.patient_id,
                          unit_id=original.unit_id, actor=actor, source=source, payload=body,
                          supersedes=supersedes, reason=reason)
    return record(session=session, event=replace(event), now=now)
