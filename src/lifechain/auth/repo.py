"""Queries on users."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifechain.auth.tables import User


def by_username(*, session: Session, username: str) -> User | None:
    """The user with this username, or None."""
    return session.scalars(select(User).where(User.username == username)).one_or_none()


def get(*, session: Session, user_id: int) -> User | None:
    """The user with this id, or None."""
    return session.get(User, user_id)


def add(*, session: Session, user: User) -> User:
    """Store a new user and give it an id."""
    session.add(user)
    session.flush()
    return user


def list_all(*, session: Session) -> list[User]:
    """Every user, by username."""
    return list(session.scalars(select(User).order_by(User.username)))
