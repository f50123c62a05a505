"""Queries of attachments."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifechain.attachments.tables import AttachmentRow
from lifechain.errors import NotFound


def add(*, session: Session, row: AttachmentRow) -> AttachmentRow:
    """Store a new attachment row and give it its id."""
    session.add(row)
    session.flush()
    return row


def get(*, session: Session, attachment_id: int) -> AttachmentRow:
    """One attachment; raises `NotFound`."""
    row = session.get(AttachmentRow, attachment_id)
    if row is None:
        raise NotFound(f"no attachment {attachment_id}")
    return row


def list_for_incident(*, session: Session, incident_id: int) -> list[AttachmentRow]:
    """An incident's attachments, oldest first."""
    query = select(AttachmentRow).where(AttachmentRow.incident_id == incident_id).order_by(AttachmentRow.id)
    return list(session.scalars(query))
