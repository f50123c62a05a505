"""Storing and reading timeline events (append-only) and live-stream messages."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifechain.timeline.core import EventKind, Source, TimelineEvent
from lifechain.timeline.tables import StreamEventRow, TimelineEventRow


def _aware(at: datetime) -> datetime:
    # SQLite gives back naive datetimes; everything stored is UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def to_event(row: TimelineEventRow) -> TimelineEvent:
    """The core event a stored row records."""
    return TimelineEvent(kind=EventKind(row.kind), at=_aware(row.at), incident_id=row.incident_id,
                         patient_id=row.patient_id, unit_id=row.unit_id, actor=row.actor, source=Source(row.source),
                         payload=dict(row.payload or {}), id=row.id, supersedes=row.supersedes, reason=row.reason)


def append(*, session: Session, event: TimelineEvent, recorded_at: datetime) -> TimelineEvent:
    """Store `event` as a new row and return it with its id; rows are never updated."""
    row = TimelineEventRow(kind=event.kind.value, at=event.at, incident_id=event.incident_id,
                           patient_id=event.patient_id, unit_id=event.unit_id, actor=event.actor,
                           source=event.source.value, payload=event.payload, supersedes=event.supersedes,
                           reason=event.reason, recorded_at=recorded_at)
    session.add(row)
    session.flush()
    return to_event(row)


def append_many(*, session: Session, events: list[TimelineEvent], recorded_at: datetime) -> list[TimelineEvent]:
    """Store several events with one flush (one batched INSERT) and return them with their ids."""
    rows = [TimelineEventRow(kind=e.kind.value, at=e.at, incident_id=e.incident_id, patient_id=e.patient_id,
                             unit_id=e.unit_id, actor=e.actor, source=e.source.value, payload=e.payload,
                             supersedes=e.supersedes, reason=e.reason, recorded_at=recorded_at) for e in events]
    session.add_all(rows)
    session.flush()
    return [to_event(r) for r in rows]


def get(*, session: Session, event_id: int) -> TimelineEvent | None:
    """One stored event, or None."""
    row = session.get(TimelineEventRow, event_id)
    return to_event(row) if row is not None else None


def list_for_incident(*, session: Session, incident_id: int) -> list[TimelineEvent]:
    """Every event recorded for an incident (corrections included), in time then id order."""
    rows = session.scalars(select(TimelineEventRow).where(TimelineEventRow.incident_id == incident_id)
                           .order_by(TimelineEventRow.at, TimelineEventRow.id))
    return [to_event(r) for r in rows]


def list_for_unit(*, session: Session, unit_id: int, since: datetime | None = None) -> list[TimelineEvent]:
    """Every event recorded for a unit, optionally from `since` on."""
    q = select(TimelineEventRow).where(TimelineEventRow.unit_id == unit_id)
    if since is not None:
        q = q.where(TimelineEventRow.at >= since)
    return [to_event(r) for r in session.scalars(q.order_by(TimelineEventRow.at, TimelineEventRow.id))]


def stream_after(*, session: Session, after_id: int, limit: int = 500) -> list[StreamEventRow]:
    """Live-stream messages with an id greater than `after_id`, oldest first."""
    q = select(StreamEventRow).where(StreamEventRow.id > after_id).order_by(StreamEventRow.id).limit(limit)
    return list(session.scalars(q))


def last_stream_id(*, session: Session) -> int:
    """The id of the newest live-stream message (0 when there is none)."""
    q = select(StreamEventRow.id).order_by(StreamEventRow.id.desc()).limit(1)
    return int(session.scalars(q).first() or 0)
