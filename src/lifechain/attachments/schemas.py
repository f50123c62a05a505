"""API models of attachments."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from lifechain.attachments.tables import AttachmentRow


class AttachmentOut(BaseModel):
    """An attached file (download it from `url`)."""

    id: int
    incident_id: int
    unit_id: int | None
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime
    url: str

    @classmethod
    def of(cls, row: AttachmentRow) -> AttachmentOut:
        """The API view of a stored attachment."""
        return cls(id=row.id, incident_id=row.incident_id, unit_id=row.unit_id, kind=row.kind, filename=row.filename,
                   content_type=row.content_type, size=row.size, sha256=row.sha256, uploaded_by=row.uploaded_by,
                   uploaded_at=row.uploaded_at, url=f"/api/v1/attachments/{row.id}/content")
