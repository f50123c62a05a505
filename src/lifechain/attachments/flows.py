"""Attaching a file to an incident: check it, store the bytes under the data dir, record the time node."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lifechain.attachments import core, repo
from lifechain.attachments.tables import AttachmentRow
from lifechain.errors import NotFound
from lifechain.timeline import flows as timeline_flows
from lifechain.timeline import repo as timeline_repo
from lifechain.timeline.core import EventKind, Source, TimelineEvent


def attach(*, session: Session, root: Path, incident_id: int, kind: core.AttachmentKind, data: bytes,
           filename: str | None, actor: str, source: Source, now: datetime, unit_id: int | None = None,
           ) -> AttachmentRow:
    """Attach `data` to the incident; a pre-hospital ECG is also a `prehospital_ecg` time node."""
    if not timeline_repo.list_for_incident(session=session, incident_id=incident_id):
        raise NotFound(f"no incident {incident_id}")
    checked = core.check(data=data, filename=filename)
    stored_as = f"{incident_id}/{uuid.uuid4().hex}{_suffix(checked.content_type)}"
    target = root / stored_as
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    row = repo.add(session=session, row=AttachmentRow(
        incident_id=incident_id, unit_id=unit_id, kind=kind.value, filename=checked.filename,
        content_type=checked.content_type, size=checked.size, sha256=hashlib.sha256(data).hexdigest(),
        stored_as=stored_as, uploaded_by=actor, uploaded_at=now))
    payload = {"attachment_id": row.id, "kind": kind.value, "filename": row.filename, "content_type": row.content_type}
    _node(session, EventKind.ATTACHMENT_ADDED, incident_id, unit_id, actor, source, now, payload)
    if kind is core.AttachmentKind.PREHOSPITAL_ECG:
        _node(session, EventKind.PREHOSPITAL_ECG, incident_id, unit_id, actor, source, now, payload)
    return row


def content_path(*, root: Path, row: AttachmentRow) -> Path:
    """Where the bytes of an attachment are; raises `NotFound` if they went missing."""
    path = (root / row.stored_as).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise NotFound(f"the file of attachment {row.id} is missing")
    return path


def _node(session: Session, kind: EventKind, incident_id: int, unit_id: int | None, actor: str, source: Source,
          now: datetime, payload: dict[str, Any]) -> None:
    event = TimelineEvent(kind=kind, at=now, incident_id=incident_id, unit_id=unit_id, actor=actor, source=source,
                          payload=payload)
    timeline_flows.record(session=session, event=event, now=now)


def _suffix(content_type: str) -> str:
    return {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}.get(
        content_type, ".bin")
