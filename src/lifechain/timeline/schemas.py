"""API models of the timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from lifechain.keys import EventKey, Key
from lifechain.timeline.core import NEMSIS_ETIMES, EventKind, Source, TimelineEvent


class EventOut(BaseModel):
    """A recorded time node."""

    id: int
    kind: EventKind
    nemsis: str | None = None
    at: datetime
    incident_id: int | None
    patient_id: int | None
    unit_id: int | None
    actor: str
    source: Source
    payload: dict[str, Any]
    supersedes: int | None
    reason: str | None

    @classmethod
    def of(cls, e: TimelineEvent) -> EventOut:
        """The API view of a core event."""
        return cls(id=e.id or 0, kind=e.kind, nemsis=NEMSIS_ETIMES.get(e.kind), at=e.at, incident_id=e.incident_id,
                   patient_id=e.patient_id, unit_id=e.unit_id, actor=e.actor, source=e.source, payload=e.payload,
                   supersedes=e.supersedes, reason=e.reason)


class TimelineOut(BaseModel):
    """An incident's timeline: everything recorded, and what is in force after corrections."""

    incident_id: int
    recorded: list[EventOut]
    effective: list[EventOut]


class NodeIn(BaseModel):
    """A time node recorded by hand (console, crew app, hospital)."""

    kind: EventKind
    at: AwareDatetime | None = Field(default=None, description="When it happened; defaults to now.")
    patient_id: Key | None = None
    unit_id: Key | None = None
    source: Source = Source.CONSOLE
    payload: dict[str, Any] = Field(default_factory=dict)


class CorrectionIn(BaseModel):
    """A correction of an earlier event: the corrected time (and optionally kind and payload), with a reason."""

    supersedes: EventKey
    at: AwareDatetime
    reason: str = Field(min_length=3, max_length=1000)
    kind: EventKind | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    source: Source = Source.CONSOLE
