"""The append-only timeline and the live-stream outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lifechain.db import Base, UtcDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class TimelineEventRow(Base):
    """One recorded time node of an incident, a patient or a unit; never updated, only superseded by a correction."""

    __tablename__ = "timeline_event"
    __table_args__ = (Index("ix_timeline_event_incident_at", "incident_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    patient_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unit_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    supersedes: Mapped[int | None] = mapped_column(ForeignKey("timeline_event.id"), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StreamEventRow(Base):
    """One message of the live stream; `seq` numbers messages in the order they became visible, so a reconnecting
    client can ask for everything after the last one it saw."""

    __tablename__ = "stream_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    seq: Mapped[int | None] = mapped_column(BigId, unique=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
