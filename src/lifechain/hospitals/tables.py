"""Receiving hospitals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lifechain.db import Base, UtcDateTime


class Hospital(Base):
    """A hospital that receives ambulances: where it is, what it can do around the clock, and any diversion."""

    __tablename__ = "hospital"
    __table_args__ = (UniqueConstraint("city", "name", name="uq_hospital_city_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    capabilities: Mapped[list[str]] = mapped_column(JSON)
    diverted_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    diversion_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}
