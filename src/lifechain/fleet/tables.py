"""Ambulance stations and units."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lifechain.db import Base, UtcDateTime


class Station(Base):
    """An ambulance station: where units wait and return to between calls."""

    __tablename__ = "station"
    __table_args__ = (UniqueConstraint("city", "name", name="uq_station_city_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class Unit(Base):
    """An ambulance with its crew: type, home station, status in the call cycle, last GPS fix and current call."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(64), index=True)
    call_sign: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[str] = mapped_column(String(8))
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"))
    crew: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(32))
    status_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    position_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The incident lives in the dispatch domain, which depends on fleet; no foreign key the other way round.
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}
