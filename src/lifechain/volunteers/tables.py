"""Tables of the volunteers domain: responders, their certificates, level-2 facilities, AEDs, and alerts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lifechain.db import Base, UtcDateTime
from lifechain.volunteers.core import MAX_HOURS_CHARS


class Facility(Base):
    """A level-2 first-response facility (school clinic, community health station) alerted like a volunteer."""

    __tablename__ = "volunteer_facility"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    opening_hours: Mapped[str] = mapped_column(String(MAX_HOURS_CHARS), default="24/7")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    staff_on_duty: Mapped[int] = mapped_column(Integer, default=0)
    has_aed: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last_heartbeat: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Volunteer(Base):
    """A trained person who volunteers to be alerted; position kept only while on duty or responding."""

    __tablename__ = "volunteer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    affiliation: Mapped[str | None] = mapped_column(String(200), nullable=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_facility.id"), nullable=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    position_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_heartbeat: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    push_subscription: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    qualifications: Mapped[list[VolunteerQualification]] = relationship(
        back_populates="volunteer", cascade="all, delete-orphan", lazy="selectin", order_by="VolunteerQualification.id"
    )


class VolunteerQualification(Base):
    """One certificate of a volunteer (CPR, AED, first aid, healthcare professional) with its validity."""

    __tablename__ = "volunteer_qualification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteer.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    issued: Mapped[date] = mapped_column(Date)
    expires: Mapped[date] = mapped_column(Date)

    volunteer: Mapped[Volunteer] = relationship(back_populates="qualifications")


class AedRow(Base):
    """A public defibrillator: where it hangs, how to find it indoors, when it can be reached, its state."""

    __tablename__ = "aed"
    __table_args__ = (UniqueConstraint("city", "source", "external_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(64), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    indoor: Mapped[str] = mapped_column(Text, default="")
    opening_hours: Mapped[str] = mapped_column(String(MAX_HOURS_CHARS), default="24/7")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[str] = mapped_column(String(16), default="ready")
    last_check: Mapped[date | None] = mapped_column(Date, nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    external_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ResponseRow(Base):
    """The first response to one incident: its nature, place, phase and whether it was stood down."""

    __tablename__ = "volunteer_response"

    incident_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(64))
    nature: Mapped[str] = mapped_column(String(32))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    phase: Mapped[int] = mapped_column(Integer, default=0)
    last_phase_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ambulance_eta_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    replaced: Mapped[list[int]] = mapped_column(JSON, default=list)
    blocked_by: Mapped[list[str]] = mapped_column(JSON, default=list)
    stood_down_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    stand_down_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AlertRow(Base):
    """One responder alerted for one incident: role, route via an AED or not, ETA and state."""

    __tablename__ = "volunteer_alert"
    __table_args__ = (UniqueConstraint("incident_id", "responder_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("volunteer_response.incident_id"), index=True)
    responder_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    accepted_role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    aed_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    eta_s: Mapped[float] = mapped_column(Float)
    direct_eta_s: Mapped[float] = mapped_column(Float)
    phase: Mapped[int] = mapped_column(Integer)
    alerted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
