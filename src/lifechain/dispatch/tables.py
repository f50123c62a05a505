"""Incidents (calls), their patients, and which units are assigned to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lifechain.db import Base, UtcDateTime


class Incident(Base):
    """A call to the 120 centre: where, who called, what the protocol found, and where it stands."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_status_priority", "status", "priority", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(64))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    caller_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    complaint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    protocol_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    determinant: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    priority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pathways: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    destination_hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospital.id"), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


class Patient(Base):
    """A person needing care at an incident (one call may have several)."""

    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    age_years: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sex: Mapped[str | None] = mapped_column(String(16), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)


class Assignment(Base):
    """A unit sent to an incident, from notification until it is back in service, cancelled or diverted."""

    __tablename__ = "assignment"
    __table_args__ = (Index("ix_assignment_incident_active", "incident_id", "ended_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    assigned_by: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
