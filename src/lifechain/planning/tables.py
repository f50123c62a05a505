"""Planning runs started over the API: the scenario (and a comparison's variant), where the run stands, its results
and its files (the report, every call), kept across restarts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lifechain.db import Base, UtcDateTime


class PlanningRun(Base):
    """One simulation run, or a comparison of two scenarios (`variant` set): queued, running (its process beats
    `heartbeat_at`), done with `result`, or failed."""

    __tablename__ = "planning_run"
    __table_args__ = (Index("ix_planning_run_status", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    scenario_name: Mapped[str] = mapped_column(String(200))
    scenario: Mapped[dict[str, Any]] = mapped_column(JSON)
    variant: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    replications: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float | None] = mapped_column(Float, nullable=True)  # share of replications done, 0-1
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class PlanningRunFile(Base):
    """A file a finished run made (`report.html`, `calls.csv`), gzip-compressed: a year of Auckland's calls is 30 MB
    of CSV and 5.3 MB gzipped. Kept apart from the run so that reading or listing runs does not load it."""

    __tablename__ = "planning_run_file"

    run_id: Mapped[str] = mapped_column(ForeignKey("planning_run.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
