"""Users of Lifechain: who they are, how they sign in, and what they are bound to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lifechain.db import Base, UtcDateTime


class User(Base):
    """A person who signs in to Lifechain, with their roles and the unit, hospital or volunteer record they act for."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON)
    unit_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hospital_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    volunteer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
