"""Storing and reading timeline events (append-only) and live-stream messages."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from lifechain.db import Base
from lifechain.timeline.core import EventKind, Source, TimelineEvent
from lifechain.timeline.tables import StreamEventRow, TimelineEventRow


def to_event(row: TimelineEventRow) -> TimelineEvent:
    """The core event a stored row records."""
    return TimelineEvent(kind=EventKind(row.kind), at=row.at, incident_id=row.incident_id,
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
    """Store several events in one Core INSERT ... RETURNING (no ORM bulk bookkeeping); returns them with ids."""
    rows = [{"kind": e.kind.value, "at": e.at, "incident_id": e.incident_id, "patient_id": e.patient_id,
             "unit_id": e.unit_id, "actor": e.actor, "source": e.source.value, "payload": e.payload,
             "supersedes": e.supersedes, "reason": e.reason, "recorded_at": recorded_at} for e in events]
    table = Base.metadata.tables[TimelineEventRow.__tablename__]
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = session.connection().execute(stmt, rows).scalars().all()
    return [replace(e, id=i) for e, i in zip(events, ids, strict=True)]


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


# Serialises the numbering of stream messages on PostgreSQL (readers only; never held by a writer).
_SEQUENCE_LOCK = 0x11FEC4A1


def sequence(*, session: Session) -> None:
    """Number every committed, unnumbered stream message after the highest number given (PostgreSQL).

    Writers commit in any order; numbering what is visible, one numberer at a time, makes numbers follow visibility,
    so a reader that saw number n never later finds a message numbered below n appear."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SEQUENCE_LOCK})
    session.execute(text(
        "UPDATE stream_event AS s SET seq = t.base + t.rn FROM ("
        " SELECT id, row_number() OVER (ORDER BY id) AS rn,"
        " (SELECT coalesce(max(seq), 0) FROM stream_event) AS base"
        " FROM stream_event WHERE seq IS NULL) AS t WHERE s.id = t.id"))


def stream_after(*, session: Session, after_id: int, limit: int = 500) -> list[StreamEventRow]:
    """Numbered live-stream messages after number `after_id`, in order."""
    q = (select(StreamEventRow).where(StreamEventRow.seq > after_id).order_by(StreamEventRow.seq).limit(limit))
    return list(session.scalars(q))


def last_stream_id(*, session: Session) -> int:
    """The number of the newest numbered live-stream message (0 when there is none)."""
    return int(session.scalar(select(func.max(StreamEventRow.seq))) or 0)


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One live-stream message as clients see it: its number (`id`, the SSE event id), kind and payload."""

    id: int
    kind: str
    payload: dict[str, Any]


def read_stream(*, factory: sessionmaker[Session], after_id: int, limit: int = 500) -> list[StreamMessage]:
    """Messages numbered after `after_id`, in order; numbers what was committed first (its own short transaction)."""
    with factory() as s:
        with s.begin():
            sequence(session=s)
        return [StreamMessage(int(r.seq or 0), r.kind, dict(r.payload or {}))
                for r in stream_after(session=s, after_id=after_id, limit=limit)]


def stream_head(*, factory: sessionmaker[Session]) -> int:
    """The number of the newest message (0 when none), after numbering what was committed."""
    with factory() as s:
        with s.begin():
            sequence(session=s)
        return last_stream_id(session=s)
