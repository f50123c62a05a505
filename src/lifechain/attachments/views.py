"""HTTP routes of attachments: upload a file to an incident, list them, download one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse

from lifechain.api import ClockDep, SessionDep, SettingsDep, check_incident_access
from lifechain.attachments import core, flows, repo
from lifechain.attachments.schemas import AttachmentOut
from lifechain.auth.core import Principal, Role
from lifechain.auth.deps import require_roles
from lifechain.keys import Key
from lifechain.timeline.core import Source

router = APIRouter(tags=["attachments"])
Uploader = Annotated[Principal, Depends(require_roles(Role.CREW, Role.DISPATCHER, Role.HOSPITAL_STAFF))]
Reader = Annotated[Principal, Depends(require_roles(Role.CREW, Role.DISPATCHER, Role.HOSPITAL_STAFF, Role.ANALYST))]


@router.post("/incidents/{incident_id}/attachments", response_model=AttachmentOut, status_code=201)
async def upload(incident_id: Key, request: Request, session: SessionDep, settings: SettingsDep, clock: ClockDep,
                 user: Uploader,
                 file: Annotated[UploadFile, File(description="PDF or image (JPEG, PNG, WebP, HEIC), at most 10 MB")],
                 kind: Annotated[core.AttachmentKind, Form()] = core.AttachmentKind.PREHOSPITAL_ECG,
                 unit_id: Annotated[Key | None, Form()] = None) -> AttachmentOut:
    """Attach a file to the incident (a pre-hospital ECG also becomes a time node). Crew, dispatcher, hospital."""
    check_incident_access(request, session, incident_id, user)
    data = await file.read(core.MAX_BYTES + 1)
    source = Source.CREW_APP if user.has_any((Role.CREW,)) else Source.CONSOLE
    row = flows.attach(session=session, root=settings.data_dir / "attachments", incident_id=incident_id, kind=kind,
                       data=data, filename=file.filename, actor=user.actor, source=source, now=clock.now(),
                       unit_id=unit_id)
    return AttachmentOut.of(row)


@router.get("/incidents/{incident_id}/attachments", response_model=list[AttachmentOut])
def list_attachments(incident_id: Key, request: Request, session: SessionDep, user: Reader) -> list[AttachmentOut]:
    """The files attached to an incident, oldest first. Crew, dispatcher, hospital staff, analyst."""
    check_incident_access(request, session, incident_id, user)
    return [AttachmentOut.of(r) for r in repo.list_for_incident(session=session, incident_id=incident_id)]


@router.get("/attachments/{attachment_id}/content", response_class=FileResponse)
def content(attachment_id: Key, request: Request, session: SessionDep, settings: SettingsDep,
            user: Reader) -> FileResponse:
    """The attached file itself. Crew, dispatcher, hospital staff, analyst."""
    row = repo.get(session=session, attachment_id=attachment_id)
    check_incident_access(request, session, row.incident_id, user)
    path = flows.content_path(root=settings.data_dir / "attachments", row=row)
    return FileResponse(path, media_type=row.content_type, filename=row.filename)
